package redis

import (
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/redis/rueidis"
)

func TestClientOption(t *testing.T) {
	tests := []struct {
		name     string
		redis    Config
		addrs    []string
		single   bool
		password string
		user     string
		db       int
		tls      bool
		unix     bool
		master   string
	}{
		{name: "plain", redis: Config{URL: "redis://127.0.0.1:6380"}, addrs: []string{"127.0.0.1:6380"}, single: true},
		{name: "default port", redis: Config{URL: "redis://cache.internal"}, addrs: []string{"cache.internal:6379"}, single: true},
		{name: "password and db", redis: Config{URL: "redis://:p%40ss@127.0.0.1:6379/3"}, addrs: []string{"127.0.0.1:6379"}, single: true, password: "p@ss", db: 3},
		{name: "user", redis: Config{URL: "redis://app:pw@h:1/0"}, addrs: []string{"h:1"}, single: true, user: "app", password: "pw"},
		{name: "tls", redis: Config{URL: "rediss://secure.example:6380/1"}, addrs: []string{"secure.example:6380"}, single: true, db: 1, tls: true},
		{name: "unix socket", redis: Config{URL: "unix:///run/redis.sock?db=2"}, addrs: []string{"/run/redis.sock"}, single: true, db: 2, unix: true},
		{name: "sentinel", redis: Config{SentinelMaster: "main", SentinelAddrs: []string{"s1:26379", "s2:26379"}, Password: "pw"}, addrs: []string{"s1:26379", "s2:26379"}, password: "pw", master: "main"},
		{name: "cluster", redis: Config{ClusterAddrs: []string{"c1:7000", "c2:7001"}, Password: "pw"}, addrs: []string{"c1:7000", "c2:7001"}, password: "pw"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cfg := tc.redis
			cfg.setDefaults()
			opt, err := clientOption(cfg)
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(opt.InitAddress, tc.addrs) {
				t.Errorf("addresses = %q, want %q", opt.InitAddress, tc.addrs)
			}
			if opt.ForceSingleClient != tc.single {
				t.Errorf("single client = %v, want %v", opt.ForceSingleClient, tc.single)
			}
			if opt.Password != tc.password || opt.Username != tc.user {
				t.Errorf("credentials = %q/%q, want %q/%q", opt.Username, opt.Password, tc.user, tc.password)
			}
			if opt.SelectDB != tc.db {
				t.Errorf("db = %d, want %d", opt.SelectDB, tc.db)
			}
			if (opt.TLSConfig != nil) != tc.tls {
				t.Errorf("TLS = %v, want %v", opt.TLSConfig != nil, tc.tls)
			}
			if (opt.DialCtxFn != nil) != tc.unix {
				t.Errorf("unix dialer = %v, want %v", opt.DialCtxFn != nil, tc.unix)
			}
			if opt.Sentinel.MasterSet != tc.master {
				t.Errorf("sentinel master = %q, want %q", opt.Sentinel.MasterSet, tc.master)
			}
			if opt.Dialer.Timeout != cfg.DialTimeout || !opt.DisableCache || opt.MaxFlushDelay != maxFlushDelay {
				t.Errorf("tuning not applied: dial %v, cache off %v, flush %v", opt.Dialer.Timeout, opt.DisableCache, opt.MaxFlushDelay)
			}
			if d := opt.RetryDelay(2, rueidis.Completed{}, nil); d >= 0 {
				t.Errorf("retries are unbounded: delay %v at attempt 2", d)
			}
		})
	}
}

func TestOpenRefusesBadConfig(t *testing.T) {
	tests := []struct {
		name  string
		redis Config
		want  string
	}{
		{"nothing", Config{}, "no url"},
		{"two", Config{URL: "redis://h", ClusterAddrs: []string{"c:1"}}, "only one"},
		{"bad scheme", Config{URL: "http://h"}, "scheme"},
		{"bad db", Config{URL: "redis://h/x"}, "database"},
		{"sentinel without master", Config{SentinelAddrs: []string{"s:1"}}, "sentinel_master"},
		{"open brace", Config{URL: "redis://h", Prefix: "app{"}, "hash tag"},
		{"empty tag", Config{URL: "redis://h", Prefix: "app{}:"}, "hash tag"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Open(tc.redis)
			if !errors.Is(err, ErrConfig) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Open: %v, want ErrConfig saying %q", err, tc.want)
			}
		})
	}
	for _, p := range []string{"stellar:", "{app}:", "app}:", "a{b}c{"} {
		b, err := Open(Config{URL: "redis://h", Prefix: p})
		if err != nil {
			t.Errorf("prefix %q refused: %v", p, err)
			continue
		}
		if b.Prefix() != p {
			t.Errorf("Prefix() = %q, want %q", b.Prefix(), p)
		}
		_ = b.Close()
	}
	b, err := Open(Config{URL: "redis://h"})
	if err != nil {
		t.Fatal(err)
	}
	if b.Prefix() != "stellar:" {
		t.Errorf("default prefix = %q", b.Prefix())
	}
	if c := b.cfg; c.DialTimeout != 2*time.Second || c.IOTimeout != 5*time.Second || c.ReconnectBackoff != 250*time.Millisecond || c.Now == nil {
		t.Errorf("defaults = dial %v, io %v, backoff %v, clock set %v", c.DialTimeout, c.IOTimeout, c.ReconnectBackoff, c.Now != nil)
	}
	_ = b.Close()
}

func TestSlot(t *testing.T) {
	// Reference values from the cluster specification and redis-cli.
	for key, want := range map[string]uint16{"123456789": 12739, "foo": 12182, "{user1000}.following": 3443, "{user1000}.followers": 3443} {
		if got := slot(key); got != want {
			t.Errorf("slot(%q) = %d, want %d", key, got, want)
		}
	}
}

// TestKeysShareASlot checks that the keys one script touches together hash
// to one Cluster slot, whatever the user key and the prefix.
func TestKeysShareASlot(t *testing.T) {
	keys := []string{"a", "user:1", "{", "}", "{}", "}{", "{x}", "a{b}c", "{}}", "\x00", strings.Repeat("k", 1000), "ключ"}
	for _, prefix := range []string{"stellar:", "{app}:", "a}b:"} {
		s := &CacheStore{prefix: prefix}
		slots := map[uint16]bool{}
		for _, k := range keys {
			e, l := s.entryKey(k), s.lockKey(k)
			if slot(e) != slot(l) {
				t.Errorf("prefix %q, key %q: entry %q in slot %d, lock %q in slot %d", prefix, k, e, slot(e), l, slot(l))
			}
			slots[slot(e)] = true
			if uk, ok := s.userKey("cache:", e); !ok || uk != k {
				t.Errorf("userKey(%q) = %q, %v; want %q", e, uk, ok, k)
			}
		}
		// Without a tag in the prefix, keys spread over the cluster.
		if prefix != "{app}:" && len(slots) < len(keys)/2 {
			t.Errorf("prefix %q: %d keys in only %d slots", prefix, len(keys), len(slots))
		}
	}
}

// TestSlotKeys: the readiness check's keys hash to evenly spaced slots,
// one each.
func TestSlotKeys(t *testing.T) {
	keys := slotKeys()
	if len(keys) != pingSlots {
		t.Fatalf("%d keys, want %d", len(keys), pingSlots)
	}
	for i, k := range keys {
		if got, want := int(slot(k)), i*clusterSlots/pingSlots; got != want {
			t.Errorf("key %d %q is in slot %d, want %d", i, k, got, want)
		}
	}
}
