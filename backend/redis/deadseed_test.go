package redis_test

import (
	"context"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/stellarfw/stellar-go/backend/redis"
	"github.com/stellarfw/stellar-go/internal/redistest"
)

// TestDeadSeed: a subscription made on a Redis Cluster master that dies
// breaks, and is made again on a live master; once the cluster promoted
// the dead master's replica, the commands without a key go to live
// masters only, though the dead master was a configured seed and stays
// dead: every readiness check passes, every publish lands and reaches
// the subscription.
func TestDeadSeed(t *testing.T) {
	c := redistest.StartCluster(t)
	b := open(t, redis.Config{ClusterAddrs: c.Addrs(), Prefix: redistest.Prefix(t)})
	tr := b.Cluster()
	ctx := t.Context()
	if err := b.Ping(ctx); err != nil {
		t.Fatalf("Ping: %v", err)
	}
	dead := c.Masters(t)[0]
	// A channel whose subscription goes to the master about to die.
	channel := ""
	for i := 0; channel == ""; i++ {
		if name := "ch" + strconv.Itoa(i); c.MasterOf(t, tr.Channel(name)) == dead {
			channel = name
		}
	}

	sctx, cancel := context.WithCancel(ctx)
	var (
		mu         sync.Mutex
		got        = map[string]bool{}
		subscribed = make(chan struct{}, 100)
		wg         sync.WaitGroup
	)
	// Made again whenever it breaks, as the cluster does.
	wg.Go(func() {
		for sctx.Err() == nil {
			_ = tr.Subscribe(sctx, []string{channel}, func() { subscribed <- struct{}{} }, func(_ string, m []byte) {
				mu.Lock()
				got[string(m)] = true
				mu.Unlock()
			})
			time.Sleep(20 * time.Millisecond) // backoff between attempts, not a wait for something
		}
	})
	defer wg.Wait()
	defer cancel()
	select {
	case <-subscribed:
	case <-time.After(10 * time.Second):
		t.Fatal("the subscription did not start")
	}

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

	// The subscription was made again: a message reaches it.
	poll(t, "a message delivered after the failover", func(ctx context.Context) error {
		if err := tr.Publish(ctx, channel, []byte("first")); err != nil {
			return err
		}
		mu.Lock()
		defer mu.Unlock()
		if !got["first"] {
			return context.DeadlineExceeded
		}
		return nil
	})
	if b.Stats().SubscriptionsLost == 0 {
		t.Error("the subscription on the dead master was not counted lost")
	}
	var pubFailed []error
	for i := range 200 {
		if err := tr.Publish(ctx, channel, []byte(strconv.Itoa(i))); err != nil {
			pubFailed = append(pubFailed, err)
		}
	}
	if len(pubFailed) > 0 {
		t.Errorf("%d of 200 publishes failed after the failover, first: %v", len(pubFailed), pubFailed[0])
	}
	poll(t, "every message delivered", func(context.Context) error {
		mu.Lock()
		defer mu.Unlock()
		if len(got) < 1+200-len(pubFailed) {
			return context.DeadlineExceeded
		}
		return nil
	})
}
