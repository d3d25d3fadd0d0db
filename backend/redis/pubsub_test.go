package redis_test

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stellarfw/stellar-go/backend/redis"
	ipoll "github.com/stellarfw/stellar-go/internal/poll"
	"github.com/stellarfw/stellar-go/internal/redistest"
)

// TestSubscriptionAfterRestart restarts redis-server under a subscriber
// that resubscribes whenever Subscribe returns, as the cluster does, and
// checks that messages published after the restart arrive: a subscription
// that the client believes alive but that delivers nothing must be found
// out and made again.
func TestSubscriptionAfterRestart(t *testing.T) {
	srv := redistest.StartOwn(t)
	b, err := redis.Open(redis.Config{URL: srv.URL(), Prefix: redistest.Prefix(t), ReconnectBackoff: 20 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	tr := b.Cluster()

	var mu sync.Mutex
	seen := map[string]bool{}
	var ups atomic.Int32
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for ctx.Err() == nil {
			_ = tr.Subscribe(ctx, []string{"news"}, func() { ups.Add(1) }, func(ch string, msg []byte) {
				mu.Lock()
				seen[ch+"/"+string(msg)] = true
				mu.Unlock()
			})
			select {
			case <-ctx.Done():
			case <-time.After(20 * time.Millisecond): // the cluster's backoff, shortened
			}
		}
	}()
	defer func() { cancel(); wg.Wait() }()

	delivered := func(msg string) func() bool {
		return func() bool {
			pctx, pcancel := context.WithTimeout(ctx, time.Second)
			_ = tr.Publish(pctx, "news", []byte(msg))
			pcancel()
			mu.Lock()
			defer mu.Unlock()
			return seen["news/"+msg]
		}
	}
	ipoll.Until(t, "the first subscription to deliver", 0, delivered("before"))
	ipoll.Until(t, "the subscription to report itself subscribed", 0, func() bool { return ups.Load() >= 1 })
	for i := range 3 {
		srv.Stop(t)
		srv.Restart(t)
		msg := "after-" + string(rune('a'+i))
		ipoll.Until(t, "a message published after restart "+msg+" to arrive", 0, delivered(msg))
	}
}
