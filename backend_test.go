package stellar_test

import (
	"context"
	"io"
	"testing"

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
