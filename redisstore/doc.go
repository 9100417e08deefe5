// Package redisstore shares genesis's call-center state between app
// instances through Redis: the lines of a [genesis.Queue]
// ([NewQueueBackend]) and the per-destination call counts of a
// [genesis.Balancer] ([NewBalancer]). Several instances (processes, or
// clients in one process) on one Redis and prefix see one FIFO order and
// one limit per line, and one count per destination.
//
//	rdb := redis.NewClient(&redis.Options{Addr: "127.0.0.1:6379"})
//	q := genesis.NewQueue(redisstore.NewQueueBackend(rdb))
//	slot, err := q.Acquire(ctx, "sales", genesis.WithMaxConcurrent(3), genesis.WithItemID(callUUID))
//
// # Leases and delays
//
// Every waiter's place, slot and balancer count is a lease (10 s unless
// [WithLease] says otherwise), renewed by its instance every third of the
// lease, and kept as a deadline on the Redis server's clock. An instance
// that dies stops renewing, and Redis then forgets what it held:
//   - a slot or a place in line, once its lease has lapsed and a script
//     runs on that line; live waiters renew every third of the lease, so
//     the next in line gets a dead instance's slot at most 4/3 of the lease
//     after the dead instance's last renewal (13.3 s by default);
//   - a balancer count, at the next Order or Acquire after its lease
//     lapsed, so at most one lease (10 s) after the last renewal.
//
// An instance that cannot reach Redis keeps what it holds for up to two
// thirds of the lease (two renewals may fail); after a whole lease without
// a renewal it gives the slot up itself: [genesis.Slot.Done] is closed and
// [genesis.Slot.Err] wraps [genesis.ErrLeaseLost], no later than Redis
// frees the slot for someone else.
//
// A waiter whose context ends leaves the line in Redis before Acquire
// returns (one script); if Redis cannot be reached then, its lease removes
// it as above.
//
// Waiters learn of their grant by pub/sub, typically within a millisecond
// of the release that freed it. A message lost to a reconnect is made up
// for by the renewals, which also report grants: the worst-case wake-up
// delay is a third of the lease.
//
// # Data model
//
// Under the prefix (default "genesis:"): for each line, six keys with the
// hash tag {line} (so that Redis Cluster keeps a line on one node) —
// q:{line}:wait, :held, :lease, :max, :tok, :seq — and the channel
// q:grants; for each destination, one sorted set bal:<dest>. Every change
// is one Lua script, for atomicity; scripts.go says what each key holds.
// Every key has a TTL of twice the lease, extended by each script, so
// nothing outlives its last user for long.
//
// The module needs Redis 5 or newer (Debian's redis-server 7 is what its
// tests run on), or a Redis Cluster.
package redisstore
