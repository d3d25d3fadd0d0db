package redis_test

import (
	"context"
	"testing"

	"github.com/stellarfw/stellar-go/backend/redis"
	"github.com/stellarfw/stellar-go/internal/backendtest"
	"github.com/stellarfw/stellar-go/internal/redistest"
)

func TestChatConformance(t *testing.T) {
	backendtest.RunChat(t, backendtest.ChatBackend{NewNodes: func(t *testing.T, n int, _ *backendtest.Clock) []backendtest.ChatNode {
		srv := redistest.Shared(t)
		prefix := redistest.Prefix(t)
		out := make([]backendtest.ChatNode, n)
		for i := range out {
			b := open(t, redis.Config{URL: srv.URL(), Prefix: prefix})
			out[i] = backendtest.ChatNode{Store: b.Chat(), Transport: b.Cluster()}
		}
		t.Cleanup(func() {
			ctx := context.Background()
			rooms, _ := out[0].Store.List(ctx)
			for _, r := range rooms {
				_ = out[0].Store.Destroy(ctx, r)
			}
		})
		return out
	}})
}
