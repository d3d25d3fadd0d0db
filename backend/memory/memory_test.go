package memory_test

import (
	"testing"

	"go.uber.org/goleak"

	"github.com/stellarfw/stellar-go/backend/memory"
	"github.com/stellarfw/stellar-go/cache"
	"github.com/stellarfw/stellar-go/internal/backendtest"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// newStores gives n handles on one Backend: the memory backend is a single
// node's, so the nodes of the suite share it.
func newStores(t *testing.T, n int, clock *backendtest.Clock) []cache.Store {
	var cfg memory.Config
	if clock != nil {
		cfg.Now = clock.Now
	}
	b := memory.New(cfg)
	t.Cleanup(func() { _ = b.Close() })
	stores := make([]cache.Store, n)
	for i := range stores {
		stores[i] = b.Cache()
	}
	return stores
}

func TestCacheConformance(t *testing.T) {
	t.Run("FakeClock", func(t *testing.T) {
		backendtest.RunCache(t, backendtest.CacheBackend{NewStores: newStores, FakeClock: true})
	})
	t.Run("RealClock", func(t *testing.T) {
		backendtest.RunCache(t, backendtest.CacheBackend{NewStores: newStores})
	})
}
