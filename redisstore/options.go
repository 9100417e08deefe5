package redisstore

import "time"

// An Option configures NewQueueBackend or NewBalancer.
type Option func(*options)

type options struct {
	prefix string
	lease  time.Duration
}

// DefaultLease is the lease of a slot, a waiter's place and a balancer
// count when no WithLease is given.
const DefaultLease = 10 * time.Second

func buildOptions(opts []Option) options {
	o := options{prefix: "genesis:", lease: DefaultLease}
	for _, opt := range opts {
		opt(&o)
	}
	return o
}

// WithPrefix sets the prefix of every Redis key and channel the store
// uses; the default is "genesis:". Instances that share lines and counts
// use the same prefix; separate applications on one Redis use different
// ones.
func WithPrefix(p string) Option {
	return func(o *options) { o.prefix = p }
}

// WithLease sets how long Redis keeps a slot, a waiter's place or a
// balancer count that its instance no longer renews; the default is
// DefaultLease (10 s). The holder renews every third of it, so it rides out
// Redis being out of reach for up to two thirds of the lease, and a dead
// instance's slot is free for the next in line at most 4/3 of the lease
// after its last renewal (the lease, plus up to one renewal period of a
// live waiter, which is when its scripts notice). A shorter lease frees
// dead instances' slots sooner at the cost of more renewals; d <= 0 keeps
// the default, and leases below 10 ms are taken as 10 ms. Instances may
// use different leases.
func WithLease(d time.Duration) Option {
	return func(o *options) {
		if d > 0 {
			o.lease = max(d, minLease)
		}
	}
}

// minLease keeps renewals (every third of the lease) from spinning, and
// leases representable in whole milliseconds, as Redis keeps them.
const minLease = 10 * time.Millisecond
