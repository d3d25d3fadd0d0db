// Command taskbench measures task throughput and pickup latency: Stellar's
// task workers on Redis against asynq on the same Redis with the same
// concurrency, in the same run, and Stellar on the memory backend.
//
//	cd bench/taskbench && go run . -n 20000 -conc 10 -runs 3
//
// It starts its own redis-server on a free loopback port unless -addr
// names one (which it flushes between measurements).
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/hibiken/asynq"
	"github.com/redis/rueidis"

	"github.com/stellarfw/stellar-go/backend/memory"
	redisb "github.com/stellarfw/stellar-go/backend/redis"
	"github.com/stellarfw/stellar-go/internal/lifecycle"
	"github.com/stellarfw/stellar-go/internal/redistest"
	"github.com/stellarfw/stellar-go/task"
)

func main() {
	addr := flag.String("addr", "", "host:port of a redis-server to use and flush (default: start one)")
	n := flag.Int("n", 20000, "tasks per throughput measurement")
	conc := flag.Int("conc", 10, "worker concurrency, for every system")
	runs := flag.Int("runs", 3, "rounds; each round measures every system once, in turn")
	samples := flag.Int("samples", 500, "pickup latency samples for Stellar")
	asynqSamples := flag.Int("asynq-samples", 20, "pickup latency samples for asynq (it polls, so each takes up to a second)")
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
	ctx := context.Background()
	raw, err := rueidis.NewClient(rueidis.ClientOption{InitAddress: []string{*addr}, ForceSingleClient: true, DisableCache: true})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	defer raw.Close()
	flush := func() { _ = raw.Do(ctx, raw.B().Flushall().Build()).Error() }

	fmt.Printf("redis-server at %s; %d no-op tasks per measurement, concurrency %d, %d round(s)\n\n", *addr, *n, *conc, *runs)
	results := map[string][]float64{}
	work := map[string][]redisWork{}
	order := []string{"stellar-redis", "asynq", "stellar-memory"}
	for r := range *runs {
		for _, sys := range order {
			flush()
			before := readWork(ctx, raw)
			var rate float64
			var err error
			switch sys {
			case "stellar-redis":
				rate, err = stellarThroughput(ctx, redisStore(*addr), *n, *conc)
			case "stellar-memory":
				rate, err = stellarThroughput(ctx, memStore(), *n, *conc)
			case "asynq":
				rate, err = asynqThroughput(*addr, *n, *conc)
			}
			if err != nil {
				fmt.Fprintln(os.Stderr, sys, err)
				os.Exit(1)
			}
			results[sys] = append(results[sys], rate)
			if sys != "stellar-memory" {
				work[sys] = append(work[sys], readWork(ctx, raw).since(before, *n))
			}
			fmt.Printf("round %d  %-15s %9.0f tasks/s\n", r+1, sys, rate)
		}
	}
	fmt.Println()
	for _, sys := range order {
		fmt.Printf("%-15s tasks/s: %s\n", sys, list(results[sys]))
	}
	ratios := make([]float64, len(results["asynq"]))
	for i := range ratios {
		ratios[i] = results["stellar-redis"][i] / results["asynq"][i]
	}
	fmt.Printf("stellar-redis / asynq, per round: %s\n\n", listf(ratios, "%.2f"))
	// What each task cost Redis: commands it ran (INFO counts each call a
	// script makes, and the script itself)
	// and bytes it received and sent, from INFO stats around each run
	// (enqueue, work, acknowledgement; the periodic housekeeping of the
	// run included).
	for _, sys := range []string{"stellar-redis", "asynq"} {
		for i, w := range work[sys] {
			fmt.Printf("redis work per task, round %d  %-13s %5.1f commands (those scripts run included)  %6.0f bytes in  %6.0f bytes out\n",
				i+1, sys, w.commands, w.in, w.out)
		}
	}
	fmt.Println()

	flush()
	for _, sys := range []string{"stellar-redis", "stellar-memory", "asynq"} {
		flush()
		var lat []time.Duration
		var err error
		switch sys {
		case "stellar-redis":
			lat, err = stellarLatency(ctx, redisStore(*addr), *conc, *samples)
		case "stellar-memory":
			lat, err = stellarLatency(ctx, memStore(), *conc, *samples)
		case "asynq":
			lat, err = asynqLatency(*addr, *conc, *asynqSamples)
		}
		if err != nil {
			fmt.Fprintln(os.Stderr, sys, err)
			os.Exit(1)
		}
		slices.Sort(lat)
		fmt.Printf("pickup latency %-15s p50 %8s  p99 %8s  (%d samples, idle node)\n", sys,
			lat[len(lat)/2].Round(time.Microsecond), lat[len(lat)*99/100].Round(time.Microsecond), len(lat))
	}
}

func list(v []float64) string { return listf(v, "%.0f") }

// redisWork is what Redis did: commands processed and network bytes in
// and out, totals or (from since) per task.
type redisWork struct{ commands, in, out float64 }

// readWork reads the server's totals from INFO stats.
func readWork(ctx context.Context, c rueidis.Client) redisWork {
	info, err := c.Do(ctx, c.B().Info().Section("stats").Build()).ToString()
	if err != nil {
		fmt.Fprintln(os.Stderr, "INFO stats:", err)
		os.Exit(1)
	}
	var w redisWork
	for _, line := range strings.Split(info, "\r\n") {
		k, v, ok := strings.Cut(line, ":")
		if !ok {
			continue
		}
		x, _ := strconv.ParseFloat(v, 64)
		switch k {
		case "total_commands_processed":
			w.commands = x
		case "total_net_input_bytes":
			w.in = x
		case "total_net_output_bytes":
			w.out = x
		}
	}
	return w
}

// since is the work done since before, per task of n.
func (w redisWork) since(before redisWork, n int) redisWork {
	f := float64(n)
	return redisWork{(w.commands - before.commands) / f, (w.in - before.in) / f, (w.out - before.out) / f}
}

func listf(v []float64, f string) string {
	s := ""
	for i, x := range v {
		if i > 0 {
			s += ", "
		}
		s += fmt.Sprintf(f, x)
	}
	return s
}

func redisStore(addr string) func() (task.Store, func()) {
	return func() (task.Store, func()) {
		b, err := redisb.Open(redisb.Config{URL: "redis://" + addr + "/0"})
		if err != nil {
			panic(err)
		}
		return b.Tasks(), func() { _ = b.Close() }
	}
}

func memStore() func() (task.Store, func()) {
	return func() (task.Store, func()) {
		b := memory.New(memory.Config{})
		return b.Tasks(), func() { _ = b.Close() }
	}
}

// stellarThroughput fills the queue with n tasks, then times workers
// draining it.
func stellarThroughput(ctx context.Context, open func() (task.Store, func()), n, conc int) (float64, error) {
	store, closeStore := open()
	defer closeStore()
	var done atomic.Int64
	finished := make(chan struct{})
	def := &task.Definition{Name: "noop", Handler: task.HandlerFunc(func(context.Context, *task.Task) error {
		if done.Add(1) == int64(n) {
			close(finished)
		}
		return nil
	})}
	producer := task.New()
	if err := producer.Register(def); err != nil {
		return 0, err
	}
	if err := producer.Start(ctx, store, task.Config{NodeID: "producer", EnqueueOnly: true}, lifecycle.Key{}); err != nil {
		return 0, err
	}
	defer producer.Stop(ctx, lifecycle.Key{})
	if err := fill(n, func() error { _, err := producer.Enqueue(ctx, "noop", nil); return err }); err != nil {
		return 0, err
	}
	m := task.New()
	if err := m.Register(def); err != nil {
		return 0, err
	}
	start := time.Now()
	if err := m.Start(ctx, store, task.Config{NodeID: "bench", Concurrency: conc}, lifecycle.Key{}); err != nil {
		return 0, err
	}
	select {
	case <-finished:
	case <-time.After(5 * time.Minute):
		return 0, errors.New("timed out")
	}
	elapsed := time.Since(start)
	sctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := m.Stop(sctx, lifecycle.Key{}); err != nil {
		return 0, err
	}
	return float64(n) / elapsed.Seconds(), nil
}

// fill runs enqueue n times over 32 goroutines.
func fill(n int, enqueue func() error) error {
	var next atomic.Int64
	errs := make(chan error, 32)
	for range 32 {
		go func() {
			var err error
			for next.Add(1) <= int64(n) && err == nil {
				err = enqueue()
			}
			errs <- err
		}()
	}
	var first error
	for range 32 {
		if err := <-errs; err != nil && first == nil {
			first = err
		}
	}
	return first
}

func asynqThroughput(addr string, n, conc int) (float64, error) {
	opt := asynq.RedisClientOpt{Addr: addr}
	client := asynq.NewClient(opt)
	defer client.Close()
	if err := fill(n, func() error { _, err := client.Enqueue(asynq.NewTask("noop", nil)); return err }); err != nil {
		return 0, err
	}
	var done atomic.Int64
	finished := make(chan struct{})
	srv := asynq.NewServer(opt, asynq.Config{Concurrency: conc, LogLevel: asynq.FatalLevel})
	mux := asynq.NewServeMux()
	mux.HandleFunc("noop", func(context.Context, *asynq.Task) error {
		if done.Add(1) == int64(n) {
			close(finished)
		}
		return nil
	})
	start := time.Now()
	if err := srv.Start(mux); err != nil {
		return 0, err
	}
	select {
	case <-finished:
	case <-time.After(5 * time.Minute):
		return 0, errors.New("timed out")
	}
	elapsed := time.Since(start)
	srv.Shutdown()
	return float64(n) / elapsed.Seconds(), nil
}

// stellarLatency enqueues one task at a time on an idle node and measures
// from the enqueue call to the handler's start.
func stellarLatency(ctx context.Context, open func() (task.Store, func()), conc, samples int) ([]time.Duration, error) {
	store, closeStore := open()
	defer closeStore()
	started := make(chan time.Time, 1)
	def := &task.Definition{Name: "ping", Handler: task.HandlerFunc(func(context.Context, *task.Task) error {
		started <- time.Now()
		return nil
	})}
	m := task.New()
	if err := m.Register(def); err != nil {
		return nil, err
	}
	if err := m.Start(ctx, store, task.Config{NodeID: "bench", Concurrency: conc, Logger: slog.New(slog.DiscardHandler)}, lifecycle.Key{}); err != nil {
		return nil, err
	}
	defer func() {
		sctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		defer cancel()
		_ = m.Stop(sctx, lifecycle.Key{})
	}()
	time.Sleep(200 * time.Millisecond) // let the workers go idle and subscribe
	var out []time.Duration
	for range samples {
		t0 := time.Now()
		if _, err := m.Enqueue(ctx, "ping", nil); err != nil {
			return nil, err
		}
		select {
		case t1 := <-started:
			out = append(out, t1.Sub(t0))
		case <-time.After(10 * time.Second):
			return nil, errors.New("a task did not start")
		}
		time.Sleep(2 * time.Millisecond) // idle again
	}
	return out, nil
}

func asynqLatency(addr string, conc, samples int) ([]time.Duration, error) {
	opt := asynq.RedisClientOpt{Addr: addr}
	client := asynq.NewClient(opt)
	defer client.Close()
	started := make(chan time.Time, 1)
	srv := asynq.NewServer(opt, asynq.Config{Concurrency: conc, LogLevel: asynq.FatalLevel})
	mux := asynq.NewServeMux()
	mux.HandleFunc("ping", func(context.Context, *asynq.Task) error {
		started <- time.Now()
		return nil
	})
	if err := srv.Start(mux); err != nil {
		return nil, err
	}
	defer srv.Shutdown()
	time.Sleep(200 * time.Millisecond)
	var out []time.Duration
	for range samples {
		t0 := time.Now()
		if _, err := client.Enqueue(asynq.NewTask("ping", nil)); err != nil {
			return nil, err
		}
		select {
		case t1 := <-started:
			out = append(out, t1.Sub(t0))
		case <-time.After(10 * time.Second):
			return nil, errors.New("a task did not start")
		}
		time.Sleep(2 * time.Millisecond)
	}
	return out, nil
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
