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
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/stellarfw/stellar-go/action"
	"github.com/stellarfw/stellar-go/cache"
	"github.com/stellarfw/stellar-go/chat"
	"github.com/stellarfw/stellar-go/cluster"
	"github.com/stellarfw/stellar-go/config"
	"github.com/stellarfw/stellar-go/connection"
	"github.com/stellarfw/stellar-go/internal/logging"
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
	// configured and in memory otherwise. It is set by Start.
	Cache *cache.Cache
	// Cluster is the node's link to the other nodes: membership, signed
	// messages (Stellar's api.redis.publish) and RPC (doCluster). Register
	// methods and subscriptions on it before or after Start.
	Cluster *cluster.Cluster
	// Tasks is the task API (Stellar's api.tasks): register task
	// definitions before Start; enqueue once started. Every node runs
	// workers unless tasks.workers is -1.
	Tasks *task.Manager
	// Inspector shows and manages the task queues of the whole cluster
	// (the admin half of api.tasks: stats, failed, delayed, locks, …).
	// It is set by Start.
	Inspector *task.Inspector
	// Chat is the chat-room API (Stellar's api.chatRoom): rooms span the
	// cluster, and Join and Leave work on a connection of any node.
	// Register chat middleware with Chat.Use before Start.
	Chat *chat.Chat
	// Connections holds the node's persistent (TCP and WebSocket)
	// connections; register connection middleware with Connections.Use.
	Connections *connection.Registry

	base      config.Config
	logOut    io.Writer
	logFixed  *slog.Logger
	startedAt time.Time

	mu          sync.Mutex
	configured  bool          // guarded by mu
	cfg         config.Config // guarded by mu; the effective configuration
	logger      *slog.Logger  // guarded by mu
	state       state         // guarded by mu
	startDone   chan struct{} // guarded by mu; closed when Start returns
	http        *httpt.Server // guarded by mu
	backend     *backend      // guarded by mu; open while running
	parts       []part        // guarded by mu; registered by New
	started     []part        // guarded by mu; the parts Start brought up
	conns       *connections  // guarded by mu; the persistent transports
	shutdown    chan struct{} // closed once Shutdown has finished
	shutdownErr error         // set before shutdown is closed
	failed      chan error    // a transport that stopped on its own

	wg sync.WaitGroup // goroutines started by Start

	clusterLog atomic.Pointer[slog.Logger] // the logger of the built-in cluster methods
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

// New returns an app configured by cfg; zero fields take their defaults.
// Main layers the config file, environment and flags on top of cfg.
func New(cfg Config, opts ...Option) *App {
	a := &App{
		base:     cfg,
		logOut:   os.Stderr,
		Routes:   &httpt.Routes{},
		shutdown: make(chan struct{}),
		failed:   make(chan error, 1),
	}
	for _, o := range opts {
		o(a)
	}
	a.Actions = action.NewRegistry(logging.Discard(), "")
	a.Cluster = cluster.New()
	a.registerClusterMethods()
	a.parts = append(a.parts, a.clusterPart())
	a.Tasks = task.New()
	a.parts = append(a.parts, a.tasksPart())
	a.Connections = connection.NewRegistry()
	a.Chat = chat.New(a.Connections, a.Cluster)
	a.parts = append(a.parts, a.connectionsPart())
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
		logger = logger.With(slog.String("node", cfg.ID))
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
	if !done {
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
}

// HTTPAddr is the address the HTTP server listens on, once started; nil
// when HTTP is off. Useful with http.addr ":0".
func (a *App) HTTPAddr() net.Addr {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.http == nil {
		return nil
	}
	return a.http.Addr()
}

// Start starts the node: it binds its listeners (failing at once if a port
// is taken) and starts serving. It returns when the node is serving.
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
	// Parts start without a.mu held, so that they may call the app's
	// accessors; Shutdown waits for startDone before it stops anything.
	a.state = stateStarting
	a.startDone = make(chan struct{})
	cfg, logger := a.cfg, a.logger
	a.mu.Unlock()
	defer close(a.startDone)

	err := a.start(ctx, cfg, logger)
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
	attrs := []any{"version", cfg.General.APIVersion, "pid", os.Getpid(), "backend", a.backend.name}
	if a.http != nil {
		attrs = append(attrs, "http", a.http.Addr().String())
	}
	logger.Info("node started", attrs...)
	return nil
}

// start opens the backend, starts the parts and binds the listeners,
// undoing all of it if a step fails.
func (a *App) start(ctx context.Context, cfg config.Config, logger *slog.Logger) error {
	b, err := openBackend(cfg)
	if err != nil {
		return err
	}
	a.mu.Lock()
	a.startedAt = time.Now()
	a.backend = b
	a.mu.Unlock()
	a.Cache = cache.New(b.cacheStore(), cache.Config{NodeID: cfg.ID})
	var started []part
	rollback := func() {
		for i := len(started) - 1; i >= 0; i-- {
			if err := started[i].stop(ctx); err != nil {
				logger.Error("stopping after a failed start", "part", started[i].name, "error", err.Error())
			}
		}
		_ = b.close()
		a.mu.Lock()
		a.started, a.backend = nil, nil
		a.mu.Unlock()
	}
	for _, p := range a.parts {
		if err := p.start(ctx, b); err != nil {
			rollback()
			return fmt.Errorf("stellar: starting %s: %w", p.name, err)
		}
		started = append(started, p)
		a.mu.Lock()
		a.started = started
		a.mu.Unlock()
	}
	if cfg.HTTP.Addr == "off" {
		return nil
	}
	srv := httpt.New(httpt.Options{
		Config:     node.HTTPConfig(cfg),
		ServerName: cfg.General.ServerName,
		APIVersion: cfg.General.APIVersion,
		NodeID:     cfg.ID,
		Actions:    a.Actions,
		Routes:     a.Routes,
		Files:      a.Public,
		Logger:     logger,
		Ready:      a.ready,
		Handlers:   a.httpHandlers(),
	})
	if err := srv.Listen(); err != nil {
		rollback()
		return err
	}
	a.mu.Lock()
	a.http = srv
	a.mu.Unlock()
	a.wg.Add(1)
	go func() {
		defer a.wg.Done()
		if err := srv.Serve(); err != nil {
			logger.Error("http server stopped", "error", err.Error())
			select {
			case a.failed <- err:
			default:
			}
		}
	}()
	return nil
}

// ready reports whether the node can serve traffic, for /readyz: it is
// running, its backend answers, and every part is ready.
func (a *App) ready(ctx context.Context) error {
	a.mu.Lock()
	running, b, parts := a.state == stateRunning, a.backend, a.started
	a.mu.Unlock()
	if !running {
		return errors.New("node is not running")
	}
	if err := b.ping(ctx); err != nil {
		return fmt.Errorf("backend %s: %w", b.name, err)
	}
	for _, p := range parts {
		if p.ready == nil {
			continue
		}
		if err := p.ready(ctx); err != nil {
			return fmt.Errorf("%s: %w", p.name, err)
		}
	}
	return nil
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
	srv, logger, timeout := a.http, a.logger, a.cfg.ShutdownTimeout
	parts, b := a.started, a.backend
	a.mu.Unlock()

	if _, ok := ctx.Deadline(); !ok && timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, timeout)
		defer cancel()
	}
	logger.Info("node stopping")
	var errs []error
	if srv != nil {
		if err := srv.Shutdown(ctx); err != nil {
			errs = append(errs, err)
		}
	}
	for i := len(parts) - 1; i >= 0; i-- {
		if err := parts[i].stop(ctx); err != nil {
			errs = append(errs, fmt.Errorf("stopping %s: %w", parts[i].name, err))
		}
	}
	if b != nil {
		if err := b.close(); err != nil {
			errs = append(errs, fmt.Errorf("closing backend: %w", err))
		}
	}
	waited := make(chan struct{})
	go func() { a.wg.Wait(); close(waited) }()
	select {
	case <-waited:
	case <-ctx.Done():
		errs = append(errs, fmt.Errorf("stellar: goroutines still running at the shutdown deadline: %w", ctx.Err()))
	}
	err := errors.Join(errs...)
	if err != nil {
		logger.Error("node stopped with errors", "error", err.Error())
	} else {
		logger.Info("node stopped", "uptime", time.Since(a.startedAt).Round(time.Millisecond).String())
	}
	a.mu.Lock()
	a.state = stateStopped
	a.shutdownErr = err
	a.mu.Unlock()
	close(a.shutdown)
	return err
}

// Done is closed once Shutdown has finished.
func (a *App) Done() <-chan struct{} { return a.shutdown }

// Run starts the node and serves until ctx ends, SIGINT or SIGTERM arrives,
// or a transport fails; then it shuts down gracefully. It may be called on
// an app that Start already started.
func (a *App) Run(ctx context.Context) error {
	if err := a.Start(ctx); err != nil && !errors.Is(err, ErrAlreadyStarted) {
		return err
	}
	sigCtx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	defer stop()
	var runErr error
	select {
	case <-sigCtx.Done():
		a.Logger().Info("shutdown requested")
	case runErr = <-a.failed:
	case <-a.shutdown:
		return a.shutdownErr
	}
	stop() // a second signal now kills the process at once
	err := a.Shutdown(context.WithoutCancel(ctx))
	return errors.Join(runErr, err)
}

func (a *App) uptime() time.Duration {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.startedAt.IsZero() {
		return 0
	}
	return time.Since(a.startedAt)
}
