package genesis_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/genesis-esl/genesis"
	"github.com/genesis-esl/genesis/fakeswitch"
)

// BenchmarkRing rings 10 destinations in parallel (all answer at once on
// fakeswitch: one wins, nine are hung up) until the switch is empty again;
// x-create divides by 10 concurrent CreateChannel calls and their hangups,
// measured in the same run (target ≤ 1.1).
func BenchmarkRing(b *testing.B) {
	ctx := context.Background()
	srv := fakeswitch.StartT(b, fakeswitch.WithRingDuration(0))
	c, err := genesis.Dial(ctx, srv.Addr(), srv.Password())
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	dests := make([]string, 10)
	for i := range dests {
		dests[i] = fmt.Sprintf("user/%d", 1000+i)
	}
	empty := func() {
		if err := srv.WaitChannels(ctx, func(cs []fakeswitch.ChannelInfo) bool { return len(cs) == 0 }); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportAllocs()
	start := time.Now()
	for range b.N {
		ch, err := genesis.Ring(ctx, c, dests, genesis.RingOptions{})
		if err != nil {
			b.Fatal(err)
		}
		ch.Hangup(ctx, genesis.CauseNormalClearing)
		empty()
	}
	ring := time.Since(start)
	b.StopTimer()

	start = time.Now()
	for range b.N {
		var wg sync.WaitGroup
		for _, d := range dests {
			wg.Add(1)
			go func() {
				defer wg.Done()
				ch, err := genesis.CreateChannel(ctx, c, d)
				if err != nil {
					b.Error(err)
					return
				}
				ch.Hangup(ctx, genesis.CauseNormalClearing)
			}()
		}
		wg.Wait()
		empty()
	}
	create := time.Since(start)
	b.ReportMetric(float64(create.Nanoseconds())/float64(b.N), "create-ns/op")
	b.ReportMetric(float64(ring)/float64(create), "x-create")
}
