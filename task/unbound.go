package task

import (
	"context"
	"errors"
	"time"
)

// ErrNoStore is returned by a Manager created with a nil store before
// Bind gave it one (an app's task API before the node started).
var ErrNoStore = errors.New("task: no store yet (the node has not started)")

// Bind gives a Manager created with a nil store its store and
// configuration. It fails once the Manager started.
func (q *Manager) Bind(store Store, cfg Config) error {
	cfg.setDefaults()
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.started {
		return errors.New("task: Bind after Start")
	}
	q.store, q.cfg, q.log = store, cfg, cfg.Logger
	return nil
}

// unbound is the store of a Manager created without one.
type unbound struct{}

var _ Store = unbound{}

func (unbound) Enqueue(context.Context, *Message, time.Time) (bool, error) { return false, ErrNoStore }
func (unbound) EnqueuePeriodic(context.Context, *Message) (bool, error)    { return false, ErrNoStore }
func (unbound) SetRecurrent(context.Context, string, string, bool) error   { return ErrNoStore }
func (unbound) RecurrentStopped(context.Context, string, string) (bool, error) {
	return false, ErrNoStore
}
func (unbound) Fetch(context.Context, string, string, time.Duration) (*Delivery, error) {
	return nil, ErrNoStore
}
func (unbound) Extend(context.Context, string, []string, time.Duration) error { return ErrNoStore }
func (unbound) Ack(context.Context, *Delivery) error                          { return ErrNoStore }
func (unbound) AckFetch(context.Context, *Delivery, string, time.Duration) (*Delivery, bool, error) {
	return nil, false, ErrNoStore
}
func (unbound) Retry(context.Context, *Delivery, time.Time, string) error { return ErrNoStore }
func (unbound) Fail(context.Context, *Delivery, Failure) error            { return ErrNoStore }
func (unbound) Requeue(context.Context, *Delivery) error                  { return ErrNoStore }
func (unbound) Forward(context.Context, string) (int, int, error)         { return 0, 0, ErrNoStore }
func (unbound) Watch(ctx context.Context, _ func(string)) error {
	<-ctx.Done()
	return ctx.Err()
}
func (unbound) Heartbeat(context.Context, WorkerInfo, time.Duration) error { return ErrNoStore }
func (unbound) RemoveWorker(context.Context, string) error                 { return ErrNoStore }
func (unbound) Workers(context.Context) ([]WorkerInfo, error)              { return nil, ErrNoStore }
func (unbound) Queues(context.Context) ([]string, error)                   { return nil, ErrNoStore }
func (unbound) List(context.Context, string, State, int, int) ([]Info, error) {
	return nil, ErrNoStore
}
func (unbound) Counts(context.Context, string) (QueueStats, error) { return QueueStats{}, ErrNoStore }
func (unbound) Remove(context.Context, string, string, State) (bool, error) {
	return false, ErrNoStore
}
func (unbound) RemoveQueue(context.Context, string) (int, error)          { return 0, ErrNoStore }
func (unbound) RetryFailed(context.Context, string, string) (bool, error) { return false, ErrNoStore }
func (unbound) Locks(context.Context, string) ([]Lock, error)             { return nil, ErrNoStore }
func (unbound) DelLock(context.Context, string, string) (bool, error)     { return false, ErrNoStore }
