package redis_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/rueidis"

	"github.com/stellarfw/stellar-go/backend/redis"
	"github.com/stellarfw/stellar-go/internal/backendtest"
	"github.com/stellarfw/stellar-go/internal/lifecycle"
	"github.com/stellarfw/stellar-go/internal/redistest"
	"github.com/stellarfw/stellar-go/task"
)

func TestTaskConformance(t *testing.T) {
	backendtest.RunTasks(t, backendtest.TaskBackend{
		NewStores: func(t *testing.T, n int, clock *backendtest.Clock) []backendtest.TaskStore {
			srv := redistest.Shared(t)
			prefix := redistest.Prefix(t)
			stores := make([]backendtest.TaskStore, n)
			for i := range stores {
				b, err := redis.Open(redis.Config{URL: srv.URL(), Prefix: prefix, Now: clock.Now})
				if err != nil {
					t.Fatal(err)
				}
				t.Cleanup(func() { _ = b.Close() })
				stores[i] = b.Tasks()
			}
			return stores
		},
	})
}

// TestTaskConformanceOnRedisCluster runs the suite against a Redis Cluster,
// which refuses any script whose keys span slots (CROSSSLOT).
func TestTaskConformanceOnRedisCluster(t *testing.T) {
	srv := redistest.StartOwn(t, redistest.Cluster())
	backendtest.RunTasks(t, backendtest.TaskBackend{
		NewStores: func(t *testing.T, n int, clock *backendtest.Clock) []backendtest.TaskStore {
			prefix := redistest.Prefix(t)
			stores := make([]backendtest.TaskStore, n)
			for i := range stores {
				b, err := redis.Open(redis.Config{ClusterAddrs: []string{srv.Addr()}, Prefix: prefix, Now: clock.Now})
				if err != nil {
					t.Fatal(err)
				}
				t.Cleanup(func() { _ = b.Close() })
				stores[i] = b.Tasks()
			}
			return stores
		},
	})
}

// TestTasksSurviveRedisRestart stops Redis under running workers: enqueues
// fail fast meanwhile, and once Redis is back the workers resubscribe and
// run what Redis kept and what comes next.
func TestTasksSurviveRedisRestart(t *testing.T) {
	srv := redistest.StartOwn(t)
	b, err := redis.Open(redis.Config{URL: srv.URL(), Prefix: redistest.Prefix(t)})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	ran := make(chan string, 10)
	m := task.New()
	_ = m.Register(&task.Definition{Name: "job", Handler: task.HandlerFunc(func(ctx context.Context, tk *task.Task) error {
		ran <- tk.ID
		return nil
	})})
	ctx := context.Background()
	if err := m.Start(ctx, b.Tasks(), task.Config{Concurrency: 2, Lease: time.Second, PollInterval: 20 * time.Millisecond}, lifecycle.Key{}); err != nil {
		t.Fatal(err)
	}
	defer func() {
		sctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		defer cancel()
		_ = m.Stop(sctx, lifecycle.Key{})
	}()
	wait := func(id string) {
		t.Helper()
		select {
		case got := <-ran:
			if got != id {
				t.Fatalf("ran %s, want %s", got, id)
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("task %s did not run", id)
		}
	}
	id, err := m.Enqueue(ctx, "job", nil)
	if err != nil {
		t.Fatal(err)
	}
	wait(id)
	// A delayed task kept by Redis across the restart.
	kept, err := m.Enqueue(ctx, "job", nil, task.In(300*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	// Persist what Redis holds, as a server with persistence would, so
	// that the restart keeps it.
	raw, err := rueidis.NewClient(rueidis.ClientOption{InitAddress: []string{srv.Addr()}, ForceSingleClient: true, DisableCache: true})
	if err != nil {
		t.Fatal(err)
	}
	if err := raw.Do(ctx, raw.B().Save().Build()).Error(); err != nil {
		t.Fatal(err)
	}
	raw.Close()
	srv.Stop(t)
	// Enqueue retries a store that fails temporarily, within its context.
	ectx, cancel := context.WithTimeout(ctx, 300*time.Millisecond)
	_, err = m.Enqueue(ectx, "job", nil)
	cancel()
	if !errors.Is(err, redis.ErrUnavailable) {
		t.Fatalf("Enqueue while Redis is down = %v, want ErrUnavailable", err)
	}
	srv.Restart(t)
	wait(kept)
	// Wake-ups work again: a fresh task starts promptly.
	deadline := time.Now().Add(10 * time.Second)
	var id2 string
	for {
		if id2, err = m.Enqueue(ctx, "job", nil); err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("Enqueue after the restart: %v", err)
		}
		time.Sleep(50 * time.Millisecond)
	}
	wait(id2)
}

// TestUnrenewableLeaseCutsRun: when Redis cannot be reached to renew a
// lease, the run is cut off once the lease lapses, since another node may
// run the task by then.
func TestUnrenewableLeaseCutsRun(t *testing.T) {
	srv := redistest.StartOwn(t)
	b, err := redis.Open(redis.Config{URL: srv.URL(), Prefix: redistest.Prefix(t)})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	started, cause := make(chan struct{}, 1), make(chan error, 1)
	m := task.New()
	_ = m.Register(&task.Definition{Name: "long", Handler: task.HandlerFunc(func(ctx context.Context, tk *task.Task) error {
		started <- struct{}{}
		<-ctx.Done()
		cause <- context.Cause(ctx)
		return ctx.Err()
	})})
	ctx := context.Background()
	if err := m.Start(ctx, b.Tasks(), task.Config{Concurrency: 1, Lease: 300 * time.Millisecond, DrainTimeout: time.Second}, lifecycle.Key{}); err != nil {
		t.Fatal(err)
	}
	defer func() {
		sctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		defer cancel()
		_ = m.Stop(sctx, lifecycle.Key{})
	}()
	if _, err := m.Enqueue(ctx, "long", nil); err != nil {
		t.Fatal(err)
	}
	<-started
	srv.Stop(t)
	select {
	case err := <-cause:
		if !errors.Is(err, task.ErrLeaseLost) {
			t.Fatalf("run cut off with %v, want ErrLeaseLost", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the run went on without a lease")
	}
}

// TestRedisRestartWhileFinishing: Redis stops for longer than a lease just
// as a handler finishes, and comes back with what it had saved, the
// task's lapsed lease included. The worker keeps trying to record the
// outcome and to renew the lease; no node recovers the lease before its
// holder could renew it: the task completes once.
func TestRedisRestartWhileFinishing(t *testing.T) {
	srv := redistest.StartOwn(t)
	prefix := redistest.Prefix(t)
	ctx := context.Background()
	const lease = time.Second
	var starts, completions atomic.Int64
	started, release := make(chan struct{}, 10), make(chan struct{})
	def := &task.Definition{Name: "job", Handler: task.HandlerFunc(func(ctx context.Context, tk *task.Task) error {
		starts.Add(1)
		started <- struct{}{}
		<-release
		completions.Add(1)
		return nil
	})}
	node := func(name string) (*task.Manager, *redis.TaskStore) {
		b, err := redis.Open(redis.Config{URL: srv.URL(), Prefix: prefix})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = b.Close() })
		m := task.New()
		_ = m.Register(def)
		if err := m.Start(ctx, b.Tasks(), task.Config{NodeID: name, Concurrency: 1, Lease: lease, PollInterval: 20 * time.Millisecond}, lifecycle.Key{}); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() {
			sctx, cancel := context.WithTimeout(ctx, 10*time.Second)
			defer cancel()
			_ = m.Stop(sctx, lifecycle.Key{})
		})
		return m, b.Tasks()
	}
	a, _ := node("a")
	if _, err := a.Enqueue(ctx, "job", nil); err != nil {
		t.Fatal(err)
	}
	<-started
	_, store := node("b") // a node that would run the task again
	// Save what Redis holds, the running task's lease with it, as a
	// server persisting its data would.
	raw, err := rueidis.NewClient(rueidis.ClientOption{InitAddress: []string{srv.Addr()}, ForceSingleClient: true, DisableCache: true})
	if err != nil {
		t.Fatal(err)
	}
	if err := raw.Do(ctx, raw.B().Save().Build()).Error(); err != nil {
		t.Fatal(err)
	}
	raw.Close()
	srv.Stop(t)
	close(release) // the handler returns while Redis is down
	// The outage outlasts the lease: when Redis is back, the saved lease
	// has lapsed.
	time.Sleep(lease * 3 / 2)
	srv.Restart(t)
	poll(t, "the outcome recorded", func(ctx context.Context) error {
		c, err := store.Counts(ctx, task.DefaultQueue)
		if err != nil {
			return err
		}
		if c.Processed != 1 || c.Pending+c.Running+c.Delayed+c.Failed != 0 {
			return fmt.Errorf("counts %+v", c)
		}
		return nil
	})
	if s, c := starts.Load(), completions.Load(); s != 1 || c != 1 {
		t.Fatalf("the task started %d times and completed %d times, want once", s, c)
	}
}

// leaseRecorder is a TaskStore that keeps, per task id, the lease deadline
// Redis stored for its last fetch, and renews no lease.
type leaseRecorder struct {
	*redis.TaskStore
	mu    sync.Mutex
	until map[string]time.Time // guarded by mu
}

func (s *leaseRecorder) keep(d *task.Delivery) {
	if d != nil {
		s.mu.Lock()
		s.until[d.ID] = d.LeaseUntil
		s.mu.Unlock()
	}
}

func (s *leaseRecorder) leaseUntil(id string) time.Time {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.until[id]
}

func (s *leaseRecorder) Fetch(ctx context.Context, queue, worker string, lease time.Duration) (*task.Delivery, error) {
	d, err := s.TaskStore.Fetch(ctx, queue, worker, lease)
	s.keep(d)
	return d, err
}

func (s *leaseRecorder) AckFetch(ctx context.Context, d *task.Delivery, worker string, lease time.Duration) (*task.Delivery, bool, error) {
	next, acked, err := s.TaskStore.AckFetch(ctx, d, worker, lease)
	s.keep(next)
	return next, acked, err
}

func (s *leaseRecorder) Extend(context.Context, string, []task.Lease, time.Duration) ([]bool, error) {
	return nil, errors.New("renewal refused by the test")
}

// TestLeaseHeldEndsWithRedisLease: LeaseHeld never says true once the
// lease Redis holds has lapsed. Redis keeps deadlines in whole
// milliseconds, rounded down, so a node counting the lease from the time
// it sent the call must end it a little early.
func TestLeaseHeldEndsWithRedisLease(t *testing.T) {
	b, err := redis.Open(redis.Config{URL: redistest.Shared(t).URL(), Prefix: redistest.Prefix(t)})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	store := &leaseRecorder{TaskStore: b.Tasks(), until: map[string]time.Time{}}
	const tasks = 5
	var mu sync.Mutex
	var late []string // guarded by mu
	m := task.New()
	_ = m.Register(&task.Definition{Name: "watch", Handler: task.HandlerFunc(func(ctx context.Context, tk *task.Task) error {
		until := store.leaseUntil(tk.ID)
		for {
			before := time.Now()
			if !tk.LeaseHeld() {
				break
			}
			if !before.Before(until) {
				mu.Lock()
				late = append(late, fmt.Sprintf("task %s attempt %d: LeaseHeld true at %s, the lease Redis holds lapsed at %s",
					tk.ID, tk.Attempt, before.Format("15:04:05.000000"), until.Format("15:04:05.000000")))
				mu.Unlock()
				break
			}
		}
		return nil
	})})
	ctx := context.Background()
	if err := m.Start(ctx, store, task.Config{Concurrency: 1, Lease: 50 * time.Millisecond, PollInterval: 10 * time.Millisecond}, lifecycle.Key{}); err != nil {
		t.Fatal(err)
	}
	defer func() {
		sctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		defer cancel()
		_ = m.Stop(sctx, lifecycle.Key{})
	}()
	for range tasks {
		if _, err := m.Enqueue(ctx, "watch", nil); err != nil {
			t.Fatal(err)
		}
	}
	poll(t, "every task run", func(ctx context.Context) error {
		c, err := store.Counts(ctx, task.DefaultQueue)
		if err != nil {
			return err
		}
		if c.Processed != tasks {
			return fmt.Errorf("counts %+v", c)
		}
		return nil
	})
	mu.Lock()
	defer mu.Unlock()
	for _, msg := range late {
		t.Error(msg)
	}
}

// TestQueueSpreadsOverMasters: with the default settings a queue on the
// 3-master cluster has task.DefaultClusterPartitions partitions, which
// land 5 or 6 on each master (on one server it has one), and tasks
// enqueued on one node and run on three all complete once.
func TestQueueSpreadsOverMasters(t *testing.T) {
	single := open(t, redis.Config{URL: redistest.Shared(t).URL(), Prefix: redistest.Prefix(t)})
	if n := single.Tasks().DefaultPartitions(); n != 1 {
		t.Errorf("one server: DefaultPartitions = %d, want 1", n)
	}
	srv := redistest.SharedCluster(t)
	prefix := redistest.Prefix(t)
	store := open(t, redis.Config{ClusterAddrs: srv.Addrs(), Prefix: prefix}).Tasks()
	if n := store.DefaultPartitions(); n != task.DefaultClusterPartitions {
		t.Fatalf("cluster: DefaultPartitions = %d, want %d", n, task.DefaultClusterPartitions)
	}
	ctx := context.Background()
	const n = 2000
	var mu sync.Mutex
	runs := map[string]int{}
	def := &task.Definition{Name: "spread", Handler: task.HandlerFunc(func(_ context.Context, tk *task.Task) error {
		mu.Lock()
		runs[tk.ID]++
		mu.Unlock()
		return nil
	})}
	startManager := func(s task.Store, cfg task.Config) *task.Manager {
		m := task.New()
		if err := m.Register(def); err != nil {
			t.Fatal(err)
		}
		if err := m.Start(ctx, s, cfg, lifecycle.Key{}); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() {
			sctx, cancel := context.WithTimeout(ctx, 10*time.Second)
			defer cancel()
			_ = m.Stop(sctx, lifecycle.Key{})
		})
		return m
	}
	producer := startManager(store, task.Config{NodeID: "producer", EnqueueOnly: true})
	for range n {
		if _, err := producer.Enqueue(ctx, "spread", nil); err != nil {
			t.Fatal(err)
		}
	}
	in := task.NewInspector(store)
	parts, err := in.Partitions(ctx, task.DefaultQueue)
	if err != nil || len(parts) != task.DefaultClusterPartitions {
		t.Fatalf("Partitions = %v, %v; want %d", parts, err, task.DefaultClusterPartitions)
	}
	per := map[string]int{}
	for _, p := range parts {
		per[srv.MasterOf(t, store.PendingKey(p)).Addr()]++
	}
	masters := srv.Masters(t)
	for _, m := range masters {
		if k := per[m.Addr()]; k < 5 || k > 6 {
			t.Errorf("master %s holds %d of %d partitions, want 5 or 6: %v", m.Addr(), k, len(parts), per)
		}
	}
	for i := range 3 {
		b := open(t, redis.Config{ClusterAddrs: srv.Addrs(), Prefix: prefix})
		startManager(b.Tasks(), task.Config{NodeID: fmt.Sprintf("w%d", i), Concurrency: 4})
	}
	backendtest.Eventually(t, "every task processed", func() bool {
		qs, err := in.QueueStats(ctx, task.DefaultQueue)
		return err == nil && qs.Processed == n
	})
	mu.Lock()
	defer mu.Unlock()
	if len(runs) != n {
		t.Fatalf("%d tasks ran, want %d", len(runs), n)
	}
	for id, k := range runs {
		if k != 1 {
			t.Fatalf("task %s ran %d times", id, k)
		}
	}
}
