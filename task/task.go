// Package task runs background work: Stellar's tasks (node-resque jobs).
// A Manager enqueues tasks, keeps delayed and periodic ones, and runs
// workers that process them, on a Store that a backend provides: the
// embedded memory backend for one node, or Redis for a cluster. An
// Inspector, on the backend's AdminStore, shows and manages the queues of
// the whole cluster: figures, delayed and failed tasks, locks.
//
// # Delivery
//
// Delivery is at least once. A worker holds a lease on each task it runs
// and renews it while the handler runs; renewal is fenced by the attempt
// number, so a worker whose task was recovered cannot renew it, and its
// run is cut off (context.Cause is ErrLeaseLost), as is a run whose lease
// ran out on this node before it could be renewed. When a lease lapses
// (the node was killed, cut off or frozen), any node moves the task back
// to its queue, and it runs again with the next attempt number. A
// handler's outcome is recorded only under its own attempt, and retried
// while the store is unreachable, the lease renewed meanwhile, so that a
// task that finished while Redis restarted does not run again.
// Task.Attempt and Task.LeaseHeld let a handler make work that was cut
// off mid-run idempotent. A node that stops gracefully stops fetching,
// waits for its running tasks up to a deadline and hands back the rest.
//
// # Periodic tasks
//
// A Definition with a Frequency runs once per period across the whole
// cluster: every node schedules it, with an id derived from the task name
// and the fire time, and the store refuses the second enqueue of a fire
// time. No node is special, so none can be lost. Definition.CatchUp says
// what happens to the fire times missed during an outage.
//
// # Typed tasks
//
// Typed declares a task whose arguments are the fields of a struct, with
// the tags of a typed action's inputs (package input, "Typed inputs"):
// its handler receives them bound into the struct, and Enqueue takes the
// struct as args.
package task

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/stellarfw/stellar-go/input"
)

// Errors of the task API.
var (
	// ErrDuplicateTask is returned by Enqueue for a task with a unique key
	// while an identical one is pending, delayed or running.
	ErrDuplicateTask = errors.New("task: duplicate task")
	// ErrUnknownTask names a task that is not registered.
	ErrUnknownTask = errors.New("task: unknown task")
	// ErrNotFound is returned for a task id that is not where it was
	// looked for.
	ErrNotFound = errors.New("task: not found")
	// ErrLeaseLost means the worker no longer held the task's lease: the
	// task had been recovered and may run again. It is also the cause
	// (context.Cause) of a handler's context when its run is cut off: the
	// store refused to renew the lease, or the lease ran out on this node
	// before it could be renewed (Redis unreachable, or the process
	// frozen).
	ErrLeaseLost = errors.New("task: lease lost")
	// ErrSkipRetry, returned (or wrapped) by a handler, sends the task to
	// the failed list at once, without the remaining attempts.
	ErrSkipRetry = errors.New("task: skip retry")
	// ErrRecurrentStopped is returned by the store for a periodic run of
	// a task that StopRecurrent stopped.
	ErrRecurrentStopped = errors.New("task: recurrent task stopped")
	// ErrNotStarted is returned by a Manager's enqueues before Start.
	ErrNotStarted = errors.New("task: not started")
	// ErrStopped is returned by a Manager's enqueues once Stop returned,
	// and by Start after Stop.
	ErrStopped = errors.New("task: stopped")
	// ErrHandedBack is the cause (context.Cause) of a handler's context,
	// and the Err of its event.TaskFailed, when Stop handed the task back
	// to its queue because the run did not finish within the drain
	// timeout: it runs again, on this node or another.
	ErrHandedBack = errors.New("task: handed back at shutdown")
)

// DefaultQueue is the queue of a task that names none.
const DefaultQueue = "default"

// Task is one run of a task, as its handler sees it.
type Task struct {
	// ID identifies the task across retries and recoveries.
	ID string
	// Name is the task's registered name.
	Name string
	// Queue is the queue it was taken from.
	Queue string
	// Attempt counts the runs of this task, this one included: 1 on the
	// first run, more after a failure or when a run was cut off (the node
	// running it died or stopped).
	Attempt int
	// MaxAttempts is the number of runs allowed before the task fails.
	MaxAttempts int
	// Args are the arguments as enqueued, in JSON.
	Args json.RawMessage
	// Params are the arguments after the task's Inputs applied defaults,
	// formats and validation (the whole JSON object when it has no Inputs).
	Params input.Params
	// EnqueuedAt is when the task was first enqueued.
	EnqueuedAt time.Time
	// FireAt is the fire time of a periodic task's run; zero otherwise.
	FireAt time.Time

	run *run // the Manager's run; nil for a Task it did not start
}

// LeaseHeld reports whether this run still holds its task's lease, as
// far as this node can tell. It turns false, for good, once the lease
// ran out on this node's monotonic clock without a renewal (the store
// unreachable, or the process frozen: the freeze counts, and LeaseHeld
// knows at once on waking, before any other goroutine ran), once the
// store refused a renewal (the task was recovered and may run elsewhere),
// or once Stop handed the task back. The handler's context ends then too,
// with cause ErrLeaseLost.
//
// Delivery is at least once. A handler with a side effect that must not
// happen twice checks LeaseHeld right before committing it, and makes the
// effect idempotent by ID and Attempt: a run can still be cut off between
// the check and the commit. It is true for a Task the Manager did not
// start (one built in a test, or seen by enqueue middleware).
func (t *Task) LeaseHeld() bool {
	if t.run == nil {
		return true
	}
	return t.run.held()
}

// Handler processes tasks. A returned error (or a panic, which becomes
// an error) fails this attempt.
type Handler interface {
	ProcessTask(ctx context.Context, t *Task) error
}

// HandlerFunc adapts a function to Handler.
type HandlerFunc func(ctx context.Context, t *Task) error

// ProcessTask calls f.
func (f HandlerFunc) ProcessTask(ctx context.Context, t *Task) error { return f(ctx, t) }

// Middleware wraps the handler of a run: code before the call runs
// before the task, code after it after.
type Middleware func(Handler) Handler

// EnqueueFunc enqueues one task; EnqueueMiddleware wraps it.
type EnqueueFunc func(ctx context.Context, t *Task) error

// EnqueueMiddleware wraps enqueueing: it may look at or change the task,
// refuse it by returning an error, or act after it was enqueued.
type EnqueueMiddleware func(EnqueueFunc) EnqueueFunc

// Definition declares a task (Stellar's task object).
type Definition struct {
	// Name identifies the task; it must be unique. A namespace helps:
	// "auth.sessionValidation".
	Name string
	// Description says what the task does.
	Description string
	// Queue is where the task goes unless Enqueue says otherwise.
	// Default "default".
	Queue string
	// Frequency, when positive, makes the task periodic: it runs once per
	// Frequency across the cluster, aligned on multiples of it since the
	// Unix epoch. Periodic tasks take no arguments.
	Frequency time.Duration
	// CatchUp says what a periodic task does about the fire times that no
	// node could enqueue in time (an outage of the store, or every node
	// down). Default CatchUpOnce.
	CatchUp CatchUp
	// Inputs declares the arguments, validated as an action's inputs are
	// (see package input), at enqueue and again before each run.
	Inputs map[string]input.Input
	// MaxAttempts is the number of runs before the task fails. Default 3
	// (1 for periodic tasks: the next period runs it again).
	MaxAttempts int
	// Backoff is the wait before attempt n+1 after attempt n failed.
	// Default exponential from 1s, doubled each time, capped at 1h, with
	// up to 20% jitter.
	Backoff func(n int) time.Duration
	// Timeout bounds one run: the handler's context ends after it. Zero
	// means no bound.
	Timeout time.Duration
	// Unique refuses to enqueue the task while one with the same name and
	// arguments is pending or running (ErrDuplicateTask), as if each
	// Enqueue passed Unique("").
	Unique bool
	// Handler runs the task.
	Handler Handler
	// Middleware wraps this task's runs, inside the Manager's middleware.
	Middleware []Middleware
	// EnqueueMiddleware wraps this task's enqueues, inside the Manager's.
	EnqueueMiddleware []EnqueueMiddleware

	inputs *input.Set
	typed  *typedArgs // set by Typed
}

// CatchUp is the policy of a periodic task for the fire times it missed.
// A fire time counts as missed when no node enqueued it within a second
// (or two PollIntervals if longer, but at most half the Frequency) of it.
// Whatever the policy, no fire time runs twice.
type CatchUp int

// The catch-up policies.
const (
	// CatchUpOnce runs the missed fire times once in all: as the late run
	// of the current period when the scheduler is back within it, or as
	// one run of the latest missed fire time, before the current one,
	// when it is back in time for the current one.
	CatchUpOnce CatchUp = iota
	// CatchUpNone skips missed fire times: the task runs again at its
	// next fire time.
	CatchUpNone
	// CatchUpEach runs every missed fire time, oldest first, up to the
	// latest 100 of them.
	CatchUpEach
)

// Periodic reports whether the task runs on a frequency.
func (d *Definition) Periodic() bool { return d.Frequency > 0 }

func (d *Definition) check() error {
	switch {
	case d == nil:
		return errors.New("task: Register called with a nil definition")
	case d.Name == "":
		return errors.New("task: a task needs a Name")
	case d.typed != nil && d.typed.err != nil:
		return fmt.Errorf("task: %s: %w", d.Name, d.typed.err)
	case d.Handler == nil:
		return fmt.Errorf("task: %s: Handler is nil", d.Name)
	case d.Frequency < 0:
		return fmt.Errorf("task: %s: Frequency must not be negative", d.Name)
	case d.Frequency > 0 && d.Frequency < time.Millisecond:
		return fmt.Errorf("task: %s: Frequency must be at least 1ms", d.Name)
	case d.MaxAttempts < 0:
		return fmt.Errorf("task: %s: MaxAttempts must not be negative", d.Name)
	case d.CatchUp < CatchUpOnce || d.CatchUp > CatchUpEach:
		return fmt.Errorf("task: %s: unknown CatchUp %d", d.Name, d.CatchUp)
	}
	if err := CheckQueueName(d.Queue); d.Queue != "" && err != nil {
		return fmt.Errorf("task: %s: %w", d.Name, err)
	}
	if d.Queue == "" {
		d.Queue = DefaultQueue
	}
	if d.MaxAttempts == 0 {
		d.MaxAttempts = 3
		if d.Periodic() {
			d.MaxAttempts = 1
		}
	}
	if d.Inputs != nil {
		set, err := input.Compile(d.Inputs)
		if err != nil {
			return fmt.Errorf("task: %s: %w", d.Name, err)
		}
		d.inputs = set
	}
	return nil
}

// defaultBackoff doubles from 1s up to 1h, with up to 20% jitter.
func defaultBackoff(n int) time.Duration {
	if n < 1 {
		n = 1
	}
	d := time.Second
	for i := 1; i < n && d < time.Hour; i++ {
		d *= 2
	}
	d = min(d, time.Hour)
	return d + jitter(d/5)
}
