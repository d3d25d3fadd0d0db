package memory_test

import (
	"testing"

	"github.com/stellarfw/stellar-go/backend/memory"
	"github.com/stellarfw/stellar-go/internal/backendtest"
)

func TestTaskConformance(t *testing.T) {
	backendtest.RunTasks(t, backendtest.TaskBackend{
		NewStores: func(t *testing.T, n int, clock *backendtest.Clock) []backendtest.TaskStore {
			b := memory.New(memory.Config{Now: clock.Now})
			t.Cleanup(func() { _ = b.Close() })
			stores := make([]backendtest.TaskStore, n)
			for i := range stores {
				stores[i] = b.Tasks()
			}
			return stores
		},
	})
}
