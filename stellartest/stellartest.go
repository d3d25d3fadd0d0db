// Package stellartest runs an app inside a test (ActionHero's
// specHelper): on the memory backend, in-process, with no listener.
//
//	func TestRandomNumber(t *testing.T) {
//		app := stellartest.New(t, setup) // setup registers what main registers
//		out, err := stellartest.Run[RandomOut](app, stellartest.Web, "randomNumber", RandomIn{Max: 10})
//		if err != nil || out.Number > 10 {
//			t.Fatalf("randomNumber: %+v, %v", out, err)
//		}
//	}
//
// Run calls an action as a client of a connection type (web, websocket,
// tcp) would, and returns its typed output or the API error the client
// would get (Code reads its code). The app runs no task workers unless
// WithWorkers says so: Enqueued and Delayed list what was enqueued,
// RunTask runs a task inline, Published lists the cluster messages
// (App.Cluster.Publish, chat rooms). Connect opens a persistent
// connection that speaks the TCP and WebSocket protocol (verbs, chat
// rooms). WithClock puts the cache and the task queues on a fake clock
// that the test moves forward.
//
// The app stops when the test ends; a test that fails to stop it fails.
package stellartest

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/stellarfw/stellar-go"
	"github.com/stellarfw/stellar-go/action"
	"github.com/stellarfw/stellar-go/apierror"
	"github.com/stellarfw/stellar-go/config"
	"github.com/stellarfw/stellar-go/connection"
	"github.com/stellarfw/stellar-go/event"
	"github.com/stellarfw/stellar-go/internal/poll"
)

// Connection types a call can come from.
const (
	Web       = connection.TypeWeb
	WebSocket = connection.TypeWebSocket
	TCP       = connection.TypeTCP
	Internal  = connection.TypeInternal
)

// NodeID is the id of a test app unless WithConfig gives another.
const NodeID = "stellartest"

// shutdownTimeout bounds the stop of the app when the test ends.
const shutdownTimeout = 10 * time.Second

// TB is what the package needs of a test: *testing.T and *testing.B
// have it.
type TB interface {
	Helper()
	Cleanup(func())
	Context() context.Context
	Errorf(format string, args ...any)
	Fatalf(format string, args ...any)
}

var _ TB = (testing.TB)(nil)

// Option changes how New builds the app.
type Option func(*options)

type options struct {
	cfg     stellar.Config
	clock   *Clock
	workers int
	logs    io.Writer
}

// WithConfig makes the app start from cfg instead of the defaults. The
// listeners are off and Redis is not used whatever it says: the app
// runs in-process on the memory backend.
func WithConfig(cfg stellar.Config) Option { return func(o *options) { o.cfg = cfg } }

// WithClock puts the app's cache (expiries) and task queues (delays,
// retries, the periodic scheduler) on c: Advance moves them forward with
// no sleeping. The cluster, timeouts and the transports keep real time.
// A task's lease is an hour unless WithConfig sets one, so that a task
// running while the clock moves keeps it.
func WithClock(c *Clock) Option { return func(o *options) { o.clock = c } }

// WithWorkers runs n task workers, so that enqueued tasks run as on a
// node. Without it the app runs none: tasks stay where they were
// enqueued, listed by Enqueued, and RunTask runs one inline.
func WithWorkers(n int) Option { return func(o *options) { o.workers = n } }

// WithLogOutput sends the app's logs to w (none by default), as JSON
// lines.
func WithLogOutput(w io.Writer) Option { return func(o *options) { o.logs = w } }

// App is a started app for one test. Its fields are the app's: call
// App.Cache, App.Tasks, App.Chat and the others as the program does.
type App struct {
	*stellar.App
	tb    TB
	clock *Clock

	mu        sync.Mutex
	enqueued  []Task    // guarded by mu
	published []Message // guarded by mu
}

// Task is a task that was enqueued.
type Task struct {
	ID    string
	Name  string
	Queue string
	// Args are the task's arguments, as JSON.
	Args json.RawMessage
	// RunAt is when a delayed task is due; zero for one due at once.
	RunAt time.Time
}

// Decode unmarshals the arguments into v.
func (t Task) Decode(v any) error { return json.Unmarshal(t.Args, v) }

// Message is a cluster message that was published.
type Message struct {
	Type string
	From string
	// Payload is the message's payload, as JSON.
	Payload json.RawMessage
}

// Decode unmarshals the payload into v.
func (m Message) Decode(v any) error { return json.Unmarshal(m.Payload, v) }

// New builds an app, lets setup register on it what the program
// registers (actions, tasks, routes, middleware, hooks: setup may be
// the function main calls, or nil), starts it, and stops it when the
// test ends. A setup or start that fails fails the test.
func New(tb TB, setup func(app *stellar.App) error, opts ...Option) *App {
	tb.Helper()
	o := options{logs: io.Discard}
	for _, opt := range opts {
		opt(&o)
	}
	cfg := o.cfg
	cfg.HTTP.Addr, cfg.TCP.Addr = "off", "off"
	cfg.Redis = config.Redis{}
	if cfg.ID == "" {
		cfg.ID = NodeID
	}
	cfg.Tasks.Workers = -1
	if o.workers > 0 {
		cfg.Tasks.Workers = o.workers
	}
	cfg.Log.Format = "json"
	newOpts := []stellar.Option{stellar.WithLogOutput(o.logs)}
	if o.clock != nil {
		newOpts = append(newOpts, stellar.WithClock(o.clock.Now))
		if cfg.Tasks.Lease == 0 {
			cfg.Tasks.Lease = time.Hour
		}
	}
	a := &App{App: stellar.New(cfg, newOpts...), tb: tb, clock: o.clock}
	a.record()
	if setup != nil {
		if err := setup(a.App); err != nil {
			tb.Fatalf("stellartest: setup: %v", err)
		}
	}
	if err := a.Start(tb.Context()); err != nil {
		tb.Fatalf("stellartest: start: %v", err)
	}
	tb.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), shutdownTimeout)
		defer cancel()
		if err := a.Shutdown(ctx); err != nil {
			tb.Errorf("stellartest: stop: %v", err)
		}
	})
	return a
}

// recordPriority runs the recording listeners before the program's.
const recordPriority = -1_000_000

// record listens for what the app enqueues and publishes. The listeners
// go first, so that no listener of the program's hides an event.
func (a *App) record() {
	event.On(a.Events, event.TaskEnqueued, recordPriority, func(_ context.Context, p *event.Task) error {
		a.mu.Lock()
		defer a.mu.Unlock()
		a.enqueued = append(a.enqueued, Task{ID: p.ID, Name: p.Name, Queue: p.Queue, Args: slices.Clone(p.Args), RunAt: p.RunAt})
		return nil
	})
	event.On(a.Events, event.MessagePublished, recordPriority, func(_ context.Context, p *event.Message) error {
		a.mu.Lock()
		defer a.mu.Unlock()
		a.published = append(a.published, Message{Type: p.Type, From: p.From, Payload: slices.Clone(p.Payload)})
		return nil
	})
}

// Clock is the app's fake clock, nil without WithClock.
func (a *App) Clock() *Clock { return a.clock }

// Enqueued lists every task enqueued since the app started (by an
// action, a task, a hook or the periodic scheduler), delayed or not, in
// order.
func (a *App) Enqueued() []Task {
	a.mu.Lock()
	defer a.mu.Unlock()
	return slices.Clone(a.enqueued)
}

// Delayed lists the tasks of Enqueued that were enqueued with a delay
// (task.In, task.At), in order.
func (a *App) Delayed() []Task {
	var out []Task
	for _, t := range a.Enqueued() {
		if !t.RunAt.IsZero() {
			out = append(out, t)
		}
	}
	return out
}

// Published lists every cluster message published since the app
// started (App.Cluster.Publish, and the messages of chat rooms), in
// order.
func (a *App) Published() []Message {
	a.mu.Lock()
	defer a.mu.Unlock()
	return slices.Clone(a.published)
}

// Reset forgets what Enqueued and Published list.
func (a *App) Reset() {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.enqueued, a.published = nil, nil
}

// RunTask runs the task name once, now, inline, with args as Enqueue
// takes them, and returns its handler's error (task.Manager.RunNow): no
// queue, no retry.
func (a *App) RunTask(name string, args any) error {
	return a.Tasks.RunNow(a.tb.Context(), name, args)
}

// Eventually waits until cond holds, failing the test if it does not
// within 15 seconds: for what happens on the app's goroutines (a task run
// by WithWorkers, a chat message).
func (a *App) Eventually(what string, cond func() bool) {
	a.tb.Helper()
	if !poll.Wait(0, cond) {
		a.tb.Fatalf("stellartest: timed out waiting for %s", what)
	}
}

// NewRequest returns the request of one call as a client of connType
// makes it: a new connection of that type on this node, and for Web the
// HTTP fields (Header, HTTPRequest, and Writer, an
// *httptest.ResponseRecorder).
func (a *App) NewRequest(connType string) *stellar.Request {
	r := &stellar.Request{Conn: connection.New(connType, "192.0.2.1:1234", a.ID())}
	if connType == Web {
		rec := httptest.NewRecorder()
		r.Writer, r.Header = rec, rec.Header()
		r.HTTPRequest = httptest.NewRequestWithContext(a.tb.Context(), http.MethodGet, "/", nil)
	}
	return r
}

// Run runs the action name as a client of connType (Web, WebSocket,
// TCP, or Internal) would, with params (a map, or a typed action's In),
// and returns its output as an Out: the value a typed action returned,
// else its response decoded into an Out (map[string]any for any
// action). The action's middleware, validation, versions and timeouts
// apply, and so do Private and BlockedConnectionTypes; the error is the
// *stellar.Error the client would get (see Code). Params reach the
// action as given, as from a JSON body: no string conversion.
func Run[Out any](a *App, connType, name string, params any) (Out, error) {
	return RunRequest[Out](a, a.NewRequest(connType), name, params)
}

// RunRequest is Run with the request r, from NewRequest: to read what
// the action set on it (headers, a status, a response it wrote itself),
// or to run it on a connection of the test's.
func RunRequest[Out any](a *App, r *stellar.Request, name string, params any) (Out, error) {
	if r.HTTPRequest != nil && r.HTTPRequest.URL.Path == "/" {
		r.HTTPRequest.URL.Path = a.Config().HTTP.ActionPath + "/" + url.PathEscape(name)
	}
	return action.RunAs[Out](a.tb.Context(), a.Actions, name, params, r)
}

// Code is the client-facing code of err (validation_failed,
// action_not_found, …), "" when err is nil: an action's own error that
// is no *stellar.Error is action_failed, as the client sees it.
func Code(err error) string {
	if err == nil {
		return ""
	}
	return apierror.From(err).Code
}
