package task

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"runtime/debug"
	"slices"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/trace"

	"github.com/stellarfw/stellar-go/event"
	"github.com/stellarfw/stellar-go/internal/logging"
	"github.com/stellarfw/stellar-go/internal/resubscribe"
	"github.com/stellarfw/stellar-go/internal/tracing"
)

// idleCheck bounds how long an idle worker waits for a wake-up before it
// looks at its queues anyway: a safety net for a lost wake-up (Redis
// restarting, say), not the way tasks are picked up.
const idleCheck = time.Second

// maxLostRuns is how many runs beyond MaxAttempts a task may have when
// its earlier runs were cut off (their node died), before it fails without
// running: a task that kills its worker must not circle the cluster.
const maxLostRuns = 3

func (m *Manager) defaultQueuesLocked() []string {
	seen := map[string]bool{DefaultQueue: true}
	out := []string{DefaultQueue}
	var more []string
	for _, d := range m.defs {
		if !seen[d.Queue] {
			seen[d.Queue] = true
			more = append(more, d.Queue)
		}
	}
	sort.Strings(more)
	return append(out, more...)
}

// WorkerQueues returns the queues this node's workers take tasks from,
// highest priority first.
func (m *Manager) WorkerQueues() []string {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.queues == nil {
		return m.defaultQueuesLocked()
	}
	return slices.Clone(m.queues)
}

// loop runs fn until stopAll closes. Called with m.mu held.
func (m *Manager) loop(fn func(ctx context.Context)) {
	m.loopsWG.Add(1)
	go func() {
		defer m.loopsWG.Done()
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		go func() {
			select {
			case <-m.stopAll:
			case <-ctx.Done():
			}
			cancel()
		}()
		fn(ctx)
	}()
}

// wakeGen is one generation of wake-ups: its channel is closed by the
// wake-up that ends it, which names the store queue it is for (""
// for every queue) and links the next generation.
type wakeGen struct {
	ch   chan struct{}
	name string   // guarded by Manager.mu; set when ch closes
	next *wakeGen // guarded by Manager.mu; set when ch closes
}

// wakeCh returns the generation the next wake-up closes.
func (m *Manager) wakeCh() *wakeGen {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.wake
}

// wakeUp wakes every idle worker, for store queue name ("" for all).
func (m *Manager) wakeUp(name string) {
	m.mu.Lock()
	g := m.wake
	g.name = name
	g.next = &wakeGen{ch: make(chan struct{})}
	m.wake = g.next
	close(g.ch)
	m.mu.Unlock()
}

// maxWoken bounds the store queues a woken worker looks at one by one;
// past it, it looks at all of its queues.
const maxWoken = 8

// woken returns the store queues named by the wake-ups from g (closed) to
// the current generation, which it also returns; all is set when one of
// them was for every queue, or there were too many to look at one by one.
func (m *Manager) woken(g *wakeGen) (names []string, all bool, cur *wakeGen) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for ; g.next != nil; g = g.next {
		if g.name == "" || len(names) >= maxWoken {
			all = true
		} else if !slices.Contains(names, g.name) {
			names = append(names, g.name)
		}
	}
	return names, all, g
}

func (m *Manager) watch(ctx context.Context) {
	var wait time.Duration
	for ctx.Err() == nil {
		began := time.Now()
		err := m.store.Watch(ctx, m.wakeUp)
		if ctx.Err() != nil {
			return
		}
		// A subscription that lasted a while held: the waits start over,
		// and the loss is news (the tries after it are not).
		held := time.Since(began) > resubscribe.MaxWait
		if held || wait == 0 {
			m.log.Warn("task wake-up subscription lost; retrying", "error", fmt.Sprint(err))
		} else {
			m.log.Debug("task wake-up subscription failed again; retrying", "error", fmt.Sprint(err))
		}
		wait = resubscribe.Wait(wait, held)
		if !sleep(ctx, wait) {
			return
		}
	}
}

func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}

// worker fetches and runs tasks until stopFetch closes.
func (m *Manager) worker() {
	defer m.workersWG.Done()
	// The node's worker record goes first, so that the Inspector lists
	// the workers of every task it sees run.
	select {
	case <-m.beat:
	case <-m.stopFetch:
		return
	}
	ctx := context.Background()
	queues := m.WorkerQueues()
	idle := time.NewTimer(idleCheck)
	defer idle.Stop()
	errWait := 50 * time.Millisecond
	var next *Delivery   // taken by the last acknowledgement
	var nextAt time.Time // when that acknowledgement was sent
	var wake *wakeGen    // the wake-ups not yet looked at, when known
	var targeted []string
	turn := int(workerSeq.Add(1))
	for {
		if next != nil {
			next, nextAt = m.process(next, nextAt, queues[0])
			continue
		}
		select {
		case <-m.stopFetch:
			return
		default:
		}
		if resumed := m.pausedUntil(); resumed != nil {
			select {
			case <-m.stopFetch:
				return
			case <-resumed:
			}
			continue
		}
		// Take the generation before looking: a wake-up sent while looking
		// is not missed.
		g := wake
		if g == nil {
			g = m.wakeCh()
		}
		at := time.Now()
		var d *Delivery
		var err error
		if targeted != nil {
			d, err = m.fetchFrom(ctx, queues, targeted)
		} else {
			d, err = m.fetch(ctx, queues, &turn)
		}
		targeted = nil
		wake = nil
		if err != nil {
			m.noteErr(err)
			m.log.Warn("fetching a task", "error", err.Error())
			select {
			case <-m.stopFetch:
				return
			case <-time.After(errWait + jitter(errWait)):
			}
			errWait = min(errWait*2, 2*time.Second)
			continue
		}
		errWait = 50 * time.Millisecond
		if d != nil {
			next, nextAt = m.process(d, at, queues[0])
			continue
		}
		idle.Reset(idleCheck)
		select {
		case <-m.stopFetch:
			return
		case <-g.ch:
			// Woken for some partitions: look at those only (each partition
			// that fills up wakes the workers itself).
			names, all, cur := m.woken(g)
			if !all {
				targeted = names
			}
			wake = cur
		case <-idle.C:
			wake = nil
		}
	}
}

// workerSeq spreads the workers' first looks over the partitions.
var workerSeq atomic.Int64

// fetchOrder returns the store queues of the logical queues, in their
// priority order, each queue's partitions starting at the one turn
// points at: the workers of a node spread their looks, and their load,
// over the partitions.
func (m *Manager) fetchOrder(queues []string, turn int) []string {
	m.mu.Lock()
	known := m.known
	m.mu.Unlock()
	var out []string
	for _, q := range queues {
		parts := storeQueues([]string{q}, m.partitions, known)
		k := turn % len(parts)
		out = append(out, parts[k:]...)
		out = append(out, parts[:k]...)
	}
	return out
}

// fetch takes the next task of queues, looking at every partition, and
// moves turn on.
func (m *Manager) fetch(ctx context.Context, queues []string, turn *int) (*Delivery, error) {
	*turn++
	for _, name := range m.fetchOrder(queues, *turn) {
		d, err := m.store.Fetch(ctx, name, m.workerID, m.cfg.Lease)
		if err != nil || d != nil {
			return d, err
		}
	}
	return nil, nil
}

// fetchFrom takes the next task of the store queues names that belong to
// queues, in the priority order of queues.
func (m *Manager) fetchFrom(ctx context.Context, queues, names []string) (*Delivery, error) {
	m.mu.Lock()
	known := m.known
	m.mu.Unlock()
	for _, q := range queues {
		for _, name := range names {
			look := []string{name}
			if name == AllPartitions(q) {
				look = storeQueues([]string{q}, m.partitions, known)
			} else if lq, _ := SplitPartition(name); lq != q {
				continue
			}
			for _, name := range look {
				d, err := m.store.Fetch(ctx, name, m.workerID, m.cfg.Lease)
				if err != nil || d != nil {
					return d, err
				}
			}
		}
	}
	return nil, nil
}

// run is one delivery that this node runs, or whose outcome it records.
// It stays in Manager.running, and so in the renewal set, until then.
type run struct {
	d      *Delivery
	cancel context.CancelCauseFunc
	// logCtx carries the task's trace, for the lines logged about the
	// run; it is never cancelled.
	logCtx context.Context
	// gone is closed once the lease is known to be gone from this node:
	// the store refused to renew it, or Stop handed the task back.
	gone chan struct{}

	mu sync.Mutex
	// deadline is when the lease ends on this node's monotonic clock:
	// one lease (less leaseSlack) after the last successful renewal was
	// sent. A frozen process (SIGSTOP) counts the freeze.
	deadline   time.Time   // guarded by mu
	timer      *time.Timer // guarded by mu; fires at deadline
	lost       bool        // guarded by mu; the run no longer holds its lease
	refused    bool        // guarded by mu; the store refused a renewal
	handedBack bool        // guarded by mu; Stop requeued the task
	settling   bool        // guarded by mu; the handler returned
}

// held reports whether the run still holds its lease, as far as this
// node can tell.
func (r *run) held() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return !r.lost && time.Now().Before(r.deadline)
}

// closeGone closes r.gone once. Called with r.mu held.
func (r *run) closeGone() {
	if !r.refused && !r.handedBack {
		close(r.gone)
	}
}

// leaseSlack is how much earlier than the store a node ends a lease. A
// store counts a lease from when it receives the call, later than the
// node sent it, but may keep the deadline in whole milliseconds, rounded
// down (Redis does): ending the lease a millisecond early on this node
// keeps it from outlasting the store's.
const leaseSlack = time.Millisecond

// leaseEnd is when a lease granted or renewed by a call sent at sent ends
// on this node.
func (m *Manager) leaseEnd(sent time.Time) time.Time {
	return sent.Add(m.cfg.Lease - leaseSlack)
}

// track adds a run of d, leased by a call sent at leased, to the renewal
// set, and arms its deadline.
func (m *Manager) track(logCtx context.Context, d *Delivery, leased time.Time, cancel context.CancelCauseFunc) *run {
	r := &run{d: d, cancel: cancel, logCtx: logCtx, gone: make(chan struct{}), deadline: m.leaseEnd(leased)}
	r.mu.Lock()
	r.timer = time.AfterFunc(time.Until(r.deadline), func() { m.expire(r) })
	r.mu.Unlock()
	m.mu.Lock()
	m.running[r] = struct{}{}
	m.mu.Unlock()
	return r
}

func (m *Manager) untrack(r *run) {
	r.mu.Lock()
	r.timer.Stop()
	r.mu.Unlock()
	m.mu.Lock()
	delete(m.running, r)
	m.mu.Unlock()
}

// expire cuts off a run whose deadline passed without a renewal (the
// store unreachable, or this process frozen): another node may run its
// task by now, so its handler is told to stop, with cause ErrLeaseLost.
func (m *Manager) expire(r *run) {
	r.mu.Lock()
	if r.lost {
		r.mu.Unlock()
		return
	}
	if left := time.Until(r.deadline); left > 0 {
		r.timer.Reset(left) // renewed meanwhile
		r.mu.Unlock()
		return
	}
	r.lost = true
	settling := r.settling
	r.mu.Unlock()
	r.cancel(ErrLeaseLost)
	d := r.d
	if settling {
		m.log.WarnContext(r.logCtx, "task lease lapsed on this node while its outcome was being recorded; still trying", "task", d.Name, "id", d.ID, "attempt", d.Attempt)
		return
	}
	m.log.WarnContext(r.logCtx, "task lease lapsed before it could be renewed; cutting the run off", "task", d.Name, "id", d.ID, "attempt", d.Attempt)
}

// extended records that r's lease was renewed until deadline.
func (r *run) extended(deadline time.Time) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if deadline.After(r.deadline) {
		r.deadline = deadline
		r.timer.Reset(time.Until(deadline))
	}
}

// refuse cuts off a run whose renewal the store refused: the task was
// recovered, and perhaps runs elsewhere.
func (m *Manager) refuse(r *run) {
	r.mu.Lock()
	if r.refused || r.handedBack {
		r.mu.Unlock()
		return
	}
	r.closeGone()
	r.refused, r.lost = true, true
	settling := r.settling
	r.mu.Unlock()
	r.cancel(ErrLeaseLost)
	d := r.d
	if settling {
		m.log.DebugContext(r.logCtx, "task lease no longer held while its outcome was being recorded: an earlier try whose reply was lost recorded it, or the task was recovered", "task", d.Name, "id", d.ID, "attempt", d.Attempt)
		return
	}
	m.log.WarnContext(r.logCtx, "task lease was taken over (the task was recovered); cutting the run off", "task", d.Name, "id", d.ID, "attempt", d.Attempt)
}

// handBack marks r handed back by Stop, unless its handler returned (its
// outcome is being recorded) or its lease is gone already.
func (r *run) handBack() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.settling || r.refused || r.handedBack {
		return false
	}
	r.closeGone()
	r.handedBack, r.lost = true, true
	return true
}

// process runs one delivery, leased by a call sent at leased, and records
// its outcome. When the task succeeded and came from the first queue, the
// acknowledgement also takes the next task of that queue, which process
// returns with the time that call was sent.
func (m *Manager) process(d *Delivery, leased time.Time, first string) (next *Delivery, nextAt time.Time) {
	// The run joins the trace of the code that enqueued the task; one
	// enqueued outside any trace (a periodic fire, the command line)
	// starts a trace of its own, so that its logs still share a trace id.
	base := m.tracer.Continue(context.Background(), d.Traceparent, d.Tracestate)
	var span trace.Span
	if m.tracer != nil {
		base, span = m.tracer.Start(base, d.Name, trace.SpanKindConsumer)
		span.SetAttributes(attribute.String("stellar.task", d.Name), attribute.String("stellar.queue", d.Queue),
			attribute.String("stellar.task_id", d.ID), attribute.Int("stellar.attempt", d.Attempt))
	}
	var err error
	defer func() { tracing.End(span, err) }()
	ctx, cancel := context.WithCancelCause(base)
	defer cancel(nil)
	r := m.track(base, d, leased, cancel)
	defer m.untrack(r)

	if m.listened(event.TaskStarted) {
		m.fire(ctx, event.TaskStarted, m.runEvent(d))
	}
	began := time.Now()
	if lost := d.Attempt - max(d.MaxAttempts, 1); lost > maxLostRuns {
		// Its workers keep dying while running it (each recovery counts an
		// attempt): do not let it take the cluster down with it.
		err = fmt.Errorf("%w: %d attempts, the last %d of them cut off (their node died or stopped)", ErrSkipRetry, d.Attempt, lost)
	} else {
		err = m.runHandler(ctx, r)
	}
	took := time.Since(began)
	r.mu.Lock()
	handedBack, refused, lost := r.handedBack, r.refused, r.lost
	r.settling = !handedBack
	r.mu.Unlock()
	switch {
	case handedBack:
		// Stop requeued it.
		m.finished(d, took, ErrHandedBack, false)
		return nil, time.Time{}
	case refused:
		m.log.WarnContext(base, "task lease was lost while it ran; it may run again", "task", d.Name, "id", d.ID, "attempt", d.Attempt)
		m.finished(d, took, fmt.Errorf("%w: the task was recovered while it ran", ErrLeaseLost), false)
		return nil, time.Time{}
	}
	final := false
	// The outcome is recorded even if the node is stopping.
	var op func(ctx context.Context, firstTry bool) error
	switch {
	case lost && err != nil:
		// Cut off because its lease lapsed here: hand it back, so that it
		// runs again at once (refused if another node recovered it).
		m.log.WarnContext(base, "task cut off by its lease; handing it back", "task", d.Name, "id", d.ID, "attempt", d.Attempt, "error", err.Error())
		op = func(ctx context.Context, _ bool) error { return m.store.Requeue(ctx, d) }
		if !errors.Is(err, ErrLeaseLost) {
			err = fmt.Errorf("%w: the run was cut off: %w", ErrLeaseLost, err)
		}
	case err == nil && d.Queue == first && !m.stopping() && !m.Paused():
		op = func(ctx context.Context, firstTry bool) error {
			if !firstTry {
				// The first try may have landed and taken a task whose
				// reply was lost: do not take another.
				return m.store.Ack(ctx, d)
			}
			at := time.Now()
			n, acked, err := m.store.AckFetch(ctx, d, m.workerID, m.cfg.Lease)
			if err != nil {
				return err
			}
			next, nextAt = n, at
			if !acked {
				return ErrLeaseLost
			}
			return nil
		}
	case err == nil:
		op = func(ctx context.Context, _ bool) error { return m.store.Ack(ctx, d) }
	case d.Attempt >= max(d.MaxAttempts, 1) || errors.Is(err, ErrSkipRetry) || errors.Is(err, ErrUnknownTask):
		f := Failure{Error: err.Error(), Attempts: d.Attempt, FailedAt: m.cfg.Now(), Worker: m.workerID}
		var pe *panicError
		if errors.As(err, &pe) {
			f.Stack = pe.stack
		}
		m.log.ErrorContext(base, "task failed", "task", d.Name, "id", d.ID, "attempt", d.Attempt, "error", err.Error())
		op = func(ctx context.Context, _ bool) error { return m.store.Fail(ctx, d, f) }
		final = true
	default:
		backoff := defaultBackoff
		if def, ok := m.def(d.Name); ok && def.Backoff != nil {
			backoff = def.Backoff
		}
		due := m.cfg.Now().Add(backoff(d.Attempt))
		m.log.WarnContext(base, "task attempt failed; will retry", "task", d.Name, "id", d.ID, "attempt", d.Attempt, "retryAt", due, "error", err.Error())
		msg := err.Error()
		op = func(ctx context.Context, _ bool) error { return m.store.Retry(ctx, d, due, msg) }
	}
	m.settle(r, op)
	if err == nil && m.log.Enabled(base, slog.LevelDebug) {
		m.log.LogAttrs(base, slog.LevelDebug, "task completed", slog.String("task", d.Name), slog.String("id", d.ID),
			slog.String("queue", d.Queue), slog.Int("attempt", d.Attempt), logging.Ms("duration_ms", took))
	}
	m.finished(d, took, err, final)
	return next, nextAt
}

// runEvent is the payload of the run events of d.
func (m *Manager) runEvent(d *Delivery) *event.Task {
	return &event.Task{
		ID: d.ID, Name: d.Name, Queue: d.Queue, Args: slices.Clone(d.Args),
		Attempt: d.Attempt, Node: m.cfg.NodeID, EnqueuedAt: time.UnixMilli(d.EnqueuedAt),
	}
}

// finished fires TaskCompleted, or TaskFailed when err is set, for the
// run of d whose outcome was settled: its handler took took; final says
// that the task will not run again.
func (m *Manager) finished(d *Delivery, took time.Duration, err error, final bool) {
	ev := event.TaskCompleted
	if err != nil {
		ev = event.TaskFailed
	}
	if !m.listened(ev) {
		return
	}
	p := m.runEvent(d)
	p.Duration, p.Err, p.Final = took, err, final
	m.fire(context.Background(), ev, p)
}

// Settling an outcome: the waits between tries, the bound of one try, and
// how many leases it may take in all.
const (
	retryMinWait = 50 * time.Millisecond
	retryMaxWait = time.Second
	settleLeases = 20
)

// retryWait is the wait before retry n (from 0) of a store call that
// failed temporarily: 50ms, doubling up to 1s, give or take half.
func retryWait(n int) time.Duration {
	d := retryMinWait
	for i := 0; i < n && d < retryMaxWait; i++ {
		d *= 2
	}
	d = min(d, retryMaxWait)
	return d/2 + jitter(d)
}

// settle records the outcome of a run whose handler returned, by op (told
// whether this is its first try). While the store fails temporarily it
// tries again, and the run stays in the renewal set meanwhile, so that
// its lease keeps being renewed (renewal is fenced by attempt, so this is
// safe): a task that finished while Redis restarted is not run again. It
// stops when the outcome lands, when the store says the lease is lost
// (each outcome is fenced by attempt, so a try after one whose reply was
// lost does nothing), after settleLeases leases, or when Stop gives up.
func (m *Manager) settle(r *run, op func(ctx context.Context, firstTry bool) error) {
	d := r.d
	giveUp := time.Now().Add(settleLeases * m.cfg.Lease)
	for try := 0; ; try++ {
		tctx, cancel := context.WithTimeout(context.Background(), m.callTimeout())
		err := op(tctx, try == 0)
		timedOut := tctx.Err() != nil
		cancel()
		switch {
		case err == nil:
			if try > 0 {
				m.log.InfoContext(r.logCtx, "task outcome recorded after a retry", "task", d.Name, "id", d.ID, "attempt", d.Attempt, "tries", try+1)
			}
			return
		case errors.Is(err, ErrLeaseLost) && try == 0:
			m.log.WarnContext(r.logCtx, "task lease was lost while it ran; it may run again", "task", d.Name, "id", d.ID, "attempt", d.Attempt)
			return
		case errors.Is(err, ErrLeaseLost):
			m.log.DebugContext(r.logCtx, "task outcome recorded by an earlier try whose reply was lost, or its lease lost meanwhile", "task", d.Name, "id", d.ID, "attempt", d.Attempt, "tries", try+1)
			return
		case !temporary(err) && !timedOut:
			m.log.ErrorContext(r.logCtx, "recording a task's outcome", "task", d.Name, "id", d.ID, "attempt", d.Attempt, "error", err.Error())
			return
		}
		m.noteFailure()
		if time.Now().After(giveUp) {
			m.log.ErrorContext(r.logCtx, "gave up recording a task's outcome; it will run again once its lease lapses", "task", d.Name, "id", d.ID, "attempt", d.Attempt, "tries", try+1, "error", err.Error())
			return
		}
		if try == 0 {
			m.log.WarnContext(r.logCtx, "recording a task's outcome failed; retrying while its lease is renewed", "task", d.Name, "id", d.ID, "attempt", d.Attempt, "error", err.Error())
		}
		t := time.NewTimer(retryWait(try))
		select {
		case <-t.C:
		case <-r.gone:
			t.Stop()
			return // refuse logged it
		case <-m.stopAll:
			t.Stop()
			m.log.ErrorContext(r.logCtx, "task outcome not recorded at shutdown; it will run again once its lease lapses", "task", d.Name, "id", d.ID, "attempt", d.Attempt, "error", err.Error())
			return
		}
	}
}

// callTimeout bounds one try of a store call made in the background:
// a lease, at least a second and at most ten.
func (m *Manager) callTimeout() time.Duration {
	return min(max(m.cfg.Lease, time.Second), 10*time.Second)
}

// stopping reports whether workers stopped fetching.
func (m *Manager) stopping() bool {
	select {
	case <-m.stopFetch:
		return true
	default:
		return false
	}
}

// panicError is a handler's panic.
type panicError struct {
	value any
	stack string
}

func (p *panicError) Error() string { return fmt.Sprintf("panic: %v", p.value) }

func (m *Manager) runHandler(ctx context.Context, r *run) error {
	d := r.d
	def, ok := m.def(d.Name)
	if !ok {
		return fmt.Errorf("%w: %q is not registered on node %s", ErrUnknownTask, d.Name, m.cfg.NodeID)
	}
	t := &Task{
		ID: d.ID, Name: d.Name, Queue: d.Queue, Attempt: d.Attempt, MaxAttempts: d.MaxAttempts,
		Args: d.Args, EnqueuedAt: time.UnixMilli(d.EnqueuedAt), run: r,
	}
	if d.FireAt != 0 {
		t.FireAt = time.UnixMilli(d.FireAt)
	}
	return m.invoke(ctx, def, t)
}

// invoke runs def's handler for t, whose Args are set: it checks them
// against the inputs into t.Params, bounds the run by the definition's
// Timeout, wraps the handler in the run middleware and turns a panic
// into an error.
func (m *Manager) invoke(ctx context.Context, def *Definition, t *Task) (err error) {
	args, err := decodeArgs(t.Args)
	if err != nil && def.inputs != nil {
		return fmt.Errorf("%w: %w", ErrSkipRetry, err)
	}
	t.Params = args
	if def.inputs != nil {
		p, err := def.inputs.Process(ctx, args)
		if err != nil {
			return fmt.Errorf("%w: %w", ErrSkipRetry, err)
		}
		t.Params = p
	}
	if def.Timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, def.Timeout)
		defer cancel()
	}
	m.mu.Lock()
	mw := append(slices.Clone(m.mw), def.Middleware...)
	m.mu.Unlock()
	h := def.Handler
	for i := len(mw) - 1; i >= 0; i-- {
		h = mw[i](h)
	}
	defer func() {
		if v := recover(); v != nil {
			err = &panicError{value: v, stack: string(debug.Stack())}
		}
	}()
	return h.ProcessTask(ctx, t)
}

// temporary reports whether err may pass on a retry: the store marks such
// errors with a Temporary method.
func temporary(err error) bool {
	var t interface{ Temporary() bool }
	return errors.As(err, &t) && t.Temporary()
}

// noteFailure records that a store call failed for a passing reason
// (the store unreachable, or the call timed out): the recoverer holds
// back for a lease after it.
func (m *Manager) noteFailure() {
	m.lastFail.Store(int64(time.Since(m.epoch)))
}

// noteErr calls noteFailure if err is temporary.
func (m *Manager) noteErr(err error) {
	if temporary(err) {
		m.noteFailure()
	}
}

// slowCall is how long a store call may take before this node counts it
// as a failure: a third of a lease, the time between two renewals, so
// at most a second. A call that hung while a master failed over and then
// succeeded on the promoted one says as much about the store as a call
// that failed: holders may not have been able to renew meanwhile.
func (m *Manager) slowCall() time.Duration {
	return min(m.cfg.Lease/3, time.Second)
}

// noteCall records the outcome of a store call sent at sent: a temporary
// error or a slow reply counts as a failure (see healthy). A call that ran
// out of its time is slow too: no call's timeout is shorter than slowCall.
func (m *Manager) noteCall(sent time.Time, err error) {
	if time.Since(sent) >= m.slowCall() {
		m.noteFailure()
		return
	}
	m.noteErr(err)
}

// healthy reports whether this node's store calls have succeeded for at
// least a lease, and MinRecoveryGrace, since the last one that failed.
func (m *Manager) healthy() bool {
	return time.Since(m.epoch)-time.Duration(m.lastFail.Load()) >= max(m.cfg.Lease, MinRecoveryGrace)
}

// renewLoop renews the leases of running tasks and the workers' heartbeat
// three times per lease.
func (m *Manager) renewLoop(ctx context.Context) {
	every := m.cfg.Lease / 3
	t := time.NewTicker(every)
	defer t.Stop()
	m.heartbeat(ctx)
	close(m.beat)
	for {
		select {
		case <-ctx.Done():
			return
		case <-m.heartbeatDue:
			m.heartbeat(ctx)
			continue
		case <-t.C:
		}
		m.renew(ctx, every)
		m.heartbeat(ctx)
	}
}

// renew renews the leases this node holds, each call bounded by timeout.
// A run whose renewal the store refuses is cut off at once. The
// partitions are renewed at once, each by a call of its own: on a Redis
// Cluster a master that fails over holds up the renewals of its own
// partitions only, not those of the partitions of the other masters.
func (m *Manager) renew(ctx context.Context, timeout time.Duration) {
	m.mu.Lock()
	byQueue := map[string][]*run{}
	for r := range m.running {
		r.mu.Lock()
		renewable := !r.handedBack && !r.refused
		r.mu.Unlock()
		if renewable {
			byQueue[r.d.PartitionName()] = append(byQueue[r.d.PartitionName()], r)
		}
	}
	m.mu.Unlock()
	var wg sync.WaitGroup
	for name, runs := range byQueue {
		wg.Add(1)
		go func() {
			defer wg.Done()
			m.renewPartition(ctx, timeout, name, runs)
		}()
	}
	wg.Wait()
}

// renewPartition renews the leases of runs, all of store queue name.
func (m *Manager) renewPartition(ctx context.Context, timeout time.Duration, name string, runs []*run) {
	leases := make([]Lease, len(runs))
	for i, r := range runs {
		leases[i] = Lease{ID: r.d.ID, Attempt: r.d.Attempt}
	}
	sent := time.Now()
	rctx, cancel := context.WithTimeout(ctx, timeout)
	held, err := m.store.Extend(rctx, name, leases, m.cfg.Lease)
	cancel()
	if ctx.Err() != nil {
		return
	}
	m.noteCall(sent, err)
	if err == nil && len(held) != len(runs) {
		err = fmt.Errorf("task: the store answered %d of %d lease renewals", len(held), len(runs))
	}
	if err != nil {
		m.log.Warn("renewing task leases", "queue", name, "tasks", len(runs), "error", err.Error())
		return
	}
	for i, r := range runs {
		if held[i] {
			r.extended(m.leaseEnd(sent))
		} else {
			m.refuse(r)
		}
	}
}

func (m *Manager) heartbeat(ctx context.Context) {
	m.mu.Lock()
	w := WorkerInfo{
		ID: m.workerID, Node: m.cfg.NodeID, Queues: slices.Clone(m.queues),
		Concurrency: m.cfg.Concurrency, Running: len(m.running), Paused: m.paused,
		StartedAt: m.startedAt, Heartbeat: m.cfg.Now(),
	}
	m.mu.Unlock()
	hctx, cancel := context.WithTimeout(ctx, m.cfg.Lease/3)
	defer cancel()
	sent := time.Now()
	err := m.store.Heartbeat(hctx, w, m.cfg.Lease)
	if ctx.Err() != nil {
		return
	}
	m.noteCall(sent, err)
	if err != nil {
		m.log.Warn("worker heartbeat", "error", err.Error())
	}
}

// forwardLoop moves due delayed tasks and recovers lapsed leases, for
// every queue of the store, on every node. After a store call of this
// node failed, it holds recovery back until the calls have succeeded for
// a lease: after a Redis restart or failover every live holder gets the
// time to renew its lease (three times) before any node declares it
// lapsed. Due delayed tasks move meanwhile.
func (m *Manager) forwardLoop(ctx context.Context) {
	var known []string
	var listed time.Time
	holding := false
	for {
		if !sleep(ctx, m.cfg.PollInterval/2+jitter(m.cfg.PollInterval)) {
			return
		}
		if time.Since(listed) > 5*m.cfg.PollInterval || known == nil {
			if names, err := m.store.Queues(ctx); err == nil {
				known = names
				listed = time.Now()
				m.mu.Lock()
				m.known = names
				m.mu.Unlock()
			} else {
				m.noteErr(err)
			}
		}
		failed := false
		for _, name := range union(storeQueues(m.WorkerQueues(), m.partitions, known), known) {
			// Whether to recover is decided again for each call, just
			// before it: the call before may have failed, or hung while a
			// master failed over and then succeeded on the promoted one.
			recoverLapsed := m.healthy()
			if !recoverLapsed && !holding {
				m.log.Info("a store call failed or was slow: holding back the recovery of lapsed leases for a lease (at least task.MinRecoveryGrace), so that their holders can renew them")
			}
			holding = !recoverLapsed
			sent := time.Now()
			fctx, cancel := context.WithTimeout(ctx, m.callTimeout())
			_, recovered, err := m.store.Forward(fctx, name, recoverLapsed)
			cancel()
			if ctx.Err() != nil {
				return
			}
			m.noteCall(sent, err)
			if err != nil {
				// The other partitions may live on other masters: they
				// are still moved (recovery is held back now).
				if !failed {
					m.log.Warn("moving delayed tasks", "queue", name, "error", err.Error())
				}
				failed = true
				continue
			}
			if recovered > 0 {
				m.log.Warn("recovered tasks whose worker stopped renewing their lease", "queue", name, "tasks", recovered)
			}
		}
	}
}

func union(a, b []string) []string {
	out := slices.Clone(a)
	for _, s := range b {
		if !slices.Contains(out, s) {
			out = append(out, s)
		}
	}
	return out
}

// maxCatchUp bounds the missed fire times that CatchUpEach runs.
const maxCatchUp = 100

// scheduleLoop enqueues each periodic task at each of its fire times, and
// the fire times it missed as its CatchUp says.
func (m *Manager) scheduleLoop(ctx context.Context) {
	var periodic []*Definition
	for _, d := range m.Definitions() {
		if d.Periodic() {
			periodic = append(periodic, d)
		}
	}
	if len(periodic) == 0 {
		return
	}
	next := make(map[string]time.Time, len(periodic))
	// known is, per task, the latest fire time this node knows to be
	// enqueued (by itself or another node): while it is the one before
	// the current, nothing was missed and the store need not be asked.
	known := make(map[string]time.Time, len(periodic))
	for {
		now := m.cfg.Now()
		wait := time.Hour
		for _, d := range periodic {
			if now.Before(next[d.Name]) {
				wait = min(wait, next[d.Name].Sub(now))
				continue
			}
			fire := now.Truncate(d.Frequency)
			k, err := m.schedule(ctx, d, now, fire, known[d.Name])
			known[d.Name] = k
			if err != nil {
				if ctx.Err() != nil {
					return
				}
				m.noteErr(err)
				m.log.Warn("scheduling a periodic task", "task", d.Name, "error", err.Error())
				wait = min(wait, 250*time.Millisecond)
				continue
			}
			next[d.Name] = fire.Add(d.Frequency)
			wait = min(wait, next[d.Name].Sub(now))
		}
		// Look again at least every PollInterval: cheap (no store call
		// before a fire time), and it follows a clock that jumps.
		if !sleep(ctx, min(max(wait, time.Millisecond), m.cfg.PollInterval)) {
			return
		}
	}
}

// lateAfter is how late a fire time may be enqueued and still count as on
// time: later, it was missed (an outage, or every node down).
func (m *Manager) lateAfter(d *Definition) time.Duration {
	return min(max(time.Second, 2*m.cfg.PollInterval), d.Frequency/2)
}

// schedule enqueues the runs of periodic task d due by fire, the fire
// time of the period holding now, and those it missed as d.CatchUp says.
// known is the latest fire time this node knows to be enqueued; schedule
// returns it updated. The store refuses a fire time at or before the
// latest enqueued, so each runs once however many nodes schedule it, and
// a retry after a lost reply does nothing.
func (m *Manager) schedule(ctx context.Context, d *Definition, now, fire, known time.Time) (time.Time, error) {
	late := now.Sub(fire) > m.lateAfter(d)
	if d.CatchUp == CatchUpNone {
		if late {
			m.log.Info("skipping a missed periodic run", "task", d.Name, "fireAt", fire)
			return known, nil
		}
		return m.enqueueFires(ctx, d, now, known, fire)
	}
	prev := fire.Add(-d.Frequency)
	last := known
	if last.IsZero() || last.Before(prev) {
		// This node just started or missed fire times: did the others?
		l, err := m.store.LastFire(ctx, d.Queue, d.Name)
		if err != nil {
			return known, err
		}
		last = l
	}
	var fires []time.Time
	switch {
	case last.IsZero() || !last.Before(prev):
		// Never run before, or nothing missed.
		fires = []time.Time{fire}
	case d.CatchUp == CatchUpEach:
		from := later(last.Add(d.Frequency), fire.Add(-(maxCatchUp-1)*d.Frequency))
		for f := from; !f.After(fire); f = f.Add(d.Frequency) {
			fires = append(fires, f)
		}
	case late:
		// CatchUpOnce: the late run of this period stands for the missed
		// ones.
		fires = []time.Time{fire}
	default:
		// CatchUpOnce, back in time for this period: the latest missed
		// fire time runs once, then this one.
		fires = []time.Time{prev, fire}
	}
	if len(fires) > 1 {
		m.log.Info("catching up missed periodic runs", "task", d.Name, "runs", len(fires)-1, "lastFire", last)
	}
	return m.enqueueFires(ctx, d, now, later(known, last), fires...)
}

// enqueueFires enqueues the runs of d at fires, oldest first, and returns
// the latest fire time known to be enqueued.
func (m *Manager) enqueueFires(ctx context.Context, d *Definition, now, known time.Time, fires ...time.Time) (time.Time, error) {
	for _, f := range fires {
		if !f.After(known) {
			continue
		}
		if _, err := m.enqueuePeriodic(ctx, d, f, now); err != nil {
			if errors.Is(err, ErrRecurrentStopped) {
				return fires[len(fires)-1], nil
			}
			return known, err
		}
		known = f
	}
	return known, nil
}

func later(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}
