package genesis

// Engine benchmarks, each paired with a baseline measured in the same
// benchmark call (timer stopped), so that the reported ratio compares two
// measurements taken under the same machine load:
//
//	BenchmarkAPIRoundTrip        Inbound.API over loopback     x-raw: ÷ raw TCP ping-pong of the same bytes
//	BenchmarkAPIRoundTripNoReader  the same without the reader goroutine (encode + parse only)
//	BenchmarkEventsThroughput    socket → On("ALL") handler    x-raw: ÷ bufio framing by Content-Length
//	BenchmarkDispatchChannels    conn.route with N channels    x-10ch: ÷ the same with 10 channels
//
// The baselines also run on their own as BenchmarkAPIRoundTripRaw and
// BenchmarkEventsThroughputRaw.

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
	"unsafe"

	"github.com/google/uuid"
)

// --- a minimal ESL peer for benchmarks -------------------------------------

const (
	benchAPICommand = "api status\n\n"
	benchAPIBody    = "UP 0 years, 0 days, 1 hour, 2 minutes, 3 seconds, 456 milliseconds, 789 microseconds\n" +
		"FreeSWITCH (Version 1.10.12 -release 64bit) is ready\n"
	benchEventsOK = "Content-Type: command/reply\nReply-Text: +OK event listener enabled plain\n\n"
)

var benchAPIFrame = []byte(frameAPI(benchAPIBody))

// benchServer accepts connections, greets each with auth/request, accepts
// any auth, then answers "api …" with benchAPIFrame and "event …" with
// +OK. Each connection's stream channel, when sent n, writes n copies of
// the stream frame (in batches, as a busy switch does).
type benchServer struct {
	ln     net.Listener
	stream []byte // one frame; may be nil
	conns  chan *benchServerConn
	wg     sync.WaitGroup
}

type benchServerConn struct {
	nc     net.Conn
	stream chan int
}

func startBenchServer(tb testing.TB, stream []byte) *benchServer {
	tb.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	s := &benchServer{ln: ln, stream: stream, conns: make(chan *benchServerConn, 64)}
	accepting := make(chan struct{})
	go func() {
		defer close(accepting)
		for {
			nc, err := ln.Accept()
			if err != nil {
				return
			}
			sc := &benchServerConn{nc: nc, stream: make(chan int)}
			s.conns <- sc
			s.wg.Add(2)
			go func() { defer s.wg.Done(); s.serve(sc) }()
			go func() { defer s.wg.Done(); s.streamTo(sc) }()
		}
	}()
	tb.Cleanup(func() {
		ln.Close()
		<-accepting
		close(s.conns)
		for sc := range s.conns {
			sc.nc.Close()
		}
		s.wg.Wait()
	})
	return s
}

func (s *benchServer) addr() string { return s.ln.Addr().String() }

func (s *benchServer) serve(sc *benchServerConn) {
	defer close(sc.stream)
	defer sc.nc.Close()
	var wmu sync.Mutex // the streamer writes too
	write := func(p []byte) error {
		wmu.Lock()
		defer wmu.Unlock()
		_, err := sc.nc.Write(p)
		return err
	}
	if write([]byte(frameAuthRequest)) != nil {
		return
	}
	br := bufio.NewReaderSize(sc.nc, 4096)
	for {
		first, err := benchReadCommand(br)
		if err != nil {
			return
		}
		var reply []byte
		switch {
		case bytes.HasPrefix(first, []byte("api ")):
			reply = benchAPIFrame
		case bytes.HasPrefix(first, []byte("auth ")):
			reply = []byte(frameAuthOK)
		default: // event plain …, filter …
			reply = []byte(benchEventsOK)
		}
		if write(reply) != nil {
			return
		}
	}
}

// benchReadCommand reads one command up to its blank line and returns the
// first byte of its first line (enough to tell api from auth from event).
func benchReadCommand(br *bufio.Reader) ([]byte, error) {
	var first [8]byte
	n := -1
	for {
		line, err := br.ReadSlice('\n')
		if err != nil {
			return nil, err
		}
		if len(line) == 1 {
			if n < 0 {
				continue
			}
			return first[:n], nil
		}
		if n < 0 {
			n = copy(first[:], line)
		}
	}
}

func (s *benchServer) streamTo(sc *benchServerConn) {
	const perBatch = 32
	batch := bytes.Repeat(s.stream, perBatch)
	for {
		n, ok := <-sc.stream
		if !ok {
			return
		}
		for n >= perBatch {
			if _, err := sc.nc.Write(batch); err != nil {
				return
			}
			n -= perBatch
		}
		if n > 0 {
			if _, err := sc.nc.Write(batch[:n*len(s.stream)]); err != nil {
				return
			}
		}
	}
}

// accepted returns the server side of the connection just dialled.
func (s *benchServer) accepted(tb testing.TB) *benchServerConn {
	tb.Helper()
	select {
	case sc := <-s.conns:
		return sc
	case <-time.After(10 * time.Second):
		tb.Fatal("no connection")
		return nil
	}
}

// rawClient speaks ESL with nothing but a bufio.Reader: the floor any
// client pays for the same bytes.
type rawClient struct {
	nc   net.Conn
	br   *bufio.Reader
	body []byte
}

func dialRaw(tb testing.TB, addr string) *rawClient {
	tb.Helper()
	nc, err := net.Dial("tcp", addr)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { nc.Close() })
	r := &rawClient{nc: nc, br: bufio.NewReaderSize(nc, readBufferSize), body: make([]byte, 0, 4096)}
	r.frame(tb) // auth/request
	r.command(tb, "auth ClueCon\n\n")
	return r
}

// frame reads one frame, framing it by Content-Length only.
func (r *rawClient) frame(tb testing.TB) {
	n := 0
	for {
		line, err := r.br.ReadSlice('\n')
		if err != nil {
			tb.Fatal(err)
		}
		if len(line) == 1 {
			break
		}
		if v, ok := bytes.CutPrefix(line, []byte("Content-Length: ")); ok {
			n, _ = strconv.Atoi(string(v[:len(v)-1]))
		}
	}
	if cap(r.body) < n {
		r.body = make([]byte, n)
	}
	r.body = r.body[:n]
	if _, err := io.ReadFull(r.br, r.body); err != nil {
		tb.Fatal(err)
	}
}

func (r *rawClient) command(tb testing.TB, cmd string) {
	if _, err := io.WriteString(r.nc, cmd); err != nil {
		tb.Fatal(err)
	}
	r.frame(tb)
}

// --- 1. API round trip -----------------------------------------------------

// rawPingPong does n round trips of the api command's bytes and returns the
// time they took: write the command, io.ReadFull the known response length.
func rawPingPong(tb testing.TB, r *rawClient, n int) time.Duration {
	cmd := []byte(benchAPICommand)
	resp := make([]byte, len(benchAPIFrame))
	start := time.Now()
	for range n {
		if _, err := r.nc.Write(cmd); err != nil {
			tb.Fatal(err)
		}
		if _, err := io.ReadFull(r.br, resp); err != nil {
			tb.Fatal(err)
		}
	}
	d := time.Since(start)
	if n > 0 && !bytes.Equal(resp, benchAPIFrame) {
		tb.Fatalf("raw response %q", resp)
	}
	return d
}

// BenchmarkAPIRoundTripRaw is the floor for BenchmarkAPIRoundTrip: a raw TCP
// ping-pong of the same bytes against the same server.
func BenchmarkAPIRoundTripRaw(b *testing.B) {
	s := startBenchServer(b, nil)
	r := dialRaw(b, s.addr())
	b.ReportAllocs()
	b.ResetTimer()
	rawPingPong(b, r, b.N)
}

// BenchmarkAPIRoundTrip is Inbound.API over loopback. x-raw is its time
// per call divided by the raw ping-pong's, measured right after it on the
// same server (target ≤ 1.1).
func BenchmarkAPIRoundTrip(b *testing.B) {
	s := startBenchServer(b, nil)
	ctx := context.Background()
	c, err := Dial(ctx, s.addr(), "ClueCon")
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	r := dialRaw(b, s.addr())
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		body, err := c.API(ctx, "status")
		if err != nil || len(body) != len(benchAPIBody) {
			b.Fatalf("API: %q, %v", body, err)
		}
	}
	b.StopTimer()
	genesis := b.Elapsed()
	raw := rawPingPong(b, r, b.N)
	b.ReportMetric(float64(raw.Nanoseconds())/float64(b.N), "raw-ns/op")
	b.ReportMetric(float64(genesis)/float64(raw), "x-raw")
}

// BenchmarkAPIRoundTripNoReader is the API round trip with the library's
// own encoder and frame reader but no reader goroutine: the caller writes
// the command and reads the reply itself, as the raw ping-pong does. Its
// x-raw is what encoding and parsing cost; BenchmarkAPIRoundTrip's excess
// over it is the hand-off from the reader goroutine to the caller that
// DESIGN rule 1 implies.
func BenchmarkAPIRoundTripNoReader(b *testing.B) {
	s := startBenchServer(b, nil)
	r := dialRaw(b, s.addr())
	fr := newFrameReader(r.br, 0)
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		buf, err := appendCommand(nil, "api status")
		if err != nil {
			b.Fatal(err)
		}
		if _, err := r.nc.Write(buf); err != nil {
			b.Fatal(err)
		}
		ev, err := fr.readFrame()
		if err != nil || len(ev.Body()) != len(benchAPIBody) {
			b.Fatalf("reply: %v", err)
		}
	}
	b.StopTimer()
	genesis := b.Elapsed()
	raw := rawPingPong(b, r, b.N)
	b.ReportMetric(float64(raw.Nanoseconds())/float64(b.N), "raw-ns/op")
	b.ReportMetric(float64(genesis)/float64(raw), "x-raw")
}

// BenchmarkAPIRoundTripParallel runs API from GOMAXPROCS×4 goroutines on one
// connection (replies are pipelined through the FIFO of waiters). raw-ns/op
// is the same number of raw ping-pongs over one raw connection per
// goroutine (no pipelining possible on a raw ping-pong), measured after it.
func BenchmarkAPIRoundTripParallel(b *testing.B) {
	s := startBenchServer(b, nil)
	ctx := context.Background()
	c, err := Dial(ctx, s.addr(), "ClueCon")
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	b.SetParallelism(4)
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := c.API(ctx, "status"); err != nil {
				b.Error(err)
				return
			}
		}
	})
	b.StopTimer()
	genesis := b.Elapsed()
	// Baseline: the same number of round trips, spread over as many raw
	// connections as RunParallel used goroutines.
	workers := 4 * runtime.GOMAXPROCS(0)
	raws := make([]*rawClient, workers)
	for i := range raws {
		raws[i] = dialRaw(b, s.addr())
	}
	var wg sync.WaitGroup
	start := time.Now()
	for i, r := range raws {
		n := b.N / workers
		if i < b.N%workers {
			n++
		}
		wg.Add(1)
		go func() { defer wg.Done(); rawPingPong(b, r, n) }()
	}
	wg.Wait()
	raw := time.Since(start)
	b.ReportMetric(float64(raw.Nanoseconds())/float64(b.N), "raw-ns/op")
	b.ReportMetric(float64(genesis)/float64(raw), "x-raw")
}

// --- 2. events throughput --------------------------------------------------

// rawFrames reads n stream frames on r, framing by Content-Length only.
func rawFrames(tb testing.TB, r *rawClient, sc *benchServerConn, n int) time.Duration {
	start := time.Now()
	sc.stream <- n
	for range n {
		r.frame(tb)
	}
	return time.Since(start)
}

// BenchmarkEventsThroughputRaw is the floor for BenchmarkEventsThroughput: a
// plain bufio reader that only frames the same stream by Content-Length.
func BenchmarkEventsThroughputRaw(b *testing.B) {
	frame := benchFrame(b)
	s := startBenchServer(b, frame)
	r := dialRaw(b, s.addr())
	sc := s.accepted(b)
	r.command(b, "event plain ALL\n\n")
	b.SetBytes(int64(len(frame)))
	b.ReportAllocs()
	b.ResetTimer()
	rawFrames(b, r, sc, b.N)
	b.StopTimer()
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "events/s")
}

// BenchmarkEventsThroughput streams the captured CHANNEL_PARK event from a
// loopback socket to a handler registered with On("ALL") after
// Subscribe("ALL"); ns/op is per event. x-raw divides by the bufio framing
// of the same stream, measured right after it (target ≤ 4).
func BenchmarkEventsThroughput(b *testing.B) {
	frame := benchFrame(b)
	s := startBenchServer(b, frame)
	ctx := context.Background()
	c, err := Dial(ctx, s.addr(), "ClueCon")
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	sc := s.accepted(b)
	if err := c.Subscribe(ctx, "ALL"); err != nil {
		b.Fatal(err)
	}
	var got atomic.Int64
	want := int64(b.N)
	done := make(chan struct{})
	c.On("ALL", func(_ context.Context, e *Event) {
		if e.Name() != "CHANNEL_PARK" {
			b.Errorf("event %q", e.Name())
		}
		if got.Add(1) == want {
			close(done)
		}
	})
	r := dialRaw(b, s.addr())
	rsc := s.accepted(b)
	r.command(b, "event plain ALL\n\n")

	b.SetBytes(int64(len(frame)))
	b.ReportAllocs()
	b.ResetTimer()
	sc.stream <- b.N
	select {
	case <-done:
	case <-time.After(2 * time.Minute):
		b.Fatalf("handler saw %d of %d events (dropped by a full dispatch queue?)", got.Load(), b.N)
	}
	b.StopTimer()
	genesis := b.Elapsed()
	b.ReportMetric(float64(b.N)/genesis.Seconds(), "events/s")
	raw := rawFrames(b, r, rsc, b.N)
	b.ReportMetric(float64(raw.Nanoseconds())/float64(b.N), "raw-ns/op")
	b.ReportMetric(float64(genesis)/float64(raw), "x-raw")
}

// --- 3. per-event routing with many live channels --------------------------

// dispatchFixture is a conn (its peer never writes) with n live channels,
// and one CHANNEL_PARK event whose Unique-ID is rewritten in place before
// each delivery: the event is hot in cache as one just parsed is, the
// target channel's state is whatever the round-robin over n leaves it.
type dispatchFixture struct {
	c    *conn
	ids  []string
	ev   *Event
	text []byte // ev.text's bytes, writable
	uid  int    // offset of the Unique-ID value in text
}

func newDispatchFixture(tb testing.TB, frame []byte, n int, dtmf bool) *dispatchFixture {
	tb.Helper()
	local, peer := net.Pipe()
	c := newConn(local, newFrameReader(local, 0), buildDialConfig(nil).connConfig())
	tb.Cleanup(func() { c.close(); peer.Close() })
	ev, err := newFrameReader(bytes.NewReader(frame), 0).readFrame()
	if err != nil {
		tb.Fatal(err)
	}
	f := &dispatchFixture{c: c, ids: make([]string, n), ev: ev, uid: -1}
	for i := range ev.numHeaders() {
		if name, value := ev.header(i); name == "Unique-ID" && len(value) == 36 {
			f.uid = strings.Index(ev.text, name+": "+value) + len(name) + 2
			break
		}
	}
	if f.uid < 0 {
		tb.Fatal("no Unique-ID in the captured event")
	}
	// The benchmark alone breaks the rule that an Event's text never
	// changes: the event is never retained (no user handler matches it),
	// and a fresh parse would cost more than what is measured.
	f.text = []byte(ev.text)
	ev.text = unsafe.String(unsafe.SliceData(f.text), len(f.text))
	for i := range n {
		f.ids[i] = uuid.NewString()
		ch := newChannel(c, f.ids[i], StateExecute)
		if dtmf {
			ch.OnDTMF("1", func(context.Context, string) {})
		}
	}
	return f
}

// route delivers n events round-robin over the channels and returns the
// time it took.
func (f *dispatchFixture) route(n int) time.Duration {
	start := time.Now()
	for i := range n {
		copy(f.text[f.uid:], f.ids[i%len(f.ids)])
		f.c.route(f.ev)
	}
	return time.Since(start)
}

// BenchmarkDispatchChannels measures conn.route (the reader's per-event
// work after parsing: Unique-ID lookup, the Channel's state bookkeeping,
// the user-handler registry) for a CHANNEL_PARK event of one of N live
// channels on one connection, round-robin over all N. Issue 6: flat in N.
// x-10ch divides by the same loop over a 10-channel connection, measured
// right after it. "+dtmf" gives every channel an OnDTMF handler too (a
// per-Unique-ID registry entry that a CHANNEL_PARK does not match).
func BenchmarkDispatchChannels(b *testing.B) {
	frame := benchFrame(b)
	for _, dtmf := range []bool{false, true} {
		for _, n := range []int{10, 10000} {
			name := fmt.Sprintf("channels=%d", n)
			if dtmf {
				name += "+dtmf"
			}
			b.Run(name, func(b *testing.B) {
				f := newDispatchFixture(b, frame, n, dtmf)
				f.route(n) // warm every channel's maps
				var small *dispatchFixture
				if n != 10 {
					small = newDispatchFixture(b, frame, 10, dtmf)
					small.route(10)
				}
				b.ReportAllocs()
				b.ResetTimer()
				f.route(b.N)
				b.StopTimer()
				if small != nil {
					d := small.route(b.N)
					b.ReportMetric(float64(b.Elapsed())/float64(d), "x-10ch")
				}
			})
		}
	}
}

// BenchmarkReadFrameSocket is the reader's parsing alone over the same
// loopback stream as BenchmarkEventsThroughput (no routing, no handler),
// with the frameReader's bufio buffer at the library's size (32 KiB) and
// smaller: what a smaller per-connection buffer (outbound sessions hold
// one each) would cost in throughput.
func BenchmarkReadFrameSocket(b *testing.B) {
	frame := benchFrame(b)
	for _, size := range []int{4 << 10, 8 << 10, readBufferSize} {
		b.Run(fmt.Sprintf("buf=%d", size), func(b *testing.B) {
			s := startBenchServer(b, frame)
			r := dialRaw(b, s.addr()) // handshake done; its bufio is empty now
			sc := s.accepted(b)
			r.command(b, "event plain ALL\n\n")
			fr := newFrameReader(bufio.NewReaderSize(r.nc, size), 0)
			b.SetBytes(int64(len(frame)))
			b.ReportAllocs()
			b.ResetTimer()
			sc.stream <- b.N
			for range b.N {
				if _, err := fr.readFrame(); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
