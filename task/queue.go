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
	"time"
)

// Config configures a Manager. A zero field means its default.
type Config struct {
	// NodeID names this node's workers. Default "node".
	NodeID string
	// Concurrency is the number of tasks this node runs at once. Zero (or
	// less) runs no workers: the node only enqueues and schedules.
	Concurrency int
	// Queues lists the queues the workers take tasks from, highest
	// priority first. Default: "default", then the queues of the
	// registered tasks, in name order.
	Queues []string
	// Lease is how long a worker holds a task between renewals; a task
	// whose worker died runs again within two leases. Default 30s.
	Lease time.Duration
	// PollInterval is how often each node moves due delayed tasks and
	// recovers lapsed leases. Idle workers do not poll: an enqueue wakes
	// them. Default 100ms.
	PollInterval time.Duration
	// DrainTimeout bounds how long Stop waits for running tasks before it
	// hands them back (less when Stop's context ends sooner). Default 10s.
	DrainTimeout time.Duration
	// Logger logs task failures and recoveries. Default: discard.
	Logger *slog.Logger
	// Now is the clock for due times and backoff. Default time.Now.
	Now func() time.Time
}

func (c *Config) setDefaults() {
	if c.NodeID == "" {
		c.NodeID = "node"
	}
	if c.Lease <= 0 {
		c.Lease = 30 * time.Second
	}
	if c.PollInterval <= 0 {
		c.PollInterval = 100 * time.Millisecond
	}
	if c.DrainTimeout <= 0 {
		c.DrainTimeout = 10 * time.Second
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	if c.Now == nil {
		c.Now = time.Now
	}
}

// Manager is the task API of a node (Stellar's api.tasks) and its workers.
// Register tasks, then Start it; Stop it before closing the store.
type Manager struct {
	store Store
	cfg   Config
	log   *slog.Logger

	mu        sync.Mutex
	defs      map[string]*Definition // guarded by mu
	mw        []Middleware           // guarded by mu
	emw       []EnqueueMiddleware    // guarded by mu
	started   bool                   // guarded by mu
	stopped   bool                   // guarded by mu
	queues    []string               // guarded by mu; fetched, in priority order
	running   map[string]*run        // guarded by mu; by task id
	wake      chan struct{}          // guarded by mu; closed on a wake-up
	stopFetch chan struct{}          // closed when workers stop fetching
	stopAll   chan struct{}          // closed when every loop stops
	workersWG sync.WaitGroup
	loopsWG   sync.WaitGroup
	workerID  string
	startedAt time.Time
}

type run struct {
	d        *Delivery
	cancel   context.CancelCauseFunc
	started  time.Time
	handedBk bool // guarded by Manager.mu
	// leaseUntil is when the lease lapses as far as this node knows: the
	// last successful renewal plus a lease.
	leaseUntil time.Time // guarded by Manager.mu
	lost       bool      // guarded by Manager.mu
}

// errHandedBack cancels a run whose task Stop handed back.
var errHandedBack = errors.New("task: handed back at shutdown")

// New returns a Manager on store. With a nil store, its methods fail with
// ErrNoStore until Bind gives it one.
func New(store Store, cfg Config) *Manager {
	cfg.setDefaults()
	if store == nil {
		store = unbound{}
	}
	return &Manager{
		store:     store,
		cfg:       cfg,
		log:       cfg.Logger,
		defs:      map[string]*Definition{},
		running:   map[string]*run{},
		wake:      make(chan struct{}),
		stopFetch: make(chan struct{}),
		stopAll:   make(chan struct{}),
	}
}

// Register adds task definitions. A name may be registered once. The
// Manager keeps a copy of each, with its defaults filled in (see
// Definitions), so one definition may be registered on several Managers.
func (q *Manager) Register(defs ...*Definition) error {
	q.mu.Lock()
	defer q.mu.Unlock()
	for _, d := range defs {
		if d != nil {
			c := *d
			d = &c
		}
		if err := d.check(); err != nil {
			return err
		}
		if _, ok := q.defs[d.Name]; ok {
			return fmt.Errorf("task: %s is already registered", d.Name)
		}
		q.defs[d.Name] = d
	}
	return nil
}

// Use adds run middleware for every task, outermost first.
func (q *Manager) Use(mw ...Middleware) {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.mw = append(q.mw, mw...)
}

// UseEnqueue adds enqueue middleware for every task, outermost first.
func (q *Manager) UseEnqueue(mw ...EnqueueMiddleware) {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.emw = append(q.emw, mw...)
}

// Definitions lists the registered tasks by name.
func (q *Manager) Definitions() []*Definition {
	q.mu.Lock()
	defer q.mu.Unlock()
	out := slices.Collect(maps.Values(q.defs))
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

func (q *Manager) def(name string) (*Definition, bool) {
	q.mu.Lock()
	defer q.mu.Unlock()
	d, ok := q.defs[name]
	return d, ok
}

// Enqueue adds a task to run as soon as a worker is free (Stellar's
// api.tasks.enqueue) and returns its id. args is encoded as JSON (a
// map, a struct, or nil); a task with Inputs checks it against them.
// In, At, Queue, Unique and MaxAttempts change the call.
func (q *Manager) Enqueue(ctx context.Context, name string, args any, opts ...Option) (string, error) {
	d, ok := q.def(name)
	if !ok {
		return "", fmt.Errorf("%w: %q", ErrUnknownTask, name)
	}
	var o enqueueOpts
	for _, opt := range opts {
		opt(&o)
	}
	raw, err := encodeArgs(args)
	if err != nil {
		return "", fmt.Errorf("task: %s: arguments: %w", name, err)
	}
	if d.inputs != nil {
		m, err := decodeArgs(raw)
		if err != nil {
			return "", fmt.Errorf("task: %s: arguments: %w", name, err)
		}
		if _, err := d.inputs.Process(ctx, m); err != nil {
			return "", err
		}
	}
	queue := d.Queue
	if o.queue != "" {
		if err := checkQueueName(o.queue); err != nil {
			return "", err
		}
		queue = o.queue
	}
	now := q.cfg.Now()
	due := now
	switch {
	case !o.at.IsZero():
		due = o.at
	case o.in > 0:
		due = now.Add(o.in)
	}
	m := &Message{
		ID: newID(), Name: name, Queue: queue, Args: raw,
		MaxAttempts: d.MaxAttempts, EnqueuedAt: now.UnixMilli(),
	}
	if o.maxAttempts > 0 {
		m.MaxAttempts = o.maxAttempts
	}
	if o.unique != nil || d.Unique {
		key := ""
		if o.unique != nil {
			key = *o.unique
		}
		if key == "" {
			key = name + ":" + canonical(raw)
		}
		m.Unique = key
	}
	t := &Task{ID: m.ID, Name: name, Queue: queue, Args: raw, MaxAttempts: m.MaxAttempts, EnqueuedAt: time.UnixMilli(m.EnqueuedAt)}
	final := func(ctx context.Context, t *Task) error {
		m.Queue, m.Args = t.Queue, t.Args
		ok, err := q.store.Enqueue(ctx, m, due)
		if err != nil {
			return err
		}
		if !ok {
			return fmt.Errorf("%w: id %s", ErrDuplicateTask, m.ID)
		}
		return nil
	}
	if err := q.enqueueChain(d, final)(ctx, t); err != nil {
		return "", err
	}
	return m.ID, nil
}

func (q *Manager) enqueueChain(d *Definition, final EnqueueFunc) EnqueueFunc {
	q.mu.Lock()
	mw := append(slices.Clone(q.emw), d.EnqueueMiddleware...)
	q.mu.Unlock()
	for i := len(mw) - 1; i >= 0; i-- {
		final = mw[i](final)
	}
	return final
}

// EnqueueAt adds a task to run at t (Stellar's api.tasks.enqueueAt).
func (q *Manager) EnqueueAt(ctx context.Context, t time.Time, name string, args any, opts ...Option) (string, error) {
	return q.Enqueue(ctx, name, args, append(opts, At(t))...)
}

// EnqueueIn adds a task to run after d (Stellar's api.tasks.enqueueIn).
func (q *Manager) EnqueueIn(ctx context.Context, d time.Duration, name string, args any, opts ...Option) (string, error) {
	return q.Enqueue(ctx, name, args, append(opts, In(d))...)
}

// EnqueueRecurrent (re)starts periodic task name across the cluster and
// enqueues its run for the current period unless one is already there
// (Stellar's api.tasks.enqueueRecurrentJob).
func (q *Manager) EnqueueRecurrent(ctx context.Context, name string) error {
	d, ok := q.def(name)
	if !ok {
		return fmt.Errorf("%w: %q", ErrUnknownTask, name)
	}
	if !d.Periodic() {
		return fmt.Errorf("task: %s is not periodic", name)
	}
	if err := q.store.SetRecurrent(ctx, d.Queue, name, false); err != nil {
		return err
	}
	_, err := q.enqueuePeriodic(ctx, d, q.cfg.Now())
	return err
}

// StopRecurrent stops periodic task name across the cluster: no node
// schedules it again until EnqueueRecurrent, and its pending runs are
// removed (Stellar's api.tasks.stopRecurrentJob). It returns how many
// pending or delayed runs it removed.
func (q *Manager) StopRecurrent(ctx context.Context, name string) (int, error) {
	d, ok := q.def(name)
	if !ok {
		return 0, fmt.Errorf("%w: %q", ErrUnknownTask, name)
	}
	if !d.Periodic() {
		return 0, fmt.Errorf("task: %s is not periodic", name)
	}
	if err := q.store.SetRecurrent(ctx, d.Queue, name, true); err != nil {
		return 0, err
	}
	n, err := q.Del(ctx, d.Queue, name, nil, 0)
	if err != nil {
		return n, err
	}
	times, err := q.DelDelayed(ctx, d.Queue, name, nil)
	return n + len(times), err
}

// enqueuePeriodic enqueues the run of d for the period holding now.
func (q *Manager) enqueuePeriodic(ctx context.Context, d *Definition, now time.Time) (bool, error) {
	fire := now.Truncate(d.Frequency)
	m := &Message{
		ID:   "periodic:" + d.Name + ":" + strconv.FormatInt(fire.UnixMilli(), 10),
		Name: d.Name, Queue: d.Queue, MaxAttempts: d.MaxAttempts,
		EnqueuedAt: now.UnixMilli(), FireAt: fire.UnixMilli(),
	}
	ok, err := q.store.EnqueuePeriodic(ctx, m)
	if errors.Is(err, ErrRecurrentStopped) {
		return false, nil
	}
	return ok, err
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
