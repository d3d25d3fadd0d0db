// Command rpcbench measures a cluster call's round trip (Cluster.Do
// between two nodes on Redis) against the floor it is built on: a raw
// PUBLISH/SUBSCRIBE ping-pong between two connections, in the same run and
// on the same server. Both do two PUBLISHes per round trip (request and
// reply); the difference is the cluster's envelope, HMAC signing and
// checking, replay window, JSON and dispatch.
//
// It starts its own redis-server on a free loopback port unless -redis
// names one:
//
//	go run ./bench/rpcbench -d 3s -runs 3
//	go run ./bench/rpcbench -d 3s -runs 3 -conc 16
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"runtime/pprof"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/redis/rueidis"

	redisb "github.com/stellarfw/stellar-go/backend/redis"
	"github.com/stellarfw/stellar-go/cluster"
	"github.com/stellarfw/stellar-go/internal/redistest"
)

func main() {
	redisURL := flag.String("redis", "", "Redis URL (default: start a redis-server on a free port)")
	dur := flag.Duration("d", 3*time.Second, "duration of each measurement")
	runs := flag.Int("runs", 3, "interleaved runs of each workload; the median is reported")
	conc := flag.Int("conc", 1, "concurrent callers")
	cpuProfile := flag.String("cpuprofile", "", "write a CPU profile of the whole run to this file")
	flag.Parse()
	if *cpuProfile != "" {
		f, err := os.Create(*cpuProfile)
		if err == nil {
			err = pprof.StartCPUProfile(f)
		}
		if err != nil {
			fmt.Fprintln(os.Stderr, "rpcbench:", err)
			os.Exit(1)
		}
		defer f.Close()
		defer pprof.StopCPUProfile()
	}
	if err := run(*redisURL, *dur, *runs, *conc); err != nil {
		fmt.Fprintln(os.Stderr, "rpcbench:", err)
		os.Exit(1)
	}
}

// result is one measurement: round trips per second and latency quantiles.
type result struct {
	perSec   float64
	p50, p99 time.Duration
}

// workload runs one round trip; measure calls it from conc goroutines.
type workload func(ctx context.Context, worker int) error

func measure(d time.Duration, conc int, w workload) (result, error) {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	var (
		mu    sync.Mutex
		lats  []time.Duration
		errMu sync.Mutex
		first error
		wg    sync.WaitGroup
	)
	start := time.Now()
	for i := range conc {
		wg.Add(1)
		go func() {
			defer wg.Done()
			local := make([]time.Duration, 0, 1<<14)
			for ctx.Err() == nil {
				t0 := time.Now()
				if err := w(ctx, i); err != nil {
					if ctx.Err() != nil {
						break
					}
					errMu.Lock()
					if first == nil {
						first = err
					}
					errMu.Unlock()
					cancel()
					break
				}
				local = append(local, time.Since(t0))
			}
			mu.Lock()
			lats = append(lats, local...)
			mu.Unlock()
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	if first != nil {
		return result{}, first
	}
	if len(lats) == 0 {
		return result{}, errors.New("no round trip completed")
	}
	slices.Sort(lats)
	return result{
		perSec: float64(len(lats)) / elapsed.Seconds(),
		p50:    lats[len(lats)/2],
		p99:    lats[len(lats)*99/100],
	}, nil
}

// rawPingPong: client A publishes on ping:<worker>; client B, subscribed
// to ping:*, publishes the same bytes on pong:<worker>; A, subscribed to
// pong:*, hands them to the waiting worker. This is the floor of a call:
// two PUBLISHes and two deliveries, nothing else.
func rawPingPong(url string, conc int) (workload, func(), error) {
	opt, err := rueidis.ParseURL(url)
	if err != nil {
		return nil, nil, err
	}
	opt.DisableCache = true
	opt.ForceSingleClient = true
	opt.MaxFlushDelay = 20 * time.Microsecond // as backend/redis
	a, err := rueidis.NewClient(opt)
	if err != nil {
		return nil, nil, err
	}
	b, err := rueidis.NewClient(opt)
	if err != nil {
		a.Close()
		return nil, nil, err
	}
	// B answers through a client of its own: a callback of Receive must
	// not wait for a reply on the connection it is reading.
	bPub, err := rueidis.NewClient(opt)
	if err != nil {
		a.Close()
		b.Close()
		return nil, nil, err
	}
	waiters := make([]chan struct{}, conc)
	for i := range waiters {
		waiters[i] = make(chan struct{}, 1)
	}
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	ready := make(chan struct{}, 2)
	hook := func(ctx context.Context) context.Context {
		return rueidis.WithOnSubscriptionHook(ctx, func(rueidis.PubSubSubscription) { ready <- struct{}{} })
	}
	wg.Add(2)
	go func() {
		defer wg.Done()
		_ = b.Receive(hook(ctx), b.B().Psubscribe().Pattern("ping:*").Build(), func(m rueidis.PubSubMessage) {
			bPub.Do(ctx, bPub.B().Publish().Channel("pong:"+m.Channel[5:]).Message(m.Message).Build())
		})
	}()
	go func() {
		defer wg.Done()
		_ = a.Receive(hook(ctx), a.B().Psubscribe().Pattern("pong:*").Build(), func(m rueidis.PubSubMessage) {
			if i, err := strconv.Atoi(m.Channel[5:]); err == nil && i < conc {
				select { // a pong for a wait that gave up is dropped
				case waiters[i] <- struct{}{}:
				default:
				}
			}
		})
	}()
	<-ready
	<-ready
	payload := `{"n":42}`
	w := func(ctx context.Context, i int) error {
		if err := a.Do(ctx, a.B().Publish().Channel("ping:"+strconv.Itoa(i)).Message(payload).Build()).Error(); err != nil {
			return err
		}
		select {
		case <-waiters[i]:
			return nil
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	return w, func() { cancel(); a.Close(); b.Close(); bPub.Close(); wg.Wait() }, nil
}

// clusterNodes starts two nodes, each on its own Backend (its own
// connection), with an echo method.
func clusterNodes(url string) (caller *cluster.Cluster, stop func(), err error) {
	var stops []func()
	stop = func() {
		for i := len(stops) - 1; i >= 0; i-- {
			stops[i]()
		}
	}
	prefix := "rpcbench:" + strconv.Itoa(os.Getpid()) + ":"
	var nodes []*cluster.Cluster
	for _, id := range []string{"node-1", "node-2"} {
		b, err := redisb.Open(redisb.Config{URL: url, Prefix: prefix})
		if err != nil {
			stop()
			return nil, nil, err
		}
		stops = append(stops, func() { _ = b.Close() })
		c := cluster.New()
		c.HandleFunc("echo", func(ctx context.Context, call *cluster.Call) (any, error) { return call.Args, nil })
		if err := c.Start(context.Background(), b.Cluster(), cluster.Config{ID: id, Token: "bench-token"}); err != nil {
			stop()
			return nil, nil, err
		}
		stops = append(stops, func() { _ = c.Stop(context.Background()) })
		nodes = append(nodes, c)
	}
	deadline := time.Now().Add(10 * time.Second)
	for len(nodes[0].Members()) < 2 {
		if time.Now().After(deadline) {
			stop()
			return nil, nil, errors.New("the nodes did not see each other")
		}
		time.Sleep(10 * time.Millisecond)
	}
	return nodes[0], stop, nil
}

func run(url string, d time.Duration, runs, conc int) error {
	if url == "" {
		u, stop, err := startRedis()
		if err != nil {
			return err
		}
		defer stop()
		url = u
	}
	raw, stopRaw, err := rawPingPong(url, conc)
	if err != nil {
		return err
	}
	defer stopRaw()
	caller, stopNodes, err := clusterNodes(url)
	if err != nil {
		return err
	}
	defer stopNodes()
	args := map[string]int{"n": 42}
	workloads := []struct {
		name string
		w    workload
	}{
		{"raw PUBLISH/SUBSCRIBE ping-pong", raw},
		{"Cluster.Do ToNode (other node)", func(ctx context.Context, _ int) error {
			_, err := caller.Do(ctx, "echo", args, cluster.ToNode("node-2"))
			return err
		}},
		{"Cluster.Do to all (first reply)", func(ctx context.Context, _ int) error {
			_, err := caller.Do(ctx, "echo", args)
			return err
		}},
	}
	results := make([][]result, len(workloads))
	// Warm up, then interleave the runs so that drift hits all alike.
	for _, w := range workloads {
		if _, err := measure(200*time.Millisecond, conc, w.w); err != nil {
			return fmt.Errorf("%s: %w", w.name, err)
		}
	}
	for range runs {
		for i, w := range workloads {
			r, err := measure(d, conc, w.w)
			if err != nil {
				return fmt.Errorf("%s: %w", w.name, err)
			}
			results[i] = append(results[i], r)
		}
	}
	fmt.Printf("%d caller(s), %d runs of %s, median run by calls/s\n\n", conc, runs, d)
	fmt.Println("| workload | calls/s | p50 | p99 | p50 vs raw |")
	fmt.Println("| --- | ---: | ---: | ---: | ---: |")
	var rawP50 time.Duration
	for i, w := range workloads {
		rs := results[i]
		slices.SortFunc(rs, func(a, b result) int {
			switch {
			case a.perSec < b.perSec:
				return -1
			case a.perSec > b.perSec:
				return 1
			}
			return 0
		})
		m := rs[len(rs)/2]
		if i == 0 {
			rawP50 = m.p50
		}
		fmt.Printf("| %s | %.0f | %s | %s | %.2fx |\n", w.name, m.perSec, round(m.p50), round(m.p99), float64(m.p50)/float64(rawP50))
	}
	return nil
}

func round(d time.Duration) string { return d.Round(time.Microsecond).String() }

// startRedis runs a redis-server on a free loopback port, persistence off.
func startRedis() (string, func(), error) {
	s, err := redistest.Launch()
	if err != nil {
		return "", nil, err
	}
	return s.URL(), s.Close, nil
}
