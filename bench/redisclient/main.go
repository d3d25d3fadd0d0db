// Command redisclient measures the two candidate Redis clients for Stellar's
// Redis backend, go-redis v9 and rueidis, on the workloads the backend
// actually runs: cache Save+Load pairs (the two Lua scripts of the cache),
// raw SET+GET pairs, and pub/sub round trips, each at 1 and 64 concurrent
// callers.
//
// It lives in its own module so that the main module depends only on the
// client that was picked. It starts its own redis-server on a free loopback
// port unless -addr names one:
//
//	cd bench/redisclient && go run . -d 3s -runs 3
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	goredis "github.com/redis/go-redis/v9"
	"github.com/redis/rueidis"
	"github.com/stellarfw/stellar-go/internal/redistest"
)

// The cache scripts, as backend/redis runs them: one hash per entry (value,
// created, read, expire), a separate lock key in the same hash slot.
const saveScript = `
local owner = redis.call('GET', KEYS[2])
if owner and owner ~= ARGV[1] then return 0 end
redis.call('DEL', KEYS[1])
local ttl = tonumber(ARGV[4])
if ttl > 0 then
  redis.call('HSET', KEYS[1], 'v', ARGV[2], 'c', ARGV[3], 'e', tonumber(ARGV[3]) + ttl)
  redis.call('PEXPIRE', KEYS[1], ttl)
else
  redis.call('HSET', KEYS[1], 'v', ARGV[2], 'c', ARGV[3])
end
return 1`

const loadScript = `
local r = redis.call('HMGET', KEYS[1], 'v', 'c', 'r', 'e')
if not r[1] then return false end
redis.call('HSET', KEYS[1], 'r', ARGV[1])
return r`

// client is what each candidate offers the workloads.
type client interface {
	setGet(ctx context.Context, key, val string) error
	saveLoad(ctx context.Context, key, val string) error
	publish(ctx context.Context, channel, msg string) error
	// subscribe delivers every message of channel to fn until ctx ends; it
	// returns once the subscription is confirmed.
	subscribe(ctx context.Context, channel string, fn func(string)) error
	close()
}

type goRedisClient struct {
	c          *goredis.Client
	cmd        goredis.Cmdable
	ap         *goredis.AutoPipeliner
	save, load *goredis.Script
}

func newGoRedis(addr string, autopipeline bool, poolSize int) (*goRedisClient, error) {
	c := goredis.NewClient(&goredis.Options{Addr: addr, PoolSize: poolSize})
	g := &goRedisClient{c: c, cmd: c, save: goredis.NewScript(saveScript), load: goredis.NewScript(loadScript)}
	if autopipeline {
		ap, err := c.AutoPipeline()
		if err != nil {
			return nil, err
		}
		g.ap, g.cmd = ap, ap
	}
	return g, nil
}

func (g *goRedisClient) setGet(ctx context.Context, key, val string) error {
	if err := g.cmd.Set(ctx, key, val, 0).Err(); err != nil {
		return err
	}
	return g.cmd.Get(ctx, key).Err()
}

func (g *goRedisClient) saveLoad(ctx context.Context, key, val string) error {
	now := strconv.FormatInt(time.Now().UnixMilli(), 10)
	sc := g.cmd.(goredis.Scripter)
	if err := g.save.Run(ctx, sc, []string{"c:{" + key + "}", "l:{" + key + "}"}, "node", val, now, "0").Err(); err != nil {
		return err
	}
	return g.load.Run(ctx, sc, []string{"c:{" + key + "}"}, now).Err()
}

func (g *goRedisClient) publish(ctx context.Context, channel, msg string) error {
	return g.cmd.Publish(ctx, channel, msg).Err()
}

func (g *goRedisClient) subscribe(ctx context.Context, channel string, fn func(string)) error {
	ps := g.c.Subscribe(ctx, channel)
	if _, err := ps.Receive(ctx); err != nil {
		return err
	}
	ch := ps.Channel(goredis.WithChannelSize(1024))
	go func() {
		defer ps.Close()
		for {
			select {
			case <-ctx.Done():
				return
			case m := <-ch:
				fn(m.Payload)
			}
		}
	}()
	return nil
}

func (g *goRedisClient) close() {
	if g.ap != nil {
		g.ap.Close()
	}
	g.c.Close()
}

type rueidisClient struct {
	c          rueidis.Client
	save, load *rueidis.Lua
}

func newRueidis(addr string, flushDelay time.Duration) (*rueidisClient, error) {
	c, err := rueidis.NewClient(rueidis.ClientOption{InitAddress: []string{addr}, DisableCache: true, MaxFlushDelay: flushDelay})
	if err != nil {
		return nil, err
	}
	return &rueidisClient{c: c, save: rueidis.NewLuaScript(saveScript), load: rueidis.NewLuaScript(loadScript)}, nil
}

func (r *rueidisClient) setGet(ctx context.Context, key, val string) error {
	if err := r.c.Do(ctx, r.c.B().Set().Key(key).Value(val).Build()).Error(); err != nil {
		return err
	}
	return r.c.Do(ctx, r.c.B().Get().Key(key).Build()).Error()
}

func (r *rueidisClient) saveLoad(ctx context.Context, key, val string) error {
	now := strconv.FormatInt(time.Now().UnixMilli(), 10)
	if err := r.save.Exec(ctx, r.c, []string{"c:{" + key + "}", "l:{" + key + "}"}, []string{"node", val, now, "0"}).Error(); err != nil {
		return err
	}
	return r.load.Exec(ctx, r.c, []string{"c:{" + key + "}"}, []string{now}).Error()
}

func (r *rueidisClient) publish(ctx context.Context, channel, msg string) error {
	return r.c.Do(ctx, r.c.B().Publish().Channel(channel).Message(msg).Build()).Error()
}

func (r *rueidisClient) subscribe(ctx context.Context, channel string, fn func(string)) error {
	ready := make(chan error, 1)
	dc, cancel := r.c.Dedicate()
	wait := dc.SetPubSubHooks(rueidis.PubSubHooks{
		OnMessage: func(m rueidis.PubSubMessage) { fn(m.Message) },
		OnSubscription: func(s rueidis.PubSubSubscription) {
			select {
			case ready <- nil:
			default:
			}
		},
	})
	if err := dc.Do(ctx, dc.B().Subscribe().Channel(channel).Build()).Error(); err != nil {
		cancel()
		return err
	}
	go func() {
		select {
		case <-ctx.Done():
		case <-wait:
		}
		cancel()
	}()
	select {
	case err := <-ready:
		return err
	case <-time.After(5 * time.Second):
		return errors.New("no subscription confirmation")
	}
}

func (r *rueidisClient) close() { r.c.Close() }

type result struct {
	ops           int64
	elapsed       time.Duration
	p50, p99      time.Duration
	errs          int64
	firstErr      error
	firstErrOnce  sync.Once
	latencyByGoro [][]time.Duration
}

func (r *result) rate() float64 { return float64(r.ops) / r.elapsed.Seconds() }

// run calls op from conc goroutines for d and measures throughput and
// latency. The op gets the goroutine number and an iteration counter.
func run(conc int, d time.Duration, op func(g int, i int) error) *result {
	res := &result{latencyByGoro: make([][]time.Duration, conc)}
	var ops, errs atomic.Int64
	var wg sync.WaitGroup
	start := time.Now()
	deadline := start.Add(d)
	for g := range conc {
		wg.Add(1)
		go func() {
			defer wg.Done()
			lat := make([]time.Duration, 0, 1<<16)
			for i := 0; ; i++ {
				t0 := time.Now()
				if t0.After(deadline) {
					break
				}
				if err := op(g, i); err != nil {
					errs.Add(1)
					res.firstErrOnce.Do(func() { res.firstErr = err })
					continue
				}
				lat = append(lat, time.Since(t0))
				ops.Add(1)
			}
			res.latencyByGoro[g] = lat
		}()
	}
	wg.Wait()
	res.elapsed = time.Since(start)
	res.ops, res.errs = ops.Load(), errs.Load()
	var all []time.Duration
	for _, l := range res.latencyByGoro {
		all = append(all, l...)
	}
	slices.Sort(all)
	if len(all) > 0 {
		res.p50 = all[len(all)/2]
		res.p99 = all[len(all)*99/100]
	}
	res.latencyByGoro = nil
	return res
}

func main() {
	addr := flag.String("addr", "", "host:port of a redis-server to use (default: start one)")
	d := flag.Duration("d", 2*time.Second, "duration of each measurement")
	runs := flag.Int("runs", 1, "repeat every measurement this many times")
	only := flag.String("clients", "", "regexp: measure only the clients whose name matches")
	concFlag := flag.String("conc", "1,64", "comma-separated numbers of concurrent callers")
	workloads := flag.String("workloads", "set+get,save+load,pubsub-rt", "comma-separated workloads")
	flag.Parse()

	if *addr == "" {
		a, stop, err := startRedis()
		if err != nil {
			fmt.Fprintln(os.Stderr, "start redis-server:", err)
			os.Exit(1)
		}
		defer stop()
		*addr = a
	}

	type candidate struct {
		name string
		open func() (client, error)
	}
	candidates := []candidate{
		{"go-redis pool (PoolSize default 10/CPU)", func() (client, error) { return newGoRedis(*addr, false, 0) }},
		{"go-redis pool (PoolSize 64)", func() (client, error) { return newGoRedis(*addr, false, 64) }},
		{"go-redis AutoPipeline (experimental)", func() (client, error) { return newGoRedis(*addr, true, 0) }},
		{"rueidis (auto-pipelining)", func() (client, error) { return newRueidis(*addr, 0) }},
		{"rueidis (MaxFlushDelay 20µs)", func() (client, error) { return newRueidis(*addr, 20*time.Microsecond) }},
	}
	if *only != "" {
		re := regexp.MustCompile(*only)
		candidates = slices.DeleteFunc(candidates, func(c candidate) bool { return !re.MatchString(c.name) })
	}
	var concs []int
	for _, f := range strings.Split(*concFlag, ",") {
		n, err := strconv.Atoi(f)
		if err != nil {
			fmt.Fprintln(os.Stderr, "bad -conc:", err)
			os.Exit(2)
		}
		concs = append(concs, n)
	}
	ctx := context.Background()
	val := strings.Repeat("x", 64)

	fmt.Printf("redis-server at %s, %d s per measurement, %d run(s)\n\n", *addr, int(d.Seconds()), *runs)
	fmt.Printf("%-42s %-10s %5s %12s %10s %10s\n", "client", "workload", "conc", "pairs|rt/s", "p50", "p99")
	for _, w := range strings.Split(*workloads, ",") {
		for _, conc := range concs {
			for range *runs {
				for _, cand := range candidates {
					c, err := cand.open()
					if err != nil {
						fmt.Fprintln(os.Stderr, cand.name, err)
						os.Exit(1)
					}
					res, err := measure(ctx, c, w, conc, *d, val)
					c.close()
					if err != nil {
						fmt.Fprintln(os.Stderr, cand.name, w, err)
						os.Exit(1)
					}
					fmt.Printf("%-42s %-10s %5d %12.0f %10s %10s", cand.name, w, conc, res.rate(), res.p50.Round(time.Microsecond), res.p99.Round(time.Microsecond))
					if res.errs > 0 {
						fmt.Printf("  errors=%d first=%v", res.errs, res.firstErr)
					}
					fmt.Println()
				}
			}
		}
	}
}

func measure(ctx context.Context, c client, workload string, conc int, d time.Duration, val string) (*result, error) {
	keys := make([]string, conc)
	for g := range keys {
		keys[g] = "bench:" + strconv.Itoa(g)
	}
	switch workload {
	case "set+get":
		run(conc, d/10, func(g, _ int) error { return c.setGet(ctx, keys[g], val) }) // warm up
		return run(conc, d, func(g, _ int) error { return c.setGet(ctx, keys[g], val) }), nil
	case "save+load":
		run(conc, d/10, func(g, _ int) error { return c.saveLoad(ctx, keys[g], val) })
		return run(conc, d, func(g, _ int) error { return c.saveLoad(ctx, keys[g], val) }), nil
	case "pubsub-rt":
		// Each caller publishes a message naming itself and waits until the
		// subscriber hands it back: one publish-to-delivery round trip.
		inbox := make([]chan struct{}, conc)
		for g := range inbox {
			inbox[g] = make(chan struct{}, 1)
		}
		sctx, cancel := context.WithCancel(ctx)
		defer cancel()
		if err := c.subscribe(sctx, "bench:rt", func(msg string) {
			g, err := strconv.Atoi(msg[:strings.IndexByte(msg, ':')])
			if err == nil && g < conc {
				inbox[g] <- struct{}{}
			}
		}); err != nil {
			return nil, err
		}
		op := func(g, i int) error {
			if err := c.publish(ctx, "bench:rt", strconv.Itoa(g)+":"+strconv.Itoa(i)); err != nil {
				return err
			}
			select {
			case <-inbox[g]:
				return nil
			case <-time.After(5 * time.Second):
				return errors.New("message lost")
			}
		}
		run(conc, d/10, op)
		return run(conc, d, op), nil
	}
	return nil, fmt.Errorf("unknown workload %q", workload)
}

// startRedis runs redis-server on a free loopback port in a temp dir and
// waits until it answers.
func startRedis() (string, func(), error) {
	s, err := redistest.Launch()
	if err != nil {
		return "", nil, err
	}
	return s.Addr(), s.Close, nil
}
