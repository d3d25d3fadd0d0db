package tracing

import (
	"context"
	"strings"
	"testing"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"
)

const valid = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"

func TestParse(t *testing.T) {
	cases := []struct {
		name, in string
		ok       bool
		sampled  bool
	}{
		{"valid", valid, true, true},
		{"not sampled", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00", true, false},
		{"unknown flags kept to sampled", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-ff", true, true},
		{"later version with more fields", "01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-what-ever", true, true},
		{"later version, exact length", "cc-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01", true, true},
		{"version ff", "ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01", false, false},
		{"version 00 with more", valid + "-x", false, false},
		{"later version, no dash after flags", "01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01x", false, false},
		{"upper case", "00-4BF92F3577B34DA6A3CE929D0E0E4736-00F067AA0BA902B7-01", false, false},
		{"zero trace id", "00-00000000000000000000000000000000-00f067aa0ba902b7-01", false, false},
		{"zero parent id", "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01", false, false},
		{"short", valid[:54], false, false},
		{"bad separator", strings.Replace(valid, "-", "_", 1), false, false},
		{"not hex", "00-4bf92f3577b34da6a3ce929d0e0e473g-00f067aa0ba902b7-01", false, false},
		{"empty", "", false, false},
		{"too long", "01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-" + strings.Repeat("a", 300), false, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			sc, ok := Parse(tc.in, "")
			if ok != tc.ok {
				t.Fatalf("Parse(%q) ok = %v, want %v", tc.in, ok, tc.ok)
			}
			if !ok {
				return
			}
			if !sc.IsValid() || !sc.IsRemote() || sc.IsSampled() != tc.sampled {
				t.Errorf("span context %+v", sc)
			}
			if got := sc.TraceID().String(); got != "4bf92f3577b34da6a3ce929d0e0e4736" {
				t.Errorf("trace id %s", got)
			}
			if got := sc.SpanID().String(); got != "00f067aa0ba902b7" {
				t.Errorf("parent id %s", got)
			}
		})
	}
}

func TestParseTracestate(t *testing.T) {
	sc, ok := Parse(valid, "vendor=abc,other=x")
	if !ok || sc.TraceState().Get("vendor") != "abc" {
		t.Fatalf("tracestate lost: %v %v", ok, sc.TraceState())
	}
	// A tracestate that does not parse is dropped, the traceparent kept.
	sc, ok = Parse(valid, "not a list entry")
	if !ok || sc.TraceState().Len() != 0 {
		t.Fatalf("bad tracestate: ok %v, state %v", ok, sc.TraceState())
	}
}

func TestFormatRoundTrip(t *testing.T) {
	sc, _ := Parse(valid, "")
	if got := Format(sc); got != valid {
		t.Fatalf("Format = %q, want %q", got, valid)
	}
	ctx := Resume(context.Background(), valid, "a=b")
	tp, ts := Inject(ctx)
	if tp != valid || ts != "a=b" {
		t.Fatalf("Inject = %q %q", tp, ts)
	}
	if TraceID(ctx) != "4bf92f3577b34da6a3ce929d0e0e4736" {
		t.Fatalf("TraceID = %q", TraceID(ctx))
	}
	if tp, ts := Inject(context.Background()); tp != "" || ts != "" {
		t.Fatalf("Inject of no trace = %q %q", tp, ts)
	}
}

// TestContinue: an incoming traceparent is kept; without one, a node
// without a tracer starts a trace of its own (for its logs), and a node
// with one leaves it to the span it starts next.
func TestContinue(t *testing.T) {
	var none *Tracer
	ctx := none.Continue(context.Background(), valid, "")
	if TraceID(ctx) != "4bf92f3577b34da6a3ce929d0e0e4736" {
		t.Fatalf("incoming trace not kept: %q", TraceID(ctx))
	}
	a := TraceID(none.Continue(context.Background(), "", ""))
	b := TraceID(none.Continue(context.Background(), "garbage", ""))
	if len(a) != 32 || len(b) != 32 || a == b {
		t.Fatalf("new traces %q %q", a, b)
	}
	if sc := trace.SpanContextFromContext(none.Continue(context.Background(), "", "")); sc.IsSampled() {
		t.Fatal("a trace started without a tracer claims to be sampled")
	}
	rec := tracetest.NewSpanRecorder()
	tr := New(sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec)))
	if ctx := tr.Continue(context.Background(), "", ""); trace.SpanContextFromContext(ctx).IsValid() {
		t.Fatal("with a tracer, Continue made up a parent")
	}
	// A span context already in ctx (the user's middleware) wins.
	mine := Resume(context.Background(), "00-11111111111111111111111111111111-2222222222222222-01", "")
	if got := TraceID(tr.Continue(mine, valid, "")); got != "11111111111111111111111111111111" {
		t.Fatalf("trace of ctx replaced: %q", got)
	}
}

func TestTracerNil(t *testing.T) {
	var tr *Tracer
	if New(nil) != nil {
		t.Fatal("New(nil) is not nil")
	}
	ctx := context.Background()
	got, span := tr.Start(ctx, "x", trace.SpanKindServer)
	if got != ctx || span != nil {
		t.Fatal("a nil Tracer started a span")
	}
	End(nil, nil) // no panic
	if n := testing.AllocsPerRun(100, func() {
		c, s := tr.Start(ctx, "x", trace.SpanKindServer)
		End(s, nil)
		_ = c
	}); n != 0 {
		t.Fatalf("a nil Tracer allocates %v times", n)
	}
}

func TestTracerSpans(t *testing.T) {
	rec := tracetest.NewSpanRecorder()
	tr := New(sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec)))
	ctx := Resume(context.Background(), valid, "")
	_, span := tr.Start(ctx, "work", trace.SpanKindServer)
	End(span, context.Canceled)
	spans := rec.Ended()
	if len(spans) != 1 {
		t.Fatalf("%d spans", len(spans))
	}
	s := spans[0]
	if s.Name() != "work" || s.SpanKind() != trace.SpanKindServer || s.Parent().SpanID().String() != "00f067aa0ba902b7" ||
		s.SpanContext().TraceID().String() != "4bf92f3577b34da6a3ce929d0e0e4736" || s.Status().Description != context.Canceled.Error() {
		t.Fatalf("span %s kind %v parent %v trace %v status %v", s.Name(), s.SpanKind(), s.Parent().SpanID(), s.SpanContext().TraceID(), s.Status())
	}
}

// FuzzParse: whatever a client sends as traceparent and tracestate,
// Parse does not panic, and what it accepts formats back to a header it
// accepts again, with the same ids.
func FuzzParse(f *testing.F) {
	f.Add(valid, "")
	f.Add(valid, "a=b,c=d")
	f.Add("01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-09-extra", "x=1")
	f.Add("ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01", "")
	f.Add("00-00000000000000000000000000000000-00f067aa0ba902b7-01", ",,,")
	f.Add("", "")
	f.Add(strings.Repeat("-", 55), "=")
	f.Fuzz(func(t *testing.T, tp, ts string) {
		sc, ok := Parse(tp, ts)
		if !ok {
			if sc.IsValid() {
				t.Fatal("refused, yet a valid span context")
			}
			return
		}
		if !sc.IsValid() {
			t.Fatal("accepted an invalid span context")
		}
		again, ok := Parse(Format(sc), sc.TraceState().String())
		if !ok || again.TraceID() != sc.TraceID() || again.SpanID() != sc.SpanID() || again.TraceFlags() != sc.TraceFlags() ||
			again.TraceState().String() != sc.TraceState().String() {
			t.Fatalf("round trip of %q: %v %+v", tp, ok, again)
		}
	})
}
