package cache_test

import (
	"testing"

	"github.com/stellarfw/stellar-go/backend/memory"
	"github.com/stellarfw/stellar-go/cache"
)

// The cache's semantics are tested by internal/backendtest, against every
// backend. These tests cover what belongs to the Cache alone.

func TestNewRequiresNodeID(t *testing.T) {
	b := memory.New(memory.Config{})
	defer b.Close()
	defer func() {
		if recover() == nil {
			t.Error("New with no NodeID did not panic")
		}
	}()
	cache.New(b.Cache(), cache.Config{})
}

func TestNewRequiresStore(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Error("New with a nil store did not panic")
		}
	}()
	cache.New(nil, cache.Config{NodeID: "n"})
}

func TestNodeID(t *testing.T) {
	b := memory.New(memory.Config{})
	defer b.Close()
	if got := cache.New(b.Cache(), cache.Config{NodeID: "node-7"}).NodeID(); got != "node-7" {
		t.Errorf("NodeID = %q", got)
	}
}
