package main

import (
	"context"
	"errors"
	"fmt"
	"log"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/redis/rueidis"

	redisb "github.com/stellarfw/stellar-go/backend/redis"
	"github.com/stellarfw/stellar-go/cluster"
	"github.com/stellarfw/stellar-go/internal/lifecycle"
	"github.com/stellarfw/stellar-go/internal/redistest"
)

// redisServer returns -redis, or starts a redis-server of its own on a
// free loopback port, persistence off.
func redisServer() (string, func()) {
	if *redisURL != "" {
		return *redisURL, func() {}
	}
	s, err := redistest.Launch()
	if err != nil {
		log.Fatal(err)
	}
	return s.URL(), s.Close
}

type workload struct {
	name string
	w    func(ctx context.Context, worker int) error
}

// interleave measures every workload once per round, the first of a
// round rotating, after a warm-up of each; results[i] are workload i's.
func interleave(ws []workload, conc int) [][]result {
	for _, w := range ws {
		if _, err := measure(*dur/4, conc, w.w); err != nil {
			log.Fatalf("%s: %v", w.name, err)
		}
	}
	results := make([][]result, len(ws))
	for r := range *rounds {
		for k := range ws {
			i := (k + r) % len(ws)
			res, err := measure(*dur, conc, ws[i].w)
			if err != nil {
				log.Fatalf("%s: %v", ws[i].name, err)
			}
			results[i] = append(results[i], res)
		}
	}
	return results
}

// table prints one row per workload against the first (the baseline):
// rate, p50, p99, and the per-round ratio of the p50s and of the rates.
func table(title string, ws []workload, results [][]result) string {
	var b strings.Builder
	b.WriteString("| " + title + " | calls/s | p50 | p99 | p50 / baseline p50, median (min–max) | rate / baseline rate |\n")
	b.WriteString("| --- | ---: | ---: | ---: | ---: | ---: |\n")
	base := results[0]
	for i, w := range ws {
		m := med(results[i])
		p := make([]float64, len(base))
		q := make([]float64, len(base))
		for r := range base {
			p[r] = float64(results[i][r].P50) / float64(base[r].P50)
			q[r] = results[i][r].PerSec / base[r].PerSec
		}
		slices.Sort(p)
		slices.Sort(q)
		name := w.name
		if i == 0 {
			name += " (baseline)"
		}
		fmt.Fprintf(&b, "| %s | %.0f | %s | %s | %.2fx (%.2f–%.2f) | %.2f |\n", name, m.PerSec, lat(m.P50), lat(m.P99),
			p[len(p)/2], p[0], p[len(p)-1], q[len(q)/2])
	}
	return b.String()
}

func rpcTables(url string, stamp string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "Measured %s; %d rounds of %s, redis-server of its own on loopback.\n\n", stamp, *rounds, *dur)
	for _, conc := range []int{1, 16} {
		raw, stopRaw := rawPingPong(url, conc)
		caller, stopNodes := clusterNodes(url)
		args := map[string]int{"n": 42}
		ws := []workload{
			{"raw PUBLISH/SUBSCRIBE ping-pong (rueidis)", raw},
			{"Cluster.Do ToNode", func(ctx context.Context, _ int) error {
				_, err := caller.Do(ctx, "echo", args, cluster.ToNode("node-2"))
				return err
			}},
			{"Cluster.Do ToConnection", func(ctx context.Context, _ int) error {
				_, err := caller.Do(ctx, "echo", args, cluster.ToConnection("conn-on-2"))
				return err
			}},
			{"Cluster.Do to all (first reply)", func(ctx context.Context, _ int) error {
				_, err := caller.Do(ctx, "echo", args)
				return err
			}},
		}
		res := interleave(ws, conc)
		fmt.Fprintf(&b, "%s", table(fmt.Sprintf("%d caller(s)", conc), ws, res))
		b.WriteString("\n")
		stopNodes()
		stopRaw()
		log.Printf("rpc conc=%d done", conc)
	}
	return strings.TrimRight(b.String(), "\n") + "\n"
}

// rawPingPong: client A publishes on ping:<worker>; client B, subscribed
// to ping:*, publishes the same bytes on pong:<worker> through a client of
// its own; A, subscribed to pong:*, wakes the worker. Two PUBLISHes and
// two deliveries: the floor of any request/reply over pub/sub.
func rawPingPong(url string, conc int) (func(context.Context, int) error, func()) {
	opt, err := rueidis.ParseURL(url)
	if err != nil {
		log.Fatal(err)
	}
	opt.DisableCache = true
	opt.ForceSingleClient = true
	opt.MaxFlushDelay = 20 * time.Microsecond // as backend/redis
	var clients []rueidis.Client
	for range 3 {
		c, err := rueidis.NewClient(opt)
		if err != nil {
			log.Fatal(err)
		}
		clients = append(clients, c)
	}
	a, b, bPub := clients[0], clients[1], clients[2]
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
				select {
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
	return w, func() {
		cancel()
		for _, c := range clients {
			c.Close()
		}
		wg.Wait()
	}
}

// clusterNodes starts two nodes, each on its own Backend, with an echo
// method; node-2 owns the connection "conn-on-2".
func clusterNodes(url string) (*cluster.Cluster, func()) {
	var stops []func()
	stop := func() {
		for i := len(stops) - 1; i >= 0; i-- {
			stops[i]()
		}
	}
	prefix := "benchall:" + strconv.Itoa(os.Getpid()) + ":" + strconv.FormatInt(time.Now().UnixNano(), 36) + ":"
	var nodes []*cluster.Cluster
	for _, id := range []string{"node-1", "node-2"} {
		b, err := redisb.Open(redisb.Config{URL: url, Prefix: prefix})
		if err != nil {
			log.Fatal(err)
		}
		stops = append(stops, func() { _ = b.Close() })
		c := cluster.New()
		c.HandleFunc("echo", func(ctx context.Context, call *cluster.Call) (any, error) { return call.Args, nil })
		owns := func(string) bool { return false }
		if id == "node-2" {
			owns = func(conn string) bool { return conn == "conn-on-2" }
		}
		if err := c.Start(context.Background(), b.Cluster(), cluster.Config{ID: id, Token: "bench-token", OwnsConnection: owns}, lifecycle.Key{}); err != nil {
			log.Fatal(err)
		}
		stops = append(stops, func() { _ = c.Stop(context.Background(), lifecycle.Key{}) })
		nodes = append(nodes, c)
	}
	deadline := time.Now().Add(10 * time.Second)
	for len(nodes[0].Members()) < 2 {
		if time.Now().After(deadline) {
			log.Fatal(errors.New("the nodes did not see each other"))
		}
		time.Sleep(10 * time.Millisecond)
	}
	return nodes[0], stop
}
