package task_test

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/stellarfw/stellar-go/task"
)

// errTemporary is a store error that a retry may not meet, as the Redis
// backend returns while Redis is unreachable.
type errTemporary struct{ op string }

func (e errTemporary) Error() string { return "test: " + e.op + ": store unreachable" }
func (errTemporary) Temporary() bool { return true }

// flakyStore wraps a Store and fails its calls with a temporary error as
// a test says: all of them while down, or the next n calls of one
// method. A failing call may still reach the store (its reply was lost).
type flakyStore struct {
	task.Store

	mu     sync.Mutex
	down   bool             // guarded by mu; every call fails
	fail   map[string]int   // guarded by mu; method → calls left to fail
	land   map[string]bool  // guarded by mu; method → a failing call still runs
	calls  map[string]int   // guarded by mu; method → calls
	failed map[string]int   // guarded by mu; method → calls failed
	held   map[string]*hold // guarded by mu; method → its next call is held
}

// hold holds one call of a method until released: a call that hangs
// while a master fails over, then succeeds.
type hold struct {
	started chan struct{} // closed when the call is held
	release chan struct{} // closed to let it go on
	after   func()        // run once the call reached the store, before it returns
}

func newFlaky(s task.Store) *flakyStore {
	return &flakyStore{Store: s, fail: map[string]int{}, land: map[string]bool{}, calls: map[string]int{}, failed: map[string]int{}, held: map[string]*hold{}}
}

// failNext makes the next n calls of method fail, reaching the store
// first if land is set.
func (f *flakyStore) failNext(method string, n int, land bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.fail[method], f.land[method] = n, land
}

// holdNext holds the next call of method until release is called; the
// call then reaches the store, runs after, and returns what the store
// said. started is closed once the call is held.
func (f *flakyStore) holdNext(method string, after func()) (started <-chan struct{}, release func()) {
	h := &hold{started: make(chan struct{}), release: make(chan struct{}), after: after}
	f.mu.Lock()
	f.held[method] = h
	f.mu.Unlock()
	return h.started, func() { close(h.release) }
}

// takeHold returns the hold of method's next call, if any, once.
func (f *flakyStore) takeHold(method string) *hold {
	f.mu.Lock()
	defer f.mu.Unlock()
	h := f.held[method]
	delete(f.held, method)
	return h
}

func (f *flakyStore) setDown(down bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.down = down
}

func (f *flakyStore) count(method string) (calls, failed int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.calls[method], f.failed[method]
}

// fault says whether this call of method fails, and whether it reaches
// the store all the same.
func (f *flakyStore) fault(method string) (err error, land bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls[method]++
	switch {
	case f.down:
	case f.fail[method] > 0:
		f.fail[method]--
		land = f.land[method]
	default:
		return nil, false
	}
	f.failed[method]++
	return errTemporary{method}, land
}

func (f *flakyStore) Enqueue(ctx context.Context, m *task.Message, due time.Time) (bool, error) {
	if err, land := f.fault("Enqueue"); err != nil {
		if land {
			_, _ = f.Store.Enqueue(ctx, m, due)
		}
		return false, err
	}
	return f.Store.Enqueue(ctx, m, due)
}

func (f *flakyStore) EnqueuePeriodic(ctx context.Context, m *task.Message) (bool, error) {
	if err, land := f.fault("EnqueuePeriodic"); err != nil {
		if land {
			_, _ = f.Store.EnqueuePeriodic(ctx, m)
		}
		return false, err
	}
	return f.Store.EnqueuePeriodic(ctx, m)
}

func (f *flakyStore) LastFire(ctx context.Context, queue, name string) (time.Time, error) {
	if err, _ := f.fault("LastFire"); err != nil {
		return time.Time{}, err
	}
	return f.Store.LastFire(ctx, queue, name)
}

func (f *flakyStore) Fetch(ctx context.Context, queue, worker string, lease time.Duration) (*task.Delivery, error) {
	if err, _ := f.fault("Fetch"); err != nil {
		return nil, err
	}
	return f.Store.Fetch(ctx, queue, worker, lease)
}

func (f *flakyStore) Extend(ctx context.Context, queue string, leases []task.Lease, lease time.Duration) ([]bool, error) {
	if err, _ := f.fault("Extend"); err != nil {
		return nil, err
	}
	return f.Store.Extend(ctx, queue, leases, lease)
}

func (f *flakyStore) Ack(ctx context.Context, d *task.Delivery) error {
	if err, land := f.fault("Ack"); err != nil {
		if land {
			_ = f.Store.Ack(ctx, d)
		}
		return err
	}
	return f.Store.Ack(ctx, d)
}

func (f *flakyStore) AckFetch(ctx context.Context, d *task.Delivery, worker string, lease time.Duration) (*task.Delivery, bool, error) {
	if err, land := f.fault("AckFetch"); err != nil {
		if land {
			_, _, _ = f.Store.AckFetch(ctx, d, worker, lease)
		}
		return nil, false, err
	}
	return f.Store.AckFetch(ctx, d, worker, lease)
}

func (f *flakyStore) Retry(ctx context.Context, d *task.Delivery, due time.Time, errMsg string) error {
	if err, land := f.fault("Retry"); err != nil {
		if land {
			_ = f.Store.Retry(ctx, d, due, errMsg)
		}
		return err
	}
	return f.Store.Retry(ctx, d, due, errMsg)
}

func (f *flakyStore) Fail(ctx context.Context, d *task.Delivery, fl task.Failure) error {
	if err, land := f.fault("Fail"); err != nil {
		if land {
			_ = f.Store.Fail(ctx, d, fl)
		}
		return err
	}
	return f.Store.Fail(ctx, d, fl)
}

func (f *flakyStore) Requeue(ctx context.Context, d *task.Delivery) error {
	if err, land := f.fault("Requeue"); err != nil {
		if land {
			_ = f.Store.Requeue(ctx, d)
		}
		return err
	}
	return f.Store.Requeue(ctx, d)
}

func (f *flakyStore) Forward(ctx context.Context, queue string, recoverLapsed bool) (int, int, error) {
	if err, _ := f.fault("Forward"); err != nil {
		return 0, 0, err
	}
	if h := f.takeHold("Forward"); h != nil {
		close(h.started)
		<-h.release
		moved, recovered, err := f.Store.Forward(ctx, queue, recoverLapsed)
		h.after()
		return moved, recovered, err
	}
	return f.Store.Forward(ctx, queue, recoverLapsed)
}

func (f *flakyStore) Heartbeat(ctx context.Context, w task.WorkerInfo, ttl time.Duration) error {
	if err, _ := f.fault("Heartbeat"); err != nil {
		return err
	}
	return f.Store.Heartbeat(ctx, w, ttl)
}

func (f *flakyStore) Queues(ctx context.Context) ([]string, error) {
	if err, _ := f.fault("Queues"); err != nil {
		return nil, err
	}
	return f.Store.Queues(ctx)
}

// logRecorder is a slog handler that keeps the records, for tests that
// check what a Manager logged.
type logRecorder struct {
	mu      sync.Mutex
	records []slog.Record // guarded by mu
}

func (l *logRecorder) Enabled(context.Context, slog.Level) bool { return true }
func (l *logRecorder) Handle(_ context.Context, r slog.Record) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.records = append(l.records, r.Clone())
	return nil
}
func (l *logRecorder) WithAttrs([]slog.Attr) slog.Handler { return l }
func (l *logRecorder) WithGroup(string) slog.Handler      { return l }

// at returns the messages logged at level or above.
func (l *logRecorder) at(level slog.Level) []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []string
	for _, r := range l.records {
		if r.Level >= level {
			out = append(out, r.Message)
		}
	}
	return out
}
