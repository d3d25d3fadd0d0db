package backendtest

import (
	"context"
	"testing"
	"time"

	"go.opentelemetry.io/otel/trace"

	"github.com/stellarfw/stellar-go/internal/tracing"
	"github.com/stellarfw/stellar-go/task"
)

const (
	testTraceparent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
	testTraceID     = "4bf92f3577b34da6a3ce929d0e0e4736"
)

// testTaskTraceStored: the trace context of a message is stored with it
// and comes back with each delivery (a retried one too) and in the
// listings; a message without one (as stored before the field existed)
// has none.
func testTaskTraceStored(t *testing.T, e *taskEnv) {
	a, b := e.a(), e.b()
	m := msg("traced", "t1")
	m.Traceparent, m.Tracestate = testTraceparent, "vendor=x"
	mustEnqueue(t, a, m, time.Time{})
	mustEnqueue(t, a, msg("traced", "t2"), time.Time{})

	d := fetch(t, b, "traced")
	if d.ID != "t1" || d.Traceparent != testTraceparent || d.Tracestate != "vendor=x" {
		t.Fatalf("delivery %s trace %q %q", d.ID, d.Traceparent, d.Tracestate)
	}
	if err := b.Retry(bg, d, e.clock.Now(), "again"); err != nil {
		t.Fatal(err)
	}
	infos, err := a.List(bg, "traced", task.StateDelayed, 0, 0)
	if err != nil || len(infos) != 1 || infos[0].Traceparent != testTraceparent {
		t.Fatalf("delayed list %+v, %v", infos, err)
	}
	plain := fetch(t, b, "traced")
	if plain.ID != "t2" || plain.Traceparent != "" || plain.Tracestate != "" {
		t.Fatalf("delivery %s trace %q %q", plain.ID, plain.Traceparent, plain.Tracestate)
	}
	if _, _, err := a.Forward(bg, "traced", false); err != nil {
		t.Fatal(err)
	}
	again := fetch(t, a, "traced")
	if again.ID != "t1" || again.Traceparent != testTraceparent || again.Tracestate != "vendor=x" {
		t.Fatalf("retried delivery %s trace %q %q", again.ID, again.Traceparent, again.Tracestate)
	}
}

// testManagerTrace: a task enqueued with a context that carries a trace
// runs, on another node, with a context of that trace; one enqueued
// without runs without.
func testManagerTrace(t *testing.T, e *taskEnv) {
	got := make(chan trace.SpanContext, 2)
	def := func() *task.Definition {
		return &task.Definition{Name: "job", Queue: "tq", Handler: task.HandlerFunc(func(ctx context.Context, _ *task.Task) error {
			got <- trace.SpanContextFromContext(ctx)
			return nil
		})}
	}
	producer := e.manager(t, e.a(), "producer", 0, def())
	e.manager(t, e.b(), "worker", 1, def())

	ctx := tracing.Resume(bg, testTraceparent, "")
	if _, err := producer.Enqueue(ctx, "job", nil); err != nil {
		t.Fatal(err)
	}
	select {
	case sc := <-got:
		if sc.TraceID().String() != testTraceID || !sc.IsRemote() {
			t.Fatalf("the run's trace %v", sc)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the task did not run")
	}
	if _, err := producer.Enqueue(bg, "job", nil); err != nil {
		t.Fatal(err)
	}
	select {
	case sc := <-got:
		// A trace of its own, so that its logs carry a trace id: not the
		// earlier task's, and not sampled (nothing records its spans).
		if !sc.IsValid() || sc.TraceID().String() == testTraceID || sc.IsSampled() {
			t.Fatalf("a task enqueued without a trace ran with %v, want a new unsampled trace", sc)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the task did not run")
	}
}
