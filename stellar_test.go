package stellar_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/stellarfw/stellar-go"
	"github.com/stellarfw/stellar-go/config"
	"github.com/stellarfw/stellar-go/internal/poll"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// syncBuffer is a log sink safe for the app's goroutines.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func newApp(t *testing.T, logs io.Writer) *stellar.App {
	t.Helper()
	cfg := stellar.Config{ID: "test-node", HTTP: config.HTTP{Addr: "127.0.0.1:0"}, TCP: config.TCP{Addr: "off"}}
	cfg.Log.Format = "json"
	return stellar.New(cfg, stellar.WithLogOutput(logs))
}

func getJSON(t *testing.T, url string) (int, map[string]any) {
	t.Helper()
	res, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var body map[string]any
	if err := json.NewDecoder(res.Body).Decode(&body); err != nil {
		t.Fatal(err)
	}
	return res.StatusCode, body
}

func TestStartStatusShutdown(t *testing.T) {
	logs := &syncBuffer{}
	app := newApp(t, logs)
	if err := app.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	if err := app.Start(context.Background()); !errors.Is(err, stellar.ErrAlreadyStarted) {
		t.Fatalf("second Start = %v", err)
	}
	base := "http://" + app.HTTPAddr().String()
	status, body := getJSON(t, base+"/api/status")
	if status != 200 || body["id"] != "test-node" || body["version"] != "0.0.1" || body["backend"] != "memory" {
		t.Fatalf("status: %d %v", status, body)
	}
	if _, ok := body["uptime"].(float64); !ok {
		t.Fatalf("uptime missing: %v", body)
	}
	if app.ID() != "test-node" {
		t.Fatalf("ID = %q", app.ID())
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := app.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	if err := app.Shutdown(ctx); err != nil {
		t.Fatalf("second Shutdown = %v", err)
	}
	select {
	case <-app.Done():
	default:
		t.Fatal("Done not closed after Shutdown")
	}
	// Every log line carries the node id.
	lines := strings.Split(strings.TrimSpace(logs.String()), "\n")
	if len(lines) < 3 {
		t.Fatalf("expected start, action and stop lines, got %q", logs.String())
	}
	for _, line := range lines {
		var rec map[string]any
		if err := json.Unmarshal([]byte(line), &rec); err != nil {
			t.Fatalf("log line is not JSON: %q", line)
		}
		if rec["node"] != "test-node" {
			t.Fatalf("log line without node id: %q", line)
		}
	}
}

func TestShutdownBeforeStart(t *testing.T) {
	app := newApp(t, io.Discard)
	if err := app.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
}

func TestConcurrentShutdown(t *testing.T) {
	app := newApp(t, io.Discard)
	if err := app.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	errs := make([]error, 4)
	for i := range errs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = app.Shutdown(context.Background())
		}()
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("Shutdown %d: %v", i, err)
		}
	}
}

// TestShutdownWithRequestInFlight: Shutdown waits for a running request,
// which succeeds, while a new request gets 503.
func TestShutdownWithRequestInFlight(t *testing.T) {
	app := newApp(t, io.Discard)
	entered, release := make(chan struct{}), make(chan struct{})
	if err := app.Actions.Register(&stellar.Action{Name: "slow", Run: func(ctx context.Context, r *stellar.Request) error {
		close(entered)
		<-release
		r.Response["done"] = true
		return nil
	}}); err != nil {
		t.Fatal(err)
	}
	if err := app.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	base := "http://" + app.HTTPAddr().String()
	type result struct {
		status int
		body   map[string]any
	}
	slow := make(chan result, 1)
	go func() {
		res, err := http.Get(base + "/api/slow")
		if err != nil {
			slow <- result{status: -1}
			return
		}
		defer res.Body.Close()
		var body map[string]any
		_ = json.NewDecoder(res.Body).Decode(&body)
		slow <- result{res.StatusCode, body}
	}()
	<-entered
	stopped := make(chan error, 1)
	go func() { stopped <- app.Shutdown(context.Background()) }()

	// Poll until the node answers 503 to newcomers.
	var body map[string]any
	poll.Until(t, "the node to start draining", 0, func() bool {
		var status int
		status, body = getJSON(t, base+"/api/status")
		return status == 503
	})
	if e, _ := body["error"].(map[string]any); e["code"] != "server_draining" {
		t.Fatalf("503 body: %v", body)
	}
	close(release)
	if r := <-slow; r.status != 200 || r.body["done"] != true {
		t.Fatalf("in-flight request: %+v", r)
	}
	if err := <-stopped; err != nil {
		t.Fatal(err)
	}
}

func TestInvalidConfigFailsStart(t *testing.T) {
	app := stellar.New(stellar.Config{HTTP: config.HTTP{Addr: "nonsense"}}, stellar.WithLogOutput(io.Discard))
	if err := app.Start(context.Background()); err == nil {
		_ = app.Shutdown(context.Background())
		t.Fatal("Start accepted an invalid address")
	}
}

func TestInternalCallOfPrivateAction(t *testing.T) {
	app := newApp(t, io.Discard)
	if err := app.Actions.Register(&stellar.Action{
		Name: "add", Private: true,
		Inputs: map[string]stellar.Input{"a": {Format: stellar.Integer}, "b": {Format: stellar.Integer}},
		Run: func(ctx context.Context, r *stellar.Request) error {
			r.Response["sum"] = r.Params.Int("a") + r.Params.Int("b")
			return nil
		},
	}); err != nil {
		t.Fatal(err)
	}
	res, err := app.Actions.Call(context.Background(), "add", map[string]any{"a": "2", "b": 3})
	if err != nil || res["sum"] != int64(5) {
		t.Fatalf("Call = %v, %v", res, err)
	}
}
