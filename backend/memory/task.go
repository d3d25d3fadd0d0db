package memory

import (
	"context"
	"errors"
	"slices"
	"sort"
	"sync"
	"time"

	"github.com/stellarfw/stellar-go/task"
)

var (
	_ task.Store      = (*TaskStore)(nil)
	_ task.AdminStore = (*TaskStore)(nil)
)

// TaskStore keeps the task queues of one node. Obtain it from
// Backend.Tasks. It starts no goroutine: waiting workers are woken by the
// enqueue itself.
type TaskStore struct {
	now func() time.Time

	mu      sync.Mutex
	queues  map[string]*memQueue       // guarded by mu; by store queue (partition)
	paused  map[string]bool            // guarded by mu; by queue: SetQueuePaused
	workers map[string]memWorker       // guarded by mu
	watches map[int]func(queue string) // guarded by mu
	nextW   int                        // guarded by mu
}

type memWorker struct {
	info   task.WorkerInfo
	expire time.Time
}

type memTask struct {
	m        task.Message
	attempts int
	lastErr  string
	due      time.Time // delayed
	lease    time.Time // running
	worker   string
	started  time.Time
	failure  *task.Failure
	state    task.State
}

type memQueue struct {
	tasks     map[string]*memTask
	delayed   map[string]*memTask // the tasks in StateDelayed
	running   map[string]*memTask // the tasks in StateRunning
	pending   []string            // ids, next first; may hold removed ids, skipped
	unique    map[string]string
	recurrent map[string]int64 // name → last fire (ms)
	stopped   map[string]bool
	processed int64
	failed    int64
}

func newTaskStore(now func() time.Time) *TaskStore {
	return &TaskStore{now: now, queues: map[string]*memQueue{}, paused: map[string]bool{}, workers: map[string]memWorker{}, watches: map[int]func(string){}}
}

// queue returns queue name, creating it. Called with s.mu held.
func (s *TaskStore) queue(name string) *memQueue {
	q := s.queues[name]
	if q == nil {
		q = &memQueue{tasks: map[string]*memTask{}, delayed: map[string]*memTask{}, running: map[string]*memTask{}, unique: map[string]string{}, recurrent: map[string]int64{}, stopped: map[string]bool{}}
		s.queues[name] = q
	}
	return q
}

// pausedLocked reports whether store queue name belongs to a paused
// queue: a pause holds for every partition. Called with s.mu held.
func (s *TaskStore) pausedLocked(name string) bool {
	q, _ := task.SplitPartition(name)
	return s.paused[q]
}

// notify calls the watchers. Called without s.mu held.
func (s *TaskStore) notify(queue string) {
	s.mu.Lock()
	fns := make([]func(string), 0, len(s.watches))
	for _, fn := range s.watches {
		fns = append(fns, fn)
	}
	s.mu.Unlock()
	for _, fn := range fns {
		fn(queue)
	}
}

// set moves t to state st, keeping the indexes of delayed and running
// tasks, which Forward scans.
func (q *memQueue) set(t *memTask, st task.State) {
	delete(q.delayed, t.m.ID)
	delete(q.running, t.m.ID)
	t.state = st
	switch st {
	case task.StateDelayed:
		q.delayed[t.m.ID] = t
	case task.StateRunning:
		q.running[t.m.ID] = t
	}
}

// drop forgets task id.
func (q *memQueue) drop(id string) {
	delete(q.tasks, id)
	delete(q.delayed, id)
	delete(q.running, id)
}

func (q *memQueue) push(t *memTask, front bool) bool {
	wasEmpty := q.firstPending() == ""
	q.set(t, task.StatePending)
	if front {
		q.pending = append([]string{t.m.ID}, q.pending...)
	} else {
		q.pending = append(q.pending, t.m.ID)
	}
	return wasEmpty
}

// firstPending drops stale ids at the head and returns the next one.
func (q *memQueue) firstPending() string {
	for len(q.pending) > 0 {
		id := q.pending[0]
		if t := q.tasks[id]; t != nil && t.state == task.StatePending {
			return id
		}
		q.pending[0] = ""
		q.pending = q.pending[1:]
	}
	q.pending = nil
	return ""
}

func (q *memQueue) uniqueHeld(key string) bool {
	id, ok := q.unique[key]
	if !ok {
		return false
	}
	t := q.tasks[id]
	return t != nil && t.state != task.StateFailed
}

func (q *memQueue) release(t *memTask) {
	if t.m.Unique != "" && q.unique[t.m.Unique] == t.m.ID {
		delete(q.unique, t.m.Unique)
	}
}

// Enqueue implements task.Store.
func (s *TaskStore) Enqueue(ctx context.Context, m *task.Message, due time.Time) (bool, error) {
	if err := ctx.Err(); err != nil {
		return false, err
	}
	s.mu.Lock()
	ok, wake, err := s.enqueueLocked(m, due)
	s.mu.Unlock()
	if wake {
		s.notify(m.PartitionName())
	}
	return ok, err
}

func (s *TaskStore) enqueueLocked(m *task.Message, due time.Time) (ok, wake bool, err error) {
	q := s.queue(m.PartitionName())
	if _, exists := q.tasks[m.ID]; exists {
		return false, false, nil
	}
	if m.Unique != "" {
		if q.uniqueHeld(m.Unique) {
			return false, false, task.ErrDuplicateTask
		}
		// A lock taken before the queue had partitions is in partition 0.
		if q0 := s.queues[task.PartitionName(m.Queue, 0)]; m.Partition > 0 && q0 != nil && q0.uniqueHeld(m.Unique) {
			return false, false, task.ErrDuplicateTask
		}
		q.unique[m.Unique] = m.ID
	}
	t := &memTask{m: *m}
	t.m.Args = slices.Clone(m.Args)
	q.tasks[m.ID] = t
	if due.After(s.now()) {
		t.due = due.Truncate(time.Millisecond)
		q.set(t, task.StateDelayed)
		return true, false, nil
	}
	return true, q.push(t, false), nil
}

// EnqueuePeriodic implements task.Store.
func (s *TaskStore) EnqueuePeriodic(ctx context.Context, m *task.Message) (bool, error) {
	if err := ctx.Err(); err != nil {
		return false, err
	}
	s.mu.Lock()
	q := s.queue(m.PartitionName())
	if q.stopped[m.Name] {
		s.mu.Unlock()
		return false, task.ErrRecurrentStopped
	}
	if last, ok := q.recurrent[m.Name]; ok && last >= m.FireAt {
		s.mu.Unlock()
		return false, nil
	}
	q.recurrent[m.Name] = m.FireAt
	ok, wake, err := s.enqueueLocked(m, time.Time{})
	s.mu.Unlock()
	if wake {
		s.notify(m.PartitionName())
	}
	return ok, err
}

// LastFire implements task.Store.
func (s *TaskStore) LastFire(ctx context.Context, queue, name string) (time.Time, error) {
	if err := ctx.Err(); err != nil {
		return time.Time{}, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if last, ok := s.queue(queue).recurrent[name]; ok {
		return time.UnixMilli(last), nil
	}
	return time.Time{}, nil
}

// SetRecurrent implements task.Store.
func (s *TaskStore) SetRecurrent(ctx context.Context, queue, name string, stopped bool) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	q := s.queue(queue)
	if stopped {
		q.stopped[name] = true
	} else {
		delete(q.stopped, name)
	}
	return nil
}

// RecurrentStopped implements task.AdminStore.
func (s *TaskStore) RecurrentStopped(ctx context.Context, queue, name string) (bool, error) {
	if err := ctx.Err(); err != nil {
		return false, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.queue(queue).stopped[name], nil
}

// Fetch implements task.Store.
func (s *TaskStore) Fetch(ctx context.Context, queue, worker string, lease time.Duration) (*task.Delivery, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	q := s.queues[queue]
	if q == nil || s.pausedLocked(queue) {
		return nil, nil
	}
	id := q.firstPending()
	if id == "" {
		return nil, nil
	}
	q.pending[0] = ""
	q.pending = q.pending[1:]
	t := q.tasks[id]
	now := s.now()
	t.lease, t.worker, t.started = now.Add(lease).Truncate(time.Millisecond), worker, now
	q.set(t, task.StateRunning)
	t.attempts++
	d := &task.Delivery{Message: t.m, Attempt: t.attempts, LeaseUntil: t.lease}
	d.Args = slices.Clone(t.m.Args)
	return d, nil
}

// Extend implements task.Store.
func (s *TaskStore) Extend(ctx context.Context, queue string, leases []task.Lease, lease time.Duration) ([]bool, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	ok := make([]bool, len(leases))
	q := s.queues[queue]
	if q == nil {
		return ok, nil
	}
	until := s.now().Add(lease).Truncate(time.Millisecond)
	for i, l := range leases {
		if t := q.tasks[l.ID]; t != nil && t.state == task.StateRunning && t.attempts == l.Attempt {
			t.lease = until
			ok[i] = true
		}
	}
	return ok, nil
}

// running returns the running task m, or ErrLeaseLost. Called with s.mu
// held.
func (s *TaskStore) running(d *task.Delivery) (*memQueue, *memTask, error) {
	q := s.queues[d.PartitionName()]
	if q == nil {
		return nil, nil, task.ErrLeaseLost
	}
	t := q.tasks[d.ID]
	if t == nil || t.state != task.StateRunning || t.attempts != d.Attempt {
		return nil, nil, task.ErrLeaseLost
	}
	return q, t, nil
}

// Ack implements task.Store.
func (s *TaskStore) Ack(ctx context.Context, d *task.Delivery) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	q, t, err := s.running(d)
	if err != nil {
		return err
	}
	q.release(t)
	q.drop(d.ID)
	q.processed++
	return nil
}

// AckFetch implements task.Store.
func (s *TaskStore) AckFetch(ctx context.Context, d *task.Delivery, worker string, lease time.Duration) (*task.Delivery, bool, error) {
	ackErr := s.Ack(ctx, d)
	if ackErr != nil && !errors.Is(ackErr, task.ErrLeaseLost) {
		return nil, false, ackErr
	}
	next, err := s.Fetch(ctx, d.PartitionName(), worker, lease)
	return next, ackErr == nil, err
}

// Retry implements task.Store.
func (s *TaskStore) Retry(ctx context.Context, d *task.Delivery, due time.Time, errMsg string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	q, t, err := s.running(d)
	if err != nil {
		return err
	}
	t.due, t.lastErr, t.worker = due.Truncate(time.Millisecond), errMsg, ""
	q.set(t, task.StateDelayed)
	return nil
}

// Fail implements task.Store.
func (s *TaskStore) Fail(ctx context.Context, d *task.Delivery, f task.Failure) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	q, t, err := s.running(d)
	if err != nil {
		return err
	}
	f.FailedAt = f.FailedAt.Truncate(time.Millisecond)
	t.failure, t.lastErr, t.worker = &f, f.Error, ""
	q.set(t, task.StateFailed)
	q.release(t)
	q.failed++
	return nil
}

// Requeue implements task.Store.
func (s *TaskStore) Requeue(ctx context.Context, d *task.Delivery) error {
	s.mu.Lock()
	q, t, err := s.running(d)
	if err != nil {
		s.mu.Unlock()
		return err
	}
	t.worker = ""
	wake := q.push(t, true)
	s.mu.Unlock()
	if wake {
		s.notify(d.PartitionName())
	}
	return nil
}

// Forward implements task.Store.
func (s *TaskStore) Forward(ctx context.Context, queue string, recoverLapsed bool) (moved, recovered int, err error) {
	if err := ctx.Err(); err != nil {
		return 0, 0, err
	}
	s.mu.Lock()
	q := s.queues[queue]
	if q == nil {
		s.mu.Unlock()
		return 0, 0, nil
	}
	now := s.now()
	var due, lapsed []*memTask
	for _, t := range q.delayed {
		if !t.due.After(now) {
			due = append(due, t)
		}
	}
	if recoverLapsed {
		for _, t := range q.running {
			if !t.lease.After(now) {
				lapsed = append(lapsed, t)
			}
		}
	}
	sort.Slice(due, func(i, j int) bool { return due[i].due.Before(due[j].due) })
	wake := false
	for _, t := range due {
		wake = q.push(t, false) || wake
	}
	for _, t := range lapsed {
		t.worker = ""
		wake = q.push(t, true) || wake
	}
	s.mu.Unlock()
	if wake {
		s.notify(queue)
	}
	return len(due), len(lapsed), nil
}

// Watch implements task.Store.
func (s *TaskStore) Watch(ctx context.Context, wake func(queue string)) error {
	s.mu.Lock()
	id := s.nextW
	s.nextW++
	s.watches[id] = wake
	s.mu.Unlock()
	wake("")
	<-ctx.Done()
	s.mu.Lock()
	delete(s.watches, id)
	s.mu.Unlock()
	return ctx.Err()
}

// SetQueuePaused implements task.AdminStore.
func (s *TaskStore) SetQueuePaused(ctx context.Context, queue string, paused bool) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	s.mu.Lock()
	s.queue(queue)
	if paused {
		s.paused[queue] = true
	} else {
		delete(s.paused, queue)
	}
	s.mu.Unlock()
	if !paused {
		s.notify(task.AllPartitions(queue))
	}
	return nil
}

// PausedQueues implements task.AdminStore.
func (s *TaskStore) PausedQueues(ctx context.Context) ([]string, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []string
	for name := range s.paused {
		out = append(out, name)
	}
	sort.Strings(out)
	return out, nil
}

// Heartbeat implements task.Store.
func (s *TaskStore) Heartbeat(ctx context.Context, w task.WorkerInfo, ttl time.Duration) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	w.Queues = slices.Clone(w.Queues)
	s.workers[w.ID] = memWorker{info: w, expire: s.now().Add(ttl)}
	return nil
}

// RemoveWorker implements task.Store.
func (s *TaskStore) RemoveWorker(ctx context.Context, id string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.workers, id)
	return nil
}

// Workers implements task.AdminStore.
func (s *TaskStore) Workers(ctx context.Context) ([]task.WorkerInfo, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.now()
	var out []task.WorkerInfo
	for id, w := range s.workers {
		if !w.expire.After(now) {
			delete(s.workers, id)
			continue
		}
		out = append(out, w.info)
	}
	return out, nil
}

// Queues implements task.Store and task.AdminStore.
func (s *TaskStore) Queues(ctx context.Context) ([]string, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]string, 0, len(s.queues))
	for name := range s.queues {
		out = append(out, name)
	}
	sort.Strings(out)
	return out, nil
}

func (t *memTask) info() task.Info {
	in := task.Info{Message: t.m, State: t.state, Attempt: t.attempts, LastError: t.lastErr}
	in.Args = slices.Clone(t.m.Args)
	switch t.state {
	case task.StateDelayed:
		in.RunAt = t.due
	case task.StateRunning:
		in.Worker, in.StartedAt, in.LeaseUntil = t.worker, t.started.Truncate(time.Millisecond), t.lease
	case task.StateFailed:
		f := *t.failure
		in.Failure = &f
	}
	return in
}

// List implements task.Store and task.AdminStore.
func (s *TaskStore) List(ctx context.Context, queue string, state task.State, offset, limit int) ([]task.Info, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	q := s.queues[queue]
	if q == nil {
		return nil, nil
	}
	var ts []*memTask
	if state == task.StatePending {
		for _, id := range q.pending {
			if t := q.tasks[id]; t != nil && t.state == task.StatePending {
				ts = append(ts, t)
			}
		}
	} else {
		for _, t := range q.tasks {
			if t.state == state {
				ts = append(ts, t)
			}
		}
		key := func(t *memTask) (time.Time, string) {
			switch state {
			case task.StateDelayed:
				return t.due, t.m.ID
			case task.StateRunning:
				return t.lease, t.m.ID
			}
			return t.failure.FailedAt, t.m.ID
		}
		sort.Slice(ts, func(i, j int) bool {
			a, ai := key(ts[i])
			b, bi := key(ts[j])
			return a.Before(b) || a.Equal(b) && ai < bi
		})
	}
	ts = ts[min(max(offset, 0), len(ts)):]
	if limit > 0 && len(ts) > limit {
		ts = ts[:limit]
	}
	out := make([]task.Info, len(ts))
	for i, t := range ts {
		out[i] = t.info()
	}
	return out, nil
}

// Counts implements task.AdminStore.
func (s *TaskStore) Counts(ctx context.Context, queue string) (task.QueueStats, error) {
	if err := ctx.Err(); err != nil {
		return task.QueueStats{}, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	c := task.QueueStats{Queue: queue, Paused: s.pausedLocked(queue)}
	q := s.queues[queue]
	if q == nil {
		return c, nil
	}
	for _, t := range q.tasks {
		switch t.state {
		case task.StatePending:
			c.Pending++
		case task.StateDelayed:
			c.Delayed++
		case task.StateRunning:
			c.Running++
		case task.StateFailed:
			c.Failed++
		}
	}
	c.Processed, c.FailedTotal = q.processed, q.failed
	c.Paused = s.pausedLocked(queue)
	return c, nil
}

// Remove implements task.Store and task.AdminStore.
func (s *TaskStore) Remove(ctx context.Context, queue, id string, state task.State) (bool, error) {
	if err := ctx.Err(); err != nil {
		return false, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	q := s.queues[queue]
	if q == nil || state == task.StateRunning {
		return false, nil
	}
	t := q.tasks[id]
	if t == nil || t.state != state {
		return false, nil
	}
	q.release(t)
	q.drop(id)
	return true, nil
}

// RemoveQueue implements task.AdminStore.
func (s *TaskStore) RemoveQueue(ctx context.Context, queue string) (int, error) {
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	q := s.queues[queue]
	if q == nil {
		return 0, nil
	}
	n := 0
	for _, id := range q.pending {
		if t := q.tasks[id]; t != nil && t.state == task.StatePending {
			q.release(t)
			q.drop(id)
			n++
		}
	}
	q.pending = nil
	return n, nil
}

// RetryFailed implements task.AdminStore.
func (s *TaskStore) RetryFailed(ctx context.Context, queue, id string) (bool, error) {
	if err := ctx.Err(); err != nil {
		return false, err
	}
	s.mu.Lock()
	q := s.queues[queue]
	if q == nil || q.tasks[id] == nil || q.tasks[id].state != task.StateFailed {
		s.mu.Unlock()
		return false, nil
	}
	t := q.tasks[id]
	t.attempts, t.failure, t.lastErr = 0, nil, ""
	if t.m.Unique != "" {
		q.unique[t.m.Unique] = id
	}
	wake := q.push(t, false)
	s.mu.Unlock()
	if wake {
		s.notify(queue)
	}
	return true, nil
}

// Locks implements task.AdminStore.
func (s *TaskStore) Locks(ctx context.Context, queue string) ([]task.Lock, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	q := s.queues[queue]
	if q == nil {
		return nil, nil
	}
	var out []task.Lock
	for key := range q.unique {
		if q.uniqueHeld(key) {
			out = append(out, task.Lock{Key: key, Queue: queue, TaskID: q.unique[key]})
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Key < out[j].Key })
	return out, nil
}

// DelLock implements task.AdminStore.
func (s *TaskStore) DelLock(ctx context.Context, queue, key string) (bool, error) {
	if err := ctx.Err(); err != nil {
		return false, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	q := s.queues[queue]
	if q == nil {
		return false, nil
	}
	held := q.uniqueHeld(key)
	delete(q.unique, key)
	return held, nil
}
