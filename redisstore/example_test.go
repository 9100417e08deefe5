package redisstore_test

import (
	"context"
	"fmt"
	"log"

	"github.com/genesis-esl/genesis"
	"github.com/genesis-esl/genesis/redisstore"
	"github.com/redis/go-redis/v9"
)

// Two app instances share the "sales" line through Redis: a caller of the
// second instance waits for the first instance's call to end. Each
// instance has its own client; the tests' server stands in for
// 127.0.0.1:6379.
func ExampleNewQueueBackend() {
	ctx := context.Background()
	rdb1 := redis.NewClient(&redis.Options{Addr: redisAddr}) // instance 1
	defer rdb1.Close()
	rdb2 := redis.NewClient(&redis.Options{Addr: redisAddr}) // instance 2
	defer rdb2.Close()
	queue1 := genesis.NewQueue(redisstore.NewQueueBackend(rdb1, redisstore.WithPrefix("example:")))
	queue2 := genesis.NewQueue(redisstore.NewQueueBackend(rdb2, redisstore.WithPrefix("example:")))

	first, err := queue1.Acquire(ctx, "sales", genesis.WithItemID("caller-1"))
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(first.ItemID(), "is put through by instance 1")

	queued := make(chan struct{})
	served := make(chan *genesis.Slot)
	go func() {
		slot, err := queue2.Acquire(ctx, "sales", genesis.WithItemID("caller-2"),
			genesis.WithWaiting(func(position int) {
				fmt.Println("caller-2 waits on instance 2, number", position, "in line")
				close(queued)
			}))
		if err != nil {
			log.Fatal(err)
		}
		served <- slot
	}()
	<-queued
	stats, err := queue1.Stats(ctx, "sales")
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("instance 1 sees %d waiting, %d active\n", stats.Waiting, stats.Active)

	first.Release() // the call on instance 1 ends
	second := <-served
	fmt.Println(second.ItemID(), "is put through by instance 2")
	second.Release()
	// Output:
	// caller-1 is put through by instance 1
	// caller-2 waits on instance 2, number 1 in line
	// instance 1 sees 1 waiting, 1 active
	// caller-2 is put through by instance 2
}

// Balancers on two instances count each other's calls.
func ExampleNewBalancer() {
	ctx := context.Background()
	rdb1 := redis.NewClient(&redis.Options{Addr: redisAddr})
	defer rdb1.Close()
	rdb2 := redis.NewClient(&redis.Options{Addr: redisAddr})
	defer rdb2.Close()
	b1 := redisstore.NewBalancer(rdb1, redisstore.WithPrefix("example:"))
	b2 := redisstore.NewBalancer(rdb2, redisstore.WithPrefix("example:"))
	gateways := []string{"sofia/gateway/a/", "sofia/gateway/b/"}

	release, err := b1.Acquire(ctx, "sofia/gateway/a/") // a call on instance 1
	if err != nil {
		log.Fatal(err)
	}
	order, err := b2.Order(ctx, gateways) // seen from instance 2
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(order)
	release()
	order, err = b2.Order(ctx, gateways)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(order)
	// Output:
	// [sofia/gateway/b/ sofia/gateway/a/]
	// [sofia/gateway/a/ sofia/gateway/b/]
}
