package main

import (
	"context"
	"fmt"
	"log"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/redis/rueidis"

	redisb "github.com/stellarfw/stellar-go/backend/redis"
	"github.com/stellarfw/stellar-go/cache"
)

// value is 64 bytes as raw SET stores it: a JSON string of 62 characters.
var value = strings.Repeat("v", 62)

func cacheTables(url string, stamp string) string {
	prefix := "benchall:" + strconv.Itoa(os.Getpid()) + ":"
	be, err := redisb.Open(redisb.Config{URL: url, Prefix: prefix})
	if err != nil {
		log.Fatal(err)
	}
	defer be.Close()
	c := cache.New(be.Cache(), cache.Config{NodeID: "bench"})
	// The same cache with client-side caching on (redis.Config.ClientCache).
	beLocal, err := redisb.Open(redisb.Config{URL: url, Prefix: prefix, ClientCache: time.Minute})
	if err != nil {
		log.Fatal(err)
	}
	defer beLocal.Close()
	cl := cache.New(beLocal.Cache(), cache.Config{NodeID: "bench"})
	opt, err := rueidis.ParseURL(url)
	if err != nil {
		log.Fatal(err)
	}
	opt.DisableCache = true
	opt.MaxFlushDelay = 20 * time.Microsecond // as backend/redis
	raw, err := rueidis.NewClient(opt)
	if err != nil {
		log.Fatal(err)
	}
	defer raw.Close()
	rawValue := `"` + value + `"`
	ctx := context.Background()
	if err := c.Save(ctx, "hot", value); err != nil {
		log.Fatal(err)
	}
	if err := raw.Do(ctx, raw.B().Set().Key(prefix+"rawhot").Value(rawValue).Build()).Error(); err != nil {
		log.Fatal(err)
	}
	pairs := []workload{
		{"raw SET+GET (rueidis)", func(ctx context.Context, w int) error {
			key := prefix + "raw:" + strconv.Itoa(w)
			if err := raw.Do(ctx, raw.B().Set().Key(key).Value(rawValue).Build()).Error(); err != nil {
				return err
			}
			return raw.Do(ctx, raw.B().Get().Key(key).Build()).Error()
		}},
		{"cache Save+Load", func(ctx context.Context, w int) error {
			key := "k:" + strconv.Itoa(w)
			if err := c.Save(ctx, key, value); err != nil {
				return err
			}
			_, err := c.Load(ctx, key)
			return err
		}},
	}
	hot := []workload{
		{"raw GET of one key", func(ctx context.Context, _ int) error {
			return raw.Do(ctx, raw.B().Get().Key(prefix+"rawhot").Build()).Error()
		}},
		{"cache Load of one key", func(ctx context.Context, _ int) error {
			_, err := c.Load(ctx, "hot")
			return err
		}},
		{"cache Load of one key, ClientCache on", func(ctx context.Context, _ int) error {
			_, err := cl.Load(ctx, "hot")
			return err
		}},
	}
	var b strings.Builder
	fmt.Fprintf(&b, "Measured %s; %d rounds of %s, redis-server of its own on loopback, 64-byte value, each caller on its own key.\n\n", stamp, *rounds, *dur)
	for _, conc := range []int{1, 64} {
		b.WriteString(table(fmt.Sprintf("pairs, %d caller(s)", conc), pairs, interleave(pairs, conc)))
		b.WriteString("\n")
		log.Printf("cache conc=%d done", conc)
	}
	for _, conc := range []int{1, 64} {
		b.WriteString(table(fmt.Sprintf("hot key, %d caller(s)", conc), hot, interleave(hot, conc)))
		b.WriteString("\n")
	}
	return strings.TrimRight(b.String(), "\n") + "\n"
}
