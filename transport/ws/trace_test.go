package ws

import (
	"context"
	"log/slog"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/stellarfw/stellar-go/action"
	"github.com/stellarfw/stellar-go/internal/logging"
	"github.com/stellarfw/stellar-go/internal/logging/logtest"
	"github.com/stellarfw/stellar-go/internal/poll"
	"github.com/stellarfw/stellar-go/internal/session/sessiontest"
	"github.com/stellarfw/stellar-go/internal/tracing"
)

// TestTraceOverWebSocket: over a real WebSocket, a message's traceparent
// and requestId reach the action, and its request line names both.
func TestTraceOverWebSocket(t *testing.T) {
	rec := &logtest.Recorder{}
	logger := slog.New(logging.WithTrace(rec.Logger().Handler()))
	traced := &action.Action{Name: "traced", Run: func(ctx context.Context, r *action.Request) error {
		r.Response["traceId"] = tracing.TraceID(ctx)
		r.Response["requestId"] = r.RequestID
		return nil
	}}
	s := New(Options{Config: Config{}, Session: sessiontest.Options(t, logger, traced), Logger: logger})
	hs := httptest.NewServer(s)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = s.Shutdown(ctx)
		hs.Close()
	})
	c, _ := dial(t, "ws"+strings.TrimPrefix(hs.URL, "http"), "127.0.0.1")
	c.send(`{"action":"traced","traceparent":"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01","requestId":"ws-7"}`)
	m := c.read()
	if m["traceId"] != "4bf92f3577b34da6a3ce929d0e0e4736" || m["requestId"] != "ws-7" {
		t.Fatalf("reply %v", m)
	}
	poll.Until(t, "the request line", 10*time.Second, func() bool {
		for _, l := range rec.Lines() {
			if l.Str("msg") == "request" && l.Str("request_id") == "ws-7" && l.Str("conn") == "websocket" &&
				l.Str("trace_id") == "4bf92f3577b34da6a3ce929d0e0e4736" && l.Str("remote") == "127.0.0.1" {
				return true
			}
		}
		return false
	})
}
