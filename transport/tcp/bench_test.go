package tcp

import (
	"bufio"
	"context"
	"net"
	"syscall"
	"testing"
	"time"

	"github.com/stellarfw/stellar-go/action"
	"github.com/stellarfw/stellar-go/internal/session/sessiontest"
)

// BenchmarkRoundTrip: one client sends an action line and waits for its
// reply line, again and again: the node reads, runs the action and
// writes the reply once per op.
func BenchmarkRoundTrip(b *testing.B) {
	ping := &action.Action{Name: "ping", Run: func(ctx context.Context, r *action.Request) error {
		r.Response["pong"] = true
		return nil
	}}
	s := New(Options{Config: Config{Addr: "127.0.0.1:0"}, Session: sessiontest.Options(b, nil, ping)})
	if err := s.Listen(); err != nil {
		b.Fatal(err)
	}
	go func() { _ = s.Serve() }()
	b.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = s.Shutdown(ctx)
	})
	c, err := net.Dial("tcp", s.Addr().String())
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	br := bufio.NewReader(c)
	if _, err := br.ReadSlice('\n'); err != nil { // the welcome
		b.Fatal(err)
	}
	msg := []byte("{\"action\":\"ping\"}\n")
	b.ReportAllocs()
	b.ResetTimer()
	cpu0 := cpuTime()
	for range b.N {
		if _, err := c.Write(msg); err != nil {
			b.Fatal(err)
		}
		if _, err := br.ReadSlice('\n'); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(cpuTime()-cpu0)/float64(b.N), "cpu-ns/op")
}

// cpuTime is the CPU time the process used, user and system, in ns:
// the client's and the node's, less sensitive than the wall clock to
// what else the machine runs.
func cpuTime() int64 {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return ru.Utime.Nano() + ru.Stime.Nano()
}
