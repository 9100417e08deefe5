package redisstore

import "context"

// Counts exposes the balancer's per-destination counts to the tests.
func (b *Balancer) Counts(ctx context.Context, dests []string) ([]int64, error) {
	return b.counts(ctx, dests)
}
