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

// Inspector reads and manages the task queues of the whole cluster on an
// AdminStore: the administration half of Stellar's api.tasks (stats,
// failed, delayed, locks, …), for an operator's command line or a
// dashboard. It needs no Manager and no registered task: every method
// names its queue or works on every queue of the store. It is safe for
// concurrent use.
type Inspector struct {
	store AdminStore
}

// NewInspector returns an Inspector on store (a backend's Tasks()).
func NewInspector(store AdminStore) *Inspector {
	return &Inspector{store: store}
}

// queues lists every store queue (each partition of each queue), in
// name order.
func (i *Inspector) queues(ctx context.Context) ([]string, error) {
	names, err := i.store.Queues(ctx)
	if err != nil {
		return nil, err
	}
	sort.Strings(names)
	return names, nil
}

// grouped lists the queues of the store, in name order, with the store
// queues (partitions) of each, partition 0 first.
func (i *Inspector) grouped(ctx context.Context) ([]string, map[string][]string, error) {
	names, err := i.queues(ctx)
	if err != nil {
		return nil, nil, err
	}
	parts := map[string][]string{}
	var out []string
	for _, n := range names {
		q, _ := SplitPartition(n)
		if _, ok := parts[q]; !ok {
			out = append(out, q)
		}
		parts[q] = append(parts[q], n)
	}
	sort.Strings(out)
	for q, ps := range parts {
		sort.Slice(ps, func(a, b int) bool {
			_, pa := SplitPartition(ps[a])
			_, pb := SplitPartition(ps[b])
			return pa < pb
		})
		if _, p := SplitPartition(ps[0]); p != 0 {
			parts[q] = append([]string{q}, ps...)
		}
	}
	return out, parts, nil
}

// partitions lists the store queues of queue: partition 0, then those
// of its other partitions that the store lists.
func (i *Inspector) partitions(ctx context.Context, queue string) ([]string, error) {
	_, parts, err := i.grouped(ctx)
	if err != nil {
		return nil, err
	}
	if ps, ok := parts[queue]; ok {
		return ps, nil
	}
	return []string{queue}, nil
}

// Queues lists the queues that hold or held tasks, in name order: each
// queue once, whatever its partitions.
func (i *Inspector) Queues(ctx context.Context) ([]string, error) {
	names, _, err := i.grouped(ctx)
	return names, err
}

// Partitions lists the store queues (PartitionName) that hold or held
// tasks of queue, partition 0 first.
func (i *Inspector) Partitions(ctx context.Context, queue string) ([]string, error) {
	return i.partitions(ctx, queue)
}

// lister finds and removes tasks: the part of Store and AdminStore that
// both the Manager (StopRecurrent) and the Inspector use.
type lister interface {
	List(ctx context.Context, queue string, state State, offset, limit int) ([]Info, error)
	Remove(ctx context.Context, queue, id string, state State) (bool, error)
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
func (i *Inspector) Del(ctx context.Context, queue, name string, args any, count int) (int, error) {
	parts, err := i.partitions(ctx, queue)
	if err != nil {
		return 0, err
	}
	n := 0
	for _, p := range parts {
		left := 0
		if count > 0 {
			left = count - n
		}
		k, err := delMatching(ctx, i.store, p, name, args, left, StatePending)
		n += k
		if err != nil || (count > 0 && n >= count) {
			return n, err
		}
	}
	return n, nil
}

// delMatching removes up to count tasks of queue in state st named name
// with args (any when nil; every match when count <= 0).
func delMatching(ctx context.Context, s lister, queue, name string, args any, count int, st State) (int, error) {
	infos, err := s.List(ctx, queue, st, 0, 0)
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
		removed, err := s.Remove(ctx, queue, in.ID, st)
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
func (i *Inspector) DelDelayed(ctx context.Context, queue, name string, args any) ([]time.Time, error) {
	parts, err := i.partitions(ctx, queue)
	if err != nil {
		return nil, err
	}
	var out []time.Time
	for _, p := range parts {
		ts, err := delDelayed(ctx, i.store, p, name, args)
		out = append(out, ts...)
		if err != nil {
			return out, err
		}
	}
	return out, nil
}

func delDelayed(ctx context.Context, s lister, queue, name string, args any) ([]time.Time, error) {
	infos, err := s.List(ctx, queue, StateDelayed, 0, 0)
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
		removed, err := s.Remove(ctx, queue, in.ID, StateDelayed)
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
func (i *Inspector) DelQueue(ctx context.Context, queue string) (int, error) {
	parts, err := i.partitions(ctx, queue)
	if err != nil {
		return 0, err
	}
	n := 0
	for _, p := range parts {
		k, err := i.store.RemoveQueue(ctx, p)
		n += k
		if err != nil {
			return n, err
		}
	}
	return n, nil
}

// DelDelayedAt removes every delayed task due at t (to the millisecond),
// in every queue, and returns how many (Stellar's api.tasks.delDelayedAt).
func (i *Inspector) DelDelayedAt(ctx context.Context, t time.Time) (int, error) {
	all, err := i.AllDelayed(ctx)
	if err != nil {
		return 0, err
	}
	n := 0
	for _, in := range all {
		if in.RunAt.UnixMilli() != t.UnixMilli() {
			continue
		}
		removed, err := i.store.Remove(ctx, in.PartitionName(), in.ID, StateDelayed)
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
func (i *Inspector) AllDelayed(ctx context.Context) ([]Info, error) {
	names, err := i.queues(ctx)
	if err != nil {
		return nil, err
	}
	var out []Info
	for _, name := range names {
		infos, err := i.store.List(ctx, name, StateDelayed, 0, 0)
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
func (i *Inspector) Timestamps(ctx context.Context) ([]time.Time, error) {
	all, err := i.AllDelayed(ctx)
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
func (i *Inspector) ScheduledAt(ctx context.Context, queue, name string, args any) ([]time.Time, error) {
	infos, err := i.list(ctx, queue, StateDelayed, 0, 0)
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
// offset and returning at most limit (node-resque's queued). Across the
// partitions of a queue, "next" is by enqueue time: each partition is
// taken in its own order.
func (i *Inspector) Queued(ctx context.Context, queue string, offset, limit int) ([]Info, error) {
	return i.list(ctx, queue, StatePending, offset, limit)
}

// list lists the tasks of queue in state across its partitions, merged
// in the order of the state (pending by enqueue time), skipping offset
// and returning at most limit (all when limit <= 0).
func (i *Inspector) list(ctx context.Context, queue string, st State, offset, limit int) ([]Info, error) {
	parts, err := i.partitions(ctx, queue)
	if err != nil {
		return nil, err
	}
	if len(parts) == 1 {
		return i.store.List(ctx, parts[0], st, offset, limit)
	}
	offset = max(offset, 0)
	each := 0
	if limit > 0 {
		each = offset + limit
	}
	var out []Info
	for _, p := range parts {
		infos, err := i.store.List(ctx, p, st, 0, each)
		if err != nil {
			return nil, err
		}
		out = append(out, infos...)
	}
	sort.SliceStable(out, func(a, b int) bool { return infoBefore(st, &out[a], &out[b]) })
	out = out[min(offset, len(out)):]
	if limit > 0 && len(out) > limit {
		out = out[:limit]
	}
	return out, nil
}

// infoBefore orders the tasks of one state as List does.
func infoBefore(st State, a, b *Info) bool {
	switch st {
	case StateDelayed:
		return a.RunAt.Before(b.RunAt)
	case StateRunning:
		return a.LeaseUntil.Before(b.LeaseUntil)
	case StateFailed:
		if a.Failure != nil && b.Failure != nil {
			return a.Failure.FailedAt.Before(b.Failure.FailedAt)
		}
	}
	return a.EnqueuedAt < b.EnqueuedAt
}

// counts sums the figures of the partitions of queue.
func (i *Inspector) counts(ctx context.Context, queue string, parts []string) (QueueStats, error) {
	sum := QueueStats{Queue: queue}
	for _, p := range parts {
		c, err := i.store.Counts(ctx, p)
		if err != nil {
			return QueueStats{}, err
		}
		sum.Pending += c.Pending
		sum.Delayed += c.Delayed
		sum.Running += c.Running
		sum.Failed += c.Failed
		sum.Processed += c.Processed
		sum.FailedTotal += c.FailedTotal
		sum.Paused = sum.Paused || c.Paused
	}
	return sum, nil
}

// QueueStats returns the figures of queue, summed over its partitions.
func (i *Inspector) QueueStats(ctx context.Context, queue string) (QueueStats, error) {
	parts, err := i.partitions(ctx, queue)
	if err != nil {
		return QueueStats{}, err
	}
	return i.counts(ctx, queue, parts)
}

// List lists the tasks of queue in state st, in the store's order
// (pending: next to run first; delayed: soonest first; running: by lease;
// failed: oldest failure first), skipping offset and returning at most limit, all when
// limit <= 0: a page of a queue for a dashboard, without reading all of
// it.
func (i *Inspector) List(ctx context.Context, queue string, st State, offset, limit int) ([]Info, error) {
	return i.store.List(ctx, queue, st, offset, limit)
}

// Stats are the figures of the whole task system.
type Stats struct {
	Queues  []QueueStats `json:"queues"`
	Workers int          `json:"workers"` // live nodes running workers
	// Concurrency sums the live workers' concurrency.
	Concurrency int `json:"concurrency"`
}

// Stats returns per-queue figures (QueueStats.Paused among them), each
// queue's summed over its partitions, and the number of live workers
// (Stellar's api.tasks.stats).
func (i *Inspector) Stats(ctx context.Context) (Stats, error) {
	names, parts, err := i.grouped(ctx)
	if err != nil {
		return Stats{}, err
	}
	var s Stats
	for _, name := range names {
		c, err := i.counts(ctx, name, parts[name])
		if err != nil {
			return Stats{}, err
		}
		s.Queues = append(s.Queues, c)
	}
	ws, err := i.store.Workers(ctx)
	if err != nil {
		return Stats{}, err
	}
	s.Workers = len(ws)
	for _, w := range ws {
		s.Concurrency += w.Concurrency
	}
	return s, nil
}

// PauseQueue pauses queue on every node: no worker takes its tasks until
// ResumeQueue. The tasks running now finish; enqueues go on, and due
// delayed tasks still move to pending, waiting there. The pause is kept
// in the backend, so it holds across restarts and for nodes that join
// later (node-resque and Stellar have no equivalent; asynq's
// Inspector.PauseQueue).
func (i *Inspector) PauseQueue(ctx context.Context, queue string) error {
	if err := CheckQueueName(queue); err != nil {
		return err
	}
	return i.store.SetQueuePaused(ctx, queue, true)
}

// ResumeQueue undoes PauseQueue: idle workers of every node serving queue
// are woken and take its tasks at once. Resuming a queue that is not
// paused does nothing.
func (i *Inspector) ResumeQueue(ctx context.Context, queue string) error {
	if err := CheckQueueName(queue); err != nil {
		return err
	}
	return i.store.SetQueuePaused(ctx, queue, false)
}

// PausedQueues lists the queues paused by PauseQueue, in name order.
func (i *Inspector) PausedQueues(ctx context.Context) ([]string, error) {
	names, err := i.store.PausedQueues(ctx)
	sort.Strings(names)
	return names, err
}

// RecurrentStopped reports whether StopRecurrent stopped periodic task
// name of queue, so that no node schedules it.
func (i *Inspector) RecurrentStopped(ctx context.Context, queue, name string) (bool, error) {
	return i.store.RecurrentStopped(ctx, queue, name)
}

// Workers lists the live workers of the cluster, one per node running
// workers (Stellar's api.tasks.workers).
func (i *Inspector) Workers(ctx context.Context) ([]WorkerInfo, error) {
	ws, err := i.store.Workers(ctx)
	sort.Slice(ws, func(i, j int) bool { return ws[i].ID < ws[j].ID })
	return ws, err
}

// WorkingOn lists the tasks that worker runs, or every running task when
// worker is "" (Stellar's api.tasks.workingOn).
func (i *Inspector) WorkingOn(ctx context.Context, worker string) ([]Info, error) {
	names, err := i.queues(ctx)
	if err != nil {
		return nil, err
	}
	var out []Info
	for _, name := range names {
		infos, err := i.store.List(ctx, name, StateRunning, 0, 0)
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
func (i *Inspector) Details(ctx context.Context) (Details, error) {
	s, err := i.Stats(ctx)
	if err != nil {
		return Details{}, err
	}
	ws, err := i.Workers(ctx)
	if err != nil {
		return Details{}, err
	}
	running, err := i.WorkingOn(ctx, "")
	if err != nil {
		return Details{}, err
	}
	return Details{Queues: s.Queues, Workers: ws, Running: running}, nil
}

// Locks lists the unique keys held by pending, delayed and running tasks
// (Stellar's api.tasks.locks).
func (i *Inspector) Locks(ctx context.Context) ([]Lock, error) {
	names, err := i.queues(ctx)
	if err != nil {
		return nil, err
	}
	var out []Lock
	for _, name := range names {
		ls, err := i.store.Locks(ctx, name)
		if err != nil {
			return nil, err
		}
		for _, l := range ls {
			l.Queue, _ = SplitPartition(l.Queue)
			out = append(out, l)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Key < out[j].Key })
	return out, nil
}

// DelLock releases unique key in every queue, so that a task with that
// key may be enqueued again, and returns how many it released (Stellar's
// api.tasks.delLock).
func (i *Inspector) DelLock(ctx context.Context, key string) (int, error) {
	names, err := i.queues(ctx)
	if err != nil {
		return 0, err
	}
	n := 0
	for _, name := range names {
		ok, err := i.store.DelLock(ctx, name, key)
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
func (i *Inspector) Failed(ctx context.Context, offset, limit int) ([]Info, error) {
	names, err := i.queues(ctx)
	if err != nil {
		return nil, err
	}
	var out []Info
	for _, name := range names {
		infos, err := i.store.List(ctx, name, StateFailed, 0, 0)
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
func (i *Inspector) FailedCount(ctx context.Context) (int, error) {
	names, err := i.queues(ctx)
	if err != nil {
		return 0, err
	}
	n := 0
	for _, name := range names {
		c, err := i.store.Counts(ctx, name)
		if err != nil {
			return 0, err
		}
		n += c.Failed
	}
	return n, nil
}

// findFailed returns the queue of failed task id.
func (i *Inspector) findFailed(ctx context.Context, id string) (string, error) {
	all, err := i.Failed(ctx, 0, 0)
	if err != nil {
		return "", err
	}
	k := slices.IndexFunc(all, func(in Info) bool { return in.ID == id })
	if k < 0 {
		return "", fmt.Errorf("%w: no failed task %q", ErrNotFound, id)
	}
	return all[k].PartitionName(), nil
}

// RemoveFailed deletes failed task id (Stellar's api.tasks.removeFailed).
func (i *Inspector) RemoveFailed(ctx context.Context, id string) error {
	queue, err := i.findFailed(ctx, id)
	if err != nil {
		return err
	}
	ok, err := i.store.Remove(ctx, queue, id, StateFailed)
	if err == nil && !ok {
		err = fmt.Errorf("%w: no failed task %q", ErrNotFound, id)
	}
	return err
}

// RetryAndRemoveFailed moves failed task id back to its queue, with its
// attempts reset (Stellar's api.tasks.retryAndRemoveFailed).
func (i *Inspector) RetryAndRemoveFailed(ctx context.Context, id string) error {
	queue, err := i.findFailed(ctx, id)
	if err != nil {
		return err
	}
	ok, err := i.store.RetryFailed(ctx, queue, id)
	if err == nil && !ok {
		err = fmt.Errorf("%w: no failed task %q", ErrNotFound, id)
	}
	return err
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
