package genesis_test

import (
	"context"
	"errors"
	"fmt"
	"log"
	"time"

	"github.com/genesis-esl/genesis"
)

// Two callers and one agent: the second caller waits, is told its place in
// line, and is put through when the first call ends.
func ExampleQueue() {
	ctx := context.Background()
	q := genesis.NewQueue(nil) // lines in this process; redisstore shares them between instances

	first, err := q.Acquire(ctx, "sales", genesis.WithItemID("caller-1"))
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(first.ItemID(), "is put through")

	queued := make(chan struct{})
	served := make(chan *genesis.Slot)
	go func() {
		slot, err := q.Acquire(ctx, "sales", genesis.WithItemID("caller-2"),
			genesis.WithWaiting(func(position int) {
				fmt.Println("caller-2 waits, number", position, "in line")
				close(queued)
			}))
		if err != nil {
			log.Fatal(err)
		}
		served <- slot
	}()
	<-queued
	stats, err := q.Stats(ctx, "sales")
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("waiting %d, active %d\n", stats.Waiting, stats.Active)

	first.Release() // the first call ends: the next in line gets the agent
	second := <-served
	fmt.Println(second.ItemID(), "is put through")
	second.Release()
	// Output:
	// caller-1 is put through
	// caller-2 waits, number 1 in line
	// waiting 1, active 1
	// caller-2 is put through
}

// A caller who waits too long (or hangs up: any end of ctx) leaves the line
// before Acquire returns, and is never given the agent afterwards.
func ExampleQueue_Acquire() {
	ctx := context.Background()
	q := genesis.NewQueue(nil)
	busy, err := q.Acquire(ctx, "support")
	if err != nil {
		log.Fatal(err)
	}
	defer busy.Release()

	waitCtx, cancel := context.WithTimeout(ctx, 50*time.Millisecond) // at most 50 ms on hold
	defer cancel()
	_, err = q.Acquire(waitCtx, "support", genesis.WithItemID("caller-2"))
	fmt.Println(err)
	if errors.Is(err, context.DeadlineExceeded) {
		fmt.Println("to voicemail")
	}
	_, err = q.Position(ctx, "support", "caller-2")
	fmt.Println(errors.Is(err, genesis.ErrNotInLine))
	// Output:
	// genesis: queue support: context deadline exceeded
	// to voicemail
	// true
}

// Three agents answer the "sales" line: three callers are put through at
// once, the fourth waits.
func ExampleWithMaxConcurrent() {
	ctx := context.Background()
	q := genesis.NewQueue(nil)
	var slots []*genesis.Slot
	for i := 1; i <= 3; i++ {
		s, err := q.Acquire(ctx, "sales", genesis.WithMaxConcurrent(3))
		if err != nil {
			log.Fatal(err)
		}
		slots = append(slots, s)
	}
	waitCtx, cancel := context.WithTimeout(ctx, 10*time.Millisecond)
	defer cancel()
	_, err := q.Acquire(waitCtx, "sales", genesis.WithMaxConcurrent(3))
	fmt.Println("fourth caller:", errors.Is(err, context.DeadlineExceeded))
	stats, err := q.Stats(ctx, "sales")
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("active:", stats.Active)
	for _, s := range slots {
		s.Release()
	}
	// Output:
	// fourth caller: true
	// active: 3
}

// A Balancer counts calls per destination; Order puts the least busy first.
func ExampleNewBalancer() {
	ctx := context.Background()
	b := genesis.NewBalancer()
	gateways := []string{"sofia/gateway/a/", "sofia/gateway/b/", "sofia/gateway/c/"}

	release, err := b.Acquire(ctx, "sofia/gateway/a/") // a call in progress on a
	if err != nil {
		log.Fatal(err)
	}
	order, err := b.Order(ctx, gateways)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(order)

	release() // the call ends
	release() // a second release changes nothing
	order, err = b.Order(ctx, gateways)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(order)
	// Output:
	// [sofia/gateway/b/ sofia/gateway/c/ sofia/gateway/a/]
	// [sofia/gateway/a/ sofia/gateway/b/ sofia/gateway/c/]
}
