package redis_test

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stellarfw/stellar-go/backend/redis"
	"github.com/stellarfw/stellar-go/cache"
	"github.com/stellarfw/stellar-go/cluster"
	"github.com/stellarfw/stellar-go/internal/backendtest"
	"github.com/stellarfw/stellar-go/internal/redistest"
)

// TestDeployments runs the cache over every way Config can name a
// Redis: a unix socket, a password, TLS, Sentinel and Cluster.
func TestDeployments(t *testing.T) {
	tests := []struct {
		name string
		cfg  func(t *testing.T) redis.Config
	}{
		{"unix socket", func(t *testing.T) redis.Config {
			return redis.Config{URL: redistest.StartOwn(t).SocketURL(t)}
		}},
		{"password in URL", func(t *testing.T) redis.Config {
			return redis.Config{URL: redistest.StartOwn(t, redistest.Password("pa:ss")).URL()}
		}},
		{"tls", func(t *testing.T) redis.Config {
			s := redistest.StartOwn(t, redistest.TLS())
			return redis.Config{URL: s.URL(), TLSConfig: s.TLSConfig()}
		}},
		{"sentinel", func(t *testing.T) redis.Config {
			m := redistest.StartOwn(t, redistest.Password("pw"))
			s := redistest.StartSentinel(t, m)
			return redis.Config{SentinelMaster: redistest.SentinelName, SentinelAddrs: []string{s.Addr()}, Password: "pw"}
		}},
		{"cluster", func(t *testing.T) redis.Config {
			return redis.Config{ClusterAddrs: []string{redistest.StartOwn(t, redistest.Cluster()).Addr()}}
		}},
		{"cluster of 3 masters", func(t *testing.T) redis.Config {
			return redis.Config{ClusterAddrs: redistest.SharedCluster(t).Addrs(), Prefix: redistest.Prefix(t)}
		}},
		{"sentinels with replicas", func(t *testing.T) redis.Config {
			return redis.Config{SentinelMaster: redistest.SentinelName, SentinelAddrs: redistest.StartSentinelSet(t).Addrs()}
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
			defer cancel()
			b := open(t, tc.cfg(t))
			if err := b.Ping(ctx); err != nil {
				t.Fatalf("Ping: %v", err)
			}
			c := cache.New(b.Cache(), cache.Config{NodeID: "n1"})
			must(t, c.Save(ctx, "k", map[string]int{"a": 1}, cache.TTL(time.Minute)))
			v, err := cache.Load[map[string]int](ctx, c, "k")
			must(t, err)
			if v["a"] != 1 {
				t.Errorf("Load = %v", v)
			}
			ok, err := c.Lock(ctx, "k", time.Minute)
			must(t, err)
			if !ok {
				t.Error("Lock failed")
			}
			must(t, c.Push(ctx, "l", 1))
			keys, err := c.Keys(ctx, "")
			must(t, err)
			slices.Sort(keys)
			if strings.Join(keys, ",") != "k,l" {
				t.Errorf("Keys = %q", keys)
			}
			must(t, c.Destroy(ctx, "k"))
		})
	}
}

// TestClusterConformance runs the cache and chat suites on a Redis
// Cluster, where Redis refuses any script whose keys span slots.
func TestClusterConformance(t *testing.T) {
	srv := redistest.StartOwn(t, redistest.Cluster())
	backendtest.RunCache(t, backendtest.CacheBackend{NewStores: func(t *testing.T, n int, _ *backendtest.Clock) []cache.Store {
		prefix := redistest.Prefix(t)
		stores := make([]cache.Store, n)
		for i := range stores {
			stores[i] = open(t, redis.Config{ClusterAddrs: []string{srv.Addr()}, Prefix: prefix}).Cache()
		}
		return stores
	}})
	// The chat's scripts reach keys they derive from what they read: the
	// {chat} hash tag keeps those in the slot of the keys they name.
	t.Run("Chat", func(t *testing.T) {
		backendtest.RunChat(t, backendtest.ChatBackend{NewNodes: func(t *testing.T, n int, _ *backendtest.Clock) []backendtest.ChatNode {
			prefix := redistest.Prefix(t)
			out := make([]backendtest.ChatNode, n)
			for i := range out {
				b := open(t, redis.Config{ClusterAddrs: []string{srv.Addr()}, Prefix: prefix})
				out[i] = backendtest.ChatNode{Store: b.Chat(), Transport: b.Cluster()}
			}
			return out
		}})
	})
}

// TestClusterRecordsOnRedisCluster: the membership records' compare and
// set holds on a Redis Cluster too.
func TestClusterRecordsOnRedisCluster(t *testing.T) {
	srv := redistest.StartOwn(t, redistest.Cluster())
	backendtest.RunClusterRecords(t, func(t *testing.T, n int) []cluster.Transport {
		prefix := redistest.Prefix(t)
		out := make([]cluster.Transport, n)
		for i := range out {
			out[i] = open(t, redis.Config{ClusterAddrs: []string{srv.Addr()}, Prefix: prefix}).Cluster()
		}
		return out
	})
}

// TestMultiShardConformance runs the suites on a Redis Cluster of three
// masters, each with a replica, where keys spread over the shards and
// Redis refuses any script whose keys span slots.
func TestMultiShardConformance(t *testing.T) {
	srv := redistest.SharedCluster(t)
	open := func(t *testing.T, prefix string, now func() time.Time) *redis.Backend {
		t.Helper()
		return open(t, redis.Config{ClusterAddrs: srv.Addrs(), Prefix: prefix, Now: now})
	}
	t.Run("Tasks", func(t *testing.T) {
		backendtest.RunTasks(t, backendtest.TaskBackend{
			NewStores: func(t *testing.T, n int, clock *backendtest.Clock) []backendtest.TaskStore {
				prefix := redistest.Prefix(t)
				stores := make([]backendtest.TaskStore, n)
				for i := range stores {
					stores[i] = open(t, prefix, clock.Now).Tasks()
				}
				return stores
			},
		})
	})
	t.Run("Cache", func(t *testing.T) {
		backendtest.RunCache(t, backendtest.CacheBackend{NewStores: func(t *testing.T, n int, _ *backendtest.Clock) []cache.Store {
			prefix := redistest.Prefix(t)
			stores := make([]cache.Store, n)
			for i := range stores {
				stores[i] = open(t, prefix, nil).Cache()
			}
			return stores
		}})
	})
	t.Run("Cluster", func(t *testing.T) {
		backendtest.RunCluster(t, backendtest.ClusterBackend{
			NewTransports: func(t *testing.T, n int) []cluster.Transport {
				prefix := redistest.Prefix(t)
				out := make([]cluster.Transport, n)
				for i := range out {
					out[i] = open(t, prefix, nil).Cluster()
				}
				return out
			},
			Publish: func(t *testing.T, tr cluster.Transport, channel string, raw []byte) {
				if err := tr.Publish(context.Background(), channel, raw); err != nil {
					t.Fatal(err)
				}
			},
		})
	})
	t.Run("Chat", func(t *testing.T) {
		backendtest.RunChat(t, backendtest.ChatBackend{NewNodes: func(t *testing.T, n int, _ *backendtest.Clock) []backendtest.ChatNode {
			prefix := redistest.Prefix(t)
			out := make([]backendtest.ChatNode, n)
			for i := range out {
				b := open(t, prefix, nil)
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
	})
}

func TestWrongPassword(t *testing.T) {
	s := redistest.StartOwn(t, redistest.Password("right"))
	url := strings.Replace(s.URL(), ":right@", ":wrong@", 1)
	b := open(t, redis.Config{URL: url})
	err := b.Ping(t.Context())
	if !errors.Is(err, redis.ErrConfig) || errors.Is(err, redis.ErrUnavailable) || !strings.Contains(err.Error(), "WRONGPASS") {
		t.Fatalf("Ping with a wrong password: %v, want ErrConfig saying WRONGPASS", err)
	}
	// No password at all is as much a configuration error.
	none := open(t, redis.Config{URL: strings.Replace(s.URL(), ":right@", "", 1)})
	if err := none.Ping(t.Context()); !errors.Is(err, redis.ErrConfig) {
		t.Fatalf("Ping with no password: %v, want ErrConfig", err)
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
