package stellar

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"slices"
	"sync"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.opentelemetry.io/otel/trace"

	"github.com/stellarfw/stellar-go/action"
	"github.com/stellarfw/stellar-go/cache"
	"github.com/stellarfw/stellar-go/chat"
	"github.com/stellarfw/stellar-go/cluster"
	"github.com/stellarfw/stellar-go/config"
	"github.com/stellarfw/stellar-go/connection"
	"github.com/stellarfw/stellar-go/event"
	"github.com/stellarfw/stellar-go/internal/logging"
	"github.com/stellarfw/stellar-go/internal/metrics"
	"github.com/stellarfw/stellar-go/internal/node"
	"github.com/stellarfw/stellar-go/task"
	httpt "github.com/stellarfw/stellar-go/transport/http"
)

// Version is the version of the framework.
const Version = "0.1.0"

// ErrAlreadyStarted is returned by Start on an app that was started before.
var ErrAlreadyStarted = errors.New("stellar: app already started")

// App is one node: its actions, routes and transports, started and stopped
// as a unit.
type App struct {
	// Actions holds the node's actions and action middleware.
	Actions *action.Registry
	// Routes maps REST paths to actions, in addition to config routes.
	Routes *httpt.Routes
	// Public, when set before Start, serves the static files of "/" from
	// this file system (an embed.FS, say) instead of http.public_dir.
	Public fs.FS
	// Cache is the shared cache (Stellar's api.cache), on Redis when one is
	// configured and in memory otherwise. It is set by Start, before any
	// task or request runs.
	Cache *cache.Cache
	// Cluster is the node's link to the other nodes: membership, signed
	// messages (Stellar's api.redis.publish) and RPC (doCluster). Register
	// methods and subscriptions on it before or after Start.
	Cluster *cluster.Cluster
	// Tasks registers task definitions (before Start), enqueues tasks
	// (once started) and runs this node's workers: Stellar's api.tasks.
	// Every node runs workers unless tasks.workers is -1.
	Tasks *task.Manager
	// Inspector reads and manages the queues of the whole cluster (stats,
	// failed, delayed, locks…: the rest of Stellar's api.tasks). It is
	// set by Start, like Cache.
	Inspector *task.Inspector
	// Chat is the chat-room API (Stellar's api.chatRoom): rooms span the
	// cluster, and Join and Leave work on a connection of any node.
	// Register chat middleware with Chat.Use before Start.
	Chat *chat.Chat
	// Connections holds the node's persistent (TCP and WebSocket)
	// connections; register connection middleware with Connections.Use.
	Connections *connection.Registry
	// Events is the node's event bus (Stellar's api.events): listen with
	// event.On, fire with event.Fire. The framework fires its own events
	// on it (event.ActionAfter, event.ConnectionOpen, …).
	Events *event.Bus
	// Metrics is the node's Prometheus registry, served at
	// http.metrics_path (/metrics): the framework's stellar_… families
	// (registered by Start), the Go runtime and process collectors, and
	// whatever collectors you register on it.
	Metrics *prometheus.Registry

	base     config.Config
	logOut   io.Writer
	logFixed *slog.Logger
	now      func() time.Time // nil: time.Now

	tracerProvider trace.TracerProvider // nil: no spans

	// mu guards the fields marked so. It is never held across a call
	// that may block: parts start and stop without it, so that a task or
	// an RPC handler may call the app's accessors at any time.
	mu          sync.Mutex
	configured  bool          // guarded by mu
	cfg         config.Config // guarded by mu; the effective configuration
	logger      *slog.Logger  // guarded by mu
	state       state         // guarded by mu
	startDone   chan struct{} // guarded by mu; closed when Start returns
	node        *node.Node    // guarded by mu; set while starting and after
	hooks       []node.Hook   // guarded by mu; in registration order
	http        node.HTTP     // guarded by mu; App.Handle and App.Use
	shutdown    chan struct{} // closed once Shutdown has finished
	shutdownErr error         // written before shutdown is closed
}

type state int

const (
	stateNew state = iota
	stateStarting
	stateRunning
	stateStopping
	stateStopped
)

// Option changes how New builds an app.
type Option func(*App)

// WithLogger makes the app log through l instead of building its own
// logger from the log configuration.
func WithLogger(l *slog.Logger) Option { return func(a *App) { a.logFixed = l } }

// WithLogOutput makes the app's own logger write to w instead of stderr.
func WithLogOutput(w io.Writer) Option { return func(a *App) { a.logOut = w } }

// WithClock makes the node read the time from now instead of time.Now
// for its cache's expiries and its task queues (due times, retries, the
// periodic scheduler), on the memory backend: a test moves time forward
// instead of sleeping (package stellartest does). The cluster, the
// transports and timeouts keep real time.
func WithClock(now func() time.Time) Option { return func(a *App) { a.now = now } }

// New returns an app configured by cfg; zero fields take their defaults.
// Main layers the config file, environment and flags on top of cfg.
func New(cfg Config, opts ...Option) *App {
	a := &App{
		base:     cfg,
		logOut:   os.Stderr,
		Routes:   &httpt.Routes{},
		shutdown: make(chan struct{}),
	}
	for _, o := range opts {
		o(a)
	}
	a.Events = event.NewBus()
	a.Metrics = metrics.NewRegistry()
	a.Actions = action.NewRegistry(logging.Discard(), "", action.WithEvents(a.Events))
	a.Cluster = cluster.New()
	a.registerClusterMethods()
	a.Tasks = task.New()
	a.Connections = connection.NewRegistry()
	a.Chat = chat.New(a.Connections, a.Cluster)
	if err := a.Actions.Register(a.statusAction()); err != nil {
		panic(err) // the built-in action is valid; a failure here is a bug
	}
	return a
}

// Configure sets the effective configuration, replacing the one given to
// New. Main calls it with the merged file, environment and flags; call it
// yourself only when you load configuration your own way. It fails after
// Start, or when the configuration is invalid.
func (a *App) Configure(cfg Config) error {
	config.Defaults(&cfg)
	if err := cfg.Validate(); err != nil {
		return err
	}
	logger := a.logFixed
	if logger == nil {
		var err error
		logger, err = logging.New(a.logOut, cfg.Log.Format, cfg.Log.Level, cfg.ID)
		if err != nil {
			return err
		}
	} else {
		logger = slog.New(logging.WithTrace(logger.Handler())).With(slog.String("node", cfg.ID))
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.state != stateNew {
		return errors.New("stellar: Configure called after Start")
	}
	a.cfg = cfg
	a.logger = logger
	a.configured = true
	a.Actions.SetLogger(logger, cfg.ID)
	a.Actions.SetDefaultTimeout(cfg.General.ActionTimeout)
	return nil
}

// Config returns the effective configuration (the one given to New, with
// defaults, until Main or Configure replaces it).
func (a *App) Config() Config {
	a.ensureConfigured()
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.cfg
}

// ID is the node's id: from --id, STELLAR_ID or the config file, else
// hostname-pid. Under startCluster it is stellar-worker-N.
func (a *App) ID() string { return a.Config().ID }

// Logger is the node's logger; every line carries the node id.
func (a *App) Logger() *slog.Logger {
	a.ensureConfigured()
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.logger
}

// ensureConfigured applies the config given to New when neither Main nor
// Configure did. An invalid one is reported by Start.
func (a *App) ensureConfigured() {
	a.mu.Lock()
	done := a.configured
	a.mu.Unlock()
	if done {
		return
	}
	if err := a.Configure(a.base); err != nil {
		// Keep the defaults so that accessors work; Start reports err.
		cfg := a.base
		config.Defaults(&cfg)
		a.mu.Lock()
		if !a.configured {
			a.cfg = cfg
			a.logger = logging.Discard()
		}
		a.mu.Unlock()
	}
}

// HTTPAddr is the address the HTTP server listens on, once started; nil
// when HTTP is off. Useful with http.addr ":0".
func (a *App) HTTPAddr() net.Addr {
	if n := a.running(); n != nil {
		return n.HTTPAddr()
	}
	return nil
}

// TCPAddr is the address the TCP server listens on, once started; nil
// when TCP is off. Useful with tcp.addr ":0".
func (a *App) TCPAddr() net.Addr {
	if n := a.running(); n != nil {
		return n.TCPAddr()
	}
	return nil
}

// running returns the node once Start has succeeded, nil before.
func (a *App) running() *node.Node {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.state < stateRunning {
		return nil
	}
	return a.node
}

// Start starts the node: it binds its listeners (failing at once if a
// port is taken), joins the cluster, starts the chat rooms, the task
// workers and the scheduler, runs the start hooks, and serves. It
// returns when the node is serving. When Redis does not answer yet, the
// node serves at once what needs no Redis, /readyz answers 503 with the
// reason, and the rest starts as soon as Redis answers; a malformed
// Redis URL or a refused password fails Start.
func (a *App) Start(ctx context.Context) error {
	a.mu.Lock()
	configured := a.configured
	a.mu.Unlock()
	if !configured {
		if err := a.Configure(a.base); err != nil {
			return err
		}
	}
	a.mu.Lock()
	if a.state != stateNew {
		a.mu.Unlock()
		return ErrAlreadyStarted
	}
	if err := ctx.Err(); err != nil {
		a.mu.Unlock()
		return err
	}
	a.state = stateStarting
	a.startDone = make(chan struct{})
	cfg, logger := a.cfg, a.logger
	a.mu.Unlock()
	defer close(a.startDone)

	n, err := a.start(ctx, cfg, logger)
	a.mu.Lock()
	defer a.mu.Unlock()
	if err != nil {
		// A failed start leaves the app stopped: Done is closed and a
		// later Shutdown returns at once.
		a.state = stateStopped
		close(a.shutdown)
		return err
	}
	a.state = stateRunning
	attrs := []any{"version", cfg.General.APIVersion, "pid", os.Getpid(), "backend", n.BackendName()}
	if addr := n.HTTPAddr(); addr != nil {
		attrs = append(attrs, "http", addr.String())
	}
	logger.Info("node started", attrs...)
	return nil
}

// start opens the node, publishes its cache and inspector, and starts it.
func (a *App) start(ctx context.Context, cfg config.Config, logger *slog.Logger) (*node.Node, error) {
	n, err := node.Open(cfg, logger, node.Parts{
		Actions:     a.Actions,
		Routes:      a.Routes,
		Public:      a.Public,
		Cluster:     a.Cluster,
		Tasks:       a.Tasks,
		Chat:        a.Chat,
		Connections: a.Connections,
		Events:      a.Events,
		Stats:       a.nodeStats,
		Ready:       a.readyState,
		Hooks:       a.sortedHooks(),
		Metrics:     a.Metrics,
		Version:     Version,
		HTTP:        a.userHTTP(),
		Now:         a.now,

		TracerProvider: a.tracerProvider,
	})
	if err != nil {
		return nil, err
	}
	// Before anything runs: a task or a request may use them at once.
	a.Cache, a.Inspector = n.Cache(), n.Inspector()
	a.mu.Lock()
	a.node = n
	a.mu.Unlock()
	if err := n.Start(ctx); err != nil {
		return nil, err
	}
	return n, nil
}

// DefaultHookPriority is the priority of a hook registered with
// priority 0.
const DefaultHookPriority = 100

// OnStart registers fn to run when the node starts (Stellar's
// satellites, ActionHero's initializers): after the cluster membership,
// the chat rooms and the task workers are up, so that App.Cache,
// App.Chat, App.Tasks and App.Cluster all work inside it, and before the
// node reports itself ready. Hooks run one at a time, lowest priority
// first, ties in registration order (0 means DefaultHookPriority). An
// error (or a panic) from fn stops the start: Start returns it and the
// parts already up are stopped again. When Redis is down at start, the
// hooks run as soon as it answers. Register hooks before Start.
func (a *App) OnStart(name string, priority int, fn func(ctx context.Context) error) error {
	return a.addHook(node.Hook{Name: name, Priority: priority, Start: fn})
}

// OnStop registers fn to run when the node stops: after the listeners
// have drained and before the task workers, the chat and the cluster
// membership stop, in the same order as OnStart (lowest priority first).
// It runs only if the node's start hooks ran. Its error is part of
// Shutdown's.
func (a *App) OnStop(name string, priority int, fn func(ctx context.Context) error) error {
	return a.addHook(node.Hook{Name: name, Priority: priority, Stop: fn})
}

func (a *App) addHook(h node.Hook) error {
	if h.Priority == 0 {
		h.Priority = DefaultHookPriority
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.state != stateNew {
		return fmt.Errorf("stellar: hook %q registered after Start", h.Name)
	}
	a.hooks = append(a.hooks, h)
	return nil
}

// sortedHooks are the hooks in the order they run.
func (a *App) sortedHooks() []node.Hook {
	a.mu.Lock()
	hooks := slices.Clone(a.hooks)
	a.mu.Unlock()
	slices.SortStableFunc(hooks, func(x, y node.Hook) int { return x.Priority - y.Priority })
	return hooks
}

// readyState fails unless the app is running.
func (a *App) readyState(context.Context) error {
	if a.running() == nil {
		return errors.New("node is not running")
	}
	return nil
}

// Ready reports whether the node can serve traffic, as /readyz does: it
// is running, its backend answers, and every part is ready.
func (a *App) Ready(ctx context.Context) error {
	n := a.running()
	if n == nil {
		return errors.New("node is not running")
	}
	return n.Ready(ctx)
}

// Shutdown stops the node gracefully: new requests get 503 while those in
// flight finish, then the listeners close. It is bounded by ctx (and, when
// ctx has no deadline, by shutdown_timeout), and safe to call more than
// once: later calls wait for the first and return its result.
func (a *App) Shutdown(ctx context.Context) error {
	a.mu.Lock()
	if a.state == stateStarting {
		starting := a.startDone
		a.mu.Unlock()
		select {
		case <-starting:
		case <-ctx.Done():
			return ctx.Err()
		}
		return a.Shutdown(ctx)
	}
	switch a.state {
	case stateNew:
		a.state = stateStopped
		close(a.shutdown)
		a.mu.Unlock()
		return nil
	case stateStopping, stateStopped:
		a.mu.Unlock()
		select {
		case <-a.shutdown:
			return a.shutdownErr
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	a.state = stateStopping
	n, logger, timeout := a.node, a.logger, a.cfg.ShutdownTimeout
	a.mu.Unlock()

	if _, ok := ctx.Deadline(); !ok && timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, timeout)
		defer cancel()
	}
	logger.Info("node stopping")
	err := n.Stop(ctx)
	if err != nil {
		logger.Error("node stopped with errors", "error", err.Error())
	} else {
		logger.Info("node stopped", "uptime_ms", time.Since(n.StartedAt()).Milliseconds())
	}
	a.mu.Lock()
	a.state = stateStopped
	a.shutdownErr = err
	a.mu.Unlock()
	close(a.shutdown)
	return err
}

// ReloadCertificates reads the TLS certificate and key files of the HTTP
// and TCP listeners again, as SIGHUP does under Run: new connections get
// the new certificates; a listener whose files fail to load keeps its
// previous one, and the error says which. Nothing when not running.
func (a *App) ReloadCertificates() error {
	n := a.running()
	if n == nil {
		return nil
	}
	return n.ReloadCertificates()
}

// Done is closed once Shutdown has finished.
func (a *App) Done() <-chan struct{} { return a.shutdown }

// Run starts the node and serves until ctx ends, SIGINT or SIGTERM arrives,
// or a transport fails; then it shuts down gracefully. SIGHUP meanwhile
// rereads the TLS certificates (ReloadCertificates). It may be called on
// an app that Start already started.
func (a *App) Run(ctx context.Context) error {
	// SIGHUP rereads the certificates; caught from before the start, so
	// that one arriving as the node comes up does not end the process.
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	if err := a.Start(ctx); err != nil && !errors.Is(err, ErrAlreadyStarted) {
		return err
	}
	n := a.running()
	if n == nil {
		<-a.shutdown // stopped before Run: nothing to serve
		return a.shutdownErr
	}
	sigCtx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	defer stop()
	var runErr error
wait:
	for {
		select {
		case <-sigCtx.Done():
			a.Logger().Info("shutdown requested")
		case runErr = <-n.Failed():
		case <-a.shutdown:
			return a.shutdownErr
		case <-hup:
			if err := n.ReloadCertificates(); err != nil {
				a.Logger().Error("certificate reload failed: the previous certificates stay in use", "error", err.Error())
			}
			continue
		}
		break wait
	}
	stop() // a second signal now kills the process at once
	err := a.Shutdown(context.WithoutCancel(ctx))
	return errors.Join(runErr, err)
}

// uptime is how long the node has been running; zero before Start.
func (a *App) uptime() (time.Duration, time.Time) {
	a.mu.Lock()
	n := a.node
	a.mu.Unlock()
	if n == nil || n.StartedAt().IsZero() {
		return 0, time.Time{}
	}
	return time.Since(n.StartedAt()), n.StartedAt()
}
