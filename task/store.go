package task

import (
	"context"
	"encoding/json"
	"time"
)

// Store is what a Manager needs from a backend: queues of task ids with
// their messages, delayed tasks, leases on running ones, failed ones, and
// a wake-up when work arrives. AdminStore is what an Inspector needs.
// backend/memory and backend/redis implement both on one type;
// internal/backendtest defines their semantics as a conformance suite
// that both pass.
//
// Each method is atomic. Times are the store's clock (injected in tests);
// leases and due times are absolute instants on it.
//
// A queue named by a method is a store queue: one partition of a queue
// (PartitionName), a whole queue when it has one partition; Queues lists
// store queues. A message's store queue is m.PartitionName(). Only
// SetQueuePaused and PausedQueues name whole queues: a pause holds for
// every partition of the queue, present or future (up to MaxPartitions).
//
// An error that a retry may not meet (the store unreachable, restarting
// or failing over) has a method Temporary() bool that returns true: the
// Manager retries such errors, and only those.
type Store interface {
	// Enqueue stores m in store queue m.PartitionName(), pending at once when due is not
	// after now, delayed until due otherwise. It returns false, and no
	// error, when a task with id m.ID is already stored. With m.Unique
	// set, it fails with ErrDuplicateTask while a task with that key is
	// pending, delayed or running in that partition, or, for a partition
	// after 0, in partition 0, where a task enqueued before the queue had
	// partitions holds its key.
	Enqueue(ctx context.Context, m *Message, due time.Time) (bool, error)
	// EnqueuePeriodic enqueues m, the run of periodic task m.Name at
	// m.FireAt, unless a run at that fire time or a later one was already
	// enqueued (false, nil), or StopRecurrent stopped the task
	// (ErrRecurrentStopped).
	EnqueuePeriodic(ctx context.Context, m *Message) (bool, error)
	// LastFire returns the latest fire time enqueued for periodic task
	// name in queue, the zero time if none was.
	LastFire(ctx context.Context, queue, name string) (time.Time, error)
	// SetRecurrent stops (or restarts) the periodic scheduling of task
	// name in queue, for the whole cluster.
	SetRecurrent(ctx context.Context, queue, name string, stopped bool) error

	// Fetch takes the next pending task of queue, leases it to worker
	// until now+lease and counts an attempt. It returns nil, nil when the
	// queue is empty or paused (AdminStore.SetQueuePaused).
	Fetch(ctx context.Context, queue, worker string, lease time.Duration) (*Delivery, error)
	// Extend renews to now+lease the lease of each running task of queue
	// named in leases, only while that task runs under the attempt
	// named, and reports for each, in order, whether it did: a worker
	// whose lease was recovered (and perhaps taken by another worker)
	// cannot renew it. A lease past its deadline that no node recovered
	// yet is still held, and is renewed.
	Extend(ctx context.Context, queue string, leases []Lease, lease time.Duration) ([]bool, error)
	// Ack removes a finished task. It, AckFetch, Retry, Fail and Requeue
	// fail with ErrLeaseLost (AckFetch: acked false) unless the task is
	// running under this delivery's attempt: the attempt number fences
	// off a worker whose lease was recovered, and makes each of them
	// idempotent, since the first that lands ends the attempt. A caller
	// that retries one after a lost reply gets ErrLeaseLost, and nothing
	// happens twice.
	Ack(ctx context.Context, d *Delivery) error
	// AckFetch acknowledges d as Ack does and reports whether it held
	// the lease, then takes the next task of d's queue as Fetch does
	// (none when the queue is paused), in one step: a busy worker pays
	// one round trip per task.
	AckFetch(ctx context.Context, d *Delivery, worker string, lease time.Duration) (next *Delivery, acked bool, err error)
	// Retry moves a running task to the delayed set until due, keeping
	// errMsg as its last error.
	Retry(ctx context.Context, d *Delivery, due time.Time, errMsg string) error
	// Fail moves a running task to the failed list.
	Fail(ctx context.Context, d *Delivery, f Failure) error
	// Requeue hands a running task back: it goes to the head of its
	// queue.
	Requeue(ctx context.Context, d *Delivery) error
	// Forward moves the due delayed tasks of queue to its pending list
	// and, when recoverLapsed is set, the running ones whose lease lapsed
	// back to its head, and returns how many of each it moved, paused
	// queue or not. Any node may call it at any time; each task moves
	// once.
	Forward(ctx context.Context, queue string, recoverLapsed bool) (moved, recovered int, err error)
	// Watch calls wake when a task may have become ready: with the store
	// queue's name when it went from empty to not empty, with
	// AllPartitions(queue) when a paused queue was resumed, and with ""
	// after (re)connecting, until ctx ends. It returns ctx's error.
	Watch(ctx context.Context, wake func(queue string)) error

	// Heartbeat records w as alive until now+ttl.
	Heartbeat(ctx context.Context, w WorkerInfo, ttl time.Duration) error
	// RemoveWorker forgets worker id.
	RemoveWorker(ctx context.Context, id string) error

	// Queues, List and Remove are as in AdminStore: the Manager forwards
	// the delayed tasks of every queue, and StopRecurrent removes the
	// pending runs of the task it stops.
	Queues(ctx context.Context) ([]string, error)
	List(ctx context.Context, queue string, state State, offset, limit int) ([]Info, error)
	Remove(ctx context.Context, queue, id string, state State) (bool, error)
}

// AdminStore is what an Inspector needs from a backend: the figures and
// contents of the queues, and the operator's changes to them.
type AdminStore interface {
	// Queues lists the queues that hold or held tasks.
	Queues(ctx context.Context) ([]string, error)
	// List returns tasks of queue in state, in order (pending: next to
	// run first; delayed: soonest first; running: by lease; failed:
	// oldest failure first), skipping offset and returning at most limit
	// (all when limit <= 0).
	List(ctx context.Context, queue string, state State, offset, limit int) ([]Info, error)
	// Counts returns the figures of queue, and whether it is paused.
	Counts(ctx context.Context, queue string) (QueueStats, error)
	// Remove deletes task id of queue if it is in state (pending, delayed
	// or failed), and reports whether it did.
	Remove(ctx context.Context, queue, id string, state State) (bool, error)
	// RemoveQueue deletes the pending tasks of queue and returns how many.
	RemoveQueue(ctx context.Context, queue string) (int, error)
	// RetryFailed moves failed task id back to its queue with its attempts
	// reset, and reports whether it did.
	RetryFailed(ctx context.Context, queue, id string) (bool, error)
	// Locks lists the unique keys held in queue.
	Locks(ctx context.Context, queue string) ([]Lock, error)
	// DelLock releases unique key of queue and reports whether it was held.
	DelLock(ctx context.Context, queue, key string) (bool, error)
	// RecurrentStopped reports whether StopRecurrent stopped the
	// scheduling of periodic task name in queue.
	RecurrentStopped(ctx context.Context, queue, name string) (bool, error)
	// Workers lists the live workers.
	Workers(ctx context.Context) ([]WorkerInfo, error)
	// SetQueuePaused pauses (or resumes) queue for the whole cluster:
	// while it is paused, Fetch and AckFetch take nothing from it, on
	// any node; its tasks stay pending, and its due delayed tasks still
	// move to pending. Resuming wakes the watchers (Store.Watch). Pausing
	// a queue that holds no task yet records it among Queues.
	SetQueuePaused(ctx context.Context, queue string, paused bool) error
	// PausedQueues lists the paused queues, in name order.
	PausedQueues(ctx context.Context) ([]string, error)
}

// Message is a task as stored.
type Message struct {
	ID          string          `json:"id"`
	Name        string          `json:"name"`
	Queue       string          `json:"queue"`
	Args        json.RawMessage `json:"args,omitempty"`
	MaxAttempts int             `json:"max,omitempty"`
	Unique      string          `json:"unique,omitempty"`
	EnqueuedAt  int64           `json:"at"`             // Unix ms
	FireAt      int64           `json:"fire,omitempty"` // Unix ms, periodic runs
	// Traceparent and Tracestate are the W3C trace context of the code
	// that enqueued the task, so that its runs join that trace. A task
	// stored without them (or by an older version) has none.
	Traceparent string `json:"tp,omitempty"`
	Tracestate  string `json:"ts,omitempty"`
	// Partition is the partition of Queue the task is in: the store keeps
	// it in the queue named PartitionName(Queue, Partition).
	Partition int `json:"part,omitempty"`
}

// Lease names one attempt of a running task, for Extend.
type Lease struct {
	ID      string
	Attempt int
}

// Delivery is a task handed to a worker.
type Delivery struct {
	Message
	// Attempt counts the fetches of the task, this one included.
	Attempt int
	// LeaseUntil is when the lease lapses unless renewed.
	LeaseUntil time.Time
}

// Failure describes why a task failed.
type Failure struct {
	Error    string    `json:"error"`
	Stack    string    `json:"stack,omitempty"`
	Attempts int       `json:"attempts"`
	FailedAt time.Time `json:"failedAt"`
	Worker   string    `json:"worker,omitempty"`
}

// State is where a task is.
type State string

// The states of a task.
const (
	StatePending State = "pending"
	StateDelayed State = "delayed"
	StateRunning State = "running"
	StateFailed  State = "failed"
)

// Info describes a stored task, for the inspection API.
type Info struct {
	Message
	State State `json:"state"`
	// Attempt counts the runs started so far.
	Attempt int `json:"attempt"`
	// RunAt is when a delayed task is due.
	RunAt time.Time `json:"runAt,omitzero"`
	// Worker and StartedAt say who runs a running task since when;
	// LeaseUntil is when its lease lapses unless renewed.
	Worker     string    `json:"worker,omitempty"`
	StartedAt  time.Time `json:"startedAt,omitzero"`
	LeaseUntil time.Time `json:"leaseUntil,omitzero"`
	// LastError is the error of the last failed attempt.
	LastError string `json:"lastError,omitempty"`
	// Failure is set for a failed task.
	Failure *Failure `json:"failure,omitempty"`
}

// QueueStats are the figures of one queue.
type QueueStats struct {
	Queue     string `json:"queue"`
	Pending   int    `json:"pending"`
	Delayed   int    `json:"delayed"`
	Running   int    `json:"running"`
	Failed    int    `json:"failed"`
	Processed int64  `json:"processed"`
	// FailedTotal counts every task that ever failed (Failed counts those
	// still in the failed list).
	FailedTotal int64 `json:"failedTotal"`
	// Paused is set while the queue is paused cluster-wide: no worker
	// takes its tasks (Inspector.PauseQueue).
	Paused bool `json:"paused"`
}

// WorkerInfo describes the workers of one node.
type WorkerInfo struct {
	ID          string   `json:"id"`
	Node        string   `json:"node"`
	Queues      []string `json:"queues"`
	Concurrency int      `json:"concurrency"`
	Running     int      `json:"running"`
	// Paused is set while the node's workers are paused (Manager.Pause).
	Paused    bool      `json:"paused,omitempty"`
	StartedAt time.Time `json:"startedAt"`
	Heartbeat time.Time `json:"heartbeat"`
}

// Lock is a unique key held by a pending, delayed or running task.
type Lock struct {
	Key    string `json:"key"`
	Queue  string `json:"queue"`
	TaskID string `json:"taskId"`
}
