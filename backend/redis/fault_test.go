package redis_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stellarfw/stellar-go/backend/redis"
	"github.com/stellarfw/stellar-go/cache"
	"github.com/stellarfw/stellar-go/internal/redistest"
)

// callTimeout is far longer than a failing call should take: a call that
// reaches it hung instead of failing fast.
const callTimeout = 5 * time.Second

// failsFast checks that op fails with ErrUnavailable before its context
// runs out.
func failsFast(t *testing.T, name string, op func(ctx context.Context) error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), callTimeout)
	defer cancel()
	err := op(ctx)
	switch {
	case err == nil:
		t.Errorf("%s succeeded with Redis down", name)
	case errors.Is(err, context.DeadlineExceeded) || ctx.Err() != nil:
		t.Errorf("%s hung until its %v deadline: %v", name, callTimeout, err)
	case !errors.Is(err, redis.ErrUnavailable):
		t.Errorf("%s: %v, want ErrUnavailable", name, err)
	}
}

// poll calls op until it succeeds, failing the test at a deadline.
func poll(t *testing.T, what string, op func(ctx context.Context) error) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for {
		ctx, cancel := context.WithTimeout(t.Context(), callTimeout)
		err := op(ctx)
		cancel()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: still failing at the deadline: %v", what, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func cacheOps(c *cache.Cache) map[string]func(ctx context.Context) error {
	return map[string]func(ctx context.Context) error{
		"Save":    func(ctx context.Context) error { return c.Save(ctx, "k", 1) },
		"Load":    func(ctx context.Context) error { _, err := c.Load(ctx, "k"); return err },
		"Destroy": func(ctx context.Context) error { return c.Destroy(ctx, "k") },
		"Keys":    func(ctx context.Context) error { _, err := c.Keys(ctx, ""); return err },
		"Size":    func(ctx context.Context) error { _, err := c.Size(ctx); return err },
		"Clear":   func(ctx context.Context) error { return c.Clear(ctx) },
		"Push":    func(ctx context.Context) error { return c.Push(ctx, "l", 1) },
		"Pop":     func(ctx context.Context) error { _, err := c.Pop(ctx, "l"); return err },
		"Length":  func(ctx context.Context) error { _, err := c.ListLength(ctx, "l"); return err },
		"Lock":    func(ctx context.Context) error { _, err := c.Lock(ctx, "x", time.Second); return err },
		"Unlock":  func(ctx context.Context) error { _, err := c.Unlock(ctx, "x"); return err },
		"Check":   func(ctx context.Context) error { _, err := c.CheckLock(ctx, "x", true); return err },
		"Locks":   func(ctx context.Context) error { _, err := c.Locks(ctx); return err },
	}
}

// TestRedisGoesAway stops Redis under a running backend: every call fails
// fast, under load too, and all work again once Redis is back.
func TestRedisGoesAway(t *testing.T) {
	srv := redistest.StartOwn(t)
	b := open(t, redis.Config{URL: srv.URL()})
	c := cache.New(b.Cache(), cache.Config{NodeID: "n1"})
	ctx := t.Context()
	must(t, b.Ping(ctx))
	must(t, c.Save(ctx, "k", 1))
	if _, err := c.Load(ctx, "k"); err != nil {
		t.Fatal(err)
	}

	// Callers keep working through the outage; none may hang.
	var ok, failed, hung atomic.Int64
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for w := range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			key := fmt.Sprint("load-", w)
			for {
				select {
				case <-stop:
					return
				default:
				}
				callCtx, cancel := context.WithTimeout(ctx, callTimeout)
				err := c.Save(callCtx, key, w)
				if err == nil {
					_, err = c.Load(callCtx, key)
				}
				switch {
				case err == nil:
					ok.Add(1)
				case callCtx.Err() != nil:
					hung.Add(1)
				default:
					failed.Add(1)
				}
				cancel()
				if err != nil {
					time.Sleep(time.Millisecond) // don't spin on a dead server
				}
			}
		}()
	}
	defer func() {
		close(stop)
		wg.Wait()
	}()
	poll(t, "the load to run", func(context.Context) error {
		if ok.Load() < 100 {
			return errors.New("not yet")
		}
		return nil
	})

	srv.Stop(t)
	failsFast(t, "Ping", b.Ping)
	for name, op := range cacheOps(c) {
		failsFast(t, name, op)
	}
	before := failed.Load()
	poll(t, "the load to see failures", func(context.Context) error {
		if failed.Load() < before+100 {
			return errors.New("not yet")
		}
		return nil
	})

	srv.Restart(t)
	poll(t, "Ping after restart", b.Ping)
	// The server came back empty, without the scripts: they load again.
	poll(t, "Save after restart", func(ctx context.Context) error { return c.Save(ctx, "k", 2) })
	v, err := cache.Load[int](ctx, c, "k")
	if err != nil || v != 2 {
		t.Fatalf("Load after restart = %d, %v", v, err)
	}
	for name, op := range cacheOps(c) {
		// Some ops need the entry and the list; Clear removes them.
		must(t, c.Save(ctx, "k", 1))
		must(t, c.Push(ctx, "l", 1))
		if err := op(ctx); err != nil {
			t.Errorf("%s after restart: %v", name, err)
		}
	}
	after := ok.Load()
	poll(t, "the load to recover", func(context.Context) error {
		if ok.Load() < after+100 {
			return errors.New("not yet")
		}
		return nil
	})
	if n := hung.Load(); n > 0 {
		t.Errorf("%d calls hung until their %v deadline", n, callTimeout)
	}
}

// TestStartWhileDown opens the backend before Redis runs: calls fail fast
// until it starts, then work.
func TestStartWhileDown(t *testing.T) {
	srv := redistest.StartOwn(t)
	srv.Stop(t)
	b := open(t, redis.Config{URL: srv.URL()})
	c := cache.New(b.Cache(), cache.Config{NodeID: "n1"})
	failsFast(t, "Ping", b.Ping)
	failsFast(t, "Save", func(ctx context.Context) error { return c.Save(ctx, "k", 1) })
	srv.Restart(t)
	poll(t, "Ping once Redis runs", b.Ping)
	must(t, c.Save(t.Context(), "k", 1))
}

func TestClosed(t *testing.T) {
	b, err := redis.Open(redis.Config{URL: redistest.Shared(t).URL(), Prefix: redistest.Prefix(t)})
	if err != nil {
		t.Fatal(err)
	}
	c := cache.New(b.Cache(), cache.Config{NodeID: "n1"})
	must(t, c.Save(t.Context(), "k", 1))
	must(t, c.Destroy(t.Context(), "k"))
	must(t, b.Close())
	must(t, b.Close())
	if err := b.Ping(t.Context()); !errors.Is(err, redis.ErrClosed) {
		t.Errorf("Ping after Close: %v, want ErrClosed", err)
	}
	if err := c.Save(t.Context(), "k", 1); !errors.Is(err, redis.ErrClosed) {
		t.Errorf("Save after Close: %v, want ErrClosed", err)
	}
}

// TestStats: the backend counts Redis's error replies, the calls that
// found it unreachable and the subscriptions it lost.
func TestStats(t *testing.T) {
	srv := redistest.StartOwn(t)
	b := open(t, redis.Config{URL: srv.URL()})
	c := cache.New(b.Cache(), cache.Config{NodeID: "n1"})
	ctx := t.Context()
	must(t, b.Ping(ctx))
	if s := b.Stats(); s != (redis.Stats{}) {
		t.Fatalf("Stats before any failure = %+v", s)
	}
	must(t, c.Push(ctx, "list", 1))
	if _, err := c.Load(ctx, "list"); !errors.Is(err, cache.ErrWrongType) {
		t.Fatalf("Load of a list = %v, want ErrWrongType", err)
	}
	if s := b.Stats(); s.ReplyErrors != 1 || s.Unavailable != 0 {
		t.Fatalf("Stats after an error reply = %+v", s)
	}

	sctx, cancel := context.WithCancel(ctx)
	subscribed := make(chan struct{})
	ended := make(chan error, 1)
	go func() {
		var once sync.Once
		ended <- b.Cluster().Subscribe(sctx, []string{"all"}, func() { once.Do(func() { close(subscribed) }) }, func(string, []byte) {})
	}()
	<-subscribed
	srv.Stop(t)
	failsFast(t, "Ping", b.Ping)
	select {
	case err := <-ended:
		if err == nil {
			t.Fatal("the subscription ended without an error")
		}
	case <-time.After(callTimeout):
		t.Fatal("the subscription outlived Redis")
	}
	cancel()
	if s := b.Stats(); s.Unavailable == 0 || s.SubscriptionsLost != 1 {
		t.Errorf("Stats with Redis down = %+v, want unavailable calls and 1 subscription lost", s)
	}
	srv.Restart(t)
}
