package task_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/stellarfw/stellar-go/backend/memory"
	"github.com/stellarfw/stellar-go/internal/backendtest"
	"github.com/stellarfw/stellar-go/internal/lifecycle"
	"github.com/stellarfw/stellar-go/task"
)

// start starts a Manager on store with defs, stopped when t ends.
func start(t *testing.T, store task.Store, cfg task.Config, defs ...*task.Definition) *task.Manager {
	t.Helper()
	m := task.New()
	if err := m.Register(defs...); err != nil {
		t.Fatal(err)
	}
	if err := m.Start(context.Background(), store, cfg, lifecycle.Key{}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := m.Stop(ctx, lifecycle.Key{}); err != nil {
			t.Errorf("Stop: %v", err)
		}
	})
	return m
}

// runLog records the runs of a handler: every start and every return
// without error.
type runLog struct {
	mu       sync.Mutex
	started  []int // attempts
	finished []int // attempts whose handler returned nil
}

func (l *runLog) start(a int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.started = append(l.started, a)
}

func (l *runLog) finish(a int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.finished = append(l.finished, a)
}

func (l *runLog) counts() (started, finished int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.started), len(l.finished)
}

// settled reports whether queue holds nothing more to run and processed
// tasks were acknowledged.
func settled(t *testing.T, s task.AdminStore, queue string, processed int64) bool {
	t.Helper()
	c, err := s.Counts(context.Background(), queue)
	if err != nil {
		t.Fatal(err)
	}
	return c.Processed == processed && c.Pending+c.Running+c.Delayed+c.Failed == 0
}

// TestRenewalRefusedCutsRun: once another node recovered a task, the
// next renewal of its old worker is refused, and that run is cut off at
// once with cause ErrLeaseLost (long before its local deadline); its late
// outcome is not recorded, and the task runs again as the next attempt.
func TestRenewalRefusedCutsRun(t *testing.T) {
	clock := backendtest.NewClock()
	b := memory.New(memory.Config{Now: clock.Now})
	defer b.Close()
	store := b.Tasks()
	const lease = 3 * time.Second // renewed every second; the deadline is far
	started := make(chan struct{}, 1)
	type cut struct {
		cause error
		held  bool
	}
	cuts := make(chan cut, 1)
	var runs runLog
	def := &task.Definition{Name: "job", MaxAttempts: 1, Handler: task.HandlerFunc(func(ctx context.Context, tk *task.Task) error {
		runs.start(tk.Attempt)
		if tk.Attempt > 1 {
			runs.finish(tk.Attempt)
			return nil
		}
		if !tk.LeaseHeld() {
			t.Error("LeaseHeld false at the start of a run")
		}
		started <- struct{}{}
		<-ctx.Done()
		cuts <- cut{context.Cause(ctx), tk.LeaseHeld()}
		return errors.New("cut off") // a recorded Fail would show
	})}
	m := start(t, store, task.Config{Concurrency: 1, Lease: lease, PollInterval: 10 * time.Millisecond, Now: clock.Now}, def)
	if _, err := m.Enqueue(context.Background(), "job", nil); err != nil {
		t.Fatal(err)
	}
	<-started
	// Another node recovers the task: its lease lapsed as far as the
	// store can tell (the fake clock jumps).
	var recoveredAt time.Time
	backendtest.Eventually(t, "the task recovered", func() bool {
		clock.Advance(time.Minute)
		if _, _, err := store.Forward(context.Background(), task.DefaultQueue, true); err != nil {
			t.Fatal(err)
		}
		recoveredAt = time.Now()
		// By this call or by the Manager's own recoverer.
		running, err := store.List(context.Background(), task.DefaultQueue, task.StateRunning, 0, 0)
		if err != nil {
			t.Fatal(err)
		}
		return len(running) == 0 || running[0].Attempt > 1
	})
	select {
	case c := <-cuts:
		if !errors.Is(c.cause, task.ErrLeaseLost) {
			t.Errorf("run cut off with cause %v, want ErrLeaseLost", c.cause)
		}
		if c.held {
			t.Error("LeaseHeld true in a run that was cut off")
		}
		if d := time.Since(recoveredAt); d > lease*2/3 {
			t.Errorf("cut off %s after the recovery: not by the refused renewal", d)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the run went on after its renewal was refused")
	}
	backendtest.Eventually(t, "the second attempt acknowledged", func() bool { return settled(t, store, task.DefaultQueue, 1) })
	c, _ := store.Counts(context.Background(), task.DefaultQueue)
	if c.FailedTotal != 0 {
		t.Errorf("the cut-off run's outcome was recorded: %+v", c)
	}
	runs.mu.Lock()
	defer runs.mu.Unlock()
	if len(runs.started) != 2 || runs.started[1] != 2 {
		t.Errorf("runs = %v, want attempts [1 2]", runs.started)
	}
}

// TestLeaseHeldWithoutRenewal: when no renewal succeeds (the store
// unreachable), LeaseHeld turns false once the lease ran out on this
// node's clock, and the handler's context ends with cause ErrLeaseLost.
func TestLeaseHeldWithoutRenewal(t *testing.T) {
	clock := backendtest.NewClock()
	b := memory.New(memory.Config{Now: clock.Now})
	defer b.Close()
	store := newFlaky(b.Tasks())
	const lease = 300 * time.Millisecond
	type report struct {
		atStart bool
		after   time.Duration
		cause   error
	}
	reports := make(chan report, 1)
	def := &task.Definition{Name: "long", Handler: task.HandlerFunc(func(ctx context.Context, tk *task.Task) error {
		t0 := time.Now()
		r := report{atStart: tk.LeaseHeld()}
		store.failNext("Extend", 1000, false)
		for tk.LeaseHeld() && time.Since(t0) < 10*time.Second {
			time.Sleep(time.Millisecond)
		}
		r.after = time.Since(t0)
		<-ctx.Done()
		r.cause = context.Cause(ctx)
		reports <- r
		return nil
	})}
	m := start(t, store, task.Config{Concurrency: 1, Lease: lease, PollInterval: 10 * time.Millisecond, Now: clock.Now}, def)
	if _, err := m.Enqueue(context.Background(), "long", nil); err != nil {
		t.Fatal(err)
	}
	r := <-reports
	if !r.atStart {
		t.Error("LeaseHeld false at the start")
	}
	// At most one renewal may have landed before renewals failed.
	if r.after > 2*lease+time.Second {
		t.Errorf("LeaseHeld still true %s into the run, with a %s lease and no renewal", r.after, lease)
	}
	if !errors.Is(r.cause, task.ErrLeaseLost) {
		t.Errorf("cause = %v, want ErrLeaseLost", r.cause)
	}
	store.failNext("Extend", 0, false)
	// No other node recovered it: the outcome still lands.
	backendtest.Eventually(t, "the outcome recorded", func() bool { return settled(t, b.Tasks(), task.DefaultQueue, 1) })
}

// TestOutcomeSettles: an outcome whose first store calls fail with a
// temporary error is retried until it lands, the lease renewed meanwhile,
// so that another node, healthy and recovering lapsed leases, never runs
// the task again; an outcome retried after a lost reply lands once.
func TestOutcomeSettles(t *testing.T) {
	tests := []struct {
		name     string
		ackFetch int  // AckFetch calls that fail
		ack      int  // Ack calls that fail after it
		land     bool // the failing calls reach the store
		// outcome calls in all: after a lost reply, the renewal may find
		// the lease gone before the retry finds the outcome recorded.
		minTries, maxTries int
	}{
		{"store unreachable", 1, 5, false, 7, 7},
		{"reply lost", 1, 0, true, 1, 2},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			b := memory.New(memory.Config{}) // the real clock: leases lapse
			defer b.Close()
			flaky := newFlaky(b.Tasks())
			const lease = 150 * time.Millisecond
			cfg := task.Config{Concurrency: 1, Lease: lease, PollInterval: 10 * time.Millisecond}
			var runs runLog
			started, release := make(chan struct{}, 10), make(chan struct{})
			def := &task.Definition{Name: "job", Handler: task.HandlerFunc(func(ctx context.Context, tk *task.Task) error {
				runs.start(tk.Attempt)
				started <- struct{}{}
				<-release
				runs.finish(tk.Attempt)
				return nil
			})}
			logs := &logRecorder{}
			cfg.NodeID, cfg.Logger = "a", slog.New(logs)
			a := start(t, flaky, cfg, def)
			if _, err := a.Enqueue(context.Background(), "job", nil); err != nil {
				t.Fatal(err)
			}
			<-started
			// A healthy node that recovers lapsed leases and would run the
			// task again.
			cfg.NodeID, cfg.Logger = "b", nil
			start(t, b.Tasks(), cfg, def)
			flaky.failNext("AckFetch", tc.ackFetch, tc.land)
			flaky.failNext("Ack", tc.ack, tc.land)
			close(release)
			backendtest.Eventually(t, "the outcome recorded", func() bool { return settled(t, b.Tasks(), task.DefaultQueue, 1) })
			if s, f := runs.counts(); s != 1 || f != 1 {
				t.Errorf("the task started %d times and finished %d times, want once", s, f)
			}
			af, _ := flaky.count("AckFetch")
			ak, _ := flaky.count("Ack")
			if n := af + ak; n < tc.minTries || n > tc.maxTries {
				t.Errorf("outcome calls: %d AckFetch + %d Ack, want %d to %d in all", af, ak, tc.minTries, tc.maxTries)
			}
			if errs := logs.at(slog.LevelError); len(errs) != 0 {
				t.Errorf("errors logged: %q", errs)
			}
		})
	}
}

// TestRecoveryWaitsAfterOutage: after its store calls failed, a node
// recovers no lapsed lease until they have succeeded for a lease, and
// MinRecoveryGrace (every holder could renew by then), and moves due delayed tasks meanwhile.
func TestRecoveryWaitsAfterOutage(t *testing.T) {
	clock := backendtest.NewClock()
	b := memory.New(memory.Config{Now: clock.Now})
	defer b.Close()
	store := b.Tasks()
	flaky := newFlaky(store)
	ctx := context.Background()
	const lease = time.Second
	start(t, flaky, task.Config{Lease: lease, PollInterval: 10 * time.Millisecond, Now: clock.Now},
		&task.Definition{Name: "job", Handler: noop})
	msg := func(id string) *task.Message {
		return &task.Message{ID: id, Name: "job", Queue: task.DefaultQueue, MaxAttempts: 3}
	}
	if ok, err := store.Enqueue(ctx, msg("held"), time.Time{}); !ok || err != nil {
		t.Fatal(ok, err)
	}
	if d, err := store.Fetch(ctx, task.DefaultQueue, "elsewhere", lease); d == nil || err != nil {
		t.Fatal(d, err)
	}
	if ok, err := store.Enqueue(ctx, msg("delayed"), clock.Now().Add(time.Second)); !ok || err != nil {
		t.Fatal(ok, err)
	}
	flaky.setDown(true)
	backendtest.Eventually(t, "a failed Forward", func() bool { _, f := flaky.count("Forward"); return f > 0 })
	clock.Advance(time.Minute) // the lease lapsed; the delayed task is due
	flaky.setDown(false)
	healed := time.Now()
	var moved, recovered time.Duration
	backendtest.Eventually(t, "the lapsed lease recovered", func() bool {
		pending, err := store.List(ctx, task.DefaultQueue, task.StatePending, 0, 0)
		if err != nil {
			t.Fatal(err)
		}
		for _, in := range pending {
			switch {
			case in.ID == "delayed" && moved == 0:
				moved = time.Since(healed)
			case in.ID == "held" && recovered == 0:
				recovered = time.Since(healed)
			}
		}
		return recovered != 0
	})
	// The last failed call was at most a poll before healed.
	grace := max(lease, task.MinRecoveryGrace)
	if recovered < grace-100*time.Millisecond {
		t.Errorf("recovered %s after the outage, within the %s grace", recovered, grace)
	}
	if recovered > grace+3*time.Second {
		t.Errorf("recovered only %s after the outage", recovered)
	}
	if moved == 0 || moved >= recovered {
		t.Errorf("the due delayed task moved %s after the outage, the lapsed lease recovered %s after: delayed tasks must not wait", moved, recovered)
	}
}

// TestRecoveryWaitsAfterSlowCall: a store call that hung, then
// succeeded (as one sent to a Redis Cluster master that failed over
// meanwhile does, once the replica took over), holds recovery back as a
// failed one does: a holder of a lease on that master could not renew it
// while the call hung, and must get the time to renew it now.
func TestRecoveryWaitsAfterSlowCall(t *testing.T) {
	clock := backendtest.NewClock()
	b := memory.New(memory.Config{Now: clock.Now})
	defer b.Close()
	store := b.Tasks()
	flaky := newFlaky(store)
	ctx := context.Background()
	const lease = 300 * time.Millisecond // renewals every 100ms: a call of 100ms is slow
	msg := &task.Message{ID: "held", Name: "job", Queue: task.DefaultQueue, MaxAttempts: 3}
	if ok, err := store.Enqueue(ctx, msg, time.Time{}); !ok || err != nil {
		t.Fatal(ok, err)
	}
	if d, err := store.Fetch(ctx, task.DefaultQueue, "elsewhere", lease); d == nil || err != nil {
		t.Fatal(d, err)
	}
	// The next Forward hangs; once it has reached the store (the lease
	// not lapsed yet), the holder's lease lapses.
	started, release := flaky.holdNext("Forward", func() { clock.Advance(time.Minute) })
	start(t, flaky, task.Config{Lease: lease, PollInterval: 10 * time.Millisecond, Now: clock.Now},
		&task.Definition{Name: "job", Handler: noop})
	<-started
	time.Sleep(2 * lease) // the call hangs for longer than a renewal period
	release()
	released := time.Now()
	var recovered time.Duration
	backendtest.Eventually(t, "the lapsed lease recovered", func() bool {
		pending, err := store.List(ctx, task.DefaultQueue, task.StatePending, 0, 0)
		if err != nil {
			t.Fatal(err)
		}
		if len(pending) == 1 && pending[0].ID == "held" {
			recovered = time.Since(released)
			return true
		}
		return false
	})
	if grace := max(lease, task.MinRecoveryGrace); recovered < grace-100*time.Millisecond {
		t.Errorf("recovered %s after a call that hung for %s, within the %s grace", recovered, 2*lease, grace)
	}
}

// overlapStore makes each lease renewal of one partition and of the
// others wait for one of the other kind to be in flight at the same time
// (or for the call's context to end), and records whether two ever were.
type overlapStore struct {
	task.Store
	slow string // the partition set apart

	mu      sync.Mutex
	waiting map[bool]chan struct{} // guarded by mu; kind (slow or not) → closed when the other kind comes
	overlap bool                   // guarded by mu; two kinds were in flight at once
}

func (s *overlapStore) Extend(ctx context.Context, queue string, leases []task.Lease, lease time.Duration) ([]bool, error) {
	kind := queue == s.slow
	s.mu.Lock()
	if ch, ok := s.waiting[!kind]; ok {
		delete(s.waiting, !kind)
		close(ch)
		s.overlap = true
		s.mu.Unlock()
		return s.Store.Extend(ctx, queue, leases, lease)
	}
	ch := make(chan struct{})
	s.waiting[kind] = ch
	s.mu.Unlock()
	select {
	case <-ch:
		return s.Store.Extend(ctx, queue, leases, lease)
	case <-ctx.Done():
		s.mu.Lock()
		if s.waiting[kind] == ch {
			delete(s.waiting, kind)
		}
		s.mu.Unlock()
		return nil, ctx.Err()
	}
}

func (s *overlapStore) overlapped() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.overlap
}

// TestPartitionsRenewedApart: the leases of each partition are renewed
// by a call of their own, made at once: a renewal that hangs (its
// partition's master failing over) does not hold up the renewals of the
// other partitions, whose masters answer. Made one after the other, two
// renewals are never in flight together.
func TestPartitionsRenewedApart(t *testing.T) {
	b := memory.New(memory.Config{})
	defer b.Close()
	store := &overlapStore{Store: b.Tasks(), slow: task.PartitionName(task.DefaultQueue, 0), waiting: map[bool]chan struct{}{}}
	ctx := context.Background()
	release := make(chan struct{})
	defer close(release)
	var running sync.WaitGroup
	running.Add(2)
	start(t, store, task.Config{Lease: 300 * time.Millisecond, Concurrency: 2, Partitions: 2},
		&task.Definition{Name: "job", Handler: task.HandlerFunc(func(ctx context.Context, _ *task.Task) error {
			running.Done()
			select {
			case <-release:
			case <-ctx.Done():
			}
			return nil
		})})
	for p := range 2 {
		m := &task.Message{ID: fmt.Sprint("p", p), Name: "job", Queue: task.DefaultQueue, Partition: p, MaxAttempts: 1}
		if ok, err := store.Enqueue(ctx, m, time.Time{}); !ok || err != nil {
			t.Fatal(ok, err)
		}
	}
	running.Wait()
	backendtest.Eventually(t, "a renewal of partition 1 while one of partition 0 hung", store.overlapped)
}
