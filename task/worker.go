package task

import (
	"context"
	"errors"
	"fmt"
	"runtime/debug"
	"slices"
	"sort"
	"time"
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

// wakeCh returns the channel the next wake-up closes.
func (m *Manager) wakeCh() <-chan struct{} {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.wake
}

// wakeUp wakes every idle worker.
func (m *Manager) wakeUp(string) {
	m.mu.Lock()
	close(m.wake)
	m.wake = make(chan struct{})
	m.mu.Unlock()
}

func (m *Manager) watch(ctx context.Context) {
	backoff := 100 * time.Millisecond
	for ctx.Err() == nil {
		err := m.store.Watch(ctx, m.wakeUp)
		if ctx.Err() != nil {
			return
		}
		m.log.Warn("task wake-up subscription lost; retrying", "error", fmt.Sprint(err))
		if !sleep(ctx, backoff) {
			return
		}
		backoff = min(backoff*2, 5*time.Second)
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
	ctx := context.Background()
	queues := m.WorkerQueues()
	idle := time.NewTimer(idleCheck)
	defer idle.Stop()
	errWait := 50 * time.Millisecond
	var next *Delivery // taken by the last acknowledgement
	for {
		if next != nil {
			next = m.process(next, queues[0])
			continue
		}
		select {
		case <-m.stopFetch:
			return
		default:
		}
		wake := m.wakeCh()
		d, err := m.fetch(ctx, queues)
		if err != nil {
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
			next = m.process(d, queues[0])
			continue
		}
		idle.Reset(idleCheck)
		select {
		case <-m.stopFetch:
			return
		case <-wake:
		case <-idle.C:
		}
	}
}

func (m *Manager) fetch(ctx context.Context, queues []string) (*Delivery, error) {
	for _, name := range queues {
		d, err := m.store.Fetch(ctx, name, m.workerID, m.cfg.Lease)
		if err != nil || d != nil {
			return d, err
		}
	}
	return nil, nil
}

// process runs one delivery and records its outcome. When the task
// succeeded and came from the first queue, the acknowledgement also takes
// the next task of that queue, which process returns.
func (m *Manager) process(d *Delivery, first string) (next *Delivery) {
	ctx, cancel := context.WithCancelCause(context.Background())
	defer cancel(nil)
	r := &run{d: d, cancel: cancel, started: time.Now(), leaseUntil: d.LeaseUntil}
	m.mu.Lock()
	m.running[d.ID] = r
	m.mu.Unlock()
	defer func() {
		m.mu.Lock()
		delete(m.running, d.ID)
		m.mu.Unlock()
	}()

	var err error
	if lost := d.Attempt - max(d.MaxAttempts, 1); lost > maxLostRuns {
		// Its workers keep dying while running it (each recovery counts an
		// attempt): do not let it take the cluster down with it.
		err = fmt.Errorf("%w: %d attempts, the last %d of them cut off (their node died or stopped)", ErrSkipRetry, d.Attempt, lost)
	} else {
		err = m.runHandler(ctx, d)
	}
	m.mu.Lock()
	handedBack := r.handedBk
	m.mu.Unlock()
	if handedBack {
		return nil // Stop requeued it
	}
	// The outcome is recorded even if the node is stopping.
	octx, ocancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer ocancel()
	var out error
	switch {
	case err == nil && d.Queue == first && !m.stopping():
		var acked bool
		next, acked, out = m.store.AckFetch(octx, d, m.workerID, m.cfg.Lease)
		if out == nil && !acked {
			out = ErrLeaseLost
		}
	case err == nil:
		out = m.store.Ack(octx, d)
	case d.Attempt >= max(d.MaxAttempts, 1) || errors.Is(err, ErrSkipRetry) || errors.Is(err, ErrUnknownTask):
		f := Failure{Error: err.Error(), Attempts: d.Attempt, FailedAt: m.cfg.Now(), Worker: m.workerID}
		var pe *panicError
		if errors.As(err, &pe) {
			f.Stack = pe.stack
		}
		m.log.Error("task failed", "task", d.Name, "id", d.ID, "attempt", d.Attempt, "error", err.Error())
		out = m.store.Fail(octx, d, f)
	default:
		backoff := defaultBackoff
		if def, ok := m.def(d.Name); ok && def.Backoff != nil {
			backoff = def.Backoff
		}
		due := m.cfg.Now().Add(backoff(d.Attempt))
		m.log.Warn("task attempt failed; will retry", "task", d.Name, "id", d.ID, "attempt", d.Attempt, "retryAt", due, "error", err.Error())
		out = m.store.Retry(octx, d, due, err.Error())
	}
	if errors.Is(out, ErrLeaseLost) {
		m.log.Warn("task lease was lost while it ran; it may run again", "task", d.Name, "id", d.ID, "attempt", d.Attempt)
	} else if out != nil {
		m.log.Error("recording a task's outcome", "task", d.Name, "id", d.ID, "error", out.Error())
	}
	return next
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

func (m *Manager) runHandler(ctx context.Context, d *Delivery) (err error) {
	def, ok := m.def(d.Name)
	if !ok {
		return fmt.Errorf("%w: %q is not registered on node %s", ErrUnknownTask, d.Name, m.cfg.NodeID)
	}
	t := &Task{
		ID: d.ID, Name: d.Name, Queue: d.Queue, Attempt: d.Attempt, MaxAttempts: d.MaxAttempts,
		Args: d.Args, EnqueuedAt: time.UnixMilli(d.EnqueuedAt),
	}
	if d.FireAt != 0 {
		t.FireAt = time.UnixMilli(d.FireAt)
	}
	args, err := decodeArgs(d.Args)
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

// renewLoop renews the leases of running tasks and the workers' heartbeat
// three times per lease.
func (m *Manager) renewLoop(ctx context.Context) {
	every := m.cfg.Lease / 3
	t := time.NewTicker(every)
	defer t.Stop()
	m.heartbeat(ctx)
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		m.mu.Lock()
		byQueue := map[string][]string{}
		for id, r := range m.running {
			if !r.handedBk {
				byQueue[r.d.Queue] = append(byQueue[r.d.Queue], id)
			}
		}
		m.mu.Unlock()
		for name, ids := range byQueue {
			renewed := m.cfg.Now()
			m.mu.Lock()
			leases := make([]Lease, 0, len(ids))
			for _, id := range ids {
				if r := m.running[id]; r != nil {
					leases = append(leases, Lease{ID: id, Attempt: r.d.Attempt})
				}
			}
			m.mu.Unlock()
			rctx, cancel := context.WithTimeout(ctx, every)
			held, err := m.store.Extend(rctx, name, leases, m.cfg.Lease)
			cancel()
			if err != nil {
				if ctx.Err() == nil {
					m.log.Warn("renewing task leases", "queue", name, "tasks", len(ids), "error", err.Error())
				}
				continue
			}
			m.mu.Lock()
			for i, l := range leases {
				if r := m.running[l.ID]; r != nil && i < len(held) && held[i] {
					r.leaseUntil = renewed.Add(m.cfg.Lease)
				}
			}
			m.mu.Unlock()
		}
		m.cutLapsed()
		m.heartbeat(ctx)
	}
}

// cutLapsed cancels the runs whose lease this node could not renew in
// time (Redis unreachable, say): another node may run them by now, so
// their handlers are told to stop (context.Cause is ErrLeaseLost).
func (m *Manager) cutLapsed() {
	now := m.cfg.Now()
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, r := range m.running {
		if !r.handedBk && !r.lost && now.After(r.leaseUntil) {
			r.lost = true
			r.cancel(ErrLeaseLost)
			m.log.Warn("task lease lapsed before it could be renewed; cutting the run off", "task", r.d.Name, "id", r.d.ID, "attempt", r.d.Attempt)
		}
	}
}

func (m *Manager) heartbeat(ctx context.Context) {
	m.mu.Lock()
	w := WorkerInfo{
		ID: m.workerID, Node: m.cfg.NodeID, Queues: slices.Clone(m.queues),
		Concurrency: m.cfg.Concurrency, Running: len(m.running),
		StartedAt: m.startedAt, Heartbeat: m.cfg.Now(),
	}
	m.mu.Unlock()
	hctx, cancel := context.WithTimeout(ctx, m.cfg.Lease/3)
	defer cancel()
	if err := m.store.Heartbeat(hctx, w, m.cfg.Lease); err != nil && ctx.Err() == nil {
		m.log.Warn("worker heartbeat", "error", err.Error())
	}
}

// forwardLoop moves due delayed tasks and recovers lapsed leases, for
// every queue of the store, on every node.
func (m *Manager) forwardLoop(ctx context.Context) {
	var known []string
	var listed time.Time
	for {
		if !sleep(ctx, m.cfg.PollInterval/2+jitter(m.cfg.PollInterval)) {
			return
		}
		if time.Since(listed) > 5*m.cfg.PollInterval || known == nil {
			if names, err := m.store.Queues(ctx); err == nil {
				known = names
				listed = time.Now()
			}
		}
		for _, name := range union(m.WorkerQueues(), known) {
			moved, recovered, err := m.store.Forward(ctx, name, true)
			if err != nil {
				if ctx.Err() == nil {
					m.log.Warn("moving delayed tasks", "queue", name, "error", err.Error())
				}
				break
			}
			if recovered > 0 {
				m.log.Warn("recovered tasks whose worker stopped renewing their lease", "queue", name, "tasks", recovered)
			}
			_ = moved
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

// scheduleLoop enqueues each periodic task at each of its fire times.
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
	for {
		now := m.cfg.Now()
		wait := time.Hour
		for _, d := range periodic {
			if now.Before(next[d.Name]) {
				wait = min(wait, next[d.Name].Sub(now))
				continue
			}
			if _, err := m.enqueuePeriodic(ctx, d, now); err != nil {
				if ctx.Err() != nil {
					return
				}
				m.log.Warn("scheduling a periodic task", "task", d.Name, "error", err.Error())
				wait = min(wait, 250*time.Millisecond)
				continue
			}
			next[d.Name] = now.Truncate(d.Frequency).Add(d.Frequency)
			wait = min(wait, next[d.Name].Sub(now))
		}
		// Look again at least every PollInterval: cheap (no store call
		// before a fire time), and it follows a clock that jumps.
		if !sleep(ctx, min(max(wait, time.Millisecond), m.cfg.PollInterval)) {
			return
		}
	}
}
