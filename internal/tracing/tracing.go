// Package tracing carries W3C trace context (traceparent, tracestate)
// through a node: from a client's request into the action's context, the
// tasks it enqueues and the cluster calls it makes, and starts
// OpenTelemetry spans when the user installed a TracerProvider. The trace
// context lives in a context.Context as an OpenTelemetry span context, so
// that the user's own OpenTelemetry code sees it.
package tracing

import (
	"context"
	"math/rand/v2"

	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"
)

// ScopeName is the instrumentation scope of the node's spans.
const ScopeName = "github.com/stellarfw/stellar-go"

// Tracer starts the node's spans. A nil *Tracer (no TracerProvider
// installed) starts none and costs nothing but the propagation of the
// trace context.
type Tracer struct{ t trace.Tracer }

// New returns a Tracer on tp, nil when tp is nil.
func New(tp trace.TracerProvider) *Tracer {
	if tp == nil {
		return nil
	}
	return &Tracer{t: tp.Tracer(ScopeName)}
}

// Start starts a span of kind named name, child of the span context of
// ctx. With a nil Tracer it returns ctx and a nil span; End and the
// callers' attribute setting accept a nil span.
func (t *Tracer) Start(ctx context.Context, name string, kind trace.SpanKind) (context.Context, trace.Span) {
	if t == nil {
		return ctx, nil
	}
	return t.t.Start(ctx, name, trace.WithSpanKind(kind))
}

// End ends span, recording err on it first. A nil span is a no-op.
func End(span trace.Span, err error) {
	if span == nil {
		return
	}
	if err != nil {
		span.RecordError(err)
		span.SetStatus(codes.Error, err.Error())
	}
	span.End()
}

// Continue returns ctx carrying the trace of an incoming request: the span
// context ctx holds already (the user's own middleware set one), else the
// one traceparent and tracestate carry, else, when t is nil, a new trace
// (so that the logs of the request and of what it started share a trace
// id even without spans). With a Tracer and no incoming trace it returns
// ctx as it is: the span started next is the root of a new trace.
func (t *Tracer) Continue(ctx context.Context, traceparent, tracestate string) context.Context {
	if trace.SpanContextFromContext(ctx).IsValid() {
		return ctx
	}
	if traceparent != "" {
		if sc, ok := Parse(traceparent, tracestate); ok {
			return trace.ContextWithRemoteSpanContext(ctx, sc)
		}
	}
	if t != nil {
		return ctx
	}
	return trace.ContextWithRemoteSpanContext(ctx, newSpanContext())
}

// Resume returns ctx carrying the trace context stored with a task or sent
// with a cluster call; ctx as it is when there is none or it is invalid.
func Resume(ctx context.Context, traceparent, tracestate string) context.Context {
	if traceparent == "" {
		return ctx
	}
	sc, ok := Parse(traceparent, tracestate)
	if !ok {
		return ctx
	}
	return trace.ContextWithRemoteSpanContext(ctx, sc)
}

// Inject returns the traceparent and tracestate of the span context of
// ctx, "" and "" when it holds none.
func Inject(ctx context.Context) (traceparent, tracestate string) {
	sc := trace.SpanContextFromContext(ctx)
	if !sc.IsValid() {
		return "", ""
	}
	return Format(sc), sc.TraceState().String()
}

// TraceID returns the trace id of ctx in hex, "" when it holds none.
func TraceID(ctx context.Context) string {
	sc := trace.SpanContextFromContext(ctx)
	if !sc.HasTraceID() {
		return ""
	}
	return sc.TraceID().String()
}

// newSpanContext returns the span context of a new trace, not sampled:
// no span of it is recorded here.
func newSpanContext() trace.SpanContext {
	var tid trace.TraceID
	var sid trace.SpanID
	putUint64(tid[:8], rand.Uint64())
	putUint64(tid[8:], rand.Uint64()|1) // never all zeros
	putUint64(sid[:], rand.Uint64()|1)
	return trace.NewSpanContext(trace.SpanContextConfig{TraceID: tid, SpanID: sid, Remote: true})
}

func putUint64(b []byte, v uint64) {
	_ = b[7]
	for i := range 8 {
		b[i] = byte(v >> (56 - 8*i))
	}
}
