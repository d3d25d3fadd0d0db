package redis_test

import (
	"context"
	"testing"

	"go.uber.org/goleak"

	"github.com/stellarfw/stellar-go/backend/redis"
	"github.com/stellarfw/stellar-go/cache"
	"github.com/stellarfw/stellar-go/internal/backendtest"
	"github.com/stellarfw/stellar-go/internal/redistest"
)

func TestMain(m *testing.M) {
	redistest.Main(m, func() error {
		// A cluster client closes the connections to seeds that serve no
		// slot (replicas) 5s after it learnt the slots, closed or not:
		// that goroutine ends by itself.
		return goleak.Find(goleak.IgnoreAnyFunction("github.com/redis/rueidis.(*clusterClient)._refresh.func2"))
	})
}

// open returns a Backend on url with prefix, closed and emptied when t
// ends.
func open(t *testing.T, cfg redis.Config) *redis.Backend {
	t.Helper()
	b, err := redis.Open(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		// Leave nothing behind on a server shared with other tests.
		ctx := context.Background()
		_ = b.Cache().Clear(ctx)
		locks, _ := b.Cache().Locks(ctx)
		for _, l := range locks {
			_, _ = b.Cache().Unlock(ctx, l.Owner, l.Key)
		}
		_ = b.Close()
	})
	return b
}

// newStores opens n Backends, as n nodes would, on one prefix of the
// shared server.
func newStores(t *testing.T, n int, _ *backendtest.Clock) []cache.Store {
	srv := redistest.Shared(t)
	prefix := redistest.Prefix(t)
	stores := make([]cache.Store, n)
	for i := range stores {
		stores[i] = open(t, redis.Config{URL: srv.URL(), Prefix: prefix}).Cache()
	}
	return stores
}

func TestCacheConformance(t *testing.T) {
	backendtest.RunCache(t, backendtest.CacheBackend{NewStores: newStores})
}
