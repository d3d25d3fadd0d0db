package stellar

import (
	"context"

	"go.opentelemetry.io/otel/trace"

	httpt "github.com/stellarfw/stellar-go/transport/http"
)

// WithTracerProvider makes the node start OpenTelemetry spans on tp: one
// per HTTP request, per action of a WebSocket or TCP connection, per
// enqueue and per task run, per cluster call made and served. Without it
// no span is started, and the W3C trace context (traceparent) of a
// request still reaches its action, the tasks it enqueues and the calls
// it makes, and the node's log lines about them (trace_id). The
// framework depends on the OpenTelemetry API only: bring the SDK and the
// exporter of your choice. See docs/operations.md.
func WithTracerProvider(tp trace.TracerProvider) Option {
	return func(a *App) { a.tracerProvider = tp }
}

// RequestID returns the id of the HTTP request whose context is ctx: its
// X-Request-Id when the client sent a valid one, else the id the node gave
// it; "" outside an HTTP request. Handlers of App.Handle and middleware of
// App.Use see it too; an action has it as Request.RequestID.
func RequestID(ctx context.Context) string { return httpt.RequestID(ctx) }
