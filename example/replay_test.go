package main

import (
	"bytes"
	"context"
	"sync"
	"testing"
	"time"

	redisb "github.com/stellarfw/stellar-go/backend/redis"
	"github.com/stellarfw/stellar-go/cluster"
	"github.com/stellarfw/stellar-go/internal/lifecycle"
	"github.com/stellarfw/stellar-go/internal/poll"
	"github.com/stellarfw/stellar-go/internal/redistest"
)

// TestReplayAfterRestart captures, as an eavesdropper on Redis would, a
// legitimate signed api.stop sent to a real node, restarts the node under
// the same id, and publishes the capture again: the restarted node drops
// it and counts it (before_start), and keeps running. Before nodes
// refused messages signed before their own start, the captured api.stop
// stopped the restarted node again.
func TestReplayAfterRestart(t *testing.T) {
	const token = "replay-test-token"
	srv := redistest.StartOwn(t)
	prefix := redistest.Prefix(t)
	victim := startClusterProc(t, srv.URL(), prefix, "victim", token)

	b, err := redisb.Open(redisb.Config{URL: srv.URL(), Prefix: prefix, ReconnectBackoff: 20 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = b.Close() })
	tr := b.Cluster()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()

	// The eavesdropper: every message on the victim's own channel.
	var mu sync.Mutex
	var captured [][]byte
	subscribed := make(chan struct{})
	var once sync.Once
	go func() {
		_ = tr.Subscribe(ctx, []string{"node:victim"}, func() { once.Do(func() { close(subscribed) }) }, func(_ string, msg []byte) {
			mu.Lock()
			captured = append(captured, bytes.Clone(msg))
			mu.Unlock()
		})
	}()
	select {
	case <-subscribed:
	case <-time.After(15 * time.Second):
		t.Fatal("the eavesdropper could not subscribe")
	}

	// A legitimate member stops the victim through the cluster.
	me := cluster.New()
	if err := me.Start(ctx, b.Cluster(), cluster.Config{ID: "operator", Token: token, HeartbeatInterval: 100 * time.Millisecond, NodeTTL: time.Second}, lifecycle.Key{}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = me.Stop(context.Background(), lifecycle.Key{}) })
	poll.Until(t, "the operator to see the victim", 0, func() bool {
		for _, n := range me.Members() {
			if n == "victim" {
				return true
			}
		}
		return false
	})
	if _, err := me.Do(ctx, "api.stop", nil, cluster.ToNode("victim")); err != nil {
		t.Fatalf("api.stop: %v", err)
	}
	select {
	case <-victim.done:
	case <-time.After(15 * time.Second):
		t.Fatal("the victim did not stop on a legitimate api.stop")
	}
	var stop []byte
	poll.Until(t, "the eavesdropper to hold the captured api.stop", 0, func() bool {
		mu.Lock()
		defer mu.Unlock()
		for _, m := range captured {
			if bytes.Contains(m, []byte("api.stop")) {
				stop = m
				return true
			}
		}
		return false
	})

	// The victim comes back under its own id; the capture is replayed.
	again := startClusterProc(t, srv.URL(), prefix, "victim", token)
	if err := tr.Publish(ctx, "node:victim", stop); err != nil {
		t.Fatal(err)
	}
	poll.Until(t, "the restarted node to count the replay as before_start", 0, func() bool {
		status := again.action(t, "GET", "status", nil)
		cl, _ := status["cluster"].(map[string]any)
		dropped, _ := cl["dropped"].(map[string]any)
		n, _ := dropped[cluster.DropBeforeStart].(float64)
		return n >= 1
	})
	select {
	case <-again.done:
		t.Fatalf("the replayed api.stop stopped the restarted node:\n%s", again.stderr)
	default:
	}
	again.waitReady(t, 200)
}
