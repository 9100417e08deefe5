package redisstore_test

import (
	"context"
	"errors"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/genesis-esl/genesis/redisstore"
	"github.com/matryer/is"
)

// TestGoroutinesEnd is deliberately not parallel: parallel tests are
// paused while it runs, so any redisstore goroutine left once its slots are
// released, its waits are over and its dead instances' leases are lost is
// a leak. It covers every owner: a slot's renewer (released, and lost when
// its client closed), a waiter's renewer and the subscriber (served and
// canceled waits), a balancer count's renewer (released and lost).
func TestGoroutinesEnd(t *testing.T) {
	is := is.New(t)
	ctx := testContext(t)
	inst := newInstances(t, 3, redisstore.WithLease(300*time.Millisecond))
	bal := redisstore.NewBalancer(inst[0].rdb, redisstore.WithPrefix(testPrefix(t)), redisstore.WithLease(300*time.Millisecond))
	doomedBal := redisstore.NewBalancer(inst[2].rdb, redisstore.WithPrefix(testPrefix(t)), redisstore.WithLease(300*time.Millisecond))

	holder := receive(ctx, t, inst[0].acquireAsync(ctx, t, "l", "holder"))
	is.NoErr(holder.err)
	wctx, cancel := context.WithCancel(ctx)
	canceled := inst[1].acquireAsync(wctx, t, "l", "canceled")
	served := inst[1].acquireAsync(ctx, t, "l", "served")
	release, err := bal.Acquire(ctx, "gw")
	is.NoErr(err)
	_, err = doomedBal.Acquire(ctx, "gw")
	is.NoErr(err)
	doomed := receive(ctx, t, inst[2].acquireAsync(ctx, t, "other", "doomed"))
	is.NoErr(doomed.err)

	cancel()
	is.True(errors.Is(receive(ctx, t, canceled).err, context.Canceled))
	holder.slot.Release()
	s := receive(ctx, t, served)
	is.NoErr(s.err)
	s.slot.Release()
	release()
	inst[2].kill() // its slot and its count are lost, their renewers end
	<-doomed.slot.Done()

	deadline := time.Now().Add(5 * time.Second)
	for {
		left := storeGoroutines()
		if len(left) == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("redisstore goroutines left:\n%s", strings.Join(left, "\n\n"))
		}
		time.Sleep(10 * time.Millisecond) // a goroutine that closed its done channel may not have returned yet
	}
}

// storeGoroutines returns the stacks of goroutines running redisstore
// code, other than the tests' own.
func storeGoroutines() []string {
	buf := make([]byte, 1<<20)
	stacks := string(buf[:runtime.Stack(buf, true)])
	var left []string
	for _, g := range strings.Split(stacks, "\n\n") {
		if strings.Contains(g, "genesis/redisstore.") && !strings.Contains(g, "redisstore_test.") {
			left = append(left, g)
		}
	}
	return left
}
