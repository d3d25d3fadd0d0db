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
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/stellarfw/stellar-go/action"
	"github.com/stellarfw/stellar-go/backend"
	"github.com/stellarfw/stellar-go/cache"
	"github.com/stellarfw/stellar-go/chat"
	"github.com/stellarfw/stellar-go/cluster"
	"github.com/stellarfw/stellar-go/config"
	"github.com/stellarfw/stellar-go/connection"
	"github.com/stellarfw/stellar-go/event"
	"github.com/stellarfw/stellar-go/internal/session"
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
	failed    chan error // a transport that stopped on its own
	wg        sync.WaitGroup

	startedAt time.Time

	mu    sync.Mutex
	steps []step // guarded by mu; the parts started, in order

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
	b, err := backend.Open(BackendConfig(cfg))
	if err != nil {
		return nil, err
	}
	return &Node{
		cfg:       cfg,
		log:       logger,
		parts:     parts,
		backend:   b,
		cache:     cache.New(b.Cache(), cache.Config{NodeID: cfg.ID}),
		inspector: task.NewInspector(b.TaskAdmin()),
		failed:    make(chan error, 1),
		startedAt: time.Now(),
	}, nil
}

// Cache is the node's cache.
func (n *Node) Cache() *cache.Cache { return n.cache }

// Inspector is the node's view of the task queues.
func (n *Node) Inspector() *task.Inspector { return n.inspector }

// BackendName names the backend: memory or redis.
func (n *Node) BackendName() string { return n.backend.Name() }

// Failed receives the error of a transport that stopped on its own.
func (n *Node) Failed() <-chan error { return n.failed }

// Start brings the parts up in order: cluster membership, task workers,
// chat and the persistent transports, then the HTTP listener. A step
// that fails undoes the ones before it and closes the backend.
func (n *Node) Start(ctx context.Context) error {
	starts := []struct {
		name  string
		start func(ctx context.Context) (step, error)
	}{
		{"cluster", n.startCluster},
		{"tasks", n.startTasks},
		{"connections", n.startConnections},
		{"http", n.startHTTP},
	}
	for _, s := range starts {
		st, err := s.start(ctx)
		if err != nil {
			n.rollback(ctx)
			if s.name == "http" {
				return err // a listener's error names its address already
			}
			return fmt.Errorf("stellar: starting %s: %w", s.name, err)
		}
		st.name = s.name
		n.mu.Lock()
		n.steps = append(n.steps, st)
		n.mu.Unlock()
	}
	return nil
}

// rollback stops the steps started so far and closes the backend.
func (n *Node) rollback(ctx context.Context) {
	steps := n.started()
	for i := len(steps) - 1; i >= 0; i-- {
		if err := steps[i].stop(ctx, true); err != nil {
			n.log.Error("stopping after a failed start", "part", steps[i].name, "error", err.Error())
		}
	}
	n.mu.Lock()
	n.steps = nil
	n.mu.Unlock()
	_ = n.backend.Close()
}

// started is the steps started so far.
func (n *Node) started() []step {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.steps
}

// Stop stops the steps in reverse order, closes the backend and waits
// for the node's goroutines, all bounded by ctx.
func (n *Node) Stop(ctx context.Context) error {
	var errs []error
	steps := n.started()
	for i := len(steps) - 1; i >= 0; i-- {
		if err := steps[i].stop(ctx, false); err != nil {
			errs = append(errs, fmt.Errorf("stopping %s: %w", steps[i].name, err))
		}
	}
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

// Status adds the node's figures to out, for the status action.
func (n *Node) Status(ctx context.Context, out map[string]any) {
	out["backend"] = n.backend.Name()
	for _, s := range n.started() {
		if s.status != nil {
			s.status(ctx, out)
		}
	}
}

// StartedAt is when the node was opened.
func (n *Node) StartedAt() time.Time { return n.startedAt }

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
	if err := c.Start(ctx, n.backend.Cluster(), cc); err != nil {
		return step{}, err
	}
	return step{
		stop: func(ctx context.Context, _ bool) error {
			ctx, cancel := context.WithTimeout(ctx, clusterStopTimeout)
			defer cancel()
			return c.Stop(ctx)
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
	if err := m.Start(ctx, n.backend.Tasks(), tc); err != nil {
		return step{}, err
	}
	return step{
		stop: func(ctx context.Context, rollback bool) error {
			if rollback {
				var cancel context.CancelFunc
				ctx, cancel = context.WithTimeout(ctx, rollbackTaskTimeout)
				defer cancel()
			}
			return m.Stop(ctx)
		},
		status: func(ctx context.Context, out map[string]any) {
			ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
			defer cancel()
			s, err := n.inspector.Stats(ctx)
			fig := map[string]any{"running": m.Running(), "queues": s.Queues, "workers": s.Workers, "concurrency": s.Concurrency}
			if err != nil {
				fig["error"] = err.Error()
			}
			out["tasks"] = fig
		},
	}, nil
}

// startConnections starts the chat rooms and the TCP transport, and
// builds the WebSocket endpoint that startHTTP mounts.
func (n *Node) startConnections(ctx context.Context) (step, error) {
	cfg, logger, p := n.cfg, n.log, n.parts
	if err := p.Chat.Start(ctx, n.backend.Chat(), chat.Config{
		NodeID:        cfg.ID,
		DefaultRoom:   cfg.Chat.DefaultRoom,
		SweepInterval: cfg.Cluster.HeartbeatInterval,
		Logger:        logger,
	}); err != nil {
		return step{}, err
	}
	sessionOpts := func() *session.Options {
		return &session.Options{NodeID: cfg.ID, Actions: p.Actions, Chat: p.Chat, Conns: p.Connections, Logger: logger, Events: p.Events}
	}
	if cfg.TCP.Addr != "off" {
		srv := tcp.New(tcp.Options{Config: TCPConfig(cfg), Logger: logger, Session: sessionOpts()})
		if err := srv.Listen(); err != nil {
			_ = p.Chat.Stop(ctx)
			return step{}, err
		}
		n.tcp = srv
		n.serve("tcp", srv.Serve)
		logger.Info("tcp server listening", "addr", srv.Addr().String(), "tls", cfg.TCP.TLSCert != "")
	}
	if cfg.HTTP.Addr != "off" && cfg.WebSocket.Path != "off" {
		n.ws = ws.New(ws.Options{Config: WebSocketConfig(cfg), Logger: logger, Session: sessionOpts()})
	}
	return step{
		// Close the persistent connections first (they leave their
		// rooms), then stop the chat.
		stop: func(ctx context.Context, _ bool) error {
			var errs []error
			if n.ws != nil {
				errs = append(errs, n.ws.Shutdown(ctx))
			}
			if n.tcp != nil {
				errs = append(errs, n.tcp.Shutdown(ctx))
			}
			errs = append(errs, p.Chat.Stop(ctx))
			return errors.Join(errs...)
		},
		status: func(ctx context.Context, out map[string]any) {
			out["connections"] = map[string]any{
				"tcp":       p.Connections.Len(connection.TypeTCP),
				"websocket": p.Connections.Len(connection.TypeWebSocket),
			}
		},
	}, nil
}

// startHTTP binds the HTTP listener and serves actions, files, the
// WebSocket endpoint and the health checks.
func (n *Node) startHTTP(ctx context.Context) (step, error) {
	cfg := n.cfg
	if cfg.HTTP.Addr == "off" {
		return step{stop: func(context.Context, bool) error { return nil }}, nil
	}
	var handlers map[string]http.Handler
	if n.ws != nil {
		p := n.ws.Path()
		handlers = map[string]http.Handler{p: n.ws, ws.ClientPath: ws.ClientHandler(p)}
	}
	srv := httpt.New(httpt.Options{
		Config:     HTTPConfig(cfg),
		ServerName: cfg.General.ServerName,
		APIVersion: cfg.General.APIVersion,
		NodeID:     cfg.ID,
		Actions:    n.parts.Actions,
		Routes:     n.parts.Routes,
		Files:      n.parts.Public,
		Logger:     n.log,
		Ready:      n.ready,
		Handlers:   handlers,
	})
	if err := srv.Listen(); err != nil {
		return step{}, err
	}
	n.http = srv
	n.serve("http", srv.Serve)
	return step{
		stop: func(ctx context.Context, _ bool) error { return srv.Shutdown(ctx) },
		status: func(ctx context.Context, out map[string]any) {
			out["http"] = map[string]any{"addr": srv.Addr().String(), "inFlight": srv.InFlight()}
		},
	}, nil
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
