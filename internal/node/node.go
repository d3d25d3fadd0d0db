// Package node wires the parts of one node: it opens the backend, starts
// the cluster membership, the task workers, the chat rooms and the
// transports in order, and stops them in reverse. The root package's App
// is the face users see; this package is the workshop behind it.
//
// Every step receives what it needs as arguments. Nothing here reads the
// App's fields or takes its lock.
package node

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"math/rand/v2"
	"net"
	"os"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.opentelemetry.io/otel/trace"

	"github.com/stellarfw/stellar-go/action"
	"github.com/stellarfw/stellar-go/backend"
	"github.com/stellarfw/stellar-go/cache"
	"github.com/stellarfw/stellar-go/chat"
	"github.com/stellarfw/stellar-go/cluster"
	"github.com/stellarfw/stellar-go/config"
	"github.com/stellarfw/stellar-go/connection"
	"github.com/stellarfw/stellar-go/event"
	"github.com/stellarfw/stellar-go/internal/dashboard"
	"github.com/stellarfw/stellar-go/internal/lifecycle"
	"github.com/stellarfw/stellar-go/internal/metrics"
	"github.com/stellarfw/stellar-go/internal/session"
	"github.com/stellarfw/stellar-go/internal/tracing"
	"github.com/stellarfw/stellar-go/task"
	httpt "github.com/stellarfw/stellar-go/transport/http"
	"github.com/stellarfw/stellar-go/transport/tcp"
	"github.com/stellarfw/stellar-go/transport/ws"
)

// Timeouts of the wiring.
const (
	// ReadyPingTimeout bounds the backend check behind /readyz.
	ReadyPingTimeout = time.Second
	// clusterStopTimeout bounds leaving the cluster, even when the stop's
	// context is not bounded: a handler may be waiting for the node.
	clusterStopTimeout = 10 * time.Second
	// rollbackTaskTimeout bounds the drain of task workers when a start
	// fails (a port in use, say): their tasks are handed back at once
	// rather than after the drain timeout.
	rollbackTaskTimeout = 400 * time.Millisecond
)

// Figures each node publishes in its cluster membership record at every
// heartbeat; `stellar cluster status` shows them.
const (
	StatTasksRunning = "tasksRunning" // tasks the node runs now
	StatConnections  = "connections"  // its open TCP and WebSocket connections
)

// Parts are the components the user configures before the node starts;
// the node runs them on its backend.
type Parts struct {
	Actions     *action.Registry
	Routes      *httpt.Routes
	Public      fs.FS // static files of "/" instead of http.public_dir
	Cluster     *cluster.Cluster
	Tasks       *task.Manager
	Chat        *chat.Chat
	Connections *connection.Registry
	Events      *event.Bus
	// Stats are the figures the node publishes at every heartbeat.
	Stats func() map[string]int64
	// Ready, when set, is consulted by /readyz before the node's own
	// checks: the app's running state.
	Ready func(ctx context.Context) error
	// Hooks are the user's start and stop code, in the order to run.
	Hooks []Hook
	// Metrics, when set, is the node's registry: the node registers its
	// families on it and serves it at http.metrics_path.
	Metrics *prometheus.Registry
	// Version is the framework's version, for stellar_node_info.
	Version string
	// HTTP is the user's own HTTP on the node's listener.
	HTTP HTTP
	// Now, when set, is the clock of the memory backend's cache and task
	// queues and of the task Manager (due times, the scheduler); the
	// cluster keeps real time. For tests.
	Now func() time.Time
	// TracerProvider, when set, gets the node's spans (requests, actions
	// of persistent connections, enqueues, task runs, cluster calls).
	TracerProvider trace.TracerProvider
}

// Hook is the user's code run when the node starts and when it stops
// (Stellar's satellites, ActionHero's initializers). Either func may be
// nil.
type Hook struct {
	Name     string
	Priority int
	Start    func(ctx context.Context) error
	Stop     func(ctx context.Context) error
}

// Node is one node whose backend is open. Start brings its parts up and
// Stop takes them down; Stop is called once, after Start returned.
type Node struct {
	cfg       config.Config
	log       *slog.Logger
	parts     Parts
	backend   *backend.Backend
	cache     *cache.Cache
	inspector *task.Inspector
	metrics   *metrics.Metrics // nil without Parts.Metrics
	failed    chan error       // a transport that stopped on its own
	wg        sync.WaitGroup

	startedAt time.Time

	mu      sync.Mutex
	steps   []step // guarded by mu; the parts started, in order
	up      bool   // guarded by mu; every part is up
	serving bool   // guarded by mu; the listeners serve
	readied bool   // guarded by mu; event.NodeReady fired
	waiting error  // guarded by mu; why the parts are not up yet

	bringUpCancel context.CancelFunc // ends the background bring-up
	bringUpWG     sync.WaitGroup

	life     context.Context // ends when Stop begins
	lifeDone context.CancelFunc

	// Written by Start before the step that uses them is recorded.
	http *httpt.Server
	tcp  *tcp.Server
	ws   *ws.Server
}

// step is one started part, with what stops it and reports on it.
type step struct {
	name   string
	stop   func(ctx context.Context, rollback bool) error
	ready  func(ctx context.Context) error
	status func(ctx context.Context, out map[string]any)
}

// Open opens the backend cfg chooses and the stores that need no
// starting (the cache and the task inspector). Nothing runs yet.
func Open(cfg config.Config, logger *slog.Logger, parts Parts) (*Node, error) {
	bc := BackendConfig(cfg)
	if parts.Now != nil {
		bc.Memory.Now, bc.Memory.ClusterNow = parts.Now, time.Now
	}
	b, err := backend.Open(bc)
	if err != nil {
		return nil, err
	}
	life, lifeDone := context.WithCancel(context.Background())
	n := &Node{
		life:      life,
		lifeDone:  lifeDone,
		cfg:       cfg,
		log:       logger,
		parts:     parts,
		backend:   b,
		cache:     cache.New(b.Cache(), cache.Config{NodeID: cfg.ID}),
		inspector: task.NewInspector(b.TaskAdmin()),
		failed:    make(chan error, 1),
		startedAt: time.Now(),
	}
	if parts.Cluster != nil {
		dashboard.HandleNodeInfo(parts.Cluster, n.nodeInfo)
	}
	if parts.Metrics != nil {
		var redisStats func() backend.RedisStats
		if _, ok := b.RedisStats(); ok {
			redisStats = func() backend.RedisStats { s, _ := b.RedisStats(); return s }
		}
		n.metrics, err = metrics.New(metrics.Options{
			Registry:    parts.Metrics,
			Events:      parts.Events,
			NodeID:      cfg.ID,
			Version:     parts.Version,
			Backend:     b.Name(),
			Inspector:   n.inspector,
			Tasks:       parts.Tasks,
			Cluster:     parts.Cluster,
			Connections: parts.Connections,
			Chat:        parts.Chat,
			Redis:       redisStats,
		})
		if err != nil {
			lifeDone()
			_ = b.Close()
			return nil, err
		}
	}
	return n, nil
}

// Cache is the node's cache.
func (n *Node) Cache() *cache.Cache { return n.cache }

// Inspector is the node's view of the task queues.
func (n *Node) Inspector() *task.Inspector { return n.inspector }

// BackendName names the backend: memory or redis.
func (n *Node) BackendName() string { return n.backend.Name() }

// Failed receives the error of a transport that stopped on its own.
func (n *Node) Failed() <-chan error { return n.failed }

// Start starts the node:
//
//  1. the listeners are bound, so that a taken port fails before
//     anything runs;
//  2. the parts come up in order: cluster membership, chat rooms, task
//     workers and scheduler, then the user's start hooks;
//  3. the listeners serve.
//
// When the backend does not answer at start, the node serves at once
// what needs no backend (/healthz, actions that use no shared state),
// /readyz says why it is not ready, and the parts come up in the
// background as soon as the backend answers. A configuration error (a
// malformed URL, a refused password) fails Start instead.
//
// A step that fails undoes the steps before it and closes the backend.
func (n *Node) Start(ctx context.Context) error {
	if err := n.bind(); err != nil {
		n.unbind()
		_ = n.backend.Close()
		return err
	}
	pctx, cancel := context.WithTimeout(ctx, startPingTimeout)
	err := n.backend.Ping(pctx)
	cancel()
	switch {
	case err == nil:
		if err := n.bringUp(ctx); err != nil {
			n.rollback(ctx)
			return err
		}
		n.serveAll()
		n.announceReady(ctx)
		return nil
	case errors.Is(err, backend.ErrUnavailable) && ctx.Err() == nil:
		n.log.Warn("backend unavailable: serving what needs no backend until it answers",
			"backend", n.backend.Name(), "error", err.Error())
		n.setWaiting(err)
		bctx, cancel := context.WithCancel(context.Background())
		n.bringUpCancel = cancel
		n.bringUpWG.Add(1)
		go n.bringUpLoop(bctx)
		n.serveAll()
		n.announceReady(ctx) // if the parts came up meanwhile
		return nil
	default:
		n.rollback(ctx)
		return fmt.Errorf("stellar: backend %s: %w", n.backend.Name(), err)
	}
}

// Timings of the bring-up.
const (
	// startPingTimeout bounds the check that the backend answers at start.
	startPingTimeout = 2 * time.Second
	// bringUpMinBackoff and bringUpMaxBackoff bound the wait between two
	// tries of a part that failed because the backend was away.
	bringUpMinBackoff = 100 * time.Millisecond
	bringUpMaxBackoff = 2 * time.Second
)

// parts lists the parts in the order they come up.
func (n *Node) partStarts() []partStart {
	return []partStart{
		{"cluster", n.startCluster},
		{"chat", n.startChat},
		{"tasks", n.startTasks},
		{"hooks", n.startHooks},
	}
}

type partStart struct {
	name  string
	start func(ctx context.Context) (step, error)
}

// announceReady fires event.NodeReady once the parts are up and the
// listeners serve (whichever came last calls it), as soon as the node's
// checks pass: the cluster may still be subscribing. It fires inline
// when they pass at once, else from a goroutine that looks again until
// they do or the node stops. Once per node.
func (n *Node) announceReady(ctx context.Context) {
	n.mu.Lock()
	due := n.up && n.serving && !n.readied
	if due {
		n.readied = true
	}
	n.mu.Unlock()
	if !due {
		return
	}
	if n.Ready(ctx) == nil {
		n.fireNode(ctx, event.NodeReady)
		return
	}
	n.wg.Add(1)
	go func() {
		defer n.wg.Done()
		t := time.NewTicker(readyCheckInterval)
		defer t.Stop()
		for {
			select {
			case <-n.life.Done():
				return
			case <-t.C:
			}
			if n.Ready(n.life) == nil {
				n.fireNode(n.life, event.NodeReady)
				return
			}
		}
	}()
}

// readyCheckInterval is how often a node whose parts are up looks again
// whether it is ready, to fire event.NodeReady.
const readyCheckInterval = 20 * time.Millisecond

// fireNode fires one of this node's own events; a listener's error is
// logged and changes nothing.
func (n *Node) fireNode(ctx context.Context, ev event.Event[event.Node]) {
	if !n.parts.Events.Has(ev.Name()) {
		return
	}
	host, _ := os.Hostname()
	p := &event.Node{ID: n.cfg.ID, Host: host, PID: os.Getpid()}
	if err := event.Fire(ctx, n.parts.Events, ev, p); err != nil && !errors.Is(err, event.ErrStop) {
		n.log.Warn("event listener failed", "event", ev.Name(), "error", err.Error())
	}
}

// bringUp starts the parts not started yet, in order, and stops at the
// first that fails.
func (n *Node) bringUp(ctx context.Context) error {
	for _, p := range n.partStarts()[len(n.started()):] {
		st, err := p.start(ctx)
		if err != nil {
			return fmt.Errorf("stellar: starting %s: %w", p.name, err)
		}
		st.name = p.name
		n.mu.Lock()
		n.steps = append(n.steps, st)
		n.mu.Unlock()
	}
	n.mu.Lock()
	n.up, n.waiting = true, nil
	n.mu.Unlock()
	return nil
}

// bringUpLoop brings the parts up once the backend answers, trying again
// with backoff while it does not. It logs once when it starts waiting
// (Start did) and once when the parts are up; a failure that waiting
// cannot mend (a duplicate node id, a failing start hook) stops the node.
func (n *Node) bringUpLoop(ctx context.Context) {
	defer n.bringUpWG.Done()
	backoff := bringUpMinBackoff
	for {
		err := n.bringUp(ctx)
		if err == nil {
			n.log.Info("backend answers: the node joined the cluster and started its parts", "backend", n.backend.Name())
			n.announceReady(ctx)
			return
		}
		if ctx.Err() != nil {
			return
		}
		if !errors.Is(err, backend.ErrUnavailable) {
			n.log.Error("the node cannot start", "error", err.Error())
			n.setWaiting(err)
			select {
			case n.failed <- err:
			default:
			}
			return
		}
		n.setWaiting(err)
		n.log.Debug("backend still unavailable", "error", err.Error())
		t := time.NewTimer(backoff + jitter(backoff))
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
		backoff = min(2*backoff, bringUpMaxBackoff)
	}
}

// jitter is a random duration in [0, d/4), so that nodes that lost the
// backend together do not come back in lockstep.
func jitter(d time.Duration) time.Duration {
	return time.Duration(rand.Int64N(int64(d/4) + 1))
}

func (n *Node) setWaiting(err error) {
	n.mu.Lock()
	n.waiting = err
	n.mu.Unlock()
}

// rollback stops the parts started so far, closes the listeners and the
// backend, after a failed start.
func (n *Node) rollback(ctx context.Context) {
	n.stopParts(ctx, true)
	n.unbind()
	_ = n.backend.Close()
}

// stopParts stops the parts in reverse order.
func (n *Node) stopParts(ctx context.Context, rollback bool) []error {
	var errs []error
	steps := n.started()
	for i := len(steps) - 1; i >= 0; i-- {
		if err := steps[i].stop(ctx, rollback); err != nil {
			if rollback {
				n.log.Error("stopping after a failed start", "part", steps[i].name, "error", err.Error())
			}
			errs = append(errs, fmt.Errorf("stopping %s: %w", steps[i].name, err))
		}
	}
	n.mu.Lock()
	n.steps, n.up = nil, false
	n.mu.Unlock()
	return errs
}

// started is the steps started so far.
func (n *Node) started() []step {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.steps
}

// Stop stops the node in the reverse order of Start: it fires
// event.NodeStopping, then the listeners drain (HTTP requests in flight
// finish, persistent connections close and leave their rooms), the stop
// hooks run, the task workers finish or hand back their tasks, the chat
// stops and the node leaves the cluster; then the backend closes and the
// node's goroutines are waited for. All of it is bounded by ctx.
func (n *Node) Stop(ctx context.Context) error {
	n.fireNode(ctx, event.NodeStopping)
	n.lifeDone()
	if n.bringUpCancel != nil {
		n.bringUpCancel()
		n.bringUpWG.Wait()
	}
	errs := n.stopListeners(ctx)
	errs = append(errs, n.stopParts(ctx, false)...)
	if err := n.backend.Close(); err != nil {
		errs = append(errs, fmt.Errorf("closing backend: %w", err))
	}
	waited := make(chan struct{})
	go func() { n.wg.Wait(); close(waited) }()
	select {
	case <-waited:
	case <-ctx.Done():
		errs = append(errs, fmt.Errorf("stellar: goroutines still running at the shutdown deadline: %w", ctx.Err()))
	}
	return errors.Join(errs...)
}

// Ready reports whether the node can serve traffic, for /readyz: its
// backend answers and every part is ready.
func (n *Node) Ready(ctx context.Context) error {
	pctx, cancel := context.WithTimeout(ctx, ReadyPingTimeout)
	err := n.backend.Ping(pctx)
	cancel()
	if err != nil {
		return fmt.Errorf("backend %s: %w", n.backend.Name(), err)
	}
	n.mu.Lock()
	up, waiting := n.up, n.waiting
	n.mu.Unlock()
	if !up {
		if waiting != nil {
			return fmt.Errorf("starting: %w", waiting)
		}
		return errors.New("starting")
	}
	for _, s := range n.started() {
		if s.ready == nil {
			continue
		}
		if err := s.ready(ctx); err != nil {
			return fmt.Errorf("%s: %w", s.name, err)
		}
	}
	return nil
}

// Status adds the node's figures to out, for the status action. Under
// "limits" are the refusals of each transport's limits by reason (the
// reasons of package internal/limit), counted since the node started.
func (n *Node) Status(ctx context.Context, out map[string]any) {
	out["backend"] = n.backend.Name()
	limits := map[string]any{}
	if n.http != nil {
		out["http"] = map[string]any{"addr": n.http.Addr().String(), "inFlight": n.http.InFlight(),
			"bodyBytesInFlight": n.http.BodyBytesInFlight()}
		limits["http"] = n.http.Refused()
	}
	if n.tcp != nil {
		limits["tcp"] = n.tcp.Refused()
	}
	if n.ws != nil {
		limits["websocket"] = n.ws.Refused()
	}
	out["limits"] = limits
	out["connections"] = map[string]any{
		"tcp":       n.parts.Connections.Len(connection.TypeTCP),
		"websocket": n.parts.Connections.Len(connection.TypeWebSocket),
	}
	for _, s := range n.started() {
		if s.status != nil {
			s.status(ctx, out)
		}
	}
}

// StartedAt is when the node was opened.
func (n *Node) StartedAt() time.Time { return n.startedAt }

// ReloadCertificates reads the TLS certificate and key files of the HTTP
// listener (the WebSocket endpoint on it included) and of TCP again: new
// connections get the new certificates, open ones keep theirs. A
// listener whose files fail to load keeps its previous certificate.
func (n *Node) ReloadCertificates() error {
	var errs []error
	if n.http != nil {
		if err := n.http.ReloadCertificate(); err != nil {
			errs = append(errs, err)
		} else if n.http.TLS() {
			n.log.Info("certificate reloaded", "listener", "http", "cert", n.cfg.HTTP.TLSCert)
		}
	}
	if n.tcp != nil {
		if err := n.tcp.ReloadCertificate(); err != nil {
			errs = append(errs, err)
		} else if n.cfg.TCP.TLSCert != "" {
			n.log.Info("certificate reloaded", "listener", "tcp", "cert", n.cfg.TCP.TLSCert)
		}
	}
	return errors.Join(errs...)
}

// HTTPAddr is the HTTP listener's address; nil when HTTP is off.
func (n *Node) HTTPAddr() net.Addr {
	if n.http == nil {
		return nil
	}
	return n.http.Addr()
}

// TCPAddr is the TCP listener's address; nil when TCP is off.
func (n *Node) TCPAddr() net.Addr {
	if n.tcp == nil {
		return nil
	}
	return n.tcp.Addr()
}

// serve runs a transport's Serve in a goroutine the node waits for; an
// error from it ends up on Failed.
func (n *Node) serve(name string, serve func() error) {
	n.wg.Add(1)
	go func() {
		defer n.wg.Done()
		if err := serve(); err != nil {
			n.log.Error(name+" server stopped", "error", err.Error())
			select {
			case n.failed <- err:
			default:
			}
		}
	}()
}

// startCluster joins the cluster on the backend's transport.
func (n *Node) startCluster(ctx context.Context) (step, error) {
	token := n.cfg.Cluster.Token
	if n.backend.Local() {
		// One node in memory: nothing leaves the process, so a random
		// token serves when none is set.
		if token == "" {
			token = cluster.RandomToken()
		}
	} else if token == "" && !n.cfg.Cluster.Insecure {
		return step{}, fmt.Errorf("cluster.token is empty: nodes on Redis must sign their messages with the cluster's shared secret "+
			"(or set cluster.insecure for local development only): %w", cluster.ErrNoToken)
	}
	c := n.parts.Cluster
	cc := ClusterConfig(n.cfg, token, n.log)
	cc.Stats = n.parts.Stats
	cc.OwnsConnection = n.parts.Connections.Owns
	cc.Events = n.parts.Events
	cc.TracerProvider = n.parts.TracerProvider
	if err := c.Start(ctx, n.backend.Cluster(), cc, lifecycle.Key{}); err != nil {
		return step{}, err
	}
	return step{
		stop: func(ctx context.Context, _ bool) error {
			ctx, cancel := context.WithTimeout(ctx, clusterStopTimeout)
			defer cancel()
			return c.Stop(ctx, lifecycle.Key{})
		},
		ready: func(context.Context) error { return c.Ready() },
		status: func(ctx context.Context, out map[string]any) {
			out["cluster"] = map[string]any{
				"nodes":       c.Members(),
				"dropped":     c.Dropped(),
				"lateReplies": c.LateReplies(),
			}
		},
	}, nil
}

// startTasks starts the workers, lease renewal, the delayed-task mover
// and the periodic scheduler.
func (n *Node) startTasks(ctx context.Context) (step, error) {
	m := n.parts.Tasks
	tc := TaskConfig(n.cfg, n.log)
	tc.Events = n.parts.Events
	tc.Now = n.parts.Now
	tc.TracerProvider = n.parts.TracerProvider
	if err := m.Start(ctx, n.backend.Tasks(), tc, lifecycle.Key{}); err != nil {
		return step{}, err
	}
	return step{
		stop: func(ctx context.Context, rollback bool) error {
			if rollback {
				var cancel context.CancelFunc
				ctx, cancel = context.WithTimeout(ctx, rollbackTaskTimeout)
				defer cancel()
			}
			return m.Stop(ctx, lifecycle.Key{})
		},
		status: func(ctx context.Context, out map[string]any) {
			ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
			defer cancel()
			s, err := n.inspector.Stats(ctx)
			fig := map[string]any{"running": m.Running(), "paused": m.Paused(), "queues": s.Queues, "workers": s.Workers, "concurrency": s.Concurrency}
			if err != nil {
				fig["error"] = err.Error()
			}
			out["tasks"] = fig
		},
	}, nil
}

// startChat starts the chat rooms: the default room and the starting
// rooms exist from here on.
func (n *Node) startChat(ctx context.Context) (step, error) {
	cfg, c := n.cfg, n.parts.Chat
	if err := c.Start(ctx, n.backend.Chat(), chat.Config{
		NodeID:        cfg.ID,
		DefaultRoom:   cfg.Chat.DefaultRoom,
		StartingRooms: cfg.Chat.StartingRooms,
		SweepInterval: cfg.Cluster.HeartbeatInterval,
		Logger:        n.log,
	}, lifecycle.Key{}); err != nil {
		return step{}, err
	}
	return step{stop: func(ctx context.Context, _ bool) error { return c.Stop(ctx, lifecycle.Key{}) }}, nil
}

// startHooks runs the user's start hooks in order. A hook that fails
// fails the start; the hooks that ran before it are stopped.
func (n *Node) startHooks(ctx context.Context) (step, error) {
	var ran []Hook
	stop := func(ctx context.Context) error {
		var errs []error
		for _, h := range ran {
			if h.Stop == nil {
				continue
			}
			if err := runHook(ctx, h.Name, h.Stop); err != nil {
				errs = append(errs, fmt.Errorf("stop hook %q: %w", h.Name, err))
			}
		}
		return errors.Join(errs...)
	}
	for _, h := range n.parts.Hooks {
		ran = append(ran, h)
		if h.Start == nil {
			continue
		}
		if err := runHook(ctx, h.Name, h.Start); err != nil {
			// The failed hook may have started half of its work: its
			// stop runs with the others'.
			if serr := stop(ctx); serr != nil {
				n.log.Error("stopping after a failed start hook", "error", serr.Error())
			}
			return step{}, fmt.Errorf("start hook %q: %w", h.Name, err)
		}
	}
	return step{stop: func(ctx context.Context, _ bool) error { return stop(ctx) }}, nil
}

// runHook runs fn, turning a panic into an error.
func runHook(ctx context.Context, name string, fn func(context.Context) error) (err error) {
	defer func() {
		if v := recover(); v != nil {
			err = fmt.Errorf("panic in hook %q: %v", name, v)
		}
	}()
	return fn(ctx)
}

// bind builds the transports and binds their listeners, so that a port
// in use fails the start before anything runs. Nothing is served yet.
func (n *Node) bind() error {
	cfg, logger, p := n.cfg, n.log, n.parts
	tracer := tracing.New(p.TracerProvider)
	sessionOpts := func() *session.Options {
		return &session.Options{NodeID: cfg.ID, Actions: p.Actions, Chat: p.Chat, Conns: p.Connections, Logger: logger, Events: p.Events,
			Tracer: tracer}
	}
	if cfg.TCP.Addr != "off" {
		n.tcp = tcp.New(tcp.Options{Config: TCPConfig(cfg), Logger: logger, Session: sessionOpts()})
		if err := n.tcp.Listen(); err != nil {
			return err
		}
	}
	if cfg.HTTP.Addr == "off" {
		return nil
	}
	if cfg.WebSocket.Path != "off" {
		n.ws = ws.New(ws.Options{Config: WebSocketConfig(cfg), Logger: logger, Session: sessionOpts()})
	}
	handlers, wrap, err := n.httpHandlers()
	if err != nil {
		return err
	}
	n.http = httpt.New(httpt.Options{
		Config:     HTTPConfig(cfg),
		ServerName: cfg.General.ServerName,
		APIVersion: cfg.General.APIVersion,
		NodeID:     cfg.ID,
		Actions:    p.Actions,
		Routes:     p.Routes,
		Files:      p.Public,
		Logger:     logger,
		Ready:      n.ready,
		Handlers:   handlers,
		Wrap:       wrap,

		TracerProvider: p.TracerProvider,
		QuietPaths:     quietPaths(cfg),
	})
	return n.http.Listen()
}

// quietPaths are the paths whose request lines are logged at debug: the
// scrapes of the metrics, besides the probes.
func quietPaths(cfg config.Config) []string {
	if mp := cfg.HTTP.MetricsPath; mp != "" && mp != "off" {
		return []string{mp}
	}
	return nil
}

// unbind closes the listeners that bind opened, when the start fails.
func (n *Node) unbind() {
	if n.http != nil {
		_ = n.http.Close()
	}
	if n.tcp != nil {
		_ = n.tcp.Shutdown(context.Background()) // nothing accepted yet: returns at once
	}
}

// serveAll starts serving on the bound listeners.
func (n *Node) serveAll() {
	n.mu.Lock()
	n.serving = true
	n.mu.Unlock()
	if n.tcp != nil {
		n.serve("tcp", n.tcp.Serve)
		n.log.Info("tcp server listening", "addr", n.tcp.Addr().String(), "tls", n.cfg.TCP.TLSCert != "")
	}
	if n.http != nil {
		n.serve("http", n.http.Serve)
		if n.http.TLS() {
			n.log.Info("https listening", "addr", n.http.Addr().String(), "cert", n.cfg.HTTP.TLSCert)
		}
		if ra := n.http.RedirectAddr(); ra != nil {
			n.log.Info("https redirect listening", "addr", ra.String())
		}
	}
}

// stopListeners drains HTTP, then closes the persistent connections
// (they leave their rooms while the chat still runs).
func (n *Node) stopListeners(ctx context.Context) []error {
	n.mu.Lock()
	serving := n.serving
	n.mu.Unlock()
	if !serving {
		n.unbind()
		return nil
	}
	var errs []error
	if n.http != nil {
		if err := n.http.Shutdown(ctx); err != nil {
			errs = append(errs, fmt.Errorf("stopping http: %w", err))
		}
	}
	if n.ws != nil {
		if err := n.ws.Shutdown(ctx); err != nil {
			errs = append(errs, fmt.Errorf("stopping websocket: %w", err))
		}
	}
	if n.tcp != nil {
		if err := n.tcp.Shutdown(ctx); err != nil {
			errs = append(errs, fmt.Errorf("stopping tcp: %w", err))
		}
	}
	return errs
}

// ready is /readyz: the app's state first, then the node's checks.
func (n *Node) ready(ctx context.Context) error {
	if n.parts.Ready != nil {
		if err := n.parts.Ready(ctx); err != nil {
			return err
		}
	}
	return n.Ready(ctx)
}
