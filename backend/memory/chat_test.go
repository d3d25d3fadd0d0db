package memory_test

import (
	"testing"

	"github.com/stellarfw/stellar-go/backend/memory"
	"github.com/stellarfw/stellar-go/internal/backendtest"
)

func TestChatConformance(t *testing.T) {
	newNodes := func(t *testing.T, n int, clock *backendtest.Clock) []backendtest.ChatNode {
		var cfg memory.Config
		if clock != nil {
			cfg.Now = clock.Now
		}
		b := memory.New(cfg)
		t.Cleanup(func() { _ = b.Close() })
		out := make([]backendtest.ChatNode, n)
		for i := range out {
			out[i] = backendtest.ChatNode{Store: b.Chat(), Transport: b.Cluster()}
		}
		return out
	}
	t.Run("FakeClock", func(t *testing.T) {
		backendtest.RunChat(t, backendtest.ChatBackend{NewNodes: newNodes, FakeClock: true})
	})
	t.Run("RealClock", func(t *testing.T) {
		backendtest.RunChat(t, backendtest.ChatBackend{NewNodes: newNodes})
	})
}
