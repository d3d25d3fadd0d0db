package redis_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/stellarfw/stellar-go/backend/redis"
	"github.com/stellarfw/stellar-go/internal/redistest"
)

// TestDeadSeed: once a Redis Cluster has promoted the replica of a master
// that was one of the configured seeds, the commands without a key go to
// live masters only, while the dead seed stays dead: every readiness
// check passes, and messages published reach a subscription.
func TestDeadSeed(t *testing.T) {
	c := redistest.StartCluster(t)
	b := open(t, redis.Config{ClusterAddrs: c.Addrs(), Prefix: redistest.Prefix(t)})
	tr := b.Cluster()
	ctx := t.Context()
	if err := b.Ping(ctx); err != nil {
		t.Fatalf("Ping: %v", err)
	}
	dead := c.Masters(t)[0]
	c.Kill(t, dead)
	c.WaitFailover(t, dead)

	// The client learns the new master from its first failed call.
	poll(t, "Ping after the failover", b.Ping)
	var failed []error
	for range 200 {
		if err := b.Ping(ctx); err != nil {
			failed = append(failed, err)
		}
	}
	if len(failed) > 0 {
		t.Errorf("%d of 200 readiness checks failed after the failover, first: %v", len(failed), failed[0])
	}

	// A subscription made now, and messages to it.
	sctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var (
		mu  sync.Mutex
		got int
		wg  sync.WaitGroup
	)
	subscribed := make(chan struct{})
	wg.Go(func() {
		_ = tr.Subscribe(sctx, []string{"all"}, func() { close(subscribed) }, func(string, []byte) {
			mu.Lock()
			got++
			mu.Unlock()
		})
	})
	defer wg.Wait()
	defer cancel()
	select {
	case <-subscribed:
	case <-time.After(10 * time.Second):
		t.Fatal("the subscription did not start")
	}
	var pubFailed []error
	for range 200 {
		if err := tr.Publish(ctx, "all", []byte("m")); err != nil {
			pubFailed = append(pubFailed, err)
		}
	}
	if len(pubFailed) > 0 {
		t.Errorf("%d of 200 publishes failed after the failover, first: %v", len(pubFailed), pubFailed[0])
	}
	poll(t, "every message delivered", func(context.Context) error {
		mu.Lock()
		defer mu.Unlock()
		if got < 200-len(pubFailed) {
			return context.DeadlineExceeded
		}
		return nil
	})
}
