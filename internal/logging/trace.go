package logging

import (
	"context"
	"log/slog"
	"time"

	"go.opentelemetry.io/otel/trace"
)

// KeyTraceID is the attribute that names the trace of a line.
const KeyTraceID = "trace_id"

// WithTrace returns a handler that adds trace_id to every line logged
// with a context that carries a trace (an action's, a task's, an RPC
// handler's): log through the *Context methods, or LogAttrs, to get it.
// Lines without one are passed on as they are, and nothing is done for a
// level that is off.
func WithTrace(h slog.Handler) slog.Handler {
	if _, ok := h.(traceHandler); ok {
		return h
	}
	return traceHandler{h}
}

type traceHandler struct{ slog.Handler }

func (h traceHandler) Handle(ctx context.Context, r slog.Record) error {
	if ctx != nil {
		if sc := trace.SpanContextFromContext(ctx); sc.HasTraceID() {
			r = r.Clone()
			r.AddAttrs(slog.String(KeyTraceID, sc.TraceID().String()))
		}
	}
	return h.Handler.Handle(ctx, r)
}

func (h traceHandler) WithAttrs(as []slog.Attr) slog.Handler {
	return traceHandler{h.Handler.WithAttrs(as)}
}

func (h traceHandler) WithGroup(name string) slog.Handler {
	return traceHandler{h.Handler.WithGroup(name)}
}

// Ms is a duration as a log attribute: key in milliseconds, with
// microsecond precision, so that every duration in the log reads the same
// way.
func Ms(key string, d time.Duration) slog.Attr {
	return slog.Float64(key, float64(d.Microseconds())/1000)
}
