package redis_test

import (
	"context"
	"errors"
	"net/url"
	"strconv"
	"testing"
	"time"

	"github.com/stellarfw/stellar-go/backend/redis"
	"github.com/stellarfw/stellar-go/cluster"
	"github.com/stellarfw/stellar-go/internal/backendtest"
	"github.com/stellarfw/stellar-go/internal/lifecycle"

	// Named so: fault_test.go declares a func poll in this package.
	ipoll "github.com/stellarfw/stellar-go/internal/poll"
	"github.com/stellarfw/stellar-go/internal/redistest"
)

func TestClusterTransportConformance(t *testing.T) {
	backendtest.RunCluster(t, backendtest.ClusterBackend{
		NewTransports: func(t *testing.T, n int) []cluster.Transport {
			srv := redistest.Shared(t)
			prefix := redistest.Prefix(t)
			out := make([]cluster.Transport, n)
			for i := range out {
				out[i] = open(t, redis.Config{URL: srv.URL(), Prefix: prefix}).Cluster()
			}
			return out
		},
		Publish: func(t *testing.T, tr cluster.Transport, channel string, raw []byte) {
			if err := tr.Publish(context.Background(), channel, raw); err != nil {
				t.Fatal(err)
			}
		},
	})
}

// TestClusterRedisRestart: while Redis is down the nodes report
// themselves not ready and calls fail at once with a clear error; when it
// returns (empty: persistence is off) they resubscribe, record themselves
// again and answer calls.
func TestClusterTransportRedisRestart(t *testing.T) {
	srv := redistest.StartOwn(t)
	prefix := redistest.Prefix(t)
	var nodes []*cluster.Cluster
	for _, id := range []string{"r-1", "r-2"} {
		b := open(t, redis.Config{URL: srv.URL(), Prefix: prefix, ReconnectBackoff: 20 * time.Millisecond})
		c := cluster.New()
		c.HandleFunc("who", func(ctx context.Context, call *cluster.Call) (any, error) { return id, nil })
		cfg := cluster.Config{ID: id, Token: "t", HeartbeatInterval: 50 * time.Millisecond, NodeTTL: time.Second}
		if err := c.Start(context.Background(), b.Cluster(), cfg, lifecycle.Key{}); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = c.Stop(context.Background(), lifecycle.Key{}) })
		nodes = append(nodes, c)
	}
	ctx := context.Background()
	ipoll.Until(t, "both nodes to be ready and in view", 0, func() bool {
		return nodes[0].Ready() == nil && nodes[1].Ready() == nil && len(nodes[0].Members()) == 2
	})
	if _, err := nodes[0].Do(ctx, "who", nil, cluster.ToNode("r-2")); err != nil {
		t.Fatal(err)
	}

	srv.Stop(t)
	ipoll.Until(t, "the nodes to report not ready", 0, func() bool { return nodes[0].Ready() != nil && nodes[1].Ready() != nil })
	start := time.Now()
	_, err := nodes[0].Do(ctx, "who", nil, cluster.ToNode("r-2"))
	if err == nil || errors.Is(err, cluster.ErrTimeout) || time.Since(start) > 2*time.Second {
		t.Fatalf("a call during the outage: %v after %s; want a fast, clear error", err, time.Since(start))
	}
	t.Logf("during the outage: %v", err)

	srv.Restart(t)
	ipoll.Until(t, "the nodes to be ready again", 0, func() bool {
		return nodes[0].Ready() == nil && nodes[1].Ready() == nil && len(nodes[0].Members()) == 2 && len(nodes[1].Members()) == 2
	})
	for _, c := range nodes {
		r, err := c.Do(ctx, "who", nil, cluster.ToNode("r-2"))
		if err != nil || r.Node != "r-2" {
			t.Fatalf("%s after restart: %+v, %v", c.ID(), r, err)
		}
	}
}

// TestClusterTransportTwoDatabases: two clusters with the same token and
// prefix on databases 0 and 1 of one server do not hear each other:
// neither its messages nor its calls cross, and each lists only its own
// nodes.
func TestClusterTransportTwoDatabases(t *testing.T) {
	srv := redistest.Shared(t)
	prefix := redistest.Prefix(t)
	ctx := context.Background()
	type side struct {
		c     *cluster.Cluster
		heard chan string
	}
	var sides []side
	for db, id := range []string{"db0-node", "db1-node"} {
		u, err := url.Parse(srv.URL())
		if err != nil {
			t.Fatal(err)
		}
		u.Path = "/" + strconv.Itoa(db)
		tr := open(t, redis.Config{URL: u.String(), Prefix: prefix}).Cluster()
		if want := prefix + "cluster:db" + strconv.Itoa(db) + ":all"; tr.Channel("all") != want {
			t.Fatalf("channel %q, want %q", tr.Channel("all"), want)
		}
		s := side{c: cluster.New(), heard: make(chan string, 16)}
		s.c.Subscribe("chat", func(ctx context.Context, m cluster.Message) { s.heard <- m.From })
		s.c.HandleFunc("api.log", func(ctx context.Context, call *cluster.Call) (any, error) { return id, nil })
		cfg := cluster.Config{ID: id, Token: "same-token", HeartbeatInterval: 50 * time.Millisecond, NodeTTL: time.Second}
		if err := s.c.Start(ctx, tr, cfg, lifecycle.Key{}); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = s.c.Stop(context.Background(), lifecycle.Key{}) })
		sides = append(sides, s)
	}
	// db0 publishes first; when db1 then hears its own message, a crossing
	// message from db0 would have reached it before (one server orders
	// what it publishes).
	for _, s := range sides {
		if err := s.c.Publish(ctx, "chat", "hi"); err != nil {
			t.Fatal(err)
		}
	}
	for _, s := range sides {
		select {
		case from := <-s.heard:
			if from != s.c.ID() {
				t.Fatalf("%s heard %s: the databases cross-talk", s.c.ID(), from)
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("%s did not hear itself", s.c.ID())
		}
	}
	for _, s := range sides {
		replies, err := s.c.DoAll(ctx, "api.log", nil)
		if err != nil || len(replies) != 1 || replies[0].Node != s.c.ID() {
			t.Fatalf("%s: DoAll = %+v, %v; want its own node only", s.c.ID(), replies, err)
		}
		nodes, err := s.c.Nodes(ctx)
		if err != nil || len(nodes) != 1 || nodes[0].ID != s.c.ID() {
			t.Fatalf("%s: Nodes = %+v, %v", s.c.ID(), nodes, err)
		}
		if d := s.c.Dropped(); d[cluster.DropBadSignature]+d[cluster.DropUnknownType]+d[cluster.DropReplayed] != 0 {
			t.Fatalf("%s dropped %v: something crossed", s.c.ID(), d)
		}
	}
}
