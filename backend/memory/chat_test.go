package memory_test

import (
	"testing"

	"github.com/stellarfw/stellar-go/backend/memory"
	"github.com/stellarfw/stellar-go/internal/backendtest"
)

func TestChatConformance(t *testing.T) {
	backendtest.RunChat(t, backendtest.ChatBackend{NewNodes: func(t *testing.T, n int) []backendtest.ChatNode {
		b := memory.New(memory.Config{})
		t.Cleanup(func() { _ = b.Close() })
		out := make([]backendtest.ChatNode, n)
		for i := range out {
			out[i] = backendtest.ChatNode{Store: b.Chat(), Transport: b.Cluster()}
		}
		return out
	}})
}
