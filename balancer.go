package genesis

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"sync"
)

// A Balancer counts the active calls of each destination (a gateway, an
// agent's phone) across everything that uses it, so that calls go to the
// least busy destination first. [NewBalancer] counts in this process; the
// module github.com/genesis-esl/genesis/redisstore counts across app
// instances.
type Balancer interface {
	// Order returns dests, least busy first; destinations with the same
	// count keep the order they were given in.
	Order(ctx context.Context, dests []string) ([]string, error)
	// Acquire counts one more active call to dest until release is called.
	// release may be called any number of times and from any goroutine: the
	// count drops exactly once.
	Acquire(ctx context.Context, dest string) (release func(), err error)
}

// NewBalancer returns a Balancer that counts in this process, for every
// caller that shares it. It starts no goroutines.
func NewBalancer() Balancer {
	return &memoryBalancer{active: make(map[string]int)}
}

type memoryBalancer struct {
	mu     sync.Mutex
	active map[string]int // only destinations with a call
}

func (b *memoryBalancer) Order(ctx context.Context, dests []string) ([]string, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("genesis: balancer order: %w", err)
	}
	counts := make([]int, len(dests))
	b.mu.Lock()
	for i, d := range dests {
		counts[i] = b.active[d]
	}
	b.mu.Unlock()
	idx := make([]int, len(dests))
	for i := range idx {
		idx[i] = i
	}
	slices.SortStableFunc(idx, func(i, j int) int { return cmp.Compare(counts[i], counts[j]) })
	out := make([]string, len(dests))
	for k, i := range idx {
		out[k] = dests[i]
	}
	return out, nil
}

func (b *memoryBalancer) Acquire(ctx context.Context, dest string) (func(), error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("genesis: balancer acquire %s: %w", dest, err)
	}
	b.mu.Lock()
	b.active[dest]++
	b.mu.Unlock()
	var once sync.Once
	return func() {
		once.Do(func() {
			b.mu.Lock()
			defer b.mu.Unlock()
			if b.active[dest]--; b.active[dest] == 0 {
				delete(b.active, dest)
			}
		})
	}, nil
}
