package otelgenesis_test

import (
	"context"
	"fmt"
	"net"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/genesis-esl/genesis/otelgenesis"
	"go.opentelemetry.io/otel/attribute"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
)

// testContext is what a test waits under: the test's own context with a
// deadline.
func testContext(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// env is an Instrumentation wired to in-memory readers.
type env struct {
	inst   *otelgenesis.Instrumentation
	reader *sdkmetric.ManualReader
	spans  *tracetest.SpanRecorder
	tp     *sdktrace.TracerProvider // for the application's own spans
}

func newEnv(t *testing.T, opts ...otelgenesis.Option) *env {
	t.Helper()
	reader := sdkmetric.NewManualReader()
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))
	rec := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec))
	t.Cleanup(func() {
		mp.Shutdown(context.Background())
		tp.Shutdown(context.Background())
	})
	inst, err := otelgenesis.New(append([]otelgenesis.Option{
		otelgenesis.WithMeterProvider(mp), otelgenesis.WithTracerProvider(tp),
	}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	return &env{inst: inst, reader: reader, spans: rec, tp: tp}
}

// metrics collects what the instruments hold now.
func (e *env) metrics(t *testing.T) metrics {
	t.Helper()
	var rm metricdata.ResourceMetrics
	if err := e.reader.Collect(context.Background(), &rm); err != nil {
		t.Fatal(err)
	}
	m := metrics{}
	for _, sm := range rm.ScopeMetrics {
		if sm.Scope.Name != otelgenesis.ScopeName {
			t.Fatalf("scope %q", sm.Scope.Name)
		}
		for _, md := range sm.Metrics {
			m[md.Name] = md
		}
	}
	return m
}

type metrics map[string]metricdata.Metrics

// key renders an attribute set as "k=v,k=v" (sorted by key), "" when empty.
func key(s attribute.Set) string { return s.Encoded(attribute.DefaultEncoder()) }

// sums returns an Int64 sum's points by attribute set (points at 0 left
// out: an UpDownCounter keeps them).
func (m metrics) sums(t *testing.T, name string) map[string]int64 {
	t.Helper()
	out := map[string]int64{}
	md, ok := m[name]
	if !ok {
		return out
	}
	s, ok := md.Data.(metricdata.Sum[int64])
	if !ok {
		t.Fatalf("%s is a %T", name, md.Data)
	}
	for _, p := range s.DataPoints {
		if p.Value != 0 {
			out[key(p.Attributes)] = p.Value
		}
	}
	return out
}

// counts returns a histogram's counts by attribute set.
func (m metrics) counts(t *testing.T, name string) map[string]uint64 {
	t.Helper()
	out := map[string]uint64{}
	md, ok := m[name]
	if !ok {
		return out
	}
	h, ok := md.Data.(metricdata.Histogram[float64])
	if !ok {
		t.Fatalf("%s is a %T", name, md.Data)
	}
	for _, p := range h.DataPoints {
		out[key(p.Attributes)] = p.Count
	}
	return out
}

// tree renders the ended spans as an indented tree, children in the order
// they started: "name status k=v …", with the attributes named in show and
// values replaced as names says (channel UUIDs by a label).
func (e *env) tree(show []string, names map[string]string) string {
	spans := e.spans.Ended()
	children := map[string][]sdktrace.ReadOnlySpan{}
	ids := map[string]bool{}
	for _, s := range spans {
		ids[s.SpanContext().SpanID().String()] = true
	}
	var roots []sdktrace.ReadOnlySpan
	for _, s := range spans {
		p := s.Parent().SpanID().String()
		if s.Parent().IsValid() && ids[p] {
			children[p] = append(children[p], s)
		} else {
			roots = append(roots, s)
		}
	}
	var b strings.Builder
	var walk func(level int, list []sdktrace.ReadOnlySpan)
	walk = func(level int, list []sdktrace.ReadOnlySpan) {
		slices.SortStableFunc(list, func(a, b sdktrace.ReadOnlySpan) int { return a.StartTime().Compare(b.StartTime()) })
		for _, s := range list {
			fmt.Fprintf(&b, "%s%s %s", strings.Repeat("  ", level), s.Name(), strings.ToLower(s.Status().Code.String()))
			attrs := s.Attributes()
			slices.SortFunc(attrs, func(a, b attribute.KeyValue) int { return strings.Compare(string(a.Key), string(b.Key)) })
			for _, a := range attrs {
				if !slices.Contains(show, string(a.Key)) {
					continue
				}
				v := a.Value.Emit()
				if n, ok := names[v]; ok {
					v = n
				}
				fmt.Fprintf(&b, " %s=%s", a.Key, v)
			}
			b.WriteString("\n")
			walk(level+1, children[s.SpanContext().SpanID().String()])
		}
	}
	walk(0, roots)
	return b.String()
}

// clock is a fake clock for health.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func newClock() *clock { return &clock{now: time.Date(2025, 1, 1, 12, 0, 0, 0, time.UTC)} }

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// listen listens on a loopback port for an Outbound server.
func listen() (net.Listener, error) { return net.Listen("tcp", "127.0.0.1:0") }
