package redisstore_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"net"
	"os"
	"os/exec"
	"strconv"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"
)

// redisAddr is the server every test talks to, set once by TestMain:
//   - REDIS_ADDR when set (.ci/run starts Debian's redis-server through
//     .ci/redis and exports it);
//   - else a redis-server found on PATH, started here on a free loopback
//     port without persistence and stopped after the tests;
//   - else (or with REDISSTORE_MINIREDIS=1) an in-process miniredis, so
//     that the tests pass on a fresh machine. They never skip.
var redisAddr string

func TestMain(m *testing.M) {
	flag.Parse() // for testing.Verbose
	addr, what, stop, err := startServer()
	if err != nil {
		fmt.Fprintln(os.Stderr, "redisstore tests:", err)
		os.Exit(1)
	}
	redisAddr = addr
	if testing.Verbose() {
		fmt.Println("redisstore tests against", what, "at", addr)
	}
	code := m.Run()
	stop()
	os.Exit(code)
}

func startServer() (addr, what string, stop func(), err error) {
	if a := os.Getenv("REDIS_ADDR"); a != "" {
		return a, "REDIS_ADDR", func() {}, nil
	}
	if os.Getenv("REDISSTORE_MINIREDIS") == "" {
		if path, err := exec.LookPath("redis-server"); err == nil {
			addr, stop, err := startRedisServer(path)
			return addr, path, stop, err
		}
	}
	m, err := miniredis.Run()
	if err != nil {
		return "", "", nil, err
	}
	return m.Addr(), "miniredis", m.Close, nil
}

// startRedisServer runs redis-server on a free loopback port (trying again
// should another process take the port first) and waits until it answers
// PING.
func startRedisServer(path string) (string, func(), error) {
	var lastErr error
	for range 5 {
		port, err := freePort()
		if err != nil {
			return "", nil, err
		}
		cmd := exec.Command(path, "--port", strconv.Itoa(port), "--bind", "127.0.0.1",
			"--save", "", "--appendonly", "no", "--daemonize", "no", "--loglevel", "warning")
		dieWithTests(cmd)
		if err := cmd.Start(); err != nil {
			return "", nil, err
		}
		exited := make(chan error, 1)
		go func() { exited <- cmd.Wait() }()
		addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
		if lastErr = waitPing(addr, exited); lastErr == nil {
			return addr, func() { cmd.Process.Kill(); <-exited }, nil
		}
		cmd.Process.Kill()
		<-exited
	}
	return "", nil, fmt.Errorf("start %s: %w", path, lastErr)
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

func waitPing(addr string, exited <-chan error) error {
	rdb := redis.NewClient(&redis.Options{Addr: addr, MaxRetries: -1})
	defer rdb.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for {
		err := rdb.Ping(ctx).Err()
		if err == nil {
			return nil
		}
		select {
		case err := <-exited:
			return errors.Join(errors.New("redis-server exited"), err)
		case <-ctx.Done():
			return fmt.Errorf("no PING reply from %s: %w", addr, err)
		case <-tick.C:
		}
	}
}

// newClient is one go-redis client: one app instance's connection.
func newClient(t testing.TB) *redis.Client {
	rdb := redis.NewClient(&redis.Options{Addr: redisAddr})
	t.Cleanup(func() { rdb.Close() })
	return rdb
}

// testPrefix keeps each test's keys apart on a shared server.
func testPrefix(t testing.TB) string {
	var b [4]byte
	rand.Read(b[:])
	return "gt:" + t.Name() + ":" + hex.EncodeToString(b[:]) + ":"
}

func testContext(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
	t.Cleanup(cancel)
	return ctx
}
