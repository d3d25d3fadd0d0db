package task

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"sort"
	"time"
)

// queuesAll lists every queue: the store's and this node's.
func (q *Manager) queuesAll(ctx context.Context) ([]string, error) {
	names, err := q.store.Queues(ctx)
	if err != nil {
		return nil, err
	}
	all := union(q.WorkerQueues(), names)
	sort.Strings(all)
	return all, nil
}

// matches reports whether m is task name with args (any args when args is
// nil).
func matches(m *Message, name string, args any) (bool, error) {
	if m.Name != name {
		return false, nil
	}
	if args == nil {
		return true, nil
	}
	raw, err := encodeArgs(args)
	if err != nil {
		return false, err
	}
	return canonical(raw) == canonical(m.Args), nil
}

// Del removes up to count pending tasks of queue named name whose
// arguments equal args (any arguments when args is nil; every match when
// count <= 0), and returns how many it removed (Stellar's api.tasks.del).
func (q *Manager) Del(ctx context.Context, queue, name string, args any, count int) (int, error) {
	return q.delIn(ctx, queue, name, args, count, StatePending)
}

func (q *Manager) delIn(ctx context.Context, queue, name string, args any, count int, st State) (int, error) {
	infos, err := q.store.List(ctx, queue, st, 0, 0)
	if err != nil {
		return 0, err
	}
	n := 0
	for _, in := range infos {
		ok, err := matches(&in.Message, name, args)
		if err != nil {
			return n, err
		}
		if !ok {
			continue
		}
		removed, err := q.store.Remove(ctx, queue, in.ID, st)
		if err != nil {
			return n, err
		}
		if removed {
			n++
			if count > 0 && n >= count {
				break
			}
		}
	}
	return n, nil
}

// DelDelayed removes the delayed tasks of queue named name with args (any
// when nil) and returns the times they were due (Stellar's
// api.tasks.delDelayed).
func (q *Manager) DelDelayed(ctx context.Context, queue, name string, args any) ([]time.Time, error) {
	infos, err := q.store.List(ctx, queue, StateDelayed, 0, 0)
	if err != nil {
		return nil, err
	}
	var out []time.Time
	for _, in := range infos {
		ok, err := matches(&in.Message, name, args)
		if err != nil {
			return out, err
		}
		if !ok {
			continue
		}
		removed, err := q.store.Remove(ctx, queue, in.ID, StateDelayed)
		if err != nil {
			return out, err
		}
		if removed {
			out = append(out, in.RunAt)
		}
	}
	return out, nil
}

// DelQueue removes every pending task of queue and returns how many
// (Stellar's api.tasks.delQueue).
func (q *Manager) DelQueue(ctx context.Context, queue string) (int, error) {
	return q.store.RemoveQueue(ctx, queue)
}

// DelDelayedAt removes every delayed task due at t (to the millisecond),
// in every queue, and returns how many (Stellar's api.tasks.delDelayedAt).
func (q *Manager) DelDelayedAt(ctx context.Context, t time.Time) (int, error) {
	all, err := q.AllDelayed(ctx)
	if err != nil {
		return 0, err
	}
	n := 0
	for _, in := range all {
		if in.RunAt.UnixMilli() != t.UnixMilli() {
			continue
		}
		removed, err := q.store.Remove(ctx, in.Queue, in.ID, StateDelayed)
		if err != nil {
			return n, err
		}
		if removed {
			n++
		}
	}
	return n, nil
}

// AllDelayed lists the delayed tasks of every queue, soonest first
// (Stellar's api.tasks.allDelayed).
func (q *Manager) AllDelayed(ctx context.Context) ([]Info, error) {
	names, err := q.queuesAll(ctx)
	if err != nil {
		return nil, err
	}
	var out []Info
	for _, name := range names {
		infos, err := q.store.List(ctx, name, StateDelayed, 0, 0)
		if err != nil {
			return nil, err
		}
		out = append(out, infos...)
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].RunAt.Before(out[j].RunAt) })
	return out, nil
}

// Timestamps lists the distinct times at which delayed tasks are due,
// soonest first (Stellar's api.tasks.timestamps).
func (q *Manager) Timestamps(ctx context.Context) ([]time.Time, error) {
	all, err := q.AllDelayed(ctx)
	if err != nil {
		return nil, err
	}
	var out []time.Time
	for _, in := range all {
		if len(out) == 0 || !out[len(out)-1].Equal(in.RunAt) {
			out = append(out, in.RunAt)
		}
	}
	return out, nil
}

// ScheduledAt lists the times at which delayed tasks of queue named name
// with args (any when nil) are due (node-resque's scheduledAt).
func (q *Manager) ScheduledAt(ctx context.Context, queue, name string, args any) ([]time.Time, error) {
	infos, err := q.store.List(ctx, queue, StateDelayed, 0, 0)
	if err != nil {
		return nil, err
	}
	var out []time.Time
	for _, in := range infos {
		if ok, err := matches(&in.Message, name, args); err != nil {
			return nil, err
		} else if ok {
			out = append(out, in.RunAt)
		}
	}
	return out, nil
}

// Queued lists the pending tasks of queue, next to run first, skipping
// offset and returning at most limit (node-resque's queued).
func (q *Manager) Queued(ctx context.Context, queue string, offset, limit int) ([]Info, error) {
	return q.store.List(ctx, queue, StatePending, offset, limit)
}

// Stats are the figures of the whole task system.
type Stats struct {
	Queues  []QueueStats `json:"queues"`
	Workers int          `json:"workers"` // live nodes running workers
	// Concurrency sums the live workers' concurrency.
	Concurrency int `json:"concurrency"`
}

// Stats returns per-queue figures and the number of live workers
// (Stellar's api.tasks.stats).
func (q *Manager) Stats(ctx context.Context) (Stats, error) {
	names, err := q.queuesAll(ctx)
	if err != nil {
		return Stats{}, err
	}
	var s Stats
	for _, name := range names {
		c, err := q.store.Counts(ctx, name)
		if err != nil {
			return Stats{}, err
		}
		s.Queues = append(s.Queues, c)
	}
	ws, err := q.store.Workers(ctx)
	if err != nil {
		return Stats{}, err
	}
	s.Workers = len(ws)
	for _, w := range ws {
		s.Concurrency += w.Concurrency
	}
	return s, nil
}

// Workers lists the live workers of the cluster, one per node running
// workers (Stellar's api.tasks.workers).
func (q *Manager) Workers(ctx context.Context) ([]WorkerInfo, error) {
	ws, err := q.store.Workers(ctx)
	sort.Slice(ws, func(i, j int) bool { return ws[i].ID < ws[j].ID })
	return ws, err
}

// WorkingOn lists the tasks that worker runs, or every running task when
// worker is "" (Stellar's api.tasks.workingOn).
func (q *Manager) WorkingOn(ctx context.Context, worker string) ([]Info, error) {
	names, err := q.queuesAll(ctx)
	if err != nil {
		return nil, err
	}
	var out []Info
	for _, name := range names {
		infos, err := q.store.List(ctx, name, StateRunning, 0, 0)
		if err != nil {
			return nil, err
		}
		for _, in := range infos {
			if worker == "" || in.Worker == worker {
				out = append(out, in)
			}
		}
	}
	return out, nil
}

// Details describes the queues, the workers and what they run.
type Details struct {
	Queues  []QueueStats `json:"queues"`
	Workers []WorkerInfo `json:"workers"`
	Running []Info       `json:"running"`
}

// Details returns the queues, the workers and their running tasks
// (Stellar's api.tasks.details).
func (q *Manager) Details(ctx context.Context) (Details, error) {
	s, err := q.Stats(ctx)
	if err != nil {
		return Details{}, err
	}
	ws, err := q.Workers(ctx)
	if err != nil {
		return Details{}, err
	}
	running, err := q.WorkingOn(ctx, "")
	if err != nil {
		return Details{}, err
	}
	return Details{Queues: s.Queues, Workers: ws, Running: running}, nil
}

// Locks lists the unique keys held by pending, delayed and running tasks
// (Stellar's api.tasks.locks).
func (q *Manager) Locks(ctx context.Context) ([]Lock, error) {
	names, err := q.queuesAll(ctx)
	if err != nil {
		return nil, err
	}
	var out []Lock
	for _, name := range names {
		ls, err := q.store.Locks(ctx, name)
		if err != nil {
			return nil, err
		}
		out = append(out, ls...)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Key < out[j].Key })
	return out, nil
}

// DelLock releases unique key in every queue, so that a task with that
// key may be enqueued again, and returns how many it released (Stellar's
// api.tasks.delLock).
func (q *Manager) DelLock(ctx context.Context, key string) (int, error) {
	names, err := q.queuesAll(ctx)
	if err != nil {
		return 0, err
	}
	n := 0
	for _, name := range names {
		ok, err := q.store.DelLock(ctx, name, key)
		if err != nil {
			return n, err
		}
		if ok {
			n++
		}
	}
	return n, nil
}

// Failed lists failed tasks of every queue, oldest failure first,
// skipping offset and returning at most limit, all when limit <= 0
// (Stellar's api.tasks.failed).
func (q *Manager) Failed(ctx context.Context, offset, limit int) ([]Info, error) {
	names, err := q.queuesAll(ctx)
	if err != nil {
		return nil, err
	}
	var out []Info
	for _, name := range names {
		infos, err := q.store.List(ctx, name, StateFailed, 0, 0)
		if err != nil {
			return nil, err
		}
		out = append(out, infos...)
	}
	sort.SliceStable(out, func(i, j int) bool {
		return out[i].Failure.FailedAt.Before(out[j].Failure.FailedAt)
	})
	if offset > 0 {
		out = out[min(offset, len(out)):]
	}
	if limit > 0 && len(out) > limit {
		out = out[:limit]
	}
	return out, nil
}

// FailedCount counts the failed tasks (Stellar's api.tasks.failedCount).
func (q *Manager) FailedCount(ctx context.Context) (int, error) {
	names, err := q.queuesAll(ctx)
	if err != nil {
		return 0, err
	}
	n := 0
	for _, name := range names {
		c, err := q.store.Counts(ctx, name)
		if err != nil {
			return 0, err
		}
		n += c.Failed
	}
	return n, nil
}

// findFailed returns the queue of failed task id.
func (q *Manager) findFailed(ctx context.Context, id string) (string, error) {
	all, err := q.Failed(ctx, 0, 0)
	if err != nil {
		return "", err
	}
	i := slices.IndexFunc(all, func(in Info) bool { return in.ID == id })
	if i < 0 {
		return "", fmt.Errorf("%w: no failed task %q", ErrNotFound, id)
	}
	return all[i].Queue, nil
}

// RemoveFailed deletes failed task id (Stellar's api.tasks.removeFailed).
func (q *Manager) RemoveFailed(ctx context.Context, id string) error {
	queue, err := q.findFailed(ctx, id)
	if err != nil {
		return err
	}
	ok, err := q.store.Remove(ctx, queue, id, StateFailed)
	if err == nil && !ok {
		err = fmt.Errorf("%w: no failed task %q", ErrNotFound, id)
	}
	return err
}

// RetryAndRemoveFailed moves failed task id back to its queue, with its
// attempts reset (Stellar's api.tasks.retryAndRemoveFailed).
func (q *Manager) RetryAndRemoveFailed(ctx context.Context, id string) error {
	queue, err := q.findFailed(ctx, id)
	if err != nil {
		return err
	}
	ok, err := q.store.RetryFailed(ctx, queue, id)
	if err == nil && !ok {
		err = fmt.Errorf("%w: no failed task %q", ErrNotFound, id)
	}
	return err
}

// Running reports how many tasks this node runs now.
func (q *Manager) Running() int {
	q.mu.Lock()
	defer q.mu.Unlock()
	return len(q.running)
}

// MarshalArgs is a helper for printing: args as compact JSON, "null" when
// empty.
func MarshalArgs(raw json.RawMessage) string {
	if len(raw) == 0 {
		return "null"
	}
	var b bytes.Buffer
	if err := json.Compact(&b, raw); err != nil {
		return string(raw)
	}
	return b.String()
}
