package stellar_test

import (
	"context"
	"errors"
	"io"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stellarfw/stellar-go"
	"github.com/stellarfw/stellar-go/cluster"
	"github.com/stellarfw/stellar-go/config"
	"github.com/stellarfw/stellar-go/connection"
	"github.com/stellarfw/stellar-go/internal/poll"
	"github.com/stellarfw/stellar-go/internal/redistest"
)

// clusterNode starts a node on the Redis at url with prefix, short timers
// and no listeners but HTTP on a free port; it is stopped when t ends.
func clusterNode(t *testing.T, id, url, prefix, token string, logs io.Writer) (*stellar.App, error) {
	t.Helper()
	cfg := stellar.Config{ID: id, HTTP: config.HTTP{Addr: "127.0.0.1:0"}, TCP: config.TCP{Addr: "off"},
		Redis:   config.Redis{URL: url, Prefix: prefix},
		Cluster: config.Cluster{Token: token, HeartbeatInterval: 50 * time.Millisecond, NodeTTL: time.Second}}
	cfg.Log.Format = "json"
	app := stellar.New(cfg, stellar.WithLogOutput(logs))
	if err := app.Start(context.Background()); err != nil {
		return nil, err
	}
	t.Cleanup(func() { _ = app.Shutdown(context.Background()) })
	return app, nil
}

// TestClusterApps: three apps on one Redis form a cluster: they list each
// other, answer the built-in methods, route ToConnection to the owner,
// show the members in the status action, refuse a duplicate id, log
// joins and leaves, and api.stop stops the node called.
func TestClusterApps(t *testing.T) {
	srv := redistest.Shared(t)
	prefix := redistest.Prefix(t)
	logs := &syncBuffer{}
	var apps []*stellar.App
	for _, id := range []string{"stellar-worker-1", "stellar-worker-2", "stellar-worker-3"} {
		app, err := clusterNode(t, id, srv.URL(), prefix, "shared-secret", logs)
		if err != nil {
			t.Fatal(err)
		}
		apps = append(apps, app)
	}
	poll.Until(t, "every node to see three members", 0, func() bool {
		for _, a := range apps {
			if len(a.Cluster.Members()) != 3 {
				return false
			}
		}
		return true
	})
	ctx := context.Background()

	nodes, err := apps[0].Cluster.Nodes(ctx)
	if err != nil || len(nodes) != 3 || nodes[1].ID != "stellar-worker-2" || nodes[1].Version != "0.0.1" {
		t.Fatalf("Nodes = %+v, %v", nodes, err)
	}

	// The status action lists the members, and so does api.status.
	_, body := getJSON(t, "http://"+apps[0].HTTPAddr().String()+"/api/status")
	cl, _ := body["cluster"].(map[string]any)
	if got, _ := cl["nodes"].([]any); len(got) != 3 {
		t.Fatalf("status cluster.nodes = %v", body["cluster"])
	}
	replies, err := apps[1].Cluster.DoAll(ctx, stellar.MethodStatus, nil)
	if err != nil || len(replies) != 3 {
		t.Fatalf("DoAll api.status: %v, %v", replies, err)
	}
	for _, r := range replies {
		var st map[string]any
		if err := r.Decode(&st); err != nil || st["id"] != r.Node {
			t.Fatalf("api.status from %s: %v %v", r.Node, st, err)
		}
	}

	// api.log logs on every node (Stellar's doCluster('api.log', [...])).
	if _, err := apps[0].Cluster.DoAll(ctx, stellar.MethodLog, []string{"Hello from the cluster"}); err != nil {
		t.Fatal(err)
	}
	poll.Until(t, "three nodes to log the message", 0, func() bool {
		return strings.Count(logs.String(), "Hello from the cluster") == 3
	})
	if _, err := apps[0].Cluster.Do(ctx, stellar.MethodLog, map[string]string{"message": "x", "level": "loud"}); err == nil {
		t.Fatal("api.log with a bad level succeeded")
	}

	// ToConnection reaches the owner: the node whose connections hold it.
	conn := connection.New(connection.TypeTCP, "127.0.0.1", "stellar-worker-3")
	if err := apps[2].Connections.Add(ctx, conn); err != nil {
		t.Fatal(err)
	}
	r, err := apps[0].Cluster.Do(ctx, stellar.MethodStatus, nil, cluster.ToConnection(conn.ID))
	if err != nil || r.Node != "stellar-worker-3" {
		t.Fatalf("ToConnection: %+v, %v", r, err)
	}
	apps[2].Connections.Remove(ctx, conn)
	if _, err := apps[0].Cluster.Do(ctx, stellar.MethodStatus, nil, cluster.ToConnection(conn.ID)); !errors.Is(err, cluster.ErrNoOwner) {
		t.Fatalf("ToConnection after the connection left: %v, want ErrNoOwner", err)
	}

	// A second stellar-worker-2 is refused with a clear error.
	_, err = clusterNode(t, "stellar-worker-2", srv.URL(), prefix, "shared-secret", io.Discard)
	if !errors.Is(err, cluster.ErrDuplicateNode) || !strings.Contains(err.Error(), `"stellar-worker-2" is already live`) {
		t.Fatalf("duplicate id: %v", err)
	}

	// api.stop: the node replies, then stops; the others see it leave.
	r, err = apps[0].Cluster.Do(ctx, stellar.MethodStop, nil, cluster.ToNode("stellar-worker-3"))
	if err != nil || r.Node != "stellar-worker-3" {
		t.Fatalf("api.stop: %+v, %v", r, err)
	}
	select {
	case <-apps[2].Done():
	case <-time.After(10 * time.Second):
		t.Fatal("stellar-worker-3 did not stop")
	}
	poll.Until(t, "the others to drop stellar-worker-3", 0, func() bool {
		return !slices.Contains(apps[0].Cluster.Members(), "stellar-worker-3") && !slices.Contains(apps[1].Cluster.Members(), "stellar-worker-3")
	})
	for _, want := range []string{"stellar-worker-2 joined the cluster", "stellar-worker-3 left the cluster"} {
		if !strings.Contains(logs.String(), want) {
			t.Errorf("logs lack %q", want)
		}
	}
}

// TestClusterNeedsTokenOnRedis: a node on Redis without a token refuses to
// start, unless cluster.insecure says otherwise; on memory none is needed.
func TestClusterNeedsTokenOnRedis(t *testing.T) {
	srv := redistest.Shared(t)
	_, err := clusterNode(t, "no-token", srv.URL(), redistest.Prefix(t), "", io.Discard)
	if err == nil || !strings.Contains(err.Error(), "cluster.token is empty") {
		t.Fatalf("no token: %v", err)
	}

	logs := &syncBuffer{}
	cfg := stellar.Config{ID: "dev", HTTP: config.HTTP{Addr: "off"}, TCP: config.TCP{Addr: "off"},
		Redis: config.Redis{URL: srv.URL(), Prefix: redistest.Prefix(t)}, Cluster: config.Cluster{Insecure: true}}
	app := stellar.New(cfg, stellar.WithLogOutput(logs))
	if err := app.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	defer app.Shutdown(context.Background())
	if !strings.Contains(logs.String(), "INSECURE") {
		t.Fatalf("no loud warning:\n%s", logs)
	}

	mem := stellar.New(stellar.Config{ID: "mem", HTTP: config.HTTP{Addr: "off"}, TCP: config.TCP{Addr: "off"}}, stellar.WithLogOutput(io.Discard))
	if err := mem.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	defer mem.Shutdown(context.Background())
	r, err := mem.Cluster.Do(context.Background(), stellar.MethodStatus, nil)
	if err != nil || r.Node != "mem" {
		t.Fatalf("memory node talks to itself: %+v, %v", r, err)
	}
}
