package memory_test

import (
	"context"
	"testing"

	"github.com/stellarfw/stellar-go/backend/memory"
	"github.com/stellarfw/stellar-go/cluster"
	"github.com/stellarfw/stellar-go/internal/backendtest"
)

func TestClusterTransportConformance(t *testing.T) {
	backendtest.RunCluster(t, backendtest.ClusterBackend{
		NewTransports: func(t *testing.T, n int) []cluster.Transport {
			b := memory.New(memory.Config{})
			t.Cleanup(func() { _ = b.Close() })
			out := make([]cluster.Transport, n)
			for i := range out {
				out[i] = b.Cluster()
			}
			return out
		},
		Publish: func(t *testing.T, tr cluster.Transport, channel string, raw []byte) {
			if err := tr.Publish(context.Background(), channel, raw); err != nil {
				t.Fatal(err)
			}
		},
	})
}
