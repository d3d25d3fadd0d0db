package backendtest

import (
	"context"
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stellarfw/stellar-go/action"
	"github.com/stellarfw/stellar-go/internal/lifecycle"
	"github.com/stellarfw/stellar-go/task"
)

// manager returns a Manager started on s, stopped when t ends, with one
// partition per queue (the partition cases set their own).
func (e *taskEnv) manager(t *testing.T, s task.Store, node string, concurrency int, defs ...*task.Definition) *task.Manager {
	t.Helper()
	return e.managerWith(t, s, task.Config{NodeID: node, Concurrency: concurrency, Partitions: 1}, defs...)
}

// managerWith returns a Manager started on s with cfg, the test's clock
// and short intervals, stopped when t ends.
func (e *taskEnv) managerWith(t *testing.T, s task.Store, cfg task.Config, defs ...*task.Definition) *task.Manager {
	t.Helper()
	m := task.New()
	if err := m.Register(defs...); err != nil {
		t.Fatal(err)
	}
	cfg.Lease, cfg.PollInterval, cfg.DrainTimeout, cfg.Now = 3*time.Second, 10*time.Millisecond, 200*time.Millisecond, e.clock.Now
	if err := m.Start(bg, s, cfg, lifecycle.Key{}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(bg, 10*time.Second)
		defer cancel()
		if err := m.Stop(ctx, lifecycle.Key{}); err != nil {
			t.Errorf("Stop: %v", err)
		}
	})
	return m
}

// recorder records the runs of a task.
type recorder struct {
	mu   sync.Mutex
	runs []*task.Task
	ch   chan *task.Task
}

func newRecorder() *recorder { return &recorder{ch: make(chan *task.Task, 1000)} }

func (r *recorder) handler(fn func(*task.Task) error) task.Handler {
	return task.HandlerFunc(func(ctx context.Context, t *task.Task) error {
		r.mu.Lock()
		r.runs = append(r.runs, t)
		r.mu.Unlock()
		r.ch <- t
		if fn != nil {
			return fn(t)
		}
		return nil
	})
}

func (r *recorder) next(t *testing.T) *task.Task {
	t.Helper()
	select {
	case got := <-r.ch:
		return got
	case <-time.After(10 * time.Second):
		t.Fatal("no task ran")
		return nil
	}
}

func testManagerRuns(t *testing.T, e *taskEnv) {
	rec := newRecorder()
	var order []string
	def := &task.Definition{
		Name: "send", Queue: "mail",
		Inputs:  map[string]action.Input{"to": {Required: true, Validator: "email"}, "n": {Default: 1, Format: action.Integer}},
		Handler: rec.handler(nil),
		Middleware: []task.Middleware{func(h task.Handler) task.Handler {
			return task.HandlerFunc(func(ctx context.Context, tk *task.Task) error {
				rec.mu.Lock()
				order = append(order, "before")
				rec.mu.Unlock()
				err := h.ProcessTask(ctx, tk)
				rec.mu.Lock()
				order = append(order, "after")
				rec.mu.Unlock()
				return err
			})
		}},
		EnqueueMiddleware: []task.EnqueueMiddleware{func(next task.EnqueueFunc) task.EnqueueFunc {
			return func(ctx context.Context, tk *task.Task) error {
				if strings.Contains(string(tk.Args), "refuse") {
					return errors.New("refused")
				}
				return next(ctx, tk)
			}
		}},
	}
	producer := e.manager(t, e.a(), "producer", 0, def)
	e.manager(t, e.b(), "worker", 2, def)
	if _, err := producer.Enqueue(bg, "send", map[string]any{"to": "nope"}); err == nil {
		t.Fatal("invalid args were enqueued")
	}
	if _, err := producer.Enqueue(bg, "nosuch", nil); !errors.Is(err, task.ErrUnknownTask) {
		t.Fatalf("unknown task: %v", err)
	}
	if _, err := producer.Enqueue(bg, "send", map[string]any{"to": "refuse@x.io"}); err == nil || err.Error() != "refused" {
		t.Fatalf("enqueue middleware: %v", err)
	}
	id, err := producer.Enqueue(bg, "send", map[string]any{"to": "a@b.io"})
	if err != nil {
		t.Fatal(err)
	}
	got := rec.next(t)
	if got.ID != id || got.Attempt != 1 || got.Queue != "mail" || got.Params.String("to") != "a@b.io" || got.Params["n"] != int64(1) {
		t.Fatalf("ran %+v", got)
	}
	if _, err := producer.Enqueue(bg, "send", map[string]any{"to": "c@d.io"}, task.Unique("k"), task.In(time.Hour)); err != nil {
		t.Fatal(err)
	}
	if _, err := producer.Enqueue(bg, "send", map[string]any{"to": "c@d.io"}, task.Unique("k")); !errors.Is(err, task.ErrDuplicateTask) {
		t.Fatalf("duplicate: %v", err)
	}
	eventually(t, "middleware ran", func() bool {
		rec.mu.Lock()
		defer rec.mu.Unlock()
		return len(order) == 2
	})
}

func testManagerFailures(t *testing.T, e *taskEnv) {
	rec := newRecorder()
	def := &task.Definition{
		Name: "flaky", MaxAttempts: 2,
		Backoff: func(int) time.Duration { return 0 },
		Handler: rec.handler(func(tk *task.Task) error {
			if tk.Args != nil && strings.Contains(string(tk.Args), "panic") {
				panic("kaboom")
			}
			return errors.New("boom")
		}),
	}
	m := e.manager(t, e.a(), "n1", 2, def)
	in := task.NewInspector(e.b())
	id, err := m.Enqueue(bg, "flaky", nil)
	if err != nil {
		t.Fatal(err)
	}
	if a := rec.next(t).Attempt; a != 1 {
		t.Fatalf("attempt %d", a)
	}
	if a := rec.next(t).Attempt; a != 2 {
		t.Fatalf("attempt %d", a)
	}
	eventually(t, "task failed", func() bool { n, _ := in.FailedCount(bg); return n == 1 })
	failed, err := in.Failed(bg, 0, 10)
	if err != nil || len(failed) != 1 || failed[0].ID != id || failed[0].Failure.Error != "boom" || failed[0].Failure.Attempts != 2 {
		t.Fatalf("Failed = %+v, %v", failed, err)
	}
	pid, _ := m.Enqueue(bg, "flaky", map[string]any{"x": "panic"}, task.MaxAttempts(1))
	rec.next(t)
	eventually(t, "panicking task failed", func() bool { n, _ := in.FailedCount(bg); return n == 2 })
	failed, _ = in.Failed(bg, 0, 0)
	if len(failed) != 2 {
		t.Fatalf("Failed = %+v", failed)
	}
	if failed[0].ID == pid {
		failed = failed[:1]
	} else {
		failed = failed[1:]
	}
	if failed[0].ID != pid || !strings.Contains(failed[0].Failure.Error, "kaboom") || !strings.Contains(failed[0].Failure.Stack, "goroutine") {
		t.Fatalf("panic failure = %+v", failed)
	}
	if err := in.RetryAndRemoveFailed(bg, id); err != nil {
		t.Fatal(err)
	}
	if a := rec.next(t).Attempt; a != 1 {
		t.Fatalf("retried attempt %d", a)
	}
	if err := in.RemoveFailed(bg, pid); err != nil {
		t.Fatal(err)
	}
	if err := in.RemoveFailed(bg, pid); !errors.Is(err, task.ErrNotFound) {
		t.Fatalf("second RemoveFailed = %v", err)
	}
}

func testManagerAPI(t *testing.T, e *taskEnv) {
	noop := task.HandlerFunc(func(context.Context, *task.Task) error { return nil })
	m := e.manager(t, e.a(), "n1", 0,
		&task.Definition{Name: "a", Handler: noop},
		&task.Definition{Name: "b", Queue: "other", Handler: noop},
		&task.Definition{Name: "u", Queue: "uq", Unique: true, Handler: noop})
	in := task.NewInspector(e.b())
	// Unique derives its key from the name and the arguments, in any key
	// order.
	if _, err := m.Enqueue(bg, "u", map[string]any{"x": 1, "y": 2}); err != nil {
		t.Fatal(err)
	}
	if _, err := m.Enqueue(bg, "u", json.RawMessage(`{"y":2,"x":1}`)); !errors.Is(err, task.ErrDuplicateTask) {
		t.Fatalf("same name and args: %v", err)
	}
	if _, err := m.Enqueue(bg, "u", map[string]any{"x": 2}); err != nil {
		t.Fatalf("other args: %v", err)
	}
	at := e.clock.Now().Add(time.Hour)
	for i := range 3 {
		if _, err := m.Enqueue(bg, "a", map[string]any{"i": i}); err != nil {
			t.Fatal(err)
		}
	}
	_, _ = m.EnqueueAt(bg, at, "a", map[string]any{"i": 9})
	_, _ = m.EnqueueIn(bg, time.Hour, "b", nil)
	_, _ = m.EnqueueIn(bg, 2*time.Hour, "b", nil)
	_, _ = m.Enqueue(bg, "b", nil, task.Unique("lock1"))
	q, err := in.Queued(bg, "default", 0, 2)
	if err != nil || len(q) != 2 || string(q[0].Args) != `{"i":0}` {
		t.Fatalf("Queued = %+v, %v", q, err)
	}
	ts, _ := in.Timestamps(bg)
	if len(ts) != 2 || !ts[0].Equal(at) {
		t.Fatalf("Timestamps = %v", ts)
	}
	all, _ := in.AllDelayed(bg)
	if len(all) != 3 {
		t.Fatalf("AllDelayed = %d", len(all))
	}
	if sa, _ := in.ScheduledAt(bg, "other", "b", nil); len(sa) != 2 {
		t.Fatalf("ScheduledAt = %v", sa)
	}
	if n, _ := in.Del(bg, "default", "a", map[string]any{"i": 1}, 0); n != 1 {
		t.Fatalf("Del = %d", n)
	}
	if n, _ := in.DelDelayedAt(bg, at); n != 2 {
		t.Fatalf("DelDelayedAt = %d", n)
	}
	if times, _ := in.DelDelayed(bg, "other", "b", nil); len(times) != 1 {
		t.Fatalf("DelDelayed = %v", times)
	}
	locks, _ := in.Locks(bg)
	if len(locks) != 3 || locks[0].Key != "lock1" || locks[1].Key != `u:{"x":1,"y":2}` {
		t.Fatalf("Locks = %+v", locks)
	}
	if n, _ := in.DelLock(bg, "lock1"); n != 1 {
		t.Fatalf("DelLock = %d", n)
	}
	s, err := in.Stats(bg)
	if err != nil {
		t.Fatal(err)
	}
	byName := map[string]task.QueueStats{}
	for _, qs := range s.Queues {
		byName[qs.Queue] = qs
	}
	if byName["default"].Pending != 2 || byName["other"].Pending != 1 || byName["other"].Delayed != 0 {
		t.Fatalf("Stats = %+v", s)
	}
	if n, _ := in.DelQueue(bg, "default"); n != 2 {
		t.Fatalf("DelQueue = %d", n)
	}
	if _, err := in.Details(bg); err != nil {
		t.Fatal(err)
	}
}

func testManagerPeriodic(t *testing.T, e *taskEnv) {
	rec := newRecorder()
	def := func() *task.Definition {
		return &task.Definition{Name: "tick", Frequency: time.Minute, Handler: rec.handler(nil)}
	}
	// Two nodes schedule the same periodic task: it runs once per period.
	m1 := e.manager(t, e.a(), "n1", 1, def())
	e.manager(t, e.b(), "n2", 1, def())
	first := rec.next(t)
	if first.FireAt.IsZero() || !first.FireAt.Equal(e.clock.Now().Truncate(time.Minute)) {
		t.Fatalf("FireAt = %v", first.FireAt)
	}
	// Let the run finish before the clock jumps, or its lease would lapse
	// and it would run again, as a recovered task.
	eventually(t, "first run acknowledged", func() bool {
		s, err := task.NewInspector(e.a()).Stats(bg)
		return err == nil && len(s.Queues) > 0 && s.Queues[0].Processed == 1
	})
	e.clock.Advance(time.Minute)
	second := rec.next(t)
	if !second.FireAt.Equal(first.FireAt.Add(time.Minute)) {
		t.Fatalf("second FireAt = %v", second.FireAt)
	}
	select {
	case extra := <-rec.ch:
		t.Fatalf("a period ran twice: %v", extra.FireAt)
	case <-time.After(200 * time.Millisecond):
	}
	if _, err := m1.StopRecurrent(bg, "tick"); err != nil {
		t.Fatal(err)
	}
	in := task.NewInspector(e.b())
	if stopped, err := in.RecurrentStopped(bg, task.DefaultQueue, "tick"); err != nil || !stopped {
		t.Fatalf("RecurrentStopped after StopRecurrent = %v, %v", stopped, err)
	}
	e.clock.Advance(time.Minute)
	select {
	case extra := <-rec.ch:
		t.Fatalf("a stopped task ran: %v", extra.FireAt)
	case <-time.After(200 * time.Millisecond):
	}
	if err := m1.EnqueueRecurrent(bg, "tick"); err != nil {
		t.Fatal(err)
	}
	if stopped, err := in.RecurrentStopped(bg, task.DefaultQueue, "tick"); err != nil || stopped {
		t.Fatalf("RecurrentStopped after EnqueueRecurrent = %v, %v", stopped, err)
	}
	rec.next(t)
}

func testManagerRecovers(t *testing.T, e *taskEnv) {
	rec := newRecorder()
	def := &task.Definition{Name: "job", Handler: rec.handler(nil)}
	producer := e.manager(t, e.a(), "producer", 0, def)
	id, _ := producer.Enqueue(bg, "job", nil)
	// A worker that takes the task and dies.
	d, err := e.a().Fetch(bg, "default", "dead", 3*time.Second)
	if err != nil || d == nil || d.ID != id {
		t.Fatalf("fetch = %+v, %v", d, err)
	}
	e.manager(t, e.b(), "alive", 1, def)
	e.clock.Advance(3 * time.Second)
	got := rec.next(t)
	if got.ID != id || got.Attempt != 2 {
		t.Fatalf("recovered run %s attempt %d", got.ID, got.Attempt)
	}
}

func testManagerHandsBack(t *testing.T, e *taskEnv) {
	started := make(chan *task.Task, 10)
	def := &task.Definition{Name: "slow", Handler: task.HandlerFunc(func(ctx context.Context, tk *task.Task) error {
		started <- tk
		<-ctx.Done()
		return ctx.Err()
	})}
	m := task.New()
	_ = m.Register(def)
	if err := m.Start(bg, e.a(), task.Config{NodeID: "leaving", Concurrency: 1, Lease: 3 * time.Second, PollInterval: 10 * time.Millisecond, DrainTimeout: 50 * time.Millisecond, Now: e.clock.Now}, lifecycle.Key{}); err != nil {
		t.Fatal(err)
	}
	id, _ := m.Enqueue(bg, "slow", nil)
	<-started
	ctx, cancel := context.WithTimeout(bg, 5*time.Second)
	defer cancel()
	if err := m.Stop(ctx, lifecycle.Key{}); err != nil {
		t.Fatal(err)
	}
	q, _ := task.NewInspector(e.a()).Queued(bg, "default", 0, 0)
	if len(q) != 1 || q[0].ID != id {
		t.Fatalf("not handed back: %+v", q)
	}
	rec := newRecorder()
	e.manager(t, e.b(), "next", 1, &task.Definition{Name: "slow", Handler: rec.handler(nil)})
	if got := rec.next(t); got.ID != id || got.Attempt != 2 {
		t.Fatalf("handed-back run = %s attempt %d", got.ID, got.Attempt)
	}
}

// testManagerQueuePause: tasks of a queue paused cluster-wide do not run
// on any node, while the queues after it in priority do; once the queue
// is resumed they run at once, without waiting for a poll.
func testManagerQueuePause(t *testing.T, e *taskEnv) {
	rec := newRecorder()
	defs := []*task.Definition{
		{Name: "first", Queue: "high", Handler: rec.handler(nil)},
		{Name: "canary", Queue: "low", Handler: rec.handler(nil)},
	}
	insp := task.NewInspector(e.a())
	if err := insp.PauseQueue(bg, "high"); err != nil {
		t.Fatal(err)
	}
	if err := insp.PauseQueue(bg, "bad{name}"); err == nil {
		t.Fatal("PauseQueue took a queue name with braces")
	}
	m := task.New()
	if err := m.Register(defs...); err != nil {
		t.Fatal(err)
	}
	// One worker, "high" before "low": were the pause not honoured, the
	// task of "high", enqueued first, would run before the canary.
	if err := m.Start(bg, e.b(), task.Config{
		NodeID: "w", Concurrency: 1, Queues: []string{"high", "low"}, Lease: 3 * time.Second,
		PollInterval: 10 * time.Millisecond, DrainTimeout: 200 * time.Millisecond, Now: e.clock.Now,
	}, lifecycle.Key{}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(bg, 10*time.Second)
		defer cancel()
		_ = m.Stop(ctx, lifecycle.Key{})
	})
	held, err := m.Enqueue(bg, "first", nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := m.Enqueue(bg, "canary", nil); err != nil {
		t.Fatal(err)
	}
	if got := rec.next(t); got.Name != "canary" {
		t.Fatalf("ran %s (%s) while its queue was paused", got.Name, got.ID)
	}
	s, err := insp.Stats(bg)
	if err != nil {
		t.Fatal(err)
	}
	for _, q := range s.Queues {
		if q.Queue == "high" && (!q.Paused || q.Pending != 1) {
			t.Fatalf("stats of the paused queue = %+v", q)
		}
		if q.Queue == "low" && q.Paused {
			t.Fatalf("stats of a queue not paused = %+v", q)
		}
	}
	if got, err := insp.PausedQueues(bg); err != nil || !slices.Equal(got, []string{"high"}) {
		t.Fatalf("PausedQueues = %v, %v", got, err)
	}
	// The resumed queue's task runs (the resume also wakes idle workers;
	// how soon is a benchmark's business, not a test's).
	if err := insp.ResumeQueue(bg, "high"); err != nil {
		t.Fatal(err)
	}
	if got := rec.next(t); got.ID != held {
		t.Fatalf("ran %s after the resume, want %s", got.ID, held)
	}
}
