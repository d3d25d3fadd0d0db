package ws

import (
	"context"
	"net/http/httptest"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/stellarfw/stellar-go/action"
	"github.com/stellarfw/stellar-go/internal/session/sessiontest"
)

// BenchmarkRoundTrip: one client sends an action and waits for its
// reply, again and again: the node reads, runs the action and writes the
// reply once per op.
func BenchmarkRoundTrip(b *testing.B) {
	ping := &action.Action{Name: "ping", Run: func(ctx context.Context, r *action.Request) error {
		r.Response["pong"] = true
		return nil
	}}
	s := New(Options{Config: Config{}, Session: sessiontest.Options(b, nil, ping)})
	hs := httptest.NewServer(s)
	b.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = s.Shutdown(ctx)
		hs.Close()
	})
	ctx := context.Background()
	c, _, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(hs.URL, "http"), nil)
	if err != nil {
		b.Fatal(err)
	}
	defer c.CloseNow()
	if _, _, err := c.Read(ctx); err != nil { // the welcome
		b.Fatal(err)
	}
	msg := []byte(`{"action":"ping"}`)
	b.ReportAllocs()
	b.ResetTimer()
	cpu0 := cpuTime()
	for range b.N {
		if err := c.Write(ctx, websocket.MessageText, msg); err != nil {
			b.Fatal(err)
		}
		if _, _, err := c.Read(ctx); err != nil {
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
