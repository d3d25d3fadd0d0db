package cluster_test

import (
	"context"
	"testing"
	"time"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"

	"github.com/stellarfw/stellar-go/backend/memory"
	"github.com/stellarfw/stellar-go/cluster"
	"github.com/stellarfw/stellar-go/internal/lifecycle"
	"github.com/stellarfw/stellar-go/internal/poll"
	"github.com/stellarfw/stellar-go/internal/tracing"
)

const testTraceparent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"

// TestCallCarriesTrace: a call made with a context of a trace runs, on
// the other node, with a context of that trace; with TracerProviders the
// caller records a client span and the callee a server span, its child.
func TestCallCarriesTrace(t *testing.T) {
	for _, traced := range []bool{false, true} {
		name := "no provider"
		if traced {
			name = "providers"
		}
		t.Run(name, func(t *testing.T) {
			b := memory.New(memory.Config{})
			t.Cleanup(func() { _ = b.Close() })
			ctx := context.Background()
			var recA, recB *tracetest.SpanRecorder
			cfgA := cluster.Config{ID: "a", Token: "t", HeartbeatInterval: 20 * time.Millisecond}
			cfgB := cluster.Config{ID: "b", Token: "t", HeartbeatInterval: 20 * time.Millisecond}
			if traced {
				recA, recB = tracetest.NewSpanRecorder(), tracetest.NewSpanRecorder()
				cfgA.TracerProvider = sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(recA))
				cfgB.TracerProvider = sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(recB))
			}
			seen := make(chan trace.SpanContext, 1)
			a, bn := cluster.New(), cluster.New()
			bn.HandleFunc("who", func(ctx context.Context, call *cluster.Call) (any, error) {
				seen <- trace.SpanContextFromContext(ctx)
				return "b", nil
			})
			for _, n := range []struct {
				c   *cluster.Cluster
				cfg cluster.Config
			}{{a, cfgA}, {bn, cfgB}} {
				if err := n.c.Start(ctx, b.Cluster(), n.cfg, lifecycle.Key{}); err != nil {
					t.Fatal(err)
				}
				t.Cleanup(func() { _ = n.c.Stop(context.Background(), lifecycle.Key{}) })
			}
			poll.Until(t, "b is a member", 10*time.Second, func() bool { return len(a.Members()) == 2 })

			callCtx := tracing.Resume(ctx, testTraceparent, "k=v")
			if _, err := a.Do(callCtx, "who", nil, cluster.ToNode("b")); err != nil {
				t.Fatal(err)
			}
			sc := <-seen
			if sc.TraceID().String() != "4bf92f3577b34da6a3ce929d0e0e4736" || sc.TraceState().Get("k") != "v" {
				t.Fatalf("the handler's trace %v state %v", sc.TraceID(), sc.TraceState())
			}
			if !traced {
				// The caller's own span (none here) is the parent.
				if sc.SpanID().String() != "00f067aa0ba902b7" {
					t.Fatalf("parent %v", sc.SpanID())
				}
				return
			}
			client, server := recA.Ended(), recB.Ended()
			if len(client) != 1 || len(server) != 1 {
				t.Fatalf("%d client spans, %d server spans", len(client), len(server))
			}
			if client[0].SpanKind() != trace.SpanKindClient || client[0].Name() != "who" ||
				client[0].Parent().SpanID().String() != "00f067aa0ba902b7" {
				t.Fatalf("client span %s %v parent %v", client[0].Name(), client[0].SpanKind(), client[0].Parent().SpanID())
			}
			if server[0].SpanKind() != trace.SpanKindServer || server[0].Parent().SpanID() != client[0].SpanContext().SpanID() ||
				server[0].SpanContext().TraceID() != client[0].SpanContext().TraceID() || sc.SpanID() != server[0].SpanContext().SpanID() {
				t.Fatalf("server span %v parent %v; client %v", server[0].SpanContext(), server[0].Parent(), client[0].SpanContext())
			}
		})
	}
}

// TestPublishCarriesTrace: a message published with a context of a trace
// reaches the subscribers of other nodes with a context of that trace.
func TestPublishCarriesTrace(t *testing.T) {
	b := memory.New(memory.Config{})
	t.Cleanup(func() { _ = b.Close() })
	ctx := context.Background()
	a, bn := cluster.New(), cluster.New()
	seen := make(chan trace.SpanContext, 1)
	bn.Subscribe("news", func(ctx context.Context, m cluster.Message) { seen <- trace.SpanContextFromContext(ctx) })
	for i, c := range []*cluster.Cluster{a, bn} {
		if err := c.Start(ctx, b.Cluster(), cluster.Config{ID: []string{"a", "b"}[i], Token: "t", HeartbeatInterval: 20 * time.Millisecond}, lifecycle.Key{}); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = c.Stop(context.Background(), lifecycle.Key{}) })
	}
	if err := a.Publish(tracing.Resume(ctx, testTraceparent, ""), "news", "hi"); err != nil {
		t.Fatal(err)
	}
	select {
	case sc := <-seen:
		if sc.TraceID().String() != "4bf92f3577b34da6a3ce929d0e0e4736" {
			t.Fatalf("the subscriber's trace %v", sc.TraceID())
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the message did not arrive")
	}
}
