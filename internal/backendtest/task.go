package backendtest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stellarfw/stellar-go/task"
)

// TaskStore is a backend's task store: the Store a Manager runs on and
// the AdminStore an Inspector reads, on one type.
type TaskStore interface {
	task.Store
	task.AdminStore
}

// TaskBackend is what RunTasks needs from a backend under test.
type TaskBackend struct {
	// NewStores returns n task stores on the same fresh, empty data, as n
	// nodes would open them, released when t ends, on clock.Now when
	// clock is not nil.
	NewStores func(t *testing.T, n int, clock *Clock) []TaskStore
}

// RunTasks runs the task conformance suite against a backend: first the
// contract of Store and AdminStore on a fake clock, then the Manager and
// the Inspector end to end on it.
func RunTasks(t *testing.T, b TaskBackend) {
	t.Helper()
	tests := []struct {
		name string
		fn   func(t *testing.T, e *taskEnv)
	}{
		{"EnqueueFetchAck", testTaskFIFO},
		{"AckFetch", testTaskAckFetch},
		{"DuplicateID", testTaskDuplicateID},
		{"Unique", testTaskUnique},
		{"Delayed", testTaskDelayed},
		{"LeaseLapse", testTaskLeaseLapse},
		{"LeaseExtend", testTaskLeaseExtend},
		{"ExtendPerID", testTaskExtendPerID},
		{"StaleAttemptFenced", testTaskStaleAttempt},
		{"OutcomeRetriedLandsOnce", testTaskOutcomeRetried},
		{"ForwardWithoutRecovery", testTaskForwardWithoutRecovery},
		{"LastFire", testTaskLastFire},
		{"RetryAndFail", testTaskRetryFail},
		{"Requeue", testTaskRequeue},
		{"Periodic", testTaskPeriodic},
		{"ListCountRemove", testTaskInspect},
		{"Workers", testTaskWorkers},
		{"Watch", testTaskWatch},
		{"ConcurrentFetch", testTaskConcurrentFetch},
		{"QueuePause", testTaskQueuePause},
		{"TraceStored", testTaskTraceStored},
		{"ManagerRuns", testManagerRuns},
		{"ManagerRetriesAndFails", testManagerFailures},
		{"ManagerAPI", testManagerAPI},
		{"ManagerPeriodic", testManagerPeriodic},
		{"ManagerRecoversLease", testManagerRecovers},
		{"ManagerHandsBack", testManagerHandsBack},
		{"ManagerQueuePause", testManagerQueuePause},
		{"ManagerTrace", testManagerTrace},
		{"PartitionSpread", testPartitionSpread},
		{"PartitionKeyOrder", testPartitionKeyOrder},
		{"PartitionUnique", testPartitionUnique},
		{"PartitionUpgrade", testPartitionUpgrade},
		{"PartitionUpgradeUnique", testPartitionUpgradeUnique},
		{"PartitionPause", testPartitionPause},
		{"PartitionPeriodic", testPartitionPeriodic},
		{"PartitionDelayedAndRecovered", testPartitionDelayedAndRecovered},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e := &taskEnv{clock: NewClock()}
			e.stores = b.NewStores(t, 2, e.clock)
			tc.fn(t, e)
		})
	}
}

type taskEnv struct {
	clock  *Clock
	stores []TaskStore
}

func (e *taskEnv) a() TaskStore { return e.stores[0] }
func (e *taskEnv) b() TaskStore { return e.stores[1] }

var bg = context.Background()

// Eventually polls cond until it holds, failing the test at a deadline:
// the module's one polling helper, for the tests of other packages.
func Eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	eventually(t, what, cond)
}

func msg(queue, id string) *task.Message {
	return &task.Message{ID: id, Name: "t", Queue: queue, Args: json.RawMessage(`{"n":"` + id + `"}`), MaxAttempts: 3, EnqueuedAt: 1}
}

func mustEnqueue(t *testing.T, s task.Store, m *task.Message, due time.Time) {
	t.Helper()
	ok, err := s.Enqueue(bg, m, due)
	if err != nil || !ok {
		t.Fatalf("Enqueue(%s) = %v, %v", m.ID, ok, err)
	}
}

func fetch(t *testing.T, s task.Store, queue string) *task.Delivery {
	t.Helper()
	d, err := s.Fetch(bg, queue, "w1", time.Minute)
	if err != nil {
		t.Fatalf("Fetch: %v", err)
	}
	return d
}

func fetchID(t *testing.T, s task.Store, queue string) string {
	t.Helper()
	d := fetch(t, s, queue)
	if d == nil {
		return ""
	}
	return d.ID
}

func counts(t *testing.T, s task.AdminStore, queue string) task.QueueStats {
	t.Helper()
	c, err := s.Counts(bg, queue)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func testTaskFIFO(t *testing.T, e *taskEnv) {
	for i := range 3 {
		mustEnqueue(t, e.a(), msg("q", "id"+strconv.Itoa(i)), time.Time{})
	}
	if c := counts(t, e.b(), "q"); c.Pending != 3 {
		t.Fatalf("pending = %d, want 3", c.Pending)
	}
	d := fetch(t, e.b(), "q")
	if d == nil || d.ID != "id0" || d.Attempt != 1 || string(d.Args) != `{"n":"id0"}` || d.Name != "t" || d.MaxAttempts != 3 {
		t.Fatalf("first fetch = %+v", d)
	}
	if want := e.clock.Now().Add(time.Minute); !d.LeaseUntil.Equal(want) {
		t.Errorf("LeaseUntil = %v, want %v", d.LeaseUntil, want)
	}
	if got := fetchID(t, e.a(), "q"); got != "id1" {
		t.Fatalf("second fetch = %q", got)
	}
	if c := counts(t, e.a(), "q"); c.Pending != 1 || c.Running != 2 {
		t.Fatalf("counts = %+v", c)
	}
	if err := e.a().Ack(bg, d); err != nil {
		t.Fatal(err)
	}
	if err := e.b().Ack(bg, d); !errors.Is(err, task.ErrLeaseLost) {
		t.Fatalf("second Ack = %v, want ErrLeaseLost", err)
	}
	if c := counts(t, e.a(), "q"); c.Running != 1 || c.Processed != 1 {
		t.Fatalf("counts = %+v", c)
	}
	if got := fetchID(t, e.a(), "other"); got != "" {
		t.Fatalf("fetch from an empty queue = %q", got)
	}
	names, err := e.b().Queues(bg)
	if err != nil || !slices.Contains(names, "q") {
		t.Fatalf("Queues = %v, %v", names, err)
	}
}

func testTaskAckFetch(t *testing.T, e *taskEnv) {
	m := msg("q", "a")
	m.Unique = "ua"
	mustEnqueue(t, e.a(), m, time.Time{})
	mustEnqueue(t, e.a(), msg("q", "b"), time.Time{})
	d := fetch(t, e.a(), "q")
	next, acked, err := e.b().AckFetch(bg, d, "w2", time.Minute)
	if err != nil || !acked || next == nil || next.ID != "b" || next.Attempt != 1 || string(next.Args) != `{"n":"b"}` {
		t.Fatalf("AckFetch = %+v, %v, %v", next, acked, err)
	}
	if locks, _ := e.a().Locks(bg, "q"); len(locks) != 0 {
		t.Fatalf("unique key kept: %+v", locks)
	}
	// The stale delivery no longer holds its lease; the fetch still works.
	mustEnqueue(t, e.a(), msg("q", "c"), time.Time{})
	next2, acked, err := e.a().AckFetch(bg, d, "w1", time.Minute)
	if err != nil || acked || next2 == nil || next2.ID != "c" {
		t.Fatalf("stale AckFetch = %+v, %v, %v", next2, acked, err)
	}
	last, acked, err := e.a().AckFetch(bg, next, "w1", time.Minute)
	if err != nil || !acked || last != nil {
		t.Fatalf("AckFetch on an empty queue = %+v, %v, %v", last, acked, err)
	}
	if c := counts(t, e.a(), "q"); c.Processed != 2 || c.Running != 1 || c.Pending != 0 {
		t.Fatalf("counts = %+v", c)
	}
}

func testTaskDuplicateID(t *testing.T, e *taskEnv) {
	mustEnqueue(t, e.a(), msg("q", "x"), time.Time{})
	ok, err := e.b().Enqueue(bg, msg("q", "x"), time.Time{})
	if ok || err != nil {
		t.Fatalf("second Enqueue of one id = %v, %v; want false, nil", ok, err)
	}
	if c := counts(t, e.a(), "q"); c.Pending != 1 {
		t.Fatalf("pending = %d", c.Pending)
	}
}

func testTaskUnique(t *testing.T, e *taskEnv) {
	m := msg("q", "u1")
	m.Unique = "key"
	mustEnqueue(t, e.a(), m, time.Time{})
	m2 := msg("q", "u2")
	m2.Unique = "key"
	if _, err := e.b().Enqueue(bg, m2, time.Time{}); !errors.Is(err, task.ErrDuplicateTask) {
		t.Fatalf("pending duplicate: %v", err)
	}
	locks, err := e.a().Locks(bg, "q")
	if err != nil || len(locks) != 1 || locks[0].Key != "key" || locks[0].TaskID != "u1" {
		t.Fatalf("Locks = %+v, %v", locks, err)
	}
	d := fetch(t, e.a(), "q")
	if _, err := e.b().Enqueue(bg, m2, time.Time{}); !errors.Is(err, task.ErrDuplicateTask) {
		t.Fatalf("running duplicate: %v", err)
	}
	if err := e.a().Ack(bg, d); err != nil {
		t.Fatal(err)
	}
	mustEnqueue(t, e.b(), m2, time.Time{})
	// A released lock frees the key; so does removing the task.
	if ok, err := e.a().DelLock(bg, "q", "key"); !ok || err != nil {
		t.Fatalf("DelLock = %v, %v", ok, err)
	}
	m3 := msg("q", "u3")
	m3.Unique = "key"
	mustEnqueue(t, e.a(), m3, time.Time{})
	if ok, _ := e.a().Remove(bg, "q", "u3", task.StatePending); !ok {
		t.Fatal("Remove failed")
	}
	m4 := msg("q", "u4")
	m4.Unique = "key"
	mustEnqueue(t, e.a(), m4, e.clock.Now().Add(time.Hour))
	if _, err := e.b().Enqueue(bg, m3, time.Time{}); !errors.Is(err, task.ErrDuplicateTask) {
		t.Fatalf("delayed duplicate: %v", err)
	}
}

func testTaskDelayed(t *testing.T, e *taskEnv) {
	now := e.clock.Now()
	mustEnqueue(t, e.a(), msg("q", "later"), now.Add(2*time.Second))
	mustEnqueue(t, e.a(), msg("q", "soon"), now.Add(time.Second))
	if c := counts(t, e.a(), "q"); c.Delayed != 2 || c.Pending != 0 {
		t.Fatalf("counts = %+v", c)
	}
	infos, err := e.b().List(bg, "q", task.StateDelayed, 0, 0)
	if err != nil || len(infos) != 2 || infos[0].ID != "soon" || !infos[0].RunAt.Equal(now.Add(time.Second)) {
		t.Fatalf("List delayed = %+v, %v", infos, err)
	}
	if moved, _, err := e.b().Forward(bg, "q", true); moved != 0 || err != nil {
		t.Fatalf("Forward before due = %d, %v", moved, err)
	}
	e.clock.Advance(time.Second)
	// Two nodes forwarding at once move each task exactly once.
	var wg sync.WaitGroup
	var total atomic.Int64
	for _, s := range e.stores {
		wg.Go(func() {
			moved, _, err := s.Forward(bg, "q", true)
			if err != nil {
				t.Error(err)
			}
			total.Add(int64(moved))
		})
	}
	wg.Wait()
	if total.Load() != 1 {
		t.Fatalf("moved %d, want 1", total.Load())
	}
	if d := fetch(t, e.a(), "q"); d == nil || d.ID != "soon" {
		t.Fatalf("fetch = %+v", d)
	} else if err := e.a().Ack(bg, d); err != nil {
		t.Fatal(err)
	}
	e.clock.Advance(time.Hour)
	if moved, _, _ := e.a().Forward(bg, "q", true); moved != 1 {
		t.Fatalf("moved %d", moved)
	}
	if got := fetchID(t, e.a(), "q"); got != "later" {
		t.Fatalf("fetch = %q", got)
	}
}

func testTaskLeaseLapse(t *testing.T, e *taskEnv) {
	mustEnqueue(t, e.a(), msg("q", "a"), time.Time{})
	mustEnqueue(t, e.a(), msg("q", "b"), time.Time{})
	d, err := e.a().Fetch(bg, "q", "dead", 10*time.Second)
	if err != nil || d.ID != "a" {
		t.Fatal(d, err)
	}
	running, _ := e.b().List(bg, "q", task.StateRunning, 0, 0)
	if len(running) != 1 || running[0].Worker != "dead" || !running[0].LeaseUntil.Equal(e.clock.Now().Add(10*time.Second)) {
		t.Fatalf("running = %+v", running)
	}
	e.clock.Advance(10 * time.Second)
	_, recovered, err := e.b().Forward(bg, "q", true)
	if err != nil || recovered != 1 {
		t.Fatalf("recovered %d, %v", recovered, err)
	}
	// The recovered task runs next, as its second attempt; the dead
	// worker's outcome no longer counts.
	d2 := fetch(t, e.b(), "q")
	if d2.ID != "a" || d2.Attempt != 2 {
		t.Fatalf("after recovery fetch = %s attempt %d", d2.ID, d2.Attempt)
	}
	if err := e.a().Fail(bg, d, task.Failure{Error: "x"}); err != nil && !errors.Is(err, task.ErrLeaseLost) {
		t.Fatal(err)
	}
	if err := e.b().Ack(bg, d2); err != nil {
		t.Fatalf("Ack by the new holder: %v", err)
	}
}

func testTaskLeaseExtend(t *testing.T, e *taskEnv) {
	mustEnqueue(t, e.a(), msg("q", "a"), time.Time{})
	d, _ := e.a().Fetch(bg, "q", "w", 10*time.Second)
	for range 5 {
		e.clock.Advance(5 * time.Second)
		held, err := e.a().Extend(bg, "q", []task.Lease{{ID: d.ID, Attempt: d.Attempt}, {ID: "gone", Attempt: 1}}, 10*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(held, []bool{true, false}) {
			t.Fatalf("Extend = %v, want [true false]", held)
		}
		if _, rec, _ := e.b().Forward(bg, "q", true); rec != 0 {
			t.Fatal("a renewed lease was recovered")
		}
	}
	running, _ := e.b().List(bg, "q", task.StateRunning, 0, 0)
	if len(running) != 1 || !running[0].LeaseUntil.Equal(e.clock.Now().Add(10*time.Second)) {
		t.Fatalf("running = %+v", running)
	}
	// A lease past its deadline that no node recovered is still held.
	e.clock.Advance(20 * time.Second)
	if held, err := e.a().Extend(bg, "q", []task.Lease{{ID: d.ID, Attempt: d.Attempt}}, 10*time.Second); err != nil || !slices.Equal(held, []bool{true}) {
		t.Fatalf("Extend of a lapsed, unrecovered lease = %v, %v", held, err)
	}
	if err := e.a().Ack(bg, d); err != nil {
		t.Fatal(err)
	}
	// Extending a finished task does not bring it back.
	if held, err := e.a().Extend(bg, "q", []task.Lease{{ID: d.ID, Attempt: d.Attempt}}, time.Minute); err != nil || !slices.Equal(held, []bool{false}) {
		t.Fatalf("Extend of an acknowledged task = %v, %v", held, err)
	}
	if c := counts(t, e.a(), "q"); c.Running != 0 {
		t.Fatalf("counts = %+v", c)
	}
	if held, err := e.a().Extend(bg, "nosuchqueue", []task.Lease{{ID: "x", Attempt: 1}}, time.Minute); err != nil || !slices.Equal(held, []bool{false}) {
		t.Fatalf("Extend in an unknown queue = %v, %v", held, err)
	}
}

// testTaskExtendPerID: Extend answers for each lease in order, renewing
// only those running under the attempt named.
func testTaskExtendPerID(t *testing.T, e *taskEnv) {
	for _, id := range []string{"a", "b", "c"} {
		mustEnqueue(t, e.a(), msg("q", id), time.Time{})
	}
	da, _ := e.a().Fetch(bg, "q", "w", 10*time.Second)
	db, _ := e.a().Fetch(bg, "q", "w", 10*time.Second)
	if err := e.a().Ack(bg, db); err != nil {
		t.Fatal(err)
	}
	// c is pending: not running, so not renewable.
	e.clock.Advance(5 * time.Second)
	leases := []task.Lease{
		{ID: "a", Attempt: da.Attempt}, {ID: "b", Attempt: db.Attempt}, {ID: "c", Attempt: 0},
		{ID: "a", Attempt: da.Attempt + 1}, {ID: "nope", Attempt: 1}, {ID: "a", Attempt: da.Attempt},
	}
	held, err := e.b().Extend(bg, "q", leases, 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if want := []bool{true, false, false, false, false, true}; !slices.Equal(held, want) {
		t.Fatalf("Extend = %v, want %v", held, want)
	}
	running, _ := e.b().List(bg, "q", task.StateRunning, 0, 0)
	if len(running) != 1 || running[0].ID != "a" || !running[0].LeaseUntil.Equal(e.clock.Now().Add(10*time.Second)) {
		t.Fatalf("running = %+v", running)
	}
	if held, err := e.b().Extend(bg, "q", nil, time.Second); err != nil || len(held) != 0 {
		t.Fatalf("Extend of nothing = %v, %v", held, err)
	}
}

// testTaskStaleAttempt: once a lapsed lease was recovered, the worker of
// the old attempt can neither renew it nor record any outcome, before
// the task runs again and while it does; the new holder is not
// disturbed.
func testTaskStaleAttempt(t *testing.T, e *taskEnv) {
	m := msg("q", "s")
	m.Unique = "us"
	mustEnqueue(t, e.a(), m, time.Time{})
	stale, _ := e.a().Fetch(bg, "q", "frozen", 10*time.Second)
	if stale == nil || stale.Attempt != 1 {
		t.Fatalf("fetch = %+v", stale)
	}
	e.clock.Advance(10 * time.Second)
	if _, rec, err := e.b().Forward(bg, "q", true); err != nil || rec != 1 {
		t.Fatalf("Forward recovered %d, %v", rec, err)
	}
	// AckFetch also takes the next task: it is checked once the queue is
	// empty, while the task runs again.
	refused := func(when string, ackFetch bool) {
		t.Helper()
		held, err := e.a().Extend(bg, "q", []task.Lease{{ID: stale.ID, Attempt: stale.Attempt}}, time.Hour)
		if err != nil || !slices.Equal(held, []bool{false}) {
			t.Errorf("%s: stale Extend = %v, %v; want [false]", when, held, err)
		}
		for name, op := range map[string]func() error{
			"Ack":     func() error { return e.a().Ack(bg, stale) },
			"Retry":   func() error { return e.a().Retry(bg, stale, e.clock.Now(), "late") },
			"Fail":    func() error { return e.a().Fail(bg, stale, task.Failure{Error: "late", FailedAt: e.clock.Now()}) },
			"Requeue": func() error { return e.a().Requeue(bg, stale) },
		} {
			if err := op(); !errors.Is(err, task.ErrLeaseLost) {
				t.Errorf("%s: stale %s = %v, want ErrLeaseLost", when, name, err)
			}
		}
		if !ackFetch {
			return
		}
		if next, acked, err := e.a().AckFetch(bg, stale, "frozen", time.Minute); err != nil || acked || next != nil {
			t.Errorf("%s: stale AckFetch = %+v, %v, %v; want nothing", when, next, acked, err)
		}
	}
	refused("recovered, pending", false)
	if c := counts(t, e.b(), "q"); c.Pending != 1 || c.Running != 0 || c.Delayed != 0 || c.Failed != 0 || c.Processed != 0 {
		t.Fatalf("after stale outcomes, counts = %+v", c)
	}
	fresh, _ := e.b().Fetch(bg, "q", "alive", 10*time.Second)
	if fresh == nil || fresh.ID != "s" || fresh.Attempt != 2 {
		t.Fatalf("fetch = %+v", fresh)
	}
	refused("running again", true)
	running, _ := e.b().List(bg, "q", task.StateRunning, 0, 0)
	if len(running) != 1 || running[0].Worker != "alive" || running[0].Attempt != 2 || !running[0].LeaseUntil.Equal(e.clock.Now().Add(10*time.Second)) {
		t.Fatalf("the stale worker disturbed the new holder: %+v", running)
	}
	if locks, _ := e.a().Locks(bg, "q"); len(locks) != 1 || locks[0].TaskID != "s" {
		t.Fatalf("the stale worker released the unique key: %+v", locks)
	}
	if held, err := e.b().Extend(bg, "q", []task.Lease{{ID: fresh.ID, Attempt: fresh.Attempt}}, 10*time.Second); err != nil || !slices.Equal(held, []bool{true}) {
		t.Fatalf("the holder's Extend = %v, %v", held, err)
	}
	if err := e.b().Ack(bg, fresh); err != nil {
		t.Fatalf("the holder's Ack = %v", err)
	}
	if c := counts(t, e.a(), "q"); c.Processed != 1 || c.Running != 0 || c.Pending != 0 || c.FailedTotal != 0 {
		t.Fatalf("counts = %+v", c)
	}
}

// testTaskOutcomeRetried: an outcome retried after a lost reply (the
// first call landed, the caller did not learn it) does nothing the
// second time and says the lease is gone; the task does not run again.
func testTaskOutcomeRetried(t *testing.T, e *taskEnv) {
	type outcome struct {
		name string
		call func(s TaskStore, d *task.Delivery) error
		want func(c task.QueueStats) bool
	}
	outcomes := []outcome{
		{"Ack", func(s TaskStore, d *task.Delivery) error { return s.Ack(bg, d) },
			func(c task.QueueStats) bool { return c.Processed == 1 && c.Pending+c.Delayed+c.Running+c.Failed == 0 }},
		{"AckFetch", func(s TaskStore, d *task.Delivery) error {
			next, acked, err := s.AckFetch(bg, d, "w", time.Minute)
			if err == nil && next != nil {
				return fmt.Errorf("AckFetch took %s from an empty queue", next.ID)
			}
			if err == nil && !acked {
				return task.ErrLeaseLost
			}
			return err
		}, func(c task.QueueStats) bool { return c.Processed == 1 && c.Pending+c.Delayed+c.Running+c.Failed == 0 }},
		{"Retry", func(s TaskStore, d *task.Delivery) error { return s.Retry(bg, d, e.clock.Now().Add(time.Hour), "boom") },
			func(c task.QueueStats) bool {
				return c.Delayed == 1 && c.Pending+c.Running+c.Failed == 0 && c.Processed == 0
			}},
		{"Fail", func(s TaskStore, d *task.Delivery) error {
			return s.Fail(bg, d, task.Failure{Error: "boom", FailedAt: e.clock.Now()})
		}, func(c task.QueueStats) bool {
			return c.Failed == 1 && c.FailedTotal == 1 && c.Pending+c.Running+c.Delayed == 0
		}},
		{"Requeue", func(s TaskStore, d *task.Delivery) error { return s.Requeue(bg, d) },
			func(c task.QueueStats) bool { return c.Pending == 1 && c.Running+c.Delayed+c.Failed == 0 }},
	}
	for _, o := range outcomes {
		q := "q" + o.name
		mustEnqueue(t, e.a(), msg(q, o.name), time.Time{})
		d, _ := e.a().Fetch(bg, q, "w", 10*time.Second)
		if err := o.call(e.a(), d); err != nil {
			t.Fatalf("%s = %v", o.name, err)
		}
		// The retry, from this node or another connection.
		if err := o.call(e.b(), d); !errors.Is(err, task.ErrLeaseLost) {
			t.Errorf("%s retried = %v, want ErrLeaseLost", o.name, err)
		}
		if c := counts(t, e.a(), q); !o.want(c) {
			t.Errorf("%s twice: counts = %+v", o.name, c)
		}
		// Nothing is left to recover: the task does not run again.
		e.clock.Advance(11 * time.Second)
		if _, rec, err := e.b().Forward(bg, q, true); err != nil || rec != 0 {
			t.Errorf("%s: Forward recovered %d, %v", o.name, rec, err)
		}
	}
}

// testTaskForwardWithoutRecovery: Forward told not to recover lapsed
// leases still moves the due delayed tasks, each once.
func testTaskForwardWithoutRecovery(t *testing.T, e *taskEnv) {
	mustEnqueue(t, e.a(), msg("q", "run"), time.Time{})
	d, _ := e.a().Fetch(bg, "q", "w", time.Second)
	mustEnqueue(t, e.a(), msg("q", "later"), e.clock.Now().Add(time.Second))
	e.clock.Advance(2 * time.Second)
	moved, rec, err := e.b().Forward(bg, "q", false)
	if err != nil || moved != 1 || rec != 0 {
		t.Fatalf("Forward(no recovery) = %d, %d, %v; want 1, 0", moved, rec, err)
	}
	if running, _ := e.b().List(bg, "q", task.StateRunning, 0, 0); len(running) != 1 || running[0].ID != d.ID {
		t.Fatalf("running = %+v", running)
	}
	moved, rec, err = e.a().Forward(bg, "q", true)
	if err != nil || moved != 0 || rec != 1 {
		t.Fatalf("Forward(recovery) = %d, %d, %v; want 0, 1", moved, rec, err)
	}
	if c := counts(t, e.a(), "q"); c.Pending != 2 || c.Running != 0 {
		t.Fatalf("counts = %+v", c)
	}
}

func testTaskRetryFail(t *testing.T, e *taskEnv) {
	m := msg("q", "r")
	m.Unique = "uk"
	mustEnqueue(t, e.a(), m, time.Time{})
	d := fetch(t, e.a(), "q")
	if err := e.a().Retry(bg, d, e.clock.Now().Add(time.Second), "boom"); err != nil {
		t.Fatal(err)
	}
	delayed, _ := e.b().List(bg, "q", task.StateDelayed, 0, 0)
	if len(delayed) != 1 || delayed[0].LastError != "boom" || delayed[0].Attempt != 1 {
		t.Fatalf("delayed = %+v", delayed)
	}
	e.clock.Advance(time.Second)
	_, _, _ = e.b().Forward(bg, "q", true)
	d = fetch(t, e.b(), "q")
	if d == nil || d.Attempt != 2 {
		t.Fatalf("retry fetch = %+v", d)
	}
	failedAt := e.clock.Now()
	if err := e.b().Fail(bg, d, task.Failure{Error: "boom2", Stack: "stack", Attempts: 2, FailedAt: failedAt, Worker: "w1"}); err != nil {
		t.Fatal(err)
	}
	c := counts(t, e.a(), "q")
	if c.Failed != 1 || c.FailedTotal != 1 || c.Running != 0 {
		t.Fatalf("counts = %+v", c)
	}
	failed, err := e.a().List(bg, "q", task.StateFailed, 0, 0)
	if err != nil || len(failed) != 1 || failed[0].Failure == nil {
		t.Fatalf("failed = %+v, %v", failed, err)
	}
	f := failed[0]
	if f.Failure.Error != "boom2" || f.Failure.Stack != "stack" || f.Failure.Attempts != 2 || !f.Failure.FailedAt.Equal(failedAt) || f.Name != "t" {
		t.Fatalf("failure = %+v %+v", f, f.Failure)
	}
	// A failed task releases its unique key.
	m2 := msg("q", "r2")
	m2.Unique = "uk"
	mustEnqueue(t, e.a(), m2, time.Time{})
	if ok, _ := e.a().Remove(bg, "q", "r2", task.StatePending); !ok {
		t.Fatal("remove")
	}
	if ok, err := e.b().RetryFailed(bg, "q", "r"); !ok || err != nil {
		t.Fatalf("RetryFailed = %v, %v", ok, err)
	}
	if ok, _ := e.b().RetryFailed(bg, "q", "r"); ok {
		t.Fatal("RetryFailed twice")
	}
	d = fetch(t, e.a(), "q")
	if d == nil || d.ID != "r" || d.Attempt != 1 {
		t.Fatalf("retried fetch = %+v", d)
	}
	if err := e.a().Fail(bg, d, task.Failure{Error: "again", FailedAt: e.clock.Now()}); err != nil {
		t.Fatal(err)
	}
	if ok, _ := e.a().Remove(bg, "q", "r", task.StateFailed); !ok {
		t.Fatal("Remove failed task")
	}
	if c := counts(t, e.a(), "q"); c.Failed != 0 || c.FailedTotal != 2 {
		t.Fatalf("counts = %+v", c)
	}
}

func testTaskRequeue(t *testing.T, e *taskEnv) {
	mustEnqueue(t, e.a(), msg("q", "a"), time.Time{})
	mustEnqueue(t, e.a(), msg("q", "b"), time.Time{})
	d := fetch(t, e.a(), "q")
	if err := e.a().Requeue(bg, d); err != nil {
		t.Fatal(err)
	}
	if err := e.a().Requeue(bg, d); !errors.Is(err, task.ErrLeaseLost) {
		t.Fatalf("second Requeue = %v", err)
	}
	if got := fetchID(t, e.b(), "q"); got != "a" {
		t.Fatalf("handed-back task is not next: %q", got)
	}
}

func testTaskPeriodic(t *testing.T, e *taskEnv) {
	pm := func(fire int64) *task.Message {
		return &task.Message{ID: "p:" + strconv.FormatInt(fire, 10), Name: "tick", Queue: "q", FireAt: fire, MaxAttempts: 1}
	}
	// Every node schedules; one run per fire time.
	var wg sync.WaitGroup
	var n atomic.Int64
	for i := range 4 {
		wg.Go(func() {
			ok, err := e.stores[i%2].EnqueuePeriodic(bg, pm(1000))
			if err != nil {
				t.Error(err)
			}
			if ok {
				n.Add(1)
			}
		})
	}
	wg.Wait()
	if n.Load() != 1 {
		t.Fatalf("%d enqueues of one fire time", n.Load())
	}
	d := fetch(t, e.a(), "q")
	_ = e.a().Ack(bg, d)
	// Done, the same fire time stays done; an older one is refused too.
	for _, fire := range []int64{1000, 500} {
		if ok, err := e.b().EnqueuePeriodic(bg, pm(fire)); ok || err != nil {
			t.Fatalf("fire %d again = %v, %v", fire, ok, err)
		}
	}
	if ok, _ := e.b().EnqueuePeriodic(bg, pm(2000)); !ok {
		t.Fatal("next fire time refused")
	}
	if err := e.a().SetRecurrent(bg, "q", "tick", true); err != nil {
		t.Fatal(err)
	}
	if stopped, _ := e.b().RecurrentStopped(bg, "q", "tick"); !stopped {
		t.Fatal("not stopped on the other node")
	}
	if _, err := e.b().EnqueuePeriodic(bg, pm(3000)); !errors.Is(err, task.ErrRecurrentStopped) {
		t.Fatalf("stopped enqueue = %v", err)
	}
	_ = e.b().SetRecurrent(bg, "q", "tick", false)
	if ok, _ := e.a().EnqueuePeriodic(bg, pm(3000)); !ok {
		t.Fatal("restarted enqueue refused")
	}
}

func testTaskLastFire(t *testing.T, e *taskEnv) {
	if last, err := e.a().LastFire(bg, "q", "tick"); err != nil || !last.IsZero() {
		t.Fatalf("LastFire before any = %v, %v", last, err)
	}
	fire := e.clock.Now().Truncate(time.Minute)
	m := &task.Message{ID: "p", Name: "tick", Queue: "q", FireAt: fire.UnixMilli(), MaxAttempts: 1}
	if ok, err := e.a().EnqueuePeriodic(bg, m); !ok || err != nil {
		t.Fatalf("EnqueuePeriodic = %v, %v", ok, err)
	}
	if last, err := e.b().LastFire(bg, "q", "tick"); err != nil || !last.Equal(fire) {
		t.Fatalf("LastFire = %v, %v; want %v", last, err, fire)
	}
	if last, _ := e.b().LastFire(bg, "q", "other"); !last.IsZero() {
		t.Fatalf("LastFire of another task = %v", last)
	}
}

func testTaskInspect(t *testing.T, e *taskEnv) {
	for i := range 5 {
		mustEnqueue(t, e.a(), msg("q", "p"+strconv.Itoa(i)), time.Time{})
	}
	infos, err := e.b().List(bg, "q", task.StatePending, 1, 2)
	if err != nil || len(infos) != 2 || infos[0].ID != "p1" || infos[1].ID != "p2" || infos[0].State != task.StatePending {
		t.Fatalf("List page = %+v, %v", infos, err)
	}
	if string(infos[0].Args) != `{"n":"p1"}` {
		t.Fatalf("args = %s", infos[0].Args)
	}
	if ok, _ := e.b().Remove(bg, "q", "p3", task.StatePending); !ok {
		t.Fatal("Remove pending")
	}
	if ok, _ := e.b().Remove(bg, "q", "p4", task.StateDelayed); ok {
		t.Fatal("Remove in the wrong state")
	}
	if ok, _ := e.b().Remove(bg, "q", "nope", task.StatePending); ok {
		t.Fatal("Remove of a missing task")
	}
	all, _ := e.a().List(bg, "q", task.StatePending, 0, 0)
	var ids []string
	for _, in := range all {
		ids = append(ids, in.ID)
	}
	if fmt.Sprint(ids) != "[p0 p1 p2 p4]" {
		t.Fatalf("pending = %v", ids)
	}
	n, err := e.a().RemoveQueue(bg, "q")
	if err != nil || n != 4 {
		t.Fatalf("RemoveQueue = %d, %v", n, err)
	}
	if got := fetchID(t, e.a(), "q"); got != "" {
		t.Fatalf("fetch after RemoveQueue = %q", got)
	}
}

func testTaskWorkers(t *testing.T, e *taskEnv) {
	w := task.WorkerInfo{ID: "n1:x", Node: "n1", Queues: []string{"a", "b"}, Concurrency: 4, StartedAt: e.clock.Now(), Heartbeat: e.clock.Now()}
	if err := e.a().Heartbeat(bg, w, 10*time.Second); err != nil {
		t.Fatal(err)
	}
	ws, err := e.b().Workers(bg)
	if err != nil || len(ws) != 1 || ws[0].ID != "n1:x" || ws[0].Concurrency != 4 || len(ws[0].Queues) != 2 {
		t.Fatalf("Workers = %+v, %v", ws, err)
	}
	e.clock.Advance(11 * time.Second)
	if ws, _ := e.b().Workers(bg); len(ws) != 0 {
		t.Fatalf("a silent worker is listed: %+v", ws)
	}
	_ = e.a().Heartbeat(bg, w, 10*time.Second)
	_ = e.b().RemoveWorker(bg, w.ID)
	if ws, _ := e.a().Workers(bg); len(ws) != 0 {
		t.Fatalf("a removed worker is listed: %+v", ws)
	}
}

func testTaskWatch(t *testing.T, e *taskEnv) {
	ctx, cancel := context.WithCancel(bg)
	woke := make(chan string, 100)
	done := make(chan error, 1)
	go func() { done <- e.b().Watch(ctx, func(q string) { woke <- q }) }()
	// The first wake-up says the watch is on (and after a reconnection).
	select {
	case <-woke:
	case <-time.After(5 * time.Second):
		t.Fatal("no wake-up when the watch started")
	}
	// Subscribing may lag the first call; enqueue until a wake-up names q.
	deadline := time.Now().Add(5 * time.Second)
	for i := 0; ; i++ {
		mustEnqueue(t, e.a(), msg("wq", "w"+strconv.Itoa(i)), time.Time{})
		got := ""
		select {
		case got = <-woke:
		case <-time.After(100 * time.Millisecond):
		}
		if got == "wq" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("no wake-up after an enqueue into an empty queue")
		}
		for fetchID(t, e.a(), "wq") != "" {
		}
	}
	cancel()
	select {
	case err := <-done:
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("Watch returned %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Watch did not return when its context ended")
	}
}

func testTaskConcurrentFetch(t *testing.T, e *taskEnv) {
	const n = 300
	for i := range n {
		mustEnqueue(t, e.a(), msg("q", "c"+strconv.Itoa(i)), time.Time{})
	}
	var mu sync.Mutex
	seen := map[string]int{}
	var wg sync.WaitGroup
	for i := range 8 {
		s := e.stores[i%2]
		wg.Go(func() {
			for {
				d, err := s.Fetch(bg, "q", "w"+strconv.Itoa(i), time.Minute)
				if err != nil {
					t.Error(err)
					return
				}
				if d == nil {
					return
				}
				mu.Lock()
				seen[d.ID]++
				mu.Unlock()
				if err := s.Ack(bg, d); err != nil {
					t.Error(err)
				}
			}
		})
	}
	wg.Wait()
	if len(seen) != n {
		t.Fatalf("fetched %d distinct tasks, want %d", len(seen), n)
	}
	for id, c := range seen {
		if c != 1 {
			t.Fatalf("%s fetched %d times", id, c)
		}
	}
	if c := counts(t, e.a(), "q"); c.Processed != n {
		t.Fatalf("processed = %d", c.Processed)
	}
}

// testTaskQueuePause: a queue paused through one store gives nothing to
// Fetch or AckFetch on any store, keeps its pending tasks, still moves its
// due delayed tasks, and is listed until it is resumed; resuming wakes the
// watchers.
func testTaskQueuePause(t *testing.T, e *taskEnv) {
	now := e.clock.Now()
	mustEnqueue(t, e.a(), msg("pq", "p1"), time.Time{})
	mustEnqueue(t, e.a(), msg("pq", "p2"), time.Time{})
	mustEnqueue(t, e.a(), msg("pq", "later"), now.Add(time.Second))
	mustEnqueue(t, e.a(), msg("other", "o1"), time.Time{})
	running := fetch(t, e.a(), "pq")
	if running == nil || running.ID != "p1" {
		t.Fatalf("fetch before the pause = %+v", running)
	}
	if got, err := e.a().PausedQueues(bg); err != nil || len(got) != 0 {
		t.Fatalf("PausedQueues before any pause = %v, %v", got, err)
	}

	for range 2 { // pausing twice is pausing once
		if err := e.b().SetQueuePaused(bg, "pq", true); err != nil {
			t.Fatal(err)
		}
	}
	if err := e.b().SetQueuePaused(bg, "fresh", true); err != nil {
		t.Fatal(err)
	}
	got, err := e.a().PausedQueues(bg)
	if err != nil || !slices.Equal(got, []string{"fresh", "pq"}) {
		t.Fatalf("PausedQueues = %v, %v; want [fresh pq]", got, err)
	}
	if names, _ := e.a().Queues(bg); !slices.Contains(names, "fresh") {
		t.Fatalf("a queue paused before its first task is not among Queues: %v", names)
	}
	for _, s := range e.stores {
		if d := fetch(t, s, "pq"); d != nil {
			t.Fatalf("Fetch from a paused queue = %+v", d)
		}
	}
	if got := fetchID(t, e.a(), "other"); got != "o1" {
		t.Fatalf("fetch from a queue that is not paused = %q", got)
	}
	next, acked, err := e.a().AckFetch(bg, running, "w1", time.Minute)
	if err != nil || !acked || next != nil {
		t.Fatalf("AckFetch in a paused queue = %+v, %v, %v; want acked and nothing taken", next, acked, err)
	}
	e.clock.Advance(time.Second)
	if moved, _, err := e.b().Forward(bg, "pq", true); moved != 1 || err != nil {
		t.Fatalf("Forward in a paused queue = %d, %v; want the due task moved", moved, err)
	}
	if c := counts(t, e.a(), "pq"); !c.Paused || c.Pending != 2 || c.Running != 0 || c.Processed != 1 {
		t.Fatalf("counts of the paused queue = %+v", c)
	}

	ctx, cancel := context.WithCancel(bg)
	defer cancel()
	woke := make(chan string, 100)
	go func() { _ = e.a().Watch(ctx, func(q string) { woke <- q }) }()
	select {
	case <-woke: // the watch is on
	case <-time.After(5 * time.Second):
		t.Fatal("no wake-up when the watch started")
	}
	// Subscribing may lag the first wake-up: resume until one names pq
	// (resuming a queue that is not paused does nothing more).
	deadline := time.Now().Add(5 * time.Second)
	for named := false; !named; {
		if err := e.b().SetQueuePaused(bg, "pq", false); err != nil {
			t.Fatal(err)
		}
		timeout := time.After(100 * time.Millisecond)
	drain:
		for {
			select {
			case q := <-woke:
				if q == task.AllPartitions("pq") {
					named = true
					break drain
				}
			case <-timeout:
				break drain
			}
		}
		if !named && time.Now().After(deadline) {
			t.Fatal("no wake-up naming the queue when it was resumed")
		}
	}
	if c := counts(t, e.a(), "pq"); c.Paused {
		t.Fatalf("counts after resume = %+v", c)
	}
	if got, err := e.b().PausedQueues(bg); err != nil || !slices.Equal(got, []string{"fresh"}) {
		t.Fatalf("PausedQueues after resume = %v, %v; want [fresh]", got, err)
	}
	if got := fetchID(t, e.b(), "pq"); got != "p2" {
		t.Fatalf("fetch after resume = %q, want p2", got)
	}
	if got := fetchID(t, e.a(), "pq"); got != "later" {
		t.Fatalf("second fetch after resume = %q, want the delayed task", got)
	}
}
