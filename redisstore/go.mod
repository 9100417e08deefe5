module github.com/genesis-esl/genesis/redisstore

go 1.24

replace github.com/genesis-esl/genesis => ../

require (
	github.com/alicebob/miniredis/v2 v2.40.0
	github.com/genesis-esl/genesis v0.0.0-00010101000000-000000000000
	github.com/matryer/is v1.4.1
	github.com/redis/go-redis/v9 v9.22.0
)

require (
	github.com/cespare/xxhash/v2 v2.3.0 // indirect
	github.com/google/uuid v1.6.0 // indirect
	github.com/yuin/gopher-lua v1.1.1 // indirect
	go.uber.org/atomic v1.11.0 // indirect
	golang.org/x/sys v0.30.0 // indirect
)
