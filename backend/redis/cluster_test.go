package redis_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/stellarfw/stellar-go/backend/redis"
	"github.com/stellarfw/stellar-go/cluster"
	"github.com/stellarfw/stellar-go/internal/backendtest"
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
		if err := c.Start(context.Background(), b.Cluster(), cfg); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = c.Stop(context.Background()) })
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
