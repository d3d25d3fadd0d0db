package redis

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/rueidis"

	"github.com/stellarfw/stellar-go/backend/memory"
	"github.com/stellarfw/stellar-go/cache"
	"github.com/stellarfw/stellar-go/internal/redistest"
)

// The cache's overhead over raw Redis: a Save+Load pair of the cache
// against a SET+GET pair of the same client and settings, on the same
// server, with a 64-byte value, at 1 and 64 concurrent callers; and the
// memory backend for scale.
//
//	go test -run '^$' -bench . -benchtime 3s ./backend/redis

// value is 64 bytes: a JSON string of 62 characters for the cache, the
// same 64 bytes for raw SET.
var value = strings.Repeat("v", 62)

// pair is one caller's unit of work.
type pair func(ctx context.Context, worker int) error

type fixture struct {
	raw    rueidis.Client
	redis  *cache.Cache
	memory *cache.Cache
}

func newFixture(b *testing.B) *fixture {
	b.Helper()
	srv := redistest.Shared(b)
	cfg := Config{URL: srv.URL(), Prefix: redistest.Prefix(b)}
	be, err := Open(cfg)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = be.Close() })
	// The raw client has the backend's own settings.
	be.cfg.setDefaults()
	opt, err := clientOption(be.cfg)
	if err != nil {
		b.Fatal(err)
	}
	raw, err := rueidis.NewClient(opt)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(raw.Close)
	mem := memory.New(memory.Config{})
	b.Cleanup(func() { _ = mem.Close() })
	return &fixture{
		raw:    raw,
		redis:  cache.New(be.Cache(), cache.Config{NodeID: "bench"}),
		memory: cache.New(mem.Cache(), cache.Config{NodeID: "bench"}),
	}
}

func (f *fixture) rawPair(prefix string) pair {
	raw := `"` + value + `"`
	return func(ctx context.Context, w int) error {
		key := prefix + strconv.Itoa(w)
		if err := f.raw.Do(ctx, f.raw.B().Set().Key(key).Value(raw).Build()).Error(); err != nil {
			return err
		}
		return f.raw.Do(ctx, f.raw.B().Get().Key(key).Build()).Error()
	}
}

func cachePair(c *cache.Cache) pair {
	return func(ctx context.Context, w int) error {
		key := "bench:" + strconv.Itoa(w)
		if err := c.Save(ctx, key, value); err != nil {
			return err
		}
		_, err := c.Load(ctx, key)
		return err
	}
}

// run does n pairs over conc workers.
func run(ctx context.Context, n, conc int, p pair) error {
	if conc == 1 {
		for range n {
			if err := p(ctx, 0); err != nil {
				return err
			}
		}
		return nil
	}
	var next atomic.Int64
	var wg sync.WaitGroup
	errs := make(chan error, conc)
	for w := range conc {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for next.Add(1) <= int64(n) {
				if err := p(ctx, w); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	return <-errs
}

func BenchmarkPairs(b *testing.B) {
	f := newFixture(b)
	ctx := context.Background()
	for _, conc := range []int{1, 64} {
		for _, tc := range []struct {
			name string
			p    pair
		}{
			{"raw-SET+GET", f.rawPair(redistest.Prefix(b))},
			{"cache-redis-Save+Load", cachePair(f.redis)},
			{"cache-memory-Save+Load", cachePair(f.memory)},
		} {
			b.Run(fmt.Sprintf("conc=%d/%s", conc, tc.name), func(b *testing.B) {
				if err := run(ctx, 100, conc, tc.p); err != nil { // warm up
					b.Fatal(err)
				}
				b.ResetTimer()
				if err := run(ctx, b.N, conc, tc.p); err != nil {
					b.Fatal(err)
				}
			})
		}
	}
}

// BenchmarkCacheOverRaw alternates rounds of raw and cache pairs, so that
// both see the same machine load, and reports the ratio of their times.
func BenchmarkCacheOverRaw(b *testing.B) {
	f := newFixture(b)
	ctx := context.Background()
	rawPair, cp := f.rawPair(redistest.Prefix(b)), cachePair(f.redis)
	for _, conc := range []int{1, 64} {
		b.Run(fmt.Sprintf("conc=%d", conc), func(b *testing.B) {
			round := 200 * conc
			var rawT, cacheT time.Duration
			for done := 0; done < b.N; done += round {
				n := min(round, b.N-done)
				t0 := time.Now()
				if err := run(ctx, n, conc, rawPair); err != nil {
					b.Fatal(err)
				}
				t1 := time.Now()
				if err := run(ctx, n, conc, cp); err != nil {
					b.Fatal(err)
				}
				rawT += t1.Sub(t0)
				cacheT += time.Since(t1)
			}
			b.ReportMetric(float64(rawT.Nanoseconds())/float64(b.N), "raw-ns/pair")
			b.ReportMetric(float64(cacheT.Nanoseconds())/float64(b.N), "cache-ns/pair")
			b.ReportMetric(float64(cacheT)/float64(rawT), "cache/raw")
		})
	}
}
