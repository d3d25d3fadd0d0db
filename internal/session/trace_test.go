package session_test

import (
	"context"
	"log/slog"
	"testing"
	"time"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"github.com/stellarfw/stellar-go/action"
	"github.com/stellarfw/stellar-go/connection"
	"github.com/stellarfw/stellar-go/internal/logging"
	"github.com/stellarfw/stellar-go/internal/logging/logtest"
	"github.com/stellarfw/stellar-go/internal/poll"
	"github.com/stellarfw/stellar-go/internal/session"
	"github.com/stellarfw/stellar-go/internal/session/sessiontest"
	"github.com/stellarfw/stellar-go/internal/tracing"
)

// waitReply waits for the session's next message.
func waitReply(t *testing.T, k *sessiontest.Sink) map[string]any {
	t.Helper()
	poll.Until(t, "a reply", 10*time.Second, func() bool { return len(k.Out) > 0 })
	return next(t, k)
}

// TestMessageTrace: a message's traceparent reaches the action's context
// and its request line, its requestId is kept (a bad one replaced), and
// with a tracer the action is a server span of that trace.
func TestMessageTrace(t *testing.T) {
	const tp = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
	rec := &logtest.Recorder{}
	logger := slog.New(logging.WithTrace(rec.Logger().Handler()))
	opts := sessiontest.Options(t, logger, &action.Action{Name: "traced", Run: func(ctx context.Context, r *action.Request) error {
		r.Response["traceId"] = tracing.TraceID(ctx)
		r.Response["requestId"] = r.RequestID
		return nil
	}})
	sr := tracetest.NewSpanRecorder()
	opts.Tracer = tracing.New(sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(sr)))
	s, k := sessiontest.New(t, opts, connection.TypeWebSocket, "10.0.0.7")
	if err := s.Open(context.Background()); err != nil {
		t.Fatal(err)
	}
	next(t, k) // welcome

	r, err := session.Parse([]byte(`{"action":"traced","traceparent":"` + tp + `","requestId":"ws-1"}`))
	if err != nil {
		t.Fatal(err)
	}
	s.HandleRequest(r)
	m := waitReply(t, k)
	if m["traceId"] != "4bf92f3577b34da6a3ce929d0e0e4736" || m["requestId"] != "ws-1" {
		t.Fatalf("reply %v", m)
	}
	var line logtest.Line
	poll.Until(t, "the request line", 10*time.Second, func() bool {
		for _, l := range rec.Lines() {
			if l.Str("msg") == "request" && l.Str("request_id") == "ws-1" {
				line = l
				return true
			}
		}
		return false
	})
	for k, v := range map[string]string{"level": "INFO", "conn": "websocket", "action": "traced", "status": "200",
		"remote": "10.0.0.7", "trace_id": "4bf92f3577b34da6a3ce929d0e0e4736"} {
		if line.Str(k) != v {
			t.Errorf("%s = %q, want %q: %v", k, line.Str(k), v, line)
		}
	}
	if b, ok := line["bytes"].(float64); !ok || b <= 0 {
		t.Errorf("bytes %v", line["bytes"])
	}
	if _, ok := line["duration_ms"].(float64); !ok {
		t.Errorf("duration_ms %v", line["duration_ms"])
	}
	spans := sr.Ended()
	if len(spans) != 1 || spans[0].Name() != "traced" || spans[0].Parent().SpanID().String() != "00f067aa0ba902b7" {
		t.Fatalf("spans %v", spans)
	}

	// A bad requestId is replaced; an error reply carries the id.
	s.HandleRequest(session.Request{Action: "missing", RequestID: "has space"})
	m = waitReply(t, k)
	e, _ := m["error"].(map[string]any)
	if id, _ := e["requestId"].(string); id == "" || id == "has space" {
		t.Fatalf("error reply %v", m)
	}
}

// TestVerbLine: a verb is a request line too, at debug, with its status
// and code.
func TestVerbLine(t *testing.T) {
	rec := &logtest.Recorder{}
	opts := sessiontest.Options(t, rec.Logger())
	s, k := sessiontest.New(t, opts, connection.TypeTCP, "10.0.0.8")
	if err := s.Open(context.Background()); err != nil {
		t.Fatal(err)
	}
	next(t, k)
	s.HandleRequest(session.Request{Verb: session.VerbParamView, Key: "nope"})
	next(t, k)
	for _, l := range rec.Lines() {
		if l.Str("msg") == "request" && l.Str("verb") == session.VerbParamView {
			if l.Str("level") != "DEBUG" || l.Str("conn") != "tcp" || l.Str("code") != "param_not_found" || l.Str("status") != "404" ||
				l.Str("remote") != "10.0.0.8" {
				t.Fatalf("verb line %v", l)
			}
			return
		}
	}
	t.Fatalf("no verb line in %v", rec.Lines())
}
