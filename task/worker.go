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

// handBackGrace is how long Stop waits for handlers to return once their
// tasks were handed back and their contexts canceled.
const handBackGrace = 2 * time.Second

// Start starts the node's part of the task system: the workers (when
// Concurrency is positive), lease renewal, the delayed-task mover and
// lease reaper, and the periodic scheduler. Each node runs all of them;
// none is special.
func (q *Manager) Start(ctx context.Context) error {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.started {
		return errors.New("task: Manager started twice")
	}
	q.started = true
	q.startedAt = q.cfg.Now()
	q.workerID = q.cfg.NodeID + ":" + newID()[:8]
	q.queues = q.cfg.Queues
	if len(q.queues) == 0 {
		q.queues = q.defaultQueuesLocked()
	}
	for _, name := range q.queues {
		if err := checkQueueName(name); err != nil {
			return err
		}
	}
	q.loop(q.watch)
	q.loop(q.forwardLoop)
	q.loop(q.scheduleLoop)
	if q.cfg.Concurrency > 0 {
		q.loop(q.renewLoop)
		for range q.cfg.Concurrency {
			q.workersWG.Add(1)
			go q.worker()
		}
	}
	return nil
}

func (q *Manager) defaultQueuesLocked() []string {
	seen := map[string]bool{DefaultQueue: true}
	out := []string{DefaultQueue}
	var more []string
	for _, d := range q.defs {
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
func (q *Manager) WorkerQueues() []string {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.queues == nil {
		return q.defaultQueuesLocked()
	}
	return slices.Clone(q.queues)
}

// loop runs fn until stopAll closes. Called with q.mu held.
func (q *Manager) loop(fn func(ctx context.Context)) {
	q.loopsWG.Add(1)
	go func() {
		defer q.loopsWG.Done()
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		go func() {
			select {
			case <-q.stopAll:
			case <-ctx.Done():
			}
			cancel()
		}()
		fn(ctx)
	}()
}

// Stop stops the workers: they take no new task, the running ones have
// until DrainTimeout (or ctx's end, if sooner) to finish, and those still
// running then are handed back to their queue to run elsewhere. Then the
// background loops stop. Stop is safe to call more than once.
func (q *Manager) Stop(ctx context.Context) error {
	q.mu.Lock()
	if !q.started || q.stopped {
		q.stopped = true
		q.mu.Unlock()
		return nil
	}
	q.stopped = true
	close(q.stopFetch)
	q.mu.Unlock()

	drain := q.cfg.DrainTimeout
	if dl, ok := ctx.Deadline(); ok {
		// Keep time to hand back what is still running.
		drain = min(drain, time.Until(dl)*3/4)
	}
	done := make(chan struct{})
	go func() { q.workersWG.Wait(); close(done) }()
	var errs []error
	timer := time.NewTimer(max(drain, 0))
	select {
	case <-done:
		timer.Stop()
	case <-timer.C:
		// Hand back what is still running, then cut the handlers off.
		q.mu.Lock()
		var back []*run
		for _, r := range q.running {
			r.handedBk = true
			back = append(back, r)
		}
		q.mu.Unlock()
		hctx := context.WithoutCancel(ctx)
		for _, r := range back {
			if err := q.store.Requeue(hctx, r.d); err != nil && !errors.Is(err, ErrLeaseLost) {
				errs = append(errs, fmt.Errorf("task: handing back %s: %w", r.d.ID, err))
			} else {
				q.log.Info("task handed back", "task", r.d.Name, "id", r.d.ID, "attempt", r.d.Attempt)
			}
			r.cancel(errHandedBack)
		}
		// Their tasks are safe in the queue; give the handlers a moment to
		// return, but do not wait forever on one that ignores its context.
		grace := time.NewTimer(handBackGrace)
		defer grace.Stop()
		select {
		case <-done:
		case <-ctx.Done():
			errs = append(errs, fmt.Errorf("task: %d handlers ignored their context at shutdown: %w", len(back), ctx.Err()))
		case <-grace.C:
			errs = append(errs, fmt.Errorf("task: %d handlers still running %s after their tasks were handed back", len(back), handBackGrace))
		}
	}
	close(q.stopAll)
	loops := make(chan struct{})
	go func() { q.loopsWG.Wait(); close(loops) }()
	select {
	case <-loops:
	case <-ctx.Done():
		errs = append(errs, fmt.Errorf("task: loops still running at the deadline: %w", ctx.Err()))
	}
	if q.cfg.Concurrency > 0 {
		rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Second)
		_ = q.store.RemoveWorker(rctx, q.workerID)
		cancel()
	}
	return errors.Join(errs...)
}

// wakeCh returns the channel the next wake-up closes.
func (q *Manager) wakeCh() <-chan struct{} {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.wake
}

// wakeUp wakes every idle worker.
func (q *Manager) wakeUp(string) {
	q.mu.Lock()
	close(q.wake)
	q.wake = make(chan struct{})
	q.mu.Unlock()
}

func (q *Manager) watch(ctx context.Context) {
	backoff := 100 * time.Millisecond
	for ctx.Err() == nil {
		err := q.store.Watch(ctx, q.wakeUp)
		if ctx.Err() != nil {
			return
		}
		q.log.Warn("task wake-up subscription lost; retrying", "error", fmt.Sprint(err))
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
func (q *Manager) worker() {
	defer q.workersWG.Done()
	ctx := context.Background()
	queues := q.WorkerQueues()
	idle := time.NewTimer(idleCheck)
	defer idle.Stop()
	errWait := 50 * time.Millisecond
	var next *Delivery // taken by the last acknowledgement
	for {
		if next != nil {
			next = q.process(next, queues[0])
			continue
		}
		select {
		case <-q.stopFetch:
			return
		default:
		}
		wake := q.wakeCh()
		d, err := q.fetch(ctx, queues)
		if err != nil {
			q.log.Warn("fetching a task", "error", err.Error())
			select {
			case <-q.stopFetch:
				return
			case <-time.After(errWait + jitter(errWait)):
			}
			errWait = min(errWait*2, 2*time.Second)
			continue
		}
		errWait = 50 * time.Millisecond
		if d != nil {
			next = q.process(d, queues[0])
			continue
		}
		idle.Reset(idleCheck)
		select {
		case <-q.stopFetch:
			return
		case <-wake:
		case <-idle.C:
		}
	}
}

func (q *Manager) fetch(ctx context.Context, queues []string) (*Delivery, error) {
	for _, name := range queues {
		d, err := q.store.Fetch(ctx, name, q.workerID, q.cfg.Lease)
		if err != nil || d != nil {
			return d, err
		}
	}
	return nil, nil
}

// process runs one delivery and records its outcome. When the task
// succeeded and came from the first queue, the acknowledgement also takes
// the next task of that queue, which process returns.
func (q *Manager) process(d *Delivery, first string) (next *Delivery) {
	ctx, cancel := context.WithCancelCause(context.Background())
	defer cancel(nil)
	r := &run{d: d, cancel: cancel, started: time.Now(), leaseUntil: d.LeaseUntil}
	q.mu.Lock()
	q.running[d.ID] = r
	q.mu.Unlock()
	defer func() {
		q.mu.Lock()
		delete(q.running, d.ID)
		q.mu.Unlock()
	}()

	var err error
	if lost := d.Attempt - max(d.MaxAttempts, 1); lost > maxLostRuns {
		// Its workers keep dying while running it (each recovery counts an
		// attempt): do not let it take the cluster down with it.
		err = fmt.Errorf("%w: %d attempts, the last %d of them cut off (their node died or stopped)", ErrSkipRetry, d.Attempt, lost)
	} else {
		err = q.runHandler(ctx, d)
	}
	q.mu.Lock()
	handedBack := r.handedBk
	q.mu.Unlock()
	if handedBack {
		return nil // Stop requeued it
	}
	// The outcome is recorded even if the node is stopping.
	octx, ocancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer ocancel()
	var out error
	switch {
	case err == nil && d.Queue == first && !q.stopping():
		var acked bool
		next, acked, out = q.store.AckFetch(octx, d, q.workerID, q.cfg.Lease)
		if out == nil && !acked {
			out = ErrLeaseLost
		}
	case err == nil:
		out = q.store.Ack(octx, d)
	case d.Attempt >= max(d.MaxAttempts, 1) || errors.Is(err, ErrSkipRetry) || errors.Is(err, ErrUnknownTask):
		f := Failure{Error: err.Error(), Attempts: d.Attempt, FailedAt: q.cfg.Now(), Worker: q.workerID}
		var pe *panicError
		if errors.As(err, &pe) {
			f.Stack = pe.stack
		}
		q.log.Error("task failed", "task", d.Name, "id", d.ID, "attempt", d.Attempt, "error", err.Error())
		out = q.store.Fail(octx, d, f)
	default:
		backoff := defaultBackoff
		if def, ok := q.def(d.Name); ok && def.Backoff != nil {
			backoff = def.Backoff
		}
		due := q.cfg.Now().Add(backoff(d.Attempt))
		q.log.Warn("task attempt failed; will retry", "task", d.Name, "id", d.ID, "attempt", d.Attempt, "retryAt", due, "error", err.Error())
		out = q.store.Retry(octx, d, due, err.Error())
	}
	if errors.Is(out, ErrLeaseLost) {
		q.log.Warn("task lease was lost while it ran; it may run again", "task", d.Name, "id", d.ID, "attempt", d.Attempt)
	} else if out != nil {
		q.log.Error("recording a task's outcome", "task", d.Name, "id", d.ID, "error", out.Error())
	}
	return next
}

// stopping reports whether workers stopped fetching.
func (q *Manager) stopping() bool {
	select {
	case <-q.stopFetch:
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

func (q *Manager) runHandler(ctx context.Context, d *Delivery) (err error) {
	def, ok := q.def(d.Name)
	if !ok {
		return fmt.Errorf("%w: %q is not registered on node %s", ErrUnknownTask, d.Name, q.cfg.NodeID)
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
	q.mu.Lock()
	mw := append(slices.Clone(q.mw), def.Middleware...)
	q.mu.Unlock()
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
func (q *Manager) renewLoop(ctx context.Context) {
	every := q.cfg.Lease / 3
	t := time.NewTicker(every)
	defer t.Stop()
	q.heartbeat(ctx)
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		q.mu.Lock()
		byQueue := map[string][]string{}
		for id, r := range q.running {
			if !r.handedBk {
				byQueue[r.d.Queue] = append(byQueue[r.d.Queue], id)
			}
		}
		q.mu.Unlock()
		for name, ids := range byQueue {
			renewed := q.cfg.Now()
			rctx, cancel := context.WithTimeout(ctx, every)
			err := q.store.Extend(rctx, name, ids, q.cfg.Lease)
			cancel()
			if err != nil {
				if ctx.Err() == nil {
					q.log.Warn("renewing task leases", "queue", name, "tasks", len(ids), "error", err.Error())
				}
				continue
			}
			q.mu.Lock()
			for _, id := range ids {
				if r := q.running[id]; r != nil {
					r.leaseUntil = renewed.Add(q.cfg.Lease)
				}
			}
			q.mu.Unlock()
		}
		q.cutLapsed()
		q.heartbeat(ctx)
	}
}

// cutLapsed cancels the runs whose lease this node could not renew in
// time (Redis unreachable, say): another node may run them by now, so
// their handlers are told to stop (context.Cause is ErrLeaseLost).
func (q *Manager) cutLapsed() {
	now := q.cfg.Now()
	q.mu.Lock()
	defer q.mu.Unlock()
	for _, r := range q.running {
		if !r.handedBk && !r.lost && now.After(r.leaseUntil) {
			r.lost = true
			r.cancel(ErrLeaseLost)
			q.log.Warn("task lease lapsed before it could be renewed; cutting the run off", "task", r.d.Name, "id", r.d.ID, "attempt", r.d.Attempt)
		}
	}
}

func (q *Manager) heartbeat(ctx context.Context) {
	q.mu.Lock()
	w := WorkerInfo{
		ID: q.workerID, Node: q.cfg.NodeID, Queues: slices.Clone(q.queues),
		Concurrency: q.cfg.Concurrency, Running: len(q.running),
		StartedAt: q.startedAt, Heartbeat: q.cfg.Now(),
	}
	q.mu.Unlock()
	hctx, cancel := context.WithTimeout(ctx, q.cfg.Lease/3)
	defer cancel()
	if err := q.store.Heartbeat(hctx, w, q.cfg.Lease); err != nil && ctx.Err() == nil {
		q.log.Warn("worker heartbeat", "error", err.Error())
	}
}

// forwardLoop moves due delayed tasks and recovers lapsed leases, for
// every queue of the store, on every node.
func (q *Manager) forwardLoop(ctx context.Context) {
	var known []string
	var listed time.Time
	for {
		if !sleep(ctx, q.cfg.PollInterval/2+jitter(q.cfg.PollInterval)) {
			return
		}
		if time.Since(listed) > 5*q.cfg.PollInterval || known == nil {
			if names, err := q.store.Queues(ctx); err == nil {
				known = names
				listed = time.Now()
			}
		}
		for _, name := range union(q.WorkerQueues(), known) {
			moved, recovered, err := q.store.Forward(ctx, name)
			if err != nil {
				if ctx.Err() == nil {
					q.log.Warn("moving delayed tasks", "queue", name, "error", err.Error())
				}
				break
			}
			if recovered > 0 {
				q.log.Warn("recovered tasks whose worker stopped renewing their lease", "queue", name, "tasks", recovered)
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
func (q *Manager) scheduleLoop(ctx context.Context) {
	var periodic []*Definition
	for _, d := range q.Definitions() {
		if d.Periodic() {
			periodic = append(periodic, d)
		}
	}
	if len(periodic) == 0 {
		return
	}
	next := make(map[string]time.Time, len(periodic))
	for {
		now := q.cfg.Now()
		wait := time.Hour
		for _, d := range periodic {
			if now.Before(next[d.Name]) {
				wait = min(wait, next[d.Name].Sub(now))
				continue
			}
			if _, err := q.enqueuePeriodic(ctx, d, now); err != nil {
				if ctx.Err() != nil {
					return
				}
				q.log.Warn("scheduling a periodic task", "task", d.Name, "error", err.Error())
				wait = min(wait, 250*time.Millisecond)
				continue
			}
			next[d.Name] = now.Truncate(d.Frequency).Add(d.Frequency)
			wait = min(wait, next[d.Name].Sub(now))
		}
		// Look again at least every PollInterval: cheap (no store call
		// before a fire time), and it follows a clock that jumps.
		if !sleep(ctx, min(max(wait, time.Millisecond), q.cfg.PollInterval)) {
			return
		}
	}
}
