package redis_test

import (
	"testing"

	"github.com/stellarfw/stellar-go/backend/redis"
	"github.com/stellarfw/stellar-go/config"
	"github.com/stellarfw/stellar-go/internal/backendtest"
	"github.com/stellarfw/stellar-go/internal/redistest"
	"github.com/stellarfw/stellar-go/task"
)

func TestTaskConformance(t *testing.T) {
	backendtest.RunTasks(t, backendtest.TaskBackend{
		NewStores: func(t *testing.T, n int, clock *backendtest.Clock) []task.Store {
			srv := redistest.Shared(t)
			prefix := redistest.Prefix(t)
			stores := make([]task.Store, n)
			for i := range stores {
				b, err := redis.Open(redis.Config{Redis: config.Redis{URL: srv.URL(), Prefix: prefix}, Now: clock.Now})
				if err != nil {
					t.Fatal(err)
				}
				t.Cleanup(func() { _ = b.Close() })
				stores[i] = b.Tasks()
			}
			return stores
		},
	})
}
