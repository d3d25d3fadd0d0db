// Command shardbench runs the same task workload on one redis-server and
// on a Redis Cluster of three masters (each with a replica), and prints
// the tasks per second and each master's share of the commands, from
// INFO commandstats on each master, with the default settings: a queue
// has one partition on one server and task.DefaultClusterPartitions on a
// cluster.
//
//	go run ./bench/shardbench -n 20000 -nodes 3 -conc 10 -runs 3
//
// The workload: nodes worker nodes (each its own Backend and connections,
// concurrency conc) are started idle; then one producer node enqueues n
// no-op tasks from 32 goroutines while the workers run them. The time is
// from the first enqueue to the last completion.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"sync/atomic"
	"time"

	redisb "github.com/stellarfw/stellar-go/backend/redis"
	"github.com/stellarfw/stellar-go/internal/lifecycle"
	"github.com/stellarfw/stellar-go/internal/redistest"
	"github.com/stellarfw/stellar-go/task"
)

func main() {
	n := flag.Int("n", 20000, "tasks per measurement")
	nodes := flag.Int("nodes", 3, "worker nodes")
	conc := flag.Int("conc", 10, "worker concurrency of each node")
	runs := flag.Int("runs", 3, "rounds; each measures one server and the cluster once")
	flag.IntVar(&partitions, "partitions", 0, "partitions of the queue (0: the default, 1 on one server and 16 on the cluster)")
	flag.Parse()
	if err := run(*n, *nodes, *conc, *runs); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}

// partitions is task.Config.Partitions for every node.
var partitions int

func run(n, nodes, conc, runs int) error {
	single, err := redistest.Launch()
	if err != nil {
		return fmt.Errorf("start redis-server: %w", err)
	}
	defer single.Close()
	cl, err := redistest.LaunchCluster()
	if err != nil {
		return fmt.Errorf("start the cluster: %w", err)
	}
	defer cl.Close()
	masters := cl.Servers()[:redistest.ClusterMasters]
	seeds := cl.Addrs()
	fmt.Printf("%d no-op tasks per measurement, %d worker nodes x concurrency %d, partitions %d (0: default), %d round(s)\n\n", n, nodes, conc, partitions, runs)
	for r := range runs {
		prefix := fmt.Sprintf("bench%d:", r)
		rate, _, err := measure(redisb.Config{URL: single.URL(), Prefix: prefix}, []*redistest.Server{single}, n, nodes, conc)
		if err != nil {
			return fmt.Errorf("one redis-server: %w", err)
		}
		fmt.Printf("round %d  one redis-server        %7.0f tasks/s\n", r+1, rate)
		rate, shares, err := measure(redisb.Config{ClusterAddrs: seeds, Prefix: prefix}, masters, n, nodes, conc)
		if err != nil {
			return fmt.Errorf("cluster: %w", err)
		}
		fmt.Printf("round %d  cluster of %d masters   %7.0f tasks/s  master shares:", r+1, len(masters), rate)
		for _, s := range shares {
			fmt.Printf(" %5.1f%%", 100*s)
		}
		fmt.Println()
	}
	return nil
}

// overhead are the commands that the clients and this program send for
// their own sake (topology, handshakes, the figures), not the workload's.
var overhead = map[string]bool{
	"info": true, "config": true, "cluster": true, "ping": true, "hello": true,
	"client": true, "command": true, "readonly": true, "select": true, "auth": true,
	"replconf": true, "psync": true,
}

func calls(servers []*redistest.Server) ([]int64, error) {
	out := make([]int64, len(servers))
	for i, s := range servers {
		m, err := s.CommandCalls()
		if err != nil {
			return nil, err
		}
		for name, c := range m {
			if base, _, _ := strings.Cut(name, "|"); !overhead[base] {
				out[i] += c
			}
		}
	}
	return out, nil
}

// measure runs the workload on the Redis cfg names and returns the tasks
// per second and each server's share of the workload's commands.
func measure(cfg redisb.Config, servers []*redistest.Server, n, nodes, conc int) (float64, []float64, error) {
	ctx := context.Background()
	var done atomic.Int64
	finished := make(chan struct{})
	def := &task.Definition{Name: "noop", Handler: task.HandlerFunc(func(context.Context, *task.Task) error {
		if done.Add(1) == int64(n) {
			close(finished)
		}
		return nil
	})}
	quiet := slog.New(slog.DiscardHandler)
	start := func(id string, tc task.Config) (*task.Manager, func(), error) {
		b, err := redisb.Open(cfg)
		if err != nil {
			return nil, nil, err
		}
		m := task.New()
		if err := m.Register(def); err != nil {
			return nil, nil, err
		}
		tc.NodeID, tc.Logger, tc.Partitions = id, quiet, partitions
		if err := m.Start(ctx, b.Tasks(), tc, lifecycle.Key{}); err != nil {
			_ = b.Close()
			return nil, nil, err
		}
		return m, func() {
			sctx, cancel := context.WithTimeout(ctx, 10*time.Second)
			defer cancel()
			_ = m.Stop(sctx, lifecycle.Key{})
			_ = b.Close()
		}, nil
	}
	var stops []func()
	defer func() {
		for _, s := range stops {
			s()
		}
	}()
	for i := range nodes {
		_, stop, err := start(fmt.Sprintf("worker%d", i), task.Config{Concurrency: conc})
		if err != nil {
			return 0, nil, err
		}
		stops = append(stops, stop)
	}
	producer, stop, err := start("producer", task.Config{EnqueueOnly: true})
	if err != nil {
		return 0, nil, err
	}
	stops = append(stops, stop)
	time.Sleep(300 * time.Millisecond) // the workers idle and subscribed
	before, err := calls(servers)
	if err != nil {
		return 0, nil, err
	}
	t0 := time.Now()
	var next atomic.Int64
	errs := make(chan error, 32)
	for range 32 {
		go func() {
			var err error
			for next.Add(1) <= int64(n) && err == nil {
				_, err = producer.Enqueue(ctx, "noop", nil)
			}
			errs <- err
		}()
	}
	for range 32 {
		if err := <-errs; err != nil {
			return 0, nil, err
		}
	}
	select {
	case <-finished:
	case <-time.After(5 * time.Minute):
		return 0, nil, errors.New("timed out")
	}
	elapsed := time.Since(t0)
	after, err := calls(servers)
	if err != nil {
		return 0, nil, err
	}
	var total int64
	for i := range after {
		after[i] -= before[i]
		total += after[i]
	}
	shares := make([]float64, len(after))
	for i, c := range after {
		shares[i] = float64(c) / float64(max(total, 1))
	}
	if os.Getenv("SHARDBENCH_DEBUG") != "" {
		for _, srv := range servers {
			m, _ := srv.CommandCalls()
			fmt.Println(srv.Addr(), m)
		}
	}
	return float64(n) / elapsed.Seconds(), shares, nil
}
