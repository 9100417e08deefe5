package genesis_test

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"runtime"
	"runtime/pprof"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/genesis-esl/genesis"
	"github.com/genesis-esl/genesis/fakeswitch"
)

// startOutbound serves handler on a loopback port until the benchmark ends.
func startOutbound(tb testing.TB, handler genesis.SessionHandler) (*genesis.Outbound, string) {
	tb.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	out := genesis.NewOutbound(handler, ln.Addr().String())
	served := make(chan error, 1)
	go func() { served <- out.Serve(context.Background(), ln) }()
	tb.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		out.Shutdown(ctx)
		if err := <-served; !errors.Is(err, genesis.ErrServerClosed) {
			tb.Errorf("Serve: %v", err)
		}
	})
	return out, ln.Addr().String()
}

// BenchmarkOutboundSessions is the whole life of an outbound call through
// one Outbound server: fakeswitch's socket application connects, genesis
// runs the handshake (connect, event plain ALL + filter, linger) and calls
// the handler, which hangs the call up (uuid_kill, returns at
// CHANNEL_HANGUP_COMPLETE); the socket closes and fakeswitch destroys the
// channel. serial: one call at a time (latency); parallel: RunParallel
// callers (throughput). fakeswitch runs in the same process and its CPU
// is included.
func BenchmarkOutboundSessions(b *testing.B) {
	b.Run("serial", func(b *testing.B) { benchOutboundSessions(b, false) })
	b.Run("parallel", func(b *testing.B) { benchOutboundSessions(b, true) })
}

func benchOutboundSessions(b *testing.B, parallel bool) {
	srv := fakeswitch.StartT(b)
	var failed atomic.Int64
	var firstErr atomic.Value
	_, addr := startOutbound(b, func(ctx context.Context, s *genesis.Session) {
		// Not the handler's ctx: it ends at the linger disconnect notice,
		// which can come before CHANNEL_HANGUP_COMPLETE, and Hangup then
		// returns context.Canceled although the call did hang up.
		ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
		defer cancel()
		if err := s.Channel().Hangup(ctx, genesis.CauseNormalClearing); err != nil {
			failed.Add(1)
			firstErr.CompareAndSwap(nil, err.Error())
		}
	})
	ctx := context.Background()
	call := func() error {
		c, err := srv.Call(ctx, addr, nil)
		if err != nil {
			return err
		}
		select {
		case <-c.Done():
			return nil
		case <-time.After(30 * time.Second):
			return fmt.Errorf("call %s not destroyed", c.UUID())
		}
	}
	b.ReportAllocs()
	b.ResetTimer()
	if parallel {
		b.SetParallelism(8)
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				if err := call(); err != nil {
					b.Error(err)
					return
				}
			}
		})
	} else {
		for range b.N {
			if err := call(); err != nil {
				b.Fatal(err)
			}
		}
	}
	b.StopTimer()
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "sessions/s")
	if n := failed.Load(); n > 0 {
		b.Fatalf("%d of %d handlers failed to hang up; first: %v", n, b.N, firstErr.Load())
	}
}

// BenchmarkOutboundSessionMemory measures the Go heap (and goroutine
// stacks) per live outbound session: N calls are placed, each handler
// blocks until released, and HeapAlloc after GC is compared with before.
// The calls come from a fakeswitch in a child process (this test binary
// re-run as TestOutboundBenchCaller), so fakeswitch's own memory is not
// counted and each process holds only N sockets (ulimit -n is 20 000 on
// the benchmark machines). Kernel socket buffers are not in the Go heap.
// One op is one round of N sessions: set up, measured, released.
func BenchmarkOutboundSessionMemory(b *testing.B) {
	for _, n := range []int{2000, 10000} {
		b.Run(fmt.Sprintf("sessions=%d", n), func(b *testing.B) {
			if err := raiseFDLimit(uint64(n) + 1000); err != nil {
				b.Skipf("%d sessions need %d descriptors: %v", n, n+1000, err)
			}
			caller := startCallerProcess(b)
			var heap, stack, gor float64
			for range b.N {
				h, s, g := measureSessions(b, caller, n)
				heap += h
				stack += s
				gor += g
			}
			b.ReportMetric(heap/float64(b.N), "heap-B/session")
			b.ReportMetric(stack/float64(b.N), "stack-B/session")
			b.ReportMetric(gor/float64(b.N), "goroutines/session")
		})
	}
}

func measureSessions(b *testing.B, caller *callerProcess, n int) (heap, stack, goroutines float64) {
	release := make(chan struct{})
	all := make(chan struct{})
	var entered, exited atomic.Int64
	handler := func(ctx context.Context, s *genesis.Session) {
		defer exited.Add(1)
		if entered.Add(1) == int64(n) {
			close(all)
		}
		select {
		case <-release:
		case <-ctx.Done():
		}
	}
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	g0 := runtime.NumGoroutine()

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	out := genesis.NewOutbound(handler, ln.Addr().String())
	served := make(chan error, 1)
	go func() { served <- out.Serve(context.Background(), ln) }()

	t0 := time.Now()
	if err := caller.call(ln.Addr().String(), n); err != nil {
		b.Fatal(err)
	}
	t1 := time.Now()
	select {
	case <-all:
	case <-time.After(5 * time.Minute):
		b.Fatalf("%d of %d sessions reached the handler", entered.Load(), n)
	}
	t2 := time.Now()
	runtime.GC()
	runtime.GC()
	runtime.ReadMemStats(&after)
	g1 := runtime.NumGoroutine()
	if path := os.Getenv("GENESIS_BENCH_HEAPPROFILE"); path != "" {
		// The live sessions' heap, for go tool pprof -sample_index=inuse_space.
		if f, err := os.Create(fmt.Sprintf("%s.%d", path, n)); err == nil {
			pprof.WriteHeapProfile(f)
			f.Close()
		}
	}

	close(release)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if err := out.Shutdown(ctx); err != nil {
		b.Fatalf("shutdown: %v (%d of %d handlers returned)", err, exited.Load(), n)
	}
	<-served
	t3 := time.Now()
	if err := caller.wait(); err != nil { // every call destroyed on the switch
		b.Fatal(err)
	}
	b.Logf("%d sessions: calls connected %v, all in handlers %v, shut down %v, calls destroyed %v",
		n, t1.Sub(t0), t2.Sub(t1), t3.Sub(t2), time.Since(t3))
	heap = (float64(after.HeapAlloc) - float64(before.HeapAlloc)) / float64(n)
	stack = (float64(after.StackInuse) - float64(before.StackInuse)) / float64(n)
	return heap, stack, float64(g1-g0) / float64(n)
}

func raiseFDLimit(need uint64) error {
	var rl syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &rl); err != nil {
		return err
	}
	if rl.Cur >= need {
		return nil
	}
	if rl.Max < need {
		return fmt.Errorf("hard limit %d", rl.Max)
	}
	rl.Cur = rl.Max
	return syscall.Setrlimit(syscall.RLIMIT_NOFILE, &rl)
}

// callerProcess is a child process running a fakeswitch that places calls
// on request: "call <addr> <n>" places n calls (32 at a time) and answers
// "fsproc ok" once all are connected; "wait" answers once they are all
// destroyed; "quit" ends it.
type callerProcess struct {
	cmd *exec.Cmd
	in  io.WriteCloser
	out *bufio.Scanner
}

const callerEnv = "GENESIS_BENCH_CALLER"

func startCallerProcess(b *testing.B) *callerProcess {
	b.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^TestOutboundBenchCaller$", "-test.bench=^$", "-test.count=1", "-test.timeout=30m")
	cmd.Env = append(os.Environ(), callerEnv+"=1")
	cmd.Stderr = os.Stderr
	in, err := cmd.StdinPipe()
	if err != nil {
		b.Fatal(err)
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		b.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	p := &callerProcess{cmd: cmd, in: in, out: bufio.NewScanner(out)}
	b.Cleanup(func() {
		fmt.Fprintln(in, "quit")
		in.Close()
		done := make(chan error, 1)
		go func() { done <- cmd.Wait() }()
		select {
		case <-done:
		case <-time.After(30 * time.Second):
			cmd.Process.Kill()
			<-done
		}
	})
	return p
}

func (p *callerProcess) request(line string) error {
	if _, err := fmt.Fprintln(p.in, line); err != nil {
		return err
	}
	for p.out.Scan() {
		reply, ok := strings.CutPrefix(p.out.Text(), "fsproc ")
		if !ok {
			continue
		}
		if reply == "ok" {
			return nil
		}
		return errors.New("caller process: " + reply)
	}
	return fmt.Errorf("caller process ended: %v", p.out.Err())
}

func (p *callerProcess) call(addr string, n int) error {
	return p.request(fmt.Sprintf("call %s %d", addr, n))
}

func (p *callerProcess) wait() error { return p.request("wait") }

// TestOutboundBenchCaller is the child process of
// BenchmarkOutboundSessionMemory; run on its own it skips at once.
func TestOutboundBenchCaller(t *testing.T) {
	if os.Getenv(callerEnv) != "1" {
		t.Skip("helper process for BenchmarkOutboundSessionMemory")
	}
	if err := raiseFDLimit(1 << 14); err != nil {
		t.Log(err)
	}
	// fakeswitch, like FreeSWITCH, offers every event to every connection:
	// with N sockets on one switch, placing N calls costs O(N²). A switch
	// per 1 000 calls keeps the set-up time linear; the sessions measured
	// in the parent are the same.
	const perSwitch = 1000
	var srvs []*fakeswitch.Server
	defer func() {
		for _, srv := range srvs {
			srv.Close()
		}
	}()
	var calls []*fakeswitch.Call
	in := bufio.NewScanner(os.Stdin)
	for in.Scan() {
		f := strings.Fields(in.Text())
		switch {
		case len(f) == 3 && f[0] == "call":
			n, _ := strconv.Atoi(f[2])
			for len(srvs)*perSwitch < n {
				srv, err := fakeswitch.Start()
				if err != nil {
					fmt.Println("fsproc", err)
					return
				}
				srvs = append(srvs, srv)
			}
			var err error
			calls, err = placeCalls(srvs, f[1], n)
			if err != nil {
				fmt.Println("fsproc", err)
				continue
			}
			fmt.Println("fsproc ok")
		case len(f) == 1 && f[0] == "wait":
			timeout := time.After(2 * time.Minute)
			var err error
			for _, c := range calls {
				select {
				case <-c.Done():
				case <-timeout:
					err = fmt.Errorf("call %s not destroyed", c.UUID())
				}
				if err != nil {
					break
				}
			}
			calls = nil
			if err != nil {
				fmt.Println("fsproc", err)
				continue
			}
			fmt.Println("fsproc ok")
		default:
			return
		}
	}
}

func placeCalls(srvs []*fakeswitch.Server, addr string, n int) ([]*fakeswitch.Call, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	calls := make([]*fakeswitch.Call, n)
	errs := make([]error, n)
	var next atomic.Int64
	var wg sync.WaitGroup
	for range 32 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1) - 1)
				if i >= n {
					return
				}
				calls[i], errs[i] = srvs[i%len(srvs)].Call(ctx, addr, nil)
			}
		}()
	}
	wg.Wait()
	return calls, errors.Join(errs...)
}
