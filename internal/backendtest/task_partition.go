package backendtest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/stellarfw/stellar-go/task"
)

// The partition cases: a queue split into partitions is one queue to the
// Inspector, spreads its tasks, keeps the order of an ordering key, keeps
// a unique key in one partition, and reads a queue stored before
// partitions as its partition 0.

// testPartitionSpread enqueues over 4 partitions from one node and runs
// every task once on another, configured with fewer partitions (it still
// drains those the store lists); the Inspector shows one queue.
func testPartitionSpread(t *testing.T, e *taskEnv) {
	const n = 200
	var mu sync.Mutex
	runs := map[string]int{}
	def := &task.Definition{Name: "spread", Queue: "pq", Handler: task.HandlerFunc(func(_ context.Context, tk *task.Task) error {
		if tk.Queue != "pq" {
			return fmt.Errorf("task sees queue %q", tk.Queue)
		}
		mu.Lock()
		runs[tk.ID]++
		mu.Unlock()
		return nil
	})}
	producer := e.managerWith(t, e.a(), task.Config{NodeID: "producer", Partitions: 4}, def)
	for i := range n {
		if _, err := producer.Enqueue(bg, "spread", map[string]any{"i": i}); err != nil {
			t.Fatal(err)
		}
	}
	in := task.NewInspector(e.b())
	parts, err := in.Partitions(bg, "pq")
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"pq", task.PartitionName("pq", 1), task.PartitionName("pq", 2), task.PartitionName("pq", 3)}
	if !slices.Equal(parts, want) {
		t.Fatalf("Partitions = %v, want %v", parts, want)
	}
	per := map[int]int{}
	queued, err := in.Queued(bg, "pq", 0, 0)
	if err != nil || len(queued) != n {
		t.Fatalf("Queued = %d tasks, %v; want %d", len(queued), err, n)
	}
	for _, q := range queued {
		if q.Queue != "pq" {
			t.Fatalf("a queued task names queue %q", q.Queue)
		}
		per[q.Partition]++
	}
	for p := range 4 {
		if per[p] < n/10 {
			t.Errorf("partition %d holds %d of %d tasks: %v", p, per[p], n, per)
		}
	}
	if page, err := in.Queued(bg, "pq", 10, 5); err != nil || len(page) != 5 || page[0].ID != queued[10].ID {
		t.Fatalf("Queued(10, 5) = %d tasks, %v", len(page), err)
	}
	names, err := in.Queues(bg)
	if err != nil || !slices.Equal(names, []string{"pq"}) {
		t.Fatalf("Inspector.Queues = %v, %v; want [pq]", names, err)
	}
	s, err := in.Stats(bg)
	if err != nil || len(s.Queues) != 1 || s.Queues[0].Queue != "pq" || s.Queues[0].Pending != n {
		t.Fatalf("Stats = %+v, %v; want one queue pq with %d pending", s, err, n)
	}

	e.managerWith(t, e.b(), task.Config{NodeID: "worker", Concurrency: 4, Partitions: 2}, def)
	eventually(t, "every task processed", func() bool {
		qs, err := in.QueueStats(bg, "pq")
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
	if qs, _ := in.QueueStats(bg, "pq"); qs.Pending != 0 || qs.Running != 0 {
		t.Fatalf("stats after the run = %+v", qs)
	}
}

// testPartitionKeyOrder: the tasks of one ordering key share a partition
// and run in the order they were enqueued.
func testPartitionKeyOrder(t *testing.T, e *taskEnv) {
	var mu sync.Mutex
	got := map[string][]int{}
	def := &task.Definition{Name: "ordered", Queue: "kq", Handler: task.HandlerFunc(func(_ context.Context, tk *task.Task) error {
		mu.Lock()
		defer mu.Unlock()
		k := tk.Params["k"].(string)
		i, _ := strconv.Atoi(fmt.Sprint(tk.Params["i"]))
		got[k] = append(got[k], i)
		return nil
	})}
	producer := e.managerWith(t, e.a(), task.Config{NodeID: "producer", Partitions: 8}, def)
	keys := []string{"user:1", "user:2", "user:3"}
	const each = 20
	for i := range each {
		for _, k := range keys {
			if _, err := producer.Enqueue(bg, "ordered", map[string]any{"k": k, "i": i}, task.Key(k)); err != nil {
				t.Fatal(err)
			}
		}
	}
	in := task.NewInspector(e.b())
	queued, err := in.Queued(bg, "kq", 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	part := map[string]int{}
	for _, q := range queued {
		var args struct{ K string }
		if err := json.Unmarshal(q.Args, &args); err != nil {
			t.Fatal(err)
		}
		if p, ok := part[args.K]; ok && p != q.Partition {
			t.Fatalf("key %s in partitions %d and %d", args.K, p, q.Partition)
		}
		part[args.K] = q.Partition
	}
	if len(part) != len(keys) {
		t.Fatalf("queued keys %v", part)
	}
	// One worker: tasks run one at a time, in the order taken.
	e.managerWith(t, e.b(), task.Config{NodeID: "worker", Concurrency: 1, Partitions: 8}, def)
	eventually(t, "every task processed", func() bool {
		qs, err := in.QueueStats(bg, "kq")
		return err == nil && qs.Processed == int64(each*len(keys))
	})
	mu.Lock()
	defer mu.Unlock()
	for _, k := range keys {
		want := make([]int, each)
		for i := range want {
			want[i] = i
		}
		if !slices.Equal(got[k], want) {
			t.Errorf("key %s ran in order %v", k, got[k])
		}
	}
}

// testPartitionUnique: a unique key lives in one partition, whichever node
// enqueues and whatever the task id, so it refuses a second task across
// partitions; a unique key and an ordering key together are refused.
func testPartitionUnique(t *testing.T, e *taskEnv) {
	noop := task.HandlerFunc(func(context.Context, *task.Task) error { return nil })
	def := func() *task.Definition { return &task.Definition{Name: "u", Queue: "uq", Handler: noop} }
	m1 := e.managerWith(t, e.a(), task.Config{NodeID: "n1", Partitions: 8}, def())
	m2 := e.managerWith(t, e.b(), task.Config{NodeID: "n2", Partitions: 8}, def())
	for i := range 16 {
		key := "lock" + strconv.Itoa(i)
		if _, err := m1.Enqueue(bg, "u", map[string]any{"i": i}, task.Unique(key)); err != nil {
			t.Fatal(err)
		}
		for _, m := range []*task.Manager{m1, m2, m2} {
			if _, err := m.Enqueue(bg, "u", map[string]any{"again": i}, task.Unique(key)); !errors.Is(err, task.ErrDuplicateTask) {
				t.Fatalf("second task with unique key %s: %v", key, err)
			}
		}
	}
	if _, err := m1.Enqueue(bg, "u", nil, task.Unique("x"), task.Key("k")); err == nil {
		t.Fatal("an enqueue with a unique key and an ordering key was accepted")
	}
	in := task.NewInspector(e.b())
	locks, err := in.Locks(bg)
	if err != nil || len(locks) != 16 {
		t.Fatalf("Locks = %+v, %v; want 16", locks, err)
	}
	for _, l := range locks {
		if l.Queue != "uq" {
			t.Fatalf("a lock names queue %q", l.Queue)
		}
	}
	if parts, _ := in.Partitions(bg, "uq"); len(parts) < 2 {
		t.Fatalf("16 unique keys in %d partitions", len(parts))
	}
	if n, err := in.DelLock(bg, "lock3"); err != nil || n != 1 {
		t.Fatalf("DelLock = %d, %v", n, err)
	}
	if _, err := m2.Enqueue(bg, "u", nil, task.Unique("lock3")); err != nil {
		t.Fatalf("enqueue after DelLock: %v", err)
	}
	if qs, _ := in.QueueStats(bg, "uq"); qs.Pending != 17 {
		t.Fatalf("stats = %+v, want 17 pending", qs)
	}
}

// testPartitionUpgrade: tasks stored before the queue had partitions (no
// partition in their message, in the store queue named after the queue)
// are its partition 0: a node with partitions runs them, pending and
// delayed, and counts them.
func testPartitionUpgrade(t *testing.T, e *taskEnv) {
	now := e.clock.Now()
	old := func(id string) *task.Message {
		return &task.Message{ID: id, Name: "legacy", Queue: "lq", MaxAttempts: 1, EnqueuedAt: now.UnixMilli()}
	}
	for i := range 5 {
		mustEnqueue(t, e.a(), old("old"+strconv.Itoa(i)), time.Time{})
	}
	mustEnqueue(t, e.a(), old("old-delayed"), now.Add(time.Second))
	rec := newRecorder()
	def := &task.Definition{Name: "legacy", Queue: "lq", Handler: rec.handler(nil)}
	m := e.managerWith(t, e.b(), task.Config{NodeID: "new", Concurrency: 2, Partitions: 4}, def)
	for range 5 {
		if _, err := m.Enqueue(bg, "legacy", nil); err != nil {
			t.Fatal(err)
		}
	}
	in := task.NewInspector(e.a())
	eventually(t, "old and new tasks processed", func() bool {
		qs, err := in.QueueStats(bg, "lq")
		return err == nil && qs.Processed == 10 && qs.Delayed == 1
	})
	e.clock.Advance(time.Second)
	eventually(t, "the old delayed task processed", func() bool {
		qs, err := in.QueueStats(bg, "lq")
		return err == nil && qs.Processed == 11
	})
	seen := map[string]bool{}
	for range 11 {
		seen[rec.next(t).ID] = true
	}
	for _, id := range []string{"old0", "old4", "old-delayed"} {
		if !seen[id] {
			t.Errorf("task %s stored before partitions did not run", id)
		}
	}
}

// testPartitionUpgradeUnique: a unique key held by a task stored before
// the queue had partitions (in partition 0) refuses a task with the same
// key from a node with partitions, pending or running, whichever
// partition the key now picks; once that task is done the key is taken
// in its own partition, and refused there.
func testPartitionUpgradeUnique(t *testing.T, e *taskEnv) {
	const keys = 8
	now := e.clock.Now()
	for i := range keys {
		mustEnqueue(t, e.a(), &task.Message{ID: "old" + strconv.Itoa(i), Name: "u", Queue: "luq", Unique: "key" + strconv.Itoa(i),
			MaxAttempts: 1, EnqueuedAt: now.UnixMilli()}, time.Time{})
	}
	running := fetch(t, e.a(), "luq") // old0, running now
	noop := task.HandlerFunc(func(context.Context, *task.Task) error { return nil })
	m := e.managerWith(t, e.b(), task.Config{NodeID: "new", EnqueueOnly: true, Partitions: 4}, &task.Definition{Name: "u", Queue: "luq", Handler: noop})
	for i := range keys {
		if id, err := m.Enqueue(bg, "u", map[string]any{"i": i}, task.Unique("key"+strconv.Itoa(i))); !errors.Is(err, task.ErrDuplicateTask) {
			t.Fatalf("key%d, held since before partitions: a second task enqueued: %q, %v", i, id, err)
		}
	}
	if err := e.a().Ack(bg, running); err != nil {
		t.Fatal(err)
	}
	for i := 1; i < keys; i++ {
		if ok, err := e.a().Remove(bg, "luq", "old"+strconv.Itoa(i), task.StatePending); err != nil || !ok {
			t.Fatalf("Remove(old%d) = %v, %v", i, ok, err)
		}
	}
	for i := range keys {
		if _, err := m.Enqueue(bg, "u", map[string]any{"i": i}, task.Unique("key"+strconv.Itoa(i))); err != nil {
			t.Fatalf("key%d, released: %v", i, err)
		}
		if _, err := m.Enqueue(bg, "u", map[string]any{"again": i}, task.Unique("key"+strconv.Itoa(i))); !errors.Is(err, task.ErrDuplicateTask) {
			t.Fatalf("key%d, held in its partition: a second task: %v", i, err)
		}
	}
	queued, err := task.NewInspector(e.b()).Queued(bg, "luq", 0, 0)
	if err != nil || len(queued) != keys {
		t.Fatalf("Queued = %d tasks, %v; want %d", len(queued), err, keys)
	}
	if !slices.ContainsFunc(queued, func(in task.Info) bool { return in.Partition != 0 }) {
		t.Fatal("every key picks partition 0: the case of another partition is not tested")
	}
}

// testPartitionPause: a paused queue takes nothing from any partition,
// even one first used after the pause; resuming runs them all at once.
func testPartitionPause(t *testing.T, e *taskEnv) {
	rec := newRecorder()
	def := &task.Definition{Name: "p", Queue: "ppq", Handler: rec.handler(nil)}
	in := task.NewInspector(e.b())
	if err := in.PauseQueue(bg, "ppq"); err != nil {
		t.Fatal(err)
	}
	m := e.managerWith(t, e.a(), task.Config{NodeID: "n", Concurrency: 2, Partitions: 8}, def)
	for i := range 40 {
		if _, err := m.Enqueue(bg, "p", map[string]any{"i": i}); err != nil {
			t.Fatal(err)
		}
	}
	for p := range task.MaxPartitions {
		if d := fetch(t, e.b(), task.PartitionName("ppq", p)); d != nil {
			t.Fatalf("Fetch from partition %d of a paused queue = %+v", p, d)
		}
	}
	if qs, err := in.QueueStats(bg, "ppq"); err != nil || !qs.Paused || qs.Pending != 40 {
		t.Fatalf("stats of the paused queue = %+v, %v", qs, err)
	}
	if got, _ := in.PausedQueues(bg); !slices.Equal(got, []string{"ppq"}) {
		t.Fatalf("PausedQueues = %v", got)
	}
	if err := in.ResumeQueue(bg, "ppq"); err != nil {
		t.Fatal(err)
	}
	for range 40 {
		rec.next(t)
	}
}

// testPartitionPeriodic: a periodic task's runs go to partition 0 however
// many partitions its queue has, so that its fire times are recorded in
// one place (and where they were before partitions).
func testPartitionPeriodic(t *testing.T, e *taskEnv) {
	noop := task.HandlerFunc(func(context.Context, *task.Task) error { return nil })
	def := &task.Definition{Name: "tick", Queue: "tq", Frequency: time.Minute, Handler: noop}
	e.managerWith(t, e.a(), task.Config{NodeID: "n1", Partitions: 8, Queues: []string{"other"}}, def)
	e.managerWith(t, e.b(), task.Config{NodeID: "n2", Partitions: 8, Queues: []string{"other"}}, def)
	in := task.NewInspector(e.b())
	eventually(t, "the periodic run enqueued", func() bool {
		q, err := in.Queued(bg, "tq", 0, 0)
		return err == nil && len(q) == 1
	})
	q, _ := in.Queued(bg, "tq", 0, 0)
	if q[0].Partition != 0 {
		t.Fatalf("a periodic run went to partition %d", q[0].Partition)
	}
	if last, err := e.a().LastFire(bg, "tq", "tick"); err != nil || !last.Equal(e.clock.Now().Truncate(time.Minute)) {
		t.Fatalf("LastFire = %v, %v", last, err)
	}
	if parts, _ := in.Partitions(bg, "tq"); !slices.Equal(parts, []string{"tq"}) {
		t.Fatalf("Partitions = %v, want only partition 0", parts)
	}
}

// testPartitionDelayedAndRecovered: delayed tasks move to pending in
// their own partitions, and a lapsed lease in any partition is recovered
// there: every task runs, those of the dead worker once more.
func testPartitionDelayedAndRecovered(t *testing.T, e *taskEnv) {
	rec := newRecorder()
	def := &task.Definition{Name: "later", Queue: "dq", Handler: rec.handler(nil)}
	producer := e.managerWith(t, e.a(), task.Config{NodeID: "producer", Partitions: 4}, def)
	const n = 40
	for i := range n {
		if _, err := producer.Enqueue(bg, "later", map[string]any{"i": i}, task.In(time.Second)); err != nil {
			t.Fatal(err)
		}
	}
	in := task.NewInspector(e.b())
	if qs, err := in.QueueStats(bg, "dq"); err != nil || qs.Delayed != n {
		t.Fatalf("stats = %+v, %v; want %d delayed", qs, err, n)
	}
	e.clock.Advance(time.Second)
	eventually(t, "the delayed tasks moved", func() bool {
		qs, err := in.QueueStats(bg, "dq")
		return err == nil && qs.Pending == n
	})
	// A worker takes one task of each partition and dies.
	dead := map[string]bool{}
	for p := range 4 {
		d, err := e.b().Fetch(bg, task.PartitionName("dq", p), "dead", 3*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		if d != nil {
			if d.Partition != p || d.Queue != "dq" {
				t.Fatalf("fetched from partition %d: queue %q partition %d", p, d.Queue, d.Partition)
			}
			dead[d.ID] = true
		}
	}
	if len(dead) < 2 {
		t.Fatalf("tasks in %d partitions", len(dead))
	}
	e.managerWith(t, e.b(), task.Config{NodeID: "alive", Concurrency: 2, Partitions: 4}, def)
	for range n - len(dead) {
		if tk := rec.next(t); dead[tk.ID] || tk.Attempt != 1 {
			t.Fatalf("ran %s attempt %d before the leases lapsed", tk.ID, tk.Attempt)
		}
	}
	// Their outcomes recorded before the clock jumps, or their own leases
	// would lapse too.
	eventually(t, "the runs acknowledged", func() bool {
		qs, err := in.QueueStats(bg, "dq")
		return err == nil && qs.Processed == int64(n-len(dead))
	})
	e.clock.Advance(3 * time.Second)
	for range dead {
		if tk := rec.next(t); !dead[tk.ID] || tk.Attempt != 2 {
			t.Fatalf("recovered run %s attempt %d", tk.ID, tk.Attempt)
		}
	}
}
