package memory_test

import (
	"testing"

	"github.com/stellarfw/stellar-go/backend/memory"
	"github.com/stellarfw/stellar-go/chat"
	"github.com/stellarfw/stellar-go/internal/backendtest"
)

func TestChatConformance(t *testing.T) {
	backendtest.RunChat(t, backendtest.ChatBackend{NewStores: func(t *testing.T, n int) []chat.Store {
		b := memory.New(memory.Config{})
		t.Cleanup(func() { _ = b.Close() })
		out := make([]chat.Store, n)
		for i := range out {
			out[i] = b.Chat()
		}
		return out
	}})
}
