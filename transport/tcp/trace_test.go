package tcp

import (
	"context"
	"log/slog"
	"testing"
	"time"

	"github.com/stellarfw/stellar-go/action"
	"github.com/stellarfw/stellar-go/internal/logging"
	"github.com/stellarfw/stellar-go/internal/logging/logtest"
	"github.com/stellarfw/stellar-go/internal/poll"
	"github.com/stellarfw/stellar-go/internal/tracing"
)

// TestTraceOverTCP: over a real TCP connection, a JSON line's traceparent
// and requestId reach the action, and its request line names both.
func TestTraceOverTCP(t *testing.T) {
	rec := &logtest.Recorder{}
	logger := slog.New(logging.WithTrace(rec.Logger().Handler()))
	s := startServer(t, Config{}, logger, &action.Action{Name: "traced", Run: func(ctx context.Context, r *action.Request) error {
		r.Response["traceId"] = tracing.TraceID(ctx)
		r.Response["requestId"] = r.RequestID
		return nil
	}})
	c, _ := dial(t, s, "")
	c.send(`{"action":"traced","traceparent":"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01","requestId":"tcp-1"}`)
	m := c.read()
	if m["traceId"] != "4bf92f3577b34da6a3ce929d0e0e4736" || m["requestId"] != "tcp-1" {
		t.Fatalf("reply %v", m)
	}
	poll.Until(t, "the request line", 10*time.Second, func() bool {
		for _, l := range rec.Lines() {
			if l.Str("msg") == "request" && l.Str("request_id") == "tcp-1" && l.Str("conn") == "tcp" &&
				l.Str("trace_id") == "4bf92f3577b34da6a3ce929d0e0e4736" && l.Str("status") == "200" {
				return true
			}
		}
		return false
	})
}
