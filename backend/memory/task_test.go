package memory_test

import (
	"testing"

	"github.com/stellarfw/stellar-go/backend/memory"
	"github.com/stellarfw/stellar-go/internal/backendtest"
	"github.com/stellarfw/stellar-go/task"
)

func TestTaskConformance(t *testing.T) {
	backendtest.RunTasks(t, backendtest.TaskBackend{
		NewStores: func(t *testing.T, n int, clock *backendtest.Clock) []task.Store {
			b := memory.New(memory.Config{Now: clock.Now})
			t.Cleanup(func() { _ = b.Close() })
			stores := make([]task.Store, n)
			for i := range stores {
				stores[i] = b.Tasks()
			}
			return stores
		},
	})
}
