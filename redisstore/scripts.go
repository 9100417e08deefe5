package redisstore

import "github.com/redis/go-redis/v9"

// Every change to a line is one Lua script, because each one reads and then
// writes several keys that other instances change too: "is the head's max
// reached? then move it from wait to held" run as separate commands would
// let two instances both see a free slot and both grant it, and a leave
// racing a grant could lose the waiter or the slot. Redis runs a script
// with nothing interleaved, so every rule of genesis.QueueBackend holds
// however many instances call at once. All keys of a line share one Redis
// Cluster hash tag, so a script never spans slots.
//
// Deadlines are read from the server's clock (TIME), never an instance's:
// instances whose clocks disagree would otherwise expire each other's
// leases early and grant a slot twice. Redis 7 replicates a script's
// effects, so a script that reads TIME may write; Redis 5 and 6 need
// replicate_commands first.
//
// Keys of a line (KEYS, in this order), every one with a TTL that each
// script extends, so a line that nobody touches any more vanishes:
//
//	1 wait   sorted set  item -> join sequence: the line, in FIFO order
//	2 held   sorted set  item -> join sequence: the items holding slots
//	3 lease  sorted set  item -> lease deadline (server ms), waiting or holding
//	4 max    hash        item -> the max it joined with
//	5 tok    hash        item -> the token of the ticket that joined it
//	6 seq    string      the line's join counter
//
// ARGV[1] is the channel grants are published on (the message is the
// granted ticket's token), ARGV[2] the lease in ms, ARGV[3] the key TTL in
// ms; further arguments are the script's own.
const linePrelude = `
if redis.replicate_commands then redis.replicate_commands() end
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local wait, held, lease, max, tok, seq = KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5], KEYS[6]

local function drop(item)
  redis.call('ZREM', wait, item)
  redis.call('ZREM', held, item)
  redis.call('ZREM', lease, item)
  redis.call('HDEL', max, item)
  redis.call('HDEL', tok, item)
end

-- Items whose lease lapsed belong to instances that died or were cut off:
-- they leave, waiting or holding.
local function purge()
  for _, item in ipairs(redis.call('ZRANGEBYSCORE', lease, '-inf', now)) do
    drop(item)
  end
end

-- The head takes a free slot while the line holds fewer than its max;
-- nobody overtakes it.
local function grant()
  while true do
    local head = redis.call('ZRANGE', wait, 0, 0, 'WITHSCORES')
    if #head == 0 then return end
    local n = tonumber(redis.call('HGET', max, head[1])) or 1
    if redis.call('ZCARD', held) >= n then return end
    redis.call('ZREM', wait, head[1])
    redis.call('ZADD', held, head[2], head[1])
    redis.call('PUBLISH', ARGV[1], redis.call('HGET', tok, head[1]))
  end
end

-- A TTL is only ever extended: an instance with a short lease must not cut
-- short the keys that hold another instance's longer lease.
local function keep()
  local ttl = tonumber(ARGV[3])
  for i = 1, 6 do
    local left = redis.call('PTTL', KEYS[i])
    if left ~= -2 and left < ttl then redis.call('PEXPIRE', KEYS[i], ttl) end
  end
end
`

// joinScript: ARGV[4] item, ARGV[5] max, ARGV[6] token. Returns 1 when the
// item holds a slot at once, 0 when it waits, -1 when it is in line
// already.
var joinScript = redis.NewScript(linePrelude + `
purge()
local item = ARGV[4]
if redis.call('HEXISTS', tok, item) == 1 then
  grant()
  keep()
  return -1
end
redis.call('ZADD', wait, redis.call('INCR', seq), item)
redis.call('ZADD', lease, now + tonumber(ARGV[2]), item)
redis.call('HSET', max, item, ARGV[5])
redis.call('HSET', tok, item, ARGV[6])
grant()
keep()
if redis.call('ZSCORE', held, item) then return 1 end
return 0
`)

// checkScript renews a ticket's lease and tells its state; the renewal
// doubles as the poll that catches a grant whose message was lost.
// ARGV[4] item, ARGV[5] token. Returns 1 holding, 0 waiting, -1 gone (the
// lease had lapsed, or another ticket joined the item since).
var checkScript = redis.NewScript(linePrelude + `
purge()
local item = ARGV[4]
if redis.call('HGET', tok, item) ~= ARGV[5] then
  grant()
  keep()
  return -1
end
redis.call('ZADD', lease, now + tonumber(ARGV[2]), item)
grant()
keep()
if redis.call('ZSCORE', held, item) then return 1 end
return 0
`)

// leaveScript removes a ticket's item, waiting or holding, and grants what
// that freed in the same step, so a slot is never left idle nor given
// twice. ARGV[4] item, ARGV[5] token. Returns 1 if it held a slot, 0 if it
// waited, -1 if it was gone already.
var leaveScript = redis.NewScript(linePrelude + `
purge()
local item = ARGV[4]
local was = -1
if redis.call('HGET', tok, item) == ARGV[5] then
  was = 0
  if redis.call('ZSCORE', held, item) then was = 1 end
  drop(item)
end
grant()
keep()
return was
`)

// statsScript purges and grants first, so that dead instances' items are
// not counted. Returns {waiting, holding}.
var statsScript = redis.NewScript(linePrelude + `
purge()
grant()
keep()
return {redis.call('ZCARD', wait), redis.call('ZCARD', held)}
`)

// positionScript: ARGV[4] item. Returns 0 holding, 1.. its place in line,
// -1 in neither.
var positionScript = redis.NewScript(linePrelude + `
purge()
grant()
keep()
local item = ARGV[4]
if redis.call('ZSCORE', held, item) then return 0 end
local r = redis.call('ZRANK', wait, item)
if r then return r + 1 end
return -1
`)

// The balancer keeps one sorted set per destination, token -> lease
// deadline (server ms), one member per active call. Its scripts are one
// key each (Order pipelines them, so destinations may live on different
// Cluster nodes); they are scripts for the server's clock, and so that
// dropping the lapsed counts and counting is one step.
//
// ARGV[1] lease ms, ARGV[2] key TTL ms (extended only, as for lines).
const destPrelude = `
if redis.replicate_commands then redis.replicate_commands() end
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
local function keep()
  local left = redis.call('PTTL', KEYS[1])
  if left ~= -2 and left < tonumber(ARGV[2]) then redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
end
`

// countScript returns the destination's active calls.
var countScript = redis.NewScript(destPrelude + `
return redis.call('ZCARD', KEYS[1])
`)

// acquireScript: ARGV[3] token. Counts one call.
var acquireScript = redis.NewScript(destPrelude + `
redis.call('ZADD', KEYS[1], now + tonumber(ARGV[1]), ARGV[3])
keep()
return 1
`)

// renewScript: ARGV[3] token. Returns 1 renewed, 0 gone (its lease had
// lapsed).
var renewScript = redis.NewScript(destPrelude + `
if not redis.call('ZSCORE', KEYS[1], ARGV[3]) then return 0 end
redis.call('ZADD', KEYS[1], now + tonumber(ARGV[1]), ARGV[3])
keep()
return 1
`)
