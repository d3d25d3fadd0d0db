package redis_test

import (
	"context"
	"testing"

	"github.com/stellarfw/stellar-go/backend/redis"
	"github.com/stellarfw/stellar-go/chat"
	"github.com/stellarfw/stellar-go/internal/backendtest"
	"github.com/stellarfw/stellar-go/internal/redistest"
)

func TestChatConformance(t *testing.T) {
	backendtest.RunChat(t, backendtest.ChatBackend{NewStores: func(t *testing.T, n int) []chat.Store {
		srv := redistest.Shared(t)
		prefix := redistest.Prefix(t)
		out := make([]chat.Store, n)
		for i := range out {
			s := open(t, redis.Config{URL: srv.URL(), Prefix: prefix}).Chat()
			out[i] = s
		}
		t.Cleanup(func() {
			ctx := context.Background()
			rooms, _ := out[0].List(ctx)
			for _, r := range rooms {
				_ = out[0].Destroy(ctx, r)
			}
		})
		return out
	}})
}
