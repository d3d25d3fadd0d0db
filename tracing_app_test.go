package stellar_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"

	"github.com/stellarfw/stellar-go"
	"github.com/stellarfw/stellar-go/config"
	"github.com/stellarfw/stellar-go/internal/poll"
)

// TestAppSpans: with stellar.WithTracerProvider, a request that enqueues
// a task is recorded as the HTTP server span, the enqueue's producer span
// and the run's consumer span, one trace, each the parent of the next,
// below the request's traceparent.
func TestAppSpans(t *testing.T) {
	sr := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(sr))
	cfg := stellar.Config{ID: "test-node", HTTP: config.HTTP{Addr: "127.0.0.1:0"}, TCP: config.TCP{Addr: "off"}}
	cfg.Log.Format = "json"
	app := stellar.New(cfg, stellar.WithLogOutput(&syncBuffer{}), stellar.WithTracerProvider(tp))
	ran := make(chan trace.SpanContext, 1)
	if err := app.Tasks.Register(&stellar.TaskDefinition{Name: "later", Handler: stellar.TaskHandlerFunc(func(ctx context.Context, _ *stellar.Task) error {
		ran <- trace.SpanContextFromContext(ctx)
		return nil
	})}); err != nil {
		t.Fatal(err)
	}
	if err := app.Actions.Register(&stellar.Action{Name: "kickoff", Run: func(ctx context.Context, r *stellar.Request) error {
		_, err := app.Tasks.Enqueue(ctx, "later", nil)
		return err
	}}); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if err := app.Start(ctx); err != nil {
		t.Fatal(err)
	}
	defer app.Shutdown(ctx)

	req, _ := http.NewRequest(http.MethodGet, "http://"+app.HTTPAddr().String()+"/api/kickoff", nil)
	req.Header.Set("Traceparent", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusOK {
		t.Fatalf("status %d", res.StatusCode)
	}
	var runCtx trace.SpanContext
	select {
	case runCtx = <-ran:
	case <-time.After(10 * time.Second):
		t.Fatal("the task did not run")
	}
	poll.Until(t, "three spans", 10*time.Second, func() bool { return len(sr.Ended()) >= 3 })
	byKind := map[trace.SpanKind]sdktrace.ReadOnlySpan{}
	for _, s := range sr.Ended() {
		if s.SpanContext().TraceID().String() != "4bf92f3577b34da6a3ce929d0e0e4736" {
			t.Errorf("span %s in trace %s", s.Name(), s.SpanContext().TraceID())
		}
		byKind[s.SpanKind()] = s
	}
	server, producer, consumer := byKind[trace.SpanKindServer], byKind[trace.SpanKindProducer], byKind[trace.SpanKindConsumer]
	if server == nil || producer == nil || consumer == nil {
		t.Fatalf("spans by kind %v", byKind)
	}
	if server.Name() != "GET kickoff" || server.Parent().SpanID().String() != "00f067aa0ba902b7" {
		t.Errorf("server span %s parent %v", server.Name(), server.Parent().SpanID())
	}
	if producer.Name() != "later" || producer.Parent().SpanID() != server.SpanContext().SpanID() {
		t.Errorf("producer span %s parent %v, server %v", producer.Name(), producer.Parent().SpanID(), server.SpanContext().SpanID())
	}
	if consumer.Name() != "later" || consumer.Parent().SpanID() != producer.SpanContext().SpanID() || runCtx.SpanID() != consumer.SpanContext().SpanID() {
		t.Errorf("consumer span %s parent %v, producer %v; the run's context %v", consumer.Name(), consumer.Parent().SpanID(),
			producer.SpanContext().SpanID(), runCtx.SpanID())
	}
}

// TestAppRequestID: a handler mounted with App.Handle sees the request's
// id (stellar.RequestID), and the response carries it.
func TestAppRequestID(t *testing.T) {
	logs := &syncBuffer{}
	app := newApp(t, logs)
	app.Handle("GET /rid", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.WriteString(w, stellar.RequestID(r.Context()))
	}))
	ctx := context.Background()
	if err := app.Start(ctx); err != nil {
		t.Fatal(err)
	}
	defer app.Shutdown(ctx)
	req, _ := http.NewRequest(http.MethodGet, "http://"+app.HTTPAddr().String()+"/rid", nil)
	req.Header.Set("X-Request-Id", "mine-1")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if string(body) != "mine-1" || res.Header.Get("X-Request-Id") != "mine-1" {
		t.Fatalf("body %q, header %q", body, res.Header.Get("X-Request-Id"))
	}
	if stellar.RequestID(ctx) != "" {
		t.Fatal("a request id outside a request")
	}
	// The mounted handler's request has its line, like the node's own.
	found := false
	for _, l := range strings.Split(logs.String(), "\n") {
		var line map[string]any
		if json.Unmarshal([]byte(l), &line) == nil && line["msg"] == "request" && line["request_id"] == "mine-1" {
			found = line["path"] == "/rid" && line["status"] == float64(200) && line["bytes"] == float64(6) && line["node"] == "test-node"
		}
	}
	if !found {
		t.Fatalf("no request line for /rid in:\n%s", logs.String())
	}
}
