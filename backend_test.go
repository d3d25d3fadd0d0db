package stellar_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/stellarfw/stellar-go"
	"github.com/stellarfw/stellar-go/config"
	"github.com/stellarfw/stellar-go/internal/poll"
	"github.com/stellarfw/stellar-go/internal/redistest"
)

func waitStatus(t *testing.T, url string, want int) map[string]any {
	t.Helper()
	var status int
	var body map[string]any
	if !poll.Wait(0, func() bool {
		status, body = getJSON(t, url)
		return status == want
	}) {
		t.Fatalf("%s: status %d, want %d: %v", url, status, want, body)
	}
	return body
}

// TestRedisBackendReadiness: with Redis configured the node shares its
// cache there, is ready while Redis answers, reports not ready while it is
// down (still serving actions that need no Redis), and recovers by itself.
func TestRedisBackendReadiness(t *testing.T) {
	srv := redistest.StartOwn(t)
	cfg := stellar.Config{ID: "redis-node", HTTP: config.HTTP{Addr: "127.0.0.1:0"}, TCP: config.TCP{Addr: "off"},
		Redis: config.Redis{URL: srv.URL(), Prefix: redistest.Prefix(t)}, Cluster: config.Cluster{Token: "test-token"}}
	app := stellar.New(cfg, stellar.WithLogOutput(io.Discard))
	if err := app.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = app.Shutdown(context.Background()) })
	base := "http://" + app.HTTPAddr().String()

	waitStatus(t, base+"/readyz", 200)
	if _, body := getJSON(t, base+"/api/status"); body["backend"] != "redis" {
		t.Fatalf("backend = %v", body["backend"])
	}
	ctx := context.Background()
	if err := app.Cache.Save(ctx, "k", map[string]int{"n": 1}); err != nil {
		t.Fatal(err)
	}

	// A second node on the same Redis sees the same cache.
	other := stellar.New(stellar.Config{ID: "redis-node-2", HTTP: config.HTTP{Addr: "off"}, TCP: config.TCP{Addr: "off"},
		Redis: cfg.Redis, Cluster: cfg.Cluster}, stellar.WithLogOutput(io.Discard))
	if err := other.Start(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = other.Shutdown(context.Background()) })
	e, err := other.Cache.Load(ctx, "k")
	if err != nil {
		t.Fatalf("second node cannot load: %v", err)
	}
	var got map[string]int
	if err := e.Decode(&got); err != nil || got["n"] != 1 {
		t.Fatalf("second node loaded %v, %v", got, err)
	}

	srv.Stop(t)
	body := waitStatus(t, base+"/readyz", 503)
	if body["reason"] == nil {
		t.Fatalf("no reason: %v", body)
	}
	if status, _ := getJSON(t, base+"/api/status"); status != 200 {
		t.Fatalf("actions that need no Redis must keep working, got %d", status)
	}
	if err := app.Cache.Save(ctx, "k2", 1); err == nil {
		t.Fatal("Save succeeded with Redis down")
	}
	srv.Restart(t)
	waitStatus(t, base+"/readyz", 200)
	if err := app.Cache.Save(ctx, "k3", 1); err != nil {
		t.Fatalf("Save after Redis returned: %v", err)
	}
}

// TestStartWhileRedisIsDown: a node whose Redis does not answer yet
// starts anyway, answers /healthz and the actions that need no Redis,
// says on /readyz why it is not ready, and joins the cluster, creates its
// rooms, runs its start hooks and its tasks as soon as Redis answers. A
// refused password is a configuration error instead: Start fails.
func TestStartWhileRedisIsDown(t *testing.T) {
	srv := redistest.StartOwn(t)
	srv.Stop(t)
	logs := &syncBuffer{}
	cfg := stellar.Config{ID: "early-bird", HTTP: config.HTTP{Addr: "127.0.0.1:0"}, TCP: config.TCP{Addr: "off"},
		Redis: config.Redis{URL: srv.URL(), Prefix: redistest.Prefix(t)}, Cluster: config.Cluster{Token: "test-token"}}
	app := stellar.New(cfg, stellar.WithLogOutput(logs))
	ran := make(chan string, 16)
	if err := app.Tasks.Register(&stellar.TaskDefinition{Name: "hello", Handler: stellar.TaskHandlerFunc(func(ctx context.Context, tk *stellar.Task) error {
		ran <- "task"
		return nil
	})}); err != nil {
		t.Fatal(err)
	}
	_ = app.OnStart("enqueue", 0, func(ctx context.Context) error {
		ran <- "hook"
		_, err := app.Tasks.Enqueue(ctx, "hello", nil)
		return err
	})
	if err := app.Start(context.Background()); err != nil {
		t.Fatalf("Start with Redis down: %v", err)
	}
	t.Cleanup(func() { _ = app.Shutdown(context.Background()) })
	base := "http://" + app.HTTPAddr().String()

	if status, _ := getJSON(t, base+"/healthz"); status != 200 {
		t.Fatalf("/healthz while Redis is down: %d", status)
	}
	status, body := getJSON(t, base+"/readyz")
	if status != 503 || !strings.Contains(fmt.Sprint(body), "unavailable") {
		t.Fatalf("/readyz while Redis is down: %d %v", status, body)
	}
	if status, _ := getJSON(t, base+"/api/status"); status != 200 {
		t.Fatalf("the status action, which needs no Redis: %d", status)
	}
	select {
	case what := <-ran:
		t.Fatalf("%s ran while Redis was down", what)
	default:
	}

	srv.Restart(t)
	waitStatus(t, base+"/readyz", 200)
	for _, want := range []string{"hook", "task"} {
		select {
		case got := <-ran:
			if got != want {
				t.Fatalf("ran %s, want %s", got, want)
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("no %s after Redis came back", want)
		}
	}
	if got := strings.Count(logs.String(), "backend unavailable"); got != 1 {
		t.Fatalf("logged the outage %d times, want once:\n%s", got, logs)
	}
	if ok, err := app.Chat.Exists(context.Background(), "defaultRoom"); !ok || err != nil {
		t.Fatalf("the default room after Redis came back: %v, %v", ok, err)
	}

	t.Run("RefusedPassword", func(t *testing.T) {
		locked := redistest.StartOwn(t, redistest.Password("right"))
		cfg := cfg
		cfg.ID = "wrong-password"
		cfg.HTTP.Addr = "off"
		cfg.Redis.URL = strings.Replace(locked.URL(), ":right@", ":wrong@", 1)
		err := stellar.New(cfg, stellar.WithLogOutput(io.Discard)).Start(context.Background())
		if err == nil || !strings.Contains(err.Error(), "authentication failed") {
			t.Fatalf("Start with a wrong password: %v", err)
		}
	})
}

// TestStartHookFailingAfterRedisCameBack: when the parts come up in the
// background (Redis was down at start), a start hook that fails cannot be
// mended by waiting: Run returns its error and the node stops, as
// docs/lifecycle.md says.
func TestStartHookFailingAfterRedisCameBack(t *testing.T) {
	srv := redistest.StartOwn(t)
	srv.Stop(t)
	cfg := stellar.Config{ID: "late-failure", HTTP: config.HTTP{Addr: "off"}, TCP: config.TCP{Addr: "off"},
		Redis: config.Redis{URL: srv.URL(), Prefix: redistest.Prefix(t)}, Cluster: config.Cluster{Token: "test-token"}}
	app := stellar.New(cfg, stellar.WithLogOutput(io.Discard))
	_ = app.OnStart("needs seed data", 0, func(context.Context) error { return errors.New("no seed data") })
	if err := app.Start(context.Background()); err != nil {
		t.Fatalf("Start with Redis down: %v", err)
	}
	ran := make(chan error, 1)
	go func() { ran <- app.Run(context.Background()) }()
	srv.Restart(t)
	select {
	case err := <-ran:
		if err == nil || !strings.Contains(err.Error(), "no seed data") {
			t.Fatalf("Run = %v, want the hook's error", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("the node kept running after its start hook failed")
	}
	select {
	case <-app.Done():
	default:
		t.Fatal("Run returned but the app did not stop")
	}
}
