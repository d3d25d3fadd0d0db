package task

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	mrand "math/rand/v2"
	"slices"
	"sort"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/stellarfw/stellar-go/internal/lifecycle"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/trace"

	"github.com/stellarfw/stellar-go/event"
	"github.com/stellarfw/stellar-go/internal/tracing"
)

// The defaults of Config, and its bounds.
const (
	// DefaultNodeID names the workers of a node whose Config has no
	// NodeID.
	DefaultNodeID = "node"
	// DefaultLease is how long a worker holds a task between renewals.
	DefaultLease = 30 * time.Second
	// MinLease is the shortest Lease: a worker renews three times per
	// lease.
	MinLease = 30 * time.Millisecond
	// DefaultPollInterval is how often each node moves due delayed tasks
	// and recovers lapsed leases.
	DefaultPollInterval = 100 * time.Millisecond
	// DefaultDrainTimeout bounds how long Stop waits for running tasks.
	DefaultDrainTimeout = 10 * time.Second
	// MinRecoveryGrace is the shortest time a node's store calls must have
	// succeeded, after one failed, before it recovers lapsed leases: the
	// grace is the longer of this and a lease. After a Redis Cluster
	// failover a client can take a second or two to learn the new master,
	// and with a short lease the holders would not get to renew in time.
	MinRecoveryGrace = 3 * time.Second
)

// Config configures a started Manager. A zero field means its default.
type Config struct {
	// NodeID names this node's workers. Default DefaultNodeID.
	NodeID string
	// Concurrency is the number of tasks this node runs at once. Zero (or
	// less) runs no workers: the node only enqueues and schedules.
	Concurrency int
	// EnqueueOnly makes the Manager only enqueue: Start runs nothing in
	// the background, neither workers (whatever Concurrency says) nor the
	// delayed-task mover, the lease reaper or the periodic scheduler. For
	// a process that enqueues and exits, such as a command-line tool; the
	// nodes move its delayed tasks.
	EnqueueOnly bool
	// Queues lists the queues the workers take tasks from, highest
	// priority first. Default: "default", then the queues of the
	// registered tasks, in name order.
	Queues []string
	// Lease is how long a worker holds a task between renewals; a task
	// whose worker died runs again within two leases (three after a
	// store outage, see the package documentation). Default DefaultLease
	// (30s); at least MinLease (30ms).
	Lease time.Duration
	// PollInterval is how often each node moves due delayed tasks and
	// recovers lapsed leases. Idle workers do not poll: an enqueue wakes
	// them. Default DefaultPollInterval (100ms).
	PollInterval time.Duration
	// DrainTimeout bounds how long Stop waits for running tasks before it
	// hands them back (less when Stop's context ends sooner). Default
	// DefaultDrainTimeout (10s).
	DrainTimeout time.Duration
	// Logger logs task failures and recoveries. Default: discard.
	Logger *slog.Logger
	// Events, when set, receives this node's task events:
	// event.TaskEnqueued, TaskStarted, TaskCompleted and TaskFailed. A
	// listener's error is logged and changes nothing. Default: none.
	Events *event.Bus
	// Partitions is the number of partitions of each queue (see
	// PartitionName): enqueues spread a queue's tasks over them, and the
	// workers take tasks from all of them. Default: what the store
	// suggests (PartitionHinter; the Redis backend says
	// DefaultClusterPartitions when configured for a Redis Cluster), 1
	// otherwise. At most MaxPartitions. Every node must use
	// the same number, or a unique key may be held in two partitions at
	// once (tasks are never stranded: workers also drain the partitions
	// the store lists).
	Partitions int
	// QueuePartitions overrides Partitions for the queues it names.
	QueuePartitions map[string]int
	// Now is the clock for due times and backoff. Default time.Now.
	Now func() time.Time
	// TracerProvider, when set, gets a producer span for each enqueue
	// and a consumer span for each run. Without it no span is started;
	// the trace context of Enqueue's ctx is stored with the task and its
	// runs' contexts carry it all the same.
	TracerProvider trace.TracerProvider
}

func (c *Config) setDefaults() {
	if c.NodeID == "" {
		c.NodeID = DefaultNodeID
	}
	if c.Lease <= 0 {
		c.Lease = DefaultLease
	}
	if c.PollInterval <= 0 {
		c.PollInterval = DefaultPollInterval
	}
	if c.DrainTimeout <= 0 {
		c.DrainTimeout = DefaultDrainTimeout
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.EnqueueOnly || c.Concurrency < 0 {
		c.Concurrency = 0
	}
}

// Manager is the task API of a node (Stellar's api.tasks): it registers
// tasks, enqueues them and runs the node's workers. Register tasks, then
// Start it on a Store; Stop it before closing the store. An Inspector
// reads and manages the queues.
type Manager struct {
	mu           sync.Mutex
	defs         map[string]*Definition // guarded by mu
	mw           []Middleware           // guarded by mu
	emw          []EnqueueMiddleware    // guarded by mu
	phase        phase                  // guarded by mu
	queues       []string               // guarded by mu; fetched, in priority order
	known        []string               // guarded by mu; the store's queues (partitions), as last listed
	running      map[*run]struct{}      // guarded by mu; runs and outcomes being recorded
	wake         *wakeGen               // guarded by mu; closed on a wake-up
	paused       bool                   // guarded by mu; Pause called, Resume not since
	resumed      chan struct{}          // guarded by mu; closed by Resume
	heartbeatDue chan struct{}          // a heartbeat is due at once (Pause, Resume)
	stopFetch    chan struct{}          // closed when workers stop fetching
	beat         chan struct{}          // closed once the first worker heartbeat was tried
	stopAll      chan struct{}          // closed when every loop stops
	workersWG    sync.WaitGroup
	loopsWG      sync.WaitGroup

	// Start sets these under mu before it publishes phaseStarted, and
	// nothing writes them again: whoever saw the phase under mu, and the
	// goroutines Start runs, read them without it.
	store     Store
	cfg       Config
	log       *slog.Logger
	tracer    *tracing.Tracer // nil: no spans
	workerID  string
	startedAt time.Time
	epoch     time.Time // Start's monotonic time

	// lastFail is when (time.Since(epoch)) a store call last failed for a
	// passing reason; see healthy.
	lastFail atomic.Int64
}

// phase is where a Manager is in its life.
type phase int

const (
	phaseNew      phase = iota
	phaseStarted        // running
	phaseStopping       // Stop called: no new fetch; enqueues still work
	phaseStopped        // Stop returned
)

// New returns a Manager to register tasks on. Its enqueues fail with
// ErrNotStarted until Start gives it a store.
func New() *Manager {
	return &Manager{
		defs:         map[string]*Definition{},
		running:      map[*run]struct{}{},
		wake:         &wakeGen{ch: make(chan struct{})},
		heartbeatDue: make(chan struct{}, 1),
		stopFetch:    make(chan struct{}),
		beat:         make(chan struct{}),
		stopAll:      make(chan struct{}),
	}
}

// Start starts the node's part of the task system on store: the workers
// (when Concurrency is positive), lease renewal, the delayed-task mover
// and lease reaper, and the periodic scheduler (none of them with
// EnqueueOnly). Each node runs all of them; none is special. A Manager
// starts once.
//
// The node calls Start as it starts (App.Start): the lifecycle key,
// which only this module can name, keeps a program from calling it.
// App.Tasks needs no Start before RunNow.
func (m *Manager) Start(ctx context.Context, store Store, cfg Config, _ lifecycle.Key) error {
	if store == nil {
		return errors.New("task: Start with a nil store")
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	cfg.setDefaults()
	if cfg.Lease < MinLease {
		return fmt.Errorf("task: Lease %s is shorter than %s", cfg.Lease, MinLease)
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	switch m.phase {
	case phaseStarted, phaseStopping:
		return errors.New("task: Manager started twice")
	case phaseStopped:
		return ErrStopped
	}
	queues := cfg.Queues
	if len(queues) == 0 {
		queues = m.defaultQueuesLocked()
	}
	for _, name := range queues {
		if err := CheckQueueName(name); err != nil {
			return err
		}
	}
	if err := checkPartitions("Partitions", cfg.Partitions); err != nil {
		return err
	}
	for q, n := range cfg.QueuePartitions {
		if err := checkPartitions("QueuePartitions["+q+"]", n); err != nil {
			return err
		}
	}
	if cfg.Partitions == 0 {
		cfg.Partitions = 1
		if h, ok := store.(PartitionHinter); ok {
			cfg.Partitions = min(max(h.DefaultPartitions(), 1), MaxPartitions)
		}
	}
	m.store, m.cfg, m.log = store, cfg, cfg.Logger
	m.tracer = tracing.New(cfg.TracerProvider)
	m.startedAt = cfg.Now()
	m.epoch = time.Now()
	m.lastFail.Store(-int64(max(cfg.Lease, MinRecoveryGrace)))
	m.workerID = cfg.NodeID + ":" + newID()[:8]
	m.queues = slices.Clone(queues)
	m.phase = phaseStarted
	if cfg.EnqueueOnly {
		return nil
	}
	m.loop(m.forwardLoop)
	m.loop(m.scheduleLoop)
	if cfg.Concurrency > 0 {
		m.loop(m.watch)
		m.loop(m.renewLoop)
		for range cfg.Concurrency {
			m.workersWG.Add(1)
			go m.worker()
		}
	}
	return nil
}

// handBackGrace is how long Stop waits for handlers to return once their
// tasks were handed back and their contexts canceled.
const handBackGrace = 2 * time.Second

// Stop stops the workers: they take no new task, the running ones have
// until DrainTimeout (or ctx's end, if sooner) to finish, and those still
// running then are handed back to their queue to run elsewhere. Then the
// background loops stop. Enqueues work until Stop returns (a task that
// finishes while the node drains may enqueue another), and fail with
// ErrStopped after. Stop is safe to call more than once, and does
// nothing on a Manager that did not start.
//
// The node calls Stop as it stops (App.Shutdown): the lifecycle key,
// which only this module can name, keeps a program from calling it.
func (m *Manager) Stop(ctx context.Context, _ lifecycle.Key) error {
	m.mu.Lock()
	if m.phase != phaseStarted {
		m.mu.Unlock()
		return nil
	}
	m.phase = phaseStopping
	close(m.stopFetch)
	m.mu.Unlock()
	defer func() {
		m.mu.Lock()
		m.phase = phaseStopped
		m.mu.Unlock()
	}()

	drain := m.cfg.DrainTimeout
	if dl, ok := ctx.Deadline(); ok {
		// Keep time to hand back what is still running.
		drain = min(drain, time.Until(dl)*3/4)
	}
	done := make(chan struct{})
	go func() { m.workersWG.Wait(); close(done) }()
	var errs []error
	timer := time.NewTimer(max(drain, 0))
	select {
	case <-done:
		timer.Stop()
	case <-timer.C:
		// Hand back what is still running, then cut the handlers off. A
		// run whose handler returned is not handed back: its task is done,
		// and its outcome is being recorded.
		m.mu.Lock()
		var back []*run
		for r := range m.running {
			if r.handBack() {
				back = append(back, r)
			}
		}
		m.mu.Unlock()
		hctx := context.WithoutCancel(ctx)
		for _, r := range back {
			if err := m.store.Requeue(hctx, r.d); err != nil && !errors.Is(err, ErrLeaseLost) {
				errs = append(errs, fmt.Errorf("task: handing back %s: %w", r.d.ID, err))
			} else {
				m.log.Info("task handed back", "task", r.d.Name, "id", r.d.ID, "attempt", r.d.Attempt)
			}
			r.cancel(ErrHandedBack)
		}
		// Their tasks are safe in the queue; give the handlers a moment to
		// return, but do not wait forever on one that ignores its context.
		grace := time.NewTimer(handBackGrace)
		defer grace.Stop()
		select {
		case <-done:
		case <-ctx.Done():
			errs = append(errs, fmt.Errorf("task: %s at shutdown: %w", m.unfinished(), ctx.Err()))
		case <-grace.C:
			errs = append(errs, fmt.Errorf("task: %s %s after the drain deadline", m.unfinished(), handBackGrace))
		}
	}
	close(m.stopAll)
	loops := make(chan struct{})
	go func() { m.loopsWG.Wait(); close(loops) }()
	select {
	case <-loops:
	case <-ctx.Done():
		errs = append(errs, fmt.Errorf("task: loops still running at the deadline: %w", ctx.Err()))
	}
	if m.cfg.Concurrency > 0 {
		rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Second)
		_ = m.store.RemoveWorker(rctx, m.workerID)
		cancel()
	}
	return errors.Join(errs...)
}

// unfinished describes the runs that did not end in time at shutdown.
func (m *Manager) unfinished() string {
	m.mu.Lock()
	defer m.mu.Unlock()
	handlers, outcomes := 0, 0
	for r := range m.running {
		r.mu.Lock()
		if r.settling {
			outcomes++
		} else {
			handlers++
		}
		r.mu.Unlock()
	}
	return fmt.Sprintf("%d handlers still running and %d outcomes not recorded", handlers, outcomes)
}

// ready returns the store once Start gave it one, and until Stop
// returned.
func (m *Manager) ready() (Store, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	switch m.phase {
	case phaseNew:
		return nil, ErrNotStarted
	case phaseStopped:
		return nil, ErrStopped
	}
	return m.store, nil
}

// Running reports how many tasks this node runs now, counting those
// whose outcome it is still recording.
func (m *Manager) Running() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return len(m.running)
}

// Pause stops this node's workers from taking tasks, at runtime: the
// tasks they run finish as usual (their outcome recorded), then each
// worker waits for Resume instead of taking the next one. A worker that
// is taking a task as Pause is called still runs that one. Lease
// renewal, the workers' heartbeat (WorkerInfo.Paused), the delayed-task
// mover, the lease reaper, the scheduler and enqueues go on. Pause on a
// paused Manager does nothing; a Manager paused before Start starts
// with its workers paused. It pauses this node only: to pause a queue on
// every node, see Inspector.PauseQueue.
func (m *Manager) Pause() {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.paused {
		return
	}
	m.paused = true
	m.resumed = make(chan struct{})
	m.beatNow()
}

// Resume undoes Pause: the idle workers take tasks again at once.
// Resume on a Manager that is not paused does nothing.
func (m *Manager) Resume() {
	m.mu.Lock()
	defer m.mu.Unlock()
	if !m.paused {
		return
	}
	m.paused = false
	close(m.resumed)
	m.beatNow()
}

// Paused reports whether this node's workers are paused (Pause).
func (m *Manager) Paused() bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.paused
}

// pausedUntil returns the channel Resume closes while the workers are
// paused, nil otherwise.
func (m *Manager) pausedUntil() <-chan struct{} {
	m.mu.Lock()
	defer m.mu.Unlock()
	if !m.paused {
		return nil
	}
	return m.resumed
}

// beatNow asks the renewal loop for a heartbeat now, so that the worker
// record shows a pause at once.
func (m *Manager) beatNow() {
	select {
	case m.heartbeatDue <- struct{}{}:
	default:
	}
}

// Register adds task definitions. A name may be registered once. The
// Manager keeps a copy of each, with its defaults filled in (see
// Definitions), so one definition may be registered on several Managers.
func (m *Manager) Register(defs ...*Definition) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, d := range defs {
		if d != nil {
			c := *d
			d = &c
		}
		if err := d.check(); err != nil {
			return err
		}
		if _, ok := m.defs[d.Name]; ok {
			return fmt.Errorf("task: %s is already registered", d.Name)
		}
		m.defs[d.Name] = d
	}
	return nil
}

// Use adds run middleware for every task, outermost first. A nil
// middleware is an error, and nothing from that call is added.
func (m *Manager) Use(mw ...Middleware) error {
	for i, f := range mw {
		if f == nil {
			return fmt.Errorf("task: Use: middleware %d is nil", i)
		}
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	m.mw = append(m.mw, mw...)
	return nil
}

// UseEnqueue adds enqueue middleware for every task, outermost first. A
// nil middleware is an error, and nothing from that call is added.
func (m *Manager) UseEnqueue(mw ...EnqueueMiddleware) error {
	for i, f := range mw {
		if f == nil {
			return fmt.Errorf("task: UseEnqueue: middleware %d is nil", i)
		}
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	m.emw = append(m.emw, mw...)
	return nil
}

// RunNow runs the task name once, now, in the caller's goroutine, and
// returns its handler's error: args (as Enqueue takes them) are checked
// by the task's inputs, the run middleware wraps the handler, its
// Timeout bounds the run, and a panic becomes an error. Nothing is
// stored: no queue, no retry, no event, no enqueue middleware. The Task
// the handler sees has a new ID, Attempt 1 and the task's queue. It
// needs no Start: a test runs a task with it (stellartest's RunTask),
// a tool runs one inline.
func (m *Manager) RunNow(ctx context.Context, name string, args any) error {
	d, ok := m.def(name)
	if !ok {
		return fmt.Errorf("%w: %q", ErrUnknownTask, name)
	}
	args, err := d.args(args)
	if err != nil {
		return fmt.Errorf("task: %s: arguments: %w", name, err)
	}
	raw, err := encodeArgs(args)
	if err != nil {
		return fmt.Errorf("task: %s: arguments: %w", name, err)
	}
	m.mu.Lock()
	now := m.cfg.Now
	m.mu.Unlock()
	if now == nil {
		now = time.Now
	}
	t := &Task{ID: newID(), Name: name, Queue: d.Queue, Attempt: 1, MaxAttempts: d.MaxAttempts, Args: raw, EnqueuedAt: now()}
	return m.invoke(ctx, d, t)
}

// Definitions lists the registered tasks by name.
func (m *Manager) Definitions() []*Definition {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := slices.Collect(maps.Values(m.defs))
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

func (m *Manager) def(name string) (*Definition, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	d, ok := m.defs[name]
	return d, ok
}

// Enqueue adds a task to run as soon as a worker is free (Stellar's
// api.tasks.enqueue) and returns its id. args is encoded as JSON (a
// map, a struct, or nil; the In of a task made by Typed is sent by its
// parameter names); a task with Inputs checks it against them.
// In, At, Queue, Unique and MaxAttempts change the call. It fails with
// ErrNotStarted before Start and ErrStopped after Stop.
//
// While the store fails temporarily (Redis restarting or failing over),
// Enqueue tries again until ctx ends, or for EnqueueRetry when ctx has
// no deadline, and then returns the store's last error. A retry stores
// one task whatever the earlier tries did: the task's id is fixed first,
// and the store does nothing for an id it holds.
func (m *Manager) Enqueue(ctx context.Context, name string, args any, opts ...Option) (_ string, err error) {
	store, err := m.ready()
	if err != nil {
		return "", err
	}
	d, ok := m.def(name)
	if !ok {
		return "", fmt.Errorf("%w: %q", ErrUnknownTask, name)
	}
	var o enqueueOpts
	for _, opt := range opts {
		opt(&o)
	}
	if o.key != "" && (o.unique != nil || d.Unique) {
		return "", errKeyAndUnique
	}
	args, err = d.args(args)
	if err != nil {
		return "", fmt.Errorf("task: %s: arguments: %w", name, err)
	}
	raw, err := encodeArgs(args)
	if err != nil {
		return "", fmt.Errorf("task: %s: arguments: %w", name, err)
	}
	if d.inputs != nil {
		params, err := decodeArgs(raw)
		if err != nil {
			return "", fmt.Errorf("task: %s: arguments: %w", name, err)
		}
		if _, err := d.inputs.Process(ctx, params); err != nil {
			return "", err
		}
	}
	queue := d.Queue
	if o.queue != "" {
		if err := CheckQueueName(o.queue); err != nil {
			return "", err
		}
		queue = o.queue
	}
	now := m.cfg.Now()
	due := now
	switch {
	case !o.at.IsZero():
		due = o.at
	case o.in > 0:
		due = now.Add(o.in)
	}
	msg := &Message{
		ID: newID(), Name: name, Queue: queue, Args: raw,
		MaxAttempts: d.MaxAttempts, EnqueuedAt: now.UnixMilli(),
	}
	var span trace.Span
	if m.tracer != nil {
		ctx, span = m.tracer.Start(ctx, name, trace.SpanKindProducer)
		span.SetAttributes(attribute.String("stellar.task", name), attribute.String("stellar.queue", queue),
			attribute.String("stellar.task_id", msg.ID))
		defer func() { tracing.End(span, err) }()
	}
	msg.Traceparent, msg.Tracestate = tracing.Inject(ctx)
	if o.maxAttempts > 0 {
		msg.MaxAttempts = o.maxAttempts
	}
	if o.unique != nil || d.Unique {
		key := ""
		if o.unique != nil {
			key = *o.unique
		}
		if key == "" {
			key = name + ":" + canonical(raw)
		}
		msg.Unique = key
	}
	t := &Task{ID: msg.ID, Name: name, Queue: queue, Args: raw, MaxAttempts: msg.MaxAttempts, EnqueuedAt: time.UnixMilli(msg.EnqueuedAt)}
	stored := false
	final := func(ctx context.Context, t *Task) error {
		msg.Queue, msg.Args = t.Queue, t.Args
		m.choosePartition(msg, o.key)
		err := m.retry(ctx, func(ctx context.Context, try int) error {
			ok, err := store.Enqueue(ctx, msg, due)
			switch {
			case err != nil:
				return err
			case !ok && try == 0:
				return fmt.Errorf("%w: id %s", ErrDuplicateTask, msg.ID)
			}
			// Stored; or, on a retry, found stored by an earlier try whose
			// reply was lost (its id is fixed, and checked before its
			// unique key).
			return nil
		})
		stored = err == nil
		return err
	}
	if err := m.enqueueChain(d, final)(ctx, t); err != nil {
		return "", err
	}
	if stored && m.listened(event.TaskEnqueued) {
		p := &event.Task{ID: msg.ID, Name: name, Queue: msg.Queue, Args: slices.Clone(msg.Args)}
		if due.After(now) {
			p.RunAt = due
		}
		m.fire(ctx, event.TaskEnqueued, p)
	}
	return msg.ID, nil
}

// listened reports whether ev has listeners, so that no payload is built
// for nobody. The Manager is started.
func (m *Manager) listened(ev event.Event[event.Task]) bool {
	return m.cfg.Events.Has(ev.Name())
}

// fire fires a task event; a listener's error is logged and changes
// nothing else.
func (m *Manager) fire(ctx context.Context, ev event.Event[event.Task], p *event.Task) {
	if err := event.Fire(ctx, m.cfg.Events, ev, p); err != nil && !errors.Is(err, event.ErrStop) {
		m.log.Warn("event listener failed", "event", ev.Name(), "task", p.Name, "id", p.ID, "error", err.Error())
	}
}

// EnqueueRetry bounds how long Enqueue retries a store that fails
// temporarily when its context has no deadline.
const EnqueueRetry = 10 * time.Second

// retry calls op (told which try it is, from 0) until it returns nil or
// an error that is not temporary, waiting retryWait between tries, for
// as long as ctx lasts, or EnqueueRetry when ctx has no deadline. It
// returns op's last error.
func (m *Manager) retry(ctx context.Context, op func(ctx context.Context, try int) error) error {
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, EnqueueRetry)
		defer cancel()
	}
	dl, _ := ctx.Deadline()
	for try := 0; ; try++ {
		err := op(ctx, try)
		if err == nil || !temporary(err) {
			return err
		}
		m.noteFailure()
		wait := retryWait(try)
		if time.Until(dl) < wait || !sleep(ctx, wait) {
			return err
		}
	}
}

func (m *Manager) enqueueChain(d *Definition, final EnqueueFunc) EnqueueFunc {
	m.mu.Lock()
	mw := append(slices.Clone(m.emw), d.EnqueueMiddleware...)
	m.mu.Unlock()
	for i := len(mw) - 1; i >= 0; i-- {
		final = mw[i](final)
	}
	return final
}

// EnqueueAt adds a task to run at t (Stellar's api.tasks.enqueueAt).
func (m *Manager) EnqueueAt(ctx context.Context, t time.Time, name string, args any, opts ...Option) (string, error) {
	return m.Enqueue(ctx, name, args, append(opts, At(t))...)
}

// EnqueueIn adds a task to run after d (Stellar's api.tasks.enqueueIn).
func (m *Manager) EnqueueIn(ctx context.Context, d time.Duration, name string, args any, opts ...Option) (string, error) {
	return m.Enqueue(ctx, name, args, append(opts, In(d))...)
}

// periodicDef returns periodic task name.
func (m *Manager) periodicDef(name string) (*Definition, error) {
	d, ok := m.def(name)
	if !ok {
		return nil, fmt.Errorf("%w: %q", ErrUnknownTask, name)
	}
	if !d.Periodic() {
		return nil, fmt.Errorf("task: %s is not periodic", name)
	}
	return d, nil
}

// EnqueueRecurrent (re)starts periodic task name across the cluster and
// enqueues its run for the current period unless one is already there
// (Stellar's api.tasks.enqueueRecurrentJob). It retries as Enqueue does.
func (m *Manager) EnqueueRecurrent(ctx context.Context, name string) error {
	store, err := m.ready()
	if err != nil {
		return err
	}
	d, err := m.periodicDef(name)
	if err != nil {
		return err
	}
	err = m.retry(ctx, func(ctx context.Context, _ int) error {
		return store.SetRecurrent(ctx, d.Queue, name, false)
	})
	if err != nil {
		return err
	}
	now := m.cfg.Now()
	err = m.retry(ctx, func(ctx context.Context, _ int) error {
		_, err := m.enqueuePeriodic(ctx, d, now.Truncate(d.Frequency), now)
		return err
	})
	if errors.Is(err, ErrRecurrentStopped) {
		return nil // stopped again meanwhile
	}
	return err
}

// StopRecurrent stops periodic task name across the cluster: no node
// schedules it again until EnqueueRecurrent, and its pending runs are
// removed (Stellar's api.tasks.stopRecurrentJob). It returns how many
// pending or delayed runs it removed.
func (m *Manager) StopRecurrent(ctx context.Context, name string) (int, error) {
	store, err := m.ready()
	if err != nil {
		return 0, err
	}
	d, err := m.periodicDef(name)
	if err != nil {
		return 0, err
	}
	err = m.retry(ctx, func(ctx context.Context, _ int) error {
		return store.SetRecurrent(ctx, d.Queue, name, true)
	})
	if err != nil {
		return 0, err
	}
	n, err := delMatching(ctx, store, d.Queue, name, nil, 0, StatePending)
	if err != nil {
		return n, err
	}
	times, err := delDelayed(ctx, store, d.Queue, name, nil)
	return n + len(times), err
}

// enqueuePeriodic enqueues the run of d at fire time fire, at now: false
// if that fire time or a later one was enqueued already. The Manager is
// started.
func (m *Manager) enqueuePeriodic(ctx context.Context, d *Definition, fire, now time.Time) (bool, error) {
	msg := &Message{
		ID:   "periodic:" + d.Name + ":" + strconv.FormatInt(fire.UnixMilli(), 10),
		Name: d.Name, Queue: d.Queue, MaxAttempts: d.MaxAttempts,
		EnqueuedAt: now.UnixMilli(), FireAt: fire.UnixMilli(),
	}
	ok, err := m.store.EnqueuePeriodic(ctx, msg)
	if ok && err == nil && m.listened(event.TaskEnqueued) {
		m.fire(ctx, event.TaskEnqueued, &event.Task{ID: msg.ID, Name: msg.Name, Queue: msg.Queue})
	}
	return ok, err
}

// Option changes one Enqueue.
type Option func(*enqueueOpts)

type enqueueOpts struct {
	queue       string
	at          time.Time
	in          time.Duration
	unique      *string
	maxAttempts int
	key         string
}

// Queue sends the task to queue q instead of its definition's queue.
func Queue(q string) Option { return func(o *enqueueOpts) { o.queue = q } }

// In delays the task by d (Stellar's enqueueIn).
func In(d time.Duration) Option { return func(o *enqueueOpts) { o.in = d } }

// At runs the task at t (Stellar's enqueueAt).
func At(t time.Time) Option { return func(o *enqueueOpts) { o.at = t } }

// Unique refuses the task with ErrDuplicateTask while a task with the same
// key is pending, delayed or running. An empty key derives one from the
// task name and arguments.
func Unique(key string) Option { return func(o *enqueueOpts) { o.unique = &key } }

// Key is the task's ordering key: tasks enqueued with the same key go to
// the same partition of their queue, and are taken from it in the order
// they were enqueued (as every task of a queue with one partition is).
// Without it a task's partition is picked by its unique key, if it has
// one, or else by its id. A task with a unique key takes no Key: the
// unique key picks its partition (Enqueue fails).
func Key(k string) Option { return func(o *enqueueOpts) { o.key = k } }

// MaxAttempts overrides the definition's number of runs for this task.
func MaxAttempts(n int) Option { return func(o *enqueueOpts) { o.maxAttempts = n } }

// CheckQueueName reports whether q may name a queue: not empty, at most
// 200 bytes, without braces (they would break the Redis hash tags, and
// name a queue's partitions: PartitionName) or control characters.
func CheckQueueName(q string) error {
	if q == "" {
		return errors.New("task: empty queue name")
	}
	if len(q) > 200 {
		return fmt.Errorf("task: queue name %.20q… is longer than 200 bytes", q)
	}
	for _, r := range q {
		if r == '{' || r == '}' || r < ' ' {
			return fmt.Errorf("task: queue name %q holds a brace or control character", q)
		}
	}
	return nil
}

func encodeArgs(args any) (json.RawMessage, error) {
	switch a := args.(type) {
	case nil:
		return nil, nil
	case json.RawMessage:
		if len(a) == 0 {
			return nil, nil
		}
		if !json.Valid(a) {
			return nil, errors.New("invalid JSON")
		}
		return a, nil
	}
	return json.Marshal(args)
}

func decodeArgs(raw json.RawMessage) (map[string]any, error) {
	m := map[string]any{}
	if len(raw) == 0 || string(raw) == "null" {
		return m, nil
	}
	if err := json.Unmarshal(raw, &m); err != nil {
		return nil, errors.New("a task with Inputs takes a JSON object")
	}
	return m, nil
}

// canonical re-encodes JSON with sorted object keys, so that equal
// arguments give equal unique keys.
func canonical(raw json.RawMessage) string {
	if len(raw) == 0 {
		return "null"
	}
	var v any
	if err := json.Unmarshal(raw, &v); err != nil {
		return string(raw)
	}
	b, _ := json.Marshal(v) // maps marshal with sorted keys
	return string(b)
}

// newID returns a random task id: 16 bytes of hex.
func newID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

func jitter(d time.Duration) time.Duration {
	if d <= 0 {
		return 0
	}
	return mrand.N(d)
}
