package redis_test

import (
	"context"
	"errors"
	"maps"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/redis/rueidis"

	"github.com/stellarfw/stellar-go/backend/redis"
	"github.com/stellarfw/stellar-go/cache"
	"github.com/stellarfw/stellar-go/cluster"
	"github.com/stellarfw/stellar-go/internal/backendtest"
	ipoll "github.com/stellarfw/stellar-go/internal/poll"
	"github.com/stellarfw/stellar-go/internal/redistest"
)

// getCalls returns how many GETs the server at addr has run, from INFO
// commandstats.
func getCalls(t *testing.T, addr string) int {
	t.Helper()
	return commandStats(t, addr)["get"]
}

// commandStats returns how many times the server at addr has run each
// command (lower case), from INFO commandstats; a script's calls count.
func commandStats(t *testing.T, addr string) map[string]int {
	t.Helper()
	c, err := rueidis.NewClient(rueidis.ClientOption{InitAddress: []string{addr}, ForceSingleClient: true, DisableCache: true})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	info, err := c.Do(context.Background(), c.B().Info().Section("commandstats").Build()).ToString()
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]int{}
	for _, line := range strings.Split(info, "\n") {
		name, rest, ok := strings.Cut(strings.TrimSpace(line), ":calls=")
		if !ok || !strings.HasPrefix(name, "cmdstat_") {
			continue
		}
		n, err := strconv.Atoi(rest[:strings.IndexByte(rest, ',')])
		if err != nil {
			t.Fatal(err)
		}
		out[strings.TrimPrefix(name, "cmdstat_")] = n
	}
	return out
}

// TestCacheCommands: with no lock held, a Save is one script that runs a
// GET (of the lock) and a SET, and a Load one that runs a GET and a
// SETRANGE (of the read time), as docs/benchmarks.md says.
func TestCacheCommands(t *testing.T) {
	srv := redistest.StartOwn(t)
	c := cache.New(open(t, redis.Config{URL: srv.URL(), Prefix: redistest.Prefix(t)}).Cache(), cache.Config{NodeID: "n"})
	ctx := t.Context()
	must(t, c.Save(ctx, "warm", 1)) // loads the scripts
	_, err := c.Load(ctx, "warm")
	must(t, err)
	diff := func(before, after map[string]int) map[string]int {
		d := map[string]int{}
		for k, v := range after {
			switch k {
			case "info", "hello", "ping", "client": // commandStats's own connection
				continue
			}
			if v != before[k] {
				d[k] = v - before[k]
			}
		}
		return d
	}
	check := func(what string, op func(), want map[string]int) {
		t.Helper()
		before := commandStats(t, srv.Addr())
		op()
		if got := diff(before, commandStats(t, srv.Addr())); !maps.Equal(got, want) {
			t.Errorf("%s ran %v, want %v", what, got, want)
		}
	}
	check("Save", func() { must(t, c.Save(ctx, "k", "v", cache.TTL(time.Hour))) }, map[string]int{"evalsha": 1, "get": 1, "set": 1})
	check("Load", func() {
		_, err := c.Load(ctx, "k")
		must(t, err)
	}, map[string]int{"evalsha": 1, "get": 1, "setrange": 1})
}

// checkClientCache: node A, with client-side caching, reads a key; its
// repeated reads do not reach Redis when gets (the server's GET count) is
// given; node B saves the key, and A's next reads see the new value once
// Redis's invalidation arrives; B destroys it and A sees it gone.
func checkClientCache(t *testing.T, a, b *redis.Backend, gets func() int) {
	ctx := t.Context()
	ca := cache.New(a.Cache(), cache.Config{NodeID: "node-a"})
	cb := cache.New(b.Cache(), cache.Config{NodeID: "node-b"})
	load := func() (string, error) { return cache.Load[string](ctx, ca, "hot") }
	must(t, cb.Save(ctx, "hot", "v1"))
	if v, err := load(); err != nil || v != "v1" {
		t.Fatalf("A's first Load = %q, %v; want v1", v, err)
	}
	if gets != nil {
		before := gets()
		for range 50 {
			if v, err := load(); err != nil || v != "v1" {
				t.Fatalf("A's Load = %q, %v; want v1", v, err)
			}
		}
		if after := gets(); after != before {
			t.Errorf("50 hot Loads ran %d GETs on the server, want 0", after-before)
		}
	}
	must(t, cb.Save(ctx, "hot", "v2"))
	ipoll.Until(t, "A's Load to see B's new value", 10*time.Second, func() bool {
		v, err := load()
		return err == nil && v == "v2"
	})
	must(t, cb.Destroy(ctx, "hot"))
	ipoll.Until(t, "A's Load to see B's Destroy", 10*time.Second, func() bool {
		_, err := load()
		return errors.Is(err, cache.ErrNotFound)
	})
	must(t, cb.Save(ctx, "hot", "v3", cache.TTL(time.Hour)))
	ipoll.Until(t, "A's Load to see the key again", 10*time.Second, func() bool {
		v, err := load()
		return err == nil && v == "v3"
	})
	// A Load that refreshes the TTL goes to Redis and records the read.
	e, err := ca.Load(ctx, "hot", cache.RefreshTTL(2*time.Hour))
	must(t, err)
	if time.Until(e.ExpireAt) < 90*time.Minute {
		t.Errorf("ExpireAt after RefreshTTL(2h) = %v, want about 2h from now", e.ExpireAt)
	}
}

func TestClientCacheAcrossNodes(t *testing.T) {
	srv := redistest.StartOwn(t)
	prefix := redistest.Prefix(t)
	a := open(t, redis.Config{URL: srv.URL(), Prefix: prefix, ClientCache: time.Minute})
	b := open(t, redis.Config{URL: srv.URL(), Prefix: prefix})
	checkClientCache(t, a, b, func() int { return getCalls(t, srv.Addr()) })
}

func TestClientCacheAcrossNodesOnMultiShardCluster(t *testing.T) {
	srv := redistest.SharedCluster(t)
	prefix := redistest.Prefix(t)
	a := open(t, redis.Config{ClusterAddrs: srv.Addrs(), Prefix: prefix, ClientCache: time.Minute})
	b := open(t, redis.Config{ClusterAddrs: srv.Addrs(), Prefix: prefix})
	checkClientCache(t, a, b, nil)
}

// TestClusterTransportWithClientCache: a backend with client-side caching
// on (RESP3 tracking on its connections) still carries the cluster: the
// transport conformance suite passes on it.
func TestClusterTransportWithClientCache(t *testing.T) {
	backendtest.RunCluster(t, backendtest.ClusterBackend{
		NewTransports: func(t *testing.T, n int) []cluster.Transport {
			srv := redistest.Shared(t)
			prefix := redistest.Prefix(t)
			out := make([]cluster.Transport, n)
			for i := range out {
				out[i] = open(t, redis.Config{URL: srv.URL(), Prefix: prefix, ClientCache: time.Minute}).Cluster()
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
