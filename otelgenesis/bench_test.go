package otelgenesis_test

import (
	"context"
	"testing"
	"time"

	"github.com/genesis-esl/genesis"
	"github.com/genesis-esl/genesis/fakeswitch"
	"github.com/genesis-esl/genesis/otelgenesis"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	tracenoop "go.opentelemetry.io/otel/trace/noop"
)

// benchInstrumentation records into the SDK (metrics into a reader never
// collected; every span sampled, recorded and dropped at End, so export
// is not measured), or with traces false into the SDK's metrics only.
func benchInstrumentation(b *testing.B, traces bool) *otelgenesis.Instrumentation {
	b.Helper()
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(sdkmetric.NewManualReader()))
	opts := []otelgenesis.Option{otelgenesis.WithMeterProvider(mp)}
	if traces {
		tp := sdktrace.NewTracerProvider(sdktrace.WithSampler(sdktrace.AlwaysSample()))
		opts = append(opts, otelgenesis.WithTracerProvider(tp))
	} else {
		opts = append(opts, otelgenesis.WithTracerProvider(tracenoop.NewTracerProvider()))
	}
	inst, err := otelgenesis.New(opts...)
	if err != nil {
		b.Fatal(err)
	}
	return inst
}

func dialBench(b *testing.B, ctx context.Context, srv *fakeswitch.Server, opts ...genesis.DialOption) *genesis.Inbound {
	b.Helper()
	c, err := genesis.Dial(ctx, srv.Addr(), srv.Password(), opts...)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { c.Close() })
	return c
}

// BenchmarkAPIRoundTrip is one "api status" against fakeswitch: bare, with
// the SDK's metrics, and with the SDK's metrics and sampled spans.
func BenchmarkAPIRoundTrip(b *testing.B) {
	ctx := context.Background()
	srv := fakeswitch.StartT(b)
	for _, bc := range []struct {
		name string
		opts []genesis.DialOption
	}{
		{"bare", nil},
		{"metrics", []genesis.DialOption{genesis.WithHooks(benchInstrumentation(b, false).Hooks())}},
		{"metrics+traces", []genesis.DialOption{genesis.WithHooks(benchInstrumentation(b, true).Hooks())}},
	} {
		b.Run(bc.name, func(b *testing.B) {
			c := dialBench(b, ctx, srv, bc.opts...)
			b.ReportAllocs()
			for b.Loop() {
				if _, err := c.API(ctx, "status"); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkAPIRoundTripRatio interleaves bare and instrumented round trips
// in the same run (with the SDK's metrics, and with its metrics and sampled
// spans) and reports how much longer an instrumented one takes
// (instrumented/bare).
func BenchmarkAPIRoundTripRatio(b *testing.B) {
	for _, traces := range []bool{false, true} {
		name := "metrics"
		if traces {
			name = "metrics+traces"
		}
		b.Run(name, func(b *testing.B) {
			ctx := context.Background()
			srv := fakeswitch.StartT(b)
			bare := dialBench(b, ctx, srv)
			inst := dialBench(b, ctx, srv, genesis.WithHooks(benchInstrumentation(b, traces).Hooks()))
			var tBare, tInst time.Duration
			for b.Loop() {
				for _, r := range []struct {
					c *genesis.Inbound
					d *time.Duration
				}{{bare, &tBare}, {inst, &tInst}} {
					start := time.Now()
					if _, err := r.c.API(ctx, "status"); err != nil {
						b.Fatal(err)
					}
					*r.d += time.Since(start)
				}
			}
			b.ReportMetric(float64(tInst)/float64(tBare), "instrumented/bare")
			b.ReportMetric(float64(tBare)/float64(b.N), "bare-ns/op")
			b.ReportMetric(float64(tInst)/float64(b.N), "instrumented-ns/op")
		})
	}
}

// BenchmarkCommandHooks is the hooks' own cost per command, without the
// network: CommandStart and CommandEnd.
func BenchmarkCommandHooks(b *testing.B) {
	for _, traces := range []bool{false, true} {
		name := "metrics"
		if traces {
			name = "metrics+traces"
		}
		b.Run(name, func(b *testing.B) {
			h := benchInstrumentation(b, traces).Hooks()
			cmd := genesis.CommandInfo{Name: "api status", Conn: genesis.ConnInfo{Kind: "inbound", Addr: "127.0.0.1:8021"}}
			ctx := context.Background()
			b.ReportAllocs()
			for b.Loop() {
				h.CommandEnd(h.CommandStart(ctx, cmd), cmd, nil)
			}
		})
	}
}

// BenchmarkEventHook is the hook's cost per event received.
func BenchmarkEventHook(b *testing.B) {
	h := benchInstrumentation(b, false).Hooks()
	conn := genesis.ConnInfo{Kind: "inbound", Addr: "127.0.0.1:8021"}
	ev := genesis.EventInfo{Name: "CHANNEL_STATE"}
	b.ReportAllocs()
	for b.Loop() {
		h.Event(conn, ev)
	}
}
