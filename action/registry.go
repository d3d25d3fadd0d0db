package action

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"net/http"
	"runtime/debug"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/stellarfw/stellar-go/apierror"
	"github.com/stellarfw/stellar-go/connection"
	"github.com/stellarfw/stellar-go/event"
	"github.com/stellarfw/stellar-go/input"
	"github.com/stellarfw/stellar-go/internal/logging"
)

// Reserved parameter names, read by the framework and never passed to an
// action's inputs.
const (
	ParamAction     = "action"
	ParamAPIVersion = "apiVersion"
)

// Registry holds the actions and middleware of a node and runs them. It is
// safe for concurrent use; registration normally happens before Start.
type Registry struct {
	events *event.Bus // nil: no events

	mu         sync.RWMutex
	logger     *slog.Logger              // guarded by mu
	nodeID     string                    // guarded by mu
	timeout    time.Duration             // guarded by mu; for actions without their own Timeout
	actions    map[string]map[int]*entry // guarded by mu; name → version → entry
	middleware map[string]*Middleware    // guarded by mu
	ordered    []*Middleware             // guarded by mu; every middleware, in registration order
	gen        int                       // guarded by mu; bumped when middleware changes

	// hot is what a call reads, published by every change under mu, so
	// that calls take no lock.
	hot atomic.Pointer[hotState]
}

// hotState is a copy of the registry's fields that calls read.
type hotState struct {
	logger  *slog.Logger
	nodeID  string
	timeout time.Duration
	actions map[string]*versions
	gen     int
}

// versions are the versions of one action, and the newest of them.
type versions struct {
	of     map[int]*entry
	newest *entry
}

// publish copies the fields calls read into hot. g.mu is held.
func (g *Registry) publish() {
	h := &hotState{logger: g.logger, nodeID: g.nodeID, timeout: g.timeout, gen: g.gen,
		actions: make(map[string]*versions, len(g.actions))}
	for name, of := range g.actions {
		vs := &versions{of: maps.Clone(of)} // Register changes of in place
		for v, e := range of {
			if vs.newest == nil || v > vs.newest.action.version() {
				vs.newest = e
			}
		}
		h.actions[name] = vs
	}
	g.hot.Store(h)
}

type entry struct {
	action *Action
	inputs *input.Set // nil when the action declares no Inputs

	mu   sync.Mutex               // held while call is built
	call atomic.Pointer[compiled] // built lazily for the registry's gen
}

// compiled is the handler of an action's whole call, with what the
// registry needs to know about its middleware.
type compiled struct {
	h       Handler
	seesRaw bool // middleware sees the params before input processing
	gen     int  // of the middleware it was built with
}

// NewRegistry returns an empty registry that logs to logger (slog.Default
// when nil) on behalf of node nodeID.
func NewRegistry(logger *slog.Logger, nodeID string, opts ...Option) *Registry {
	if logger == nil {
		logger = slog.Default()
	}
	g := &Registry{
		logger:     logger,
		nodeID:     nodeID,
		actions:    make(map[string]map[int]*entry),
		middleware: make(map[string]*Middleware),
	}
	for _, o := range opts {
		o(g)
	}
	g.publish()
	return g
}

// Option configures a Registry at NewRegistry.
type Option func(*Registry)

// WithEvents makes the registry fire event.ActionBefore and
// event.ActionAfter on b for every call that reaches an action.
func WithEvents(b *event.Bus) Option { return func(g *Registry) { g.events = b } }

// SetLogger changes the logger and node id used from now on.
func (g *Registry) SetLogger(logger *slog.Logger, nodeID string) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.logger = logger
	g.nodeID = nodeID
	g.publish()
}

// SetDefaultTimeout bounds the runs of actions whose Timeout is zero, as
// the config key general.action_timeout does; zero (the default) leaves
// them unbounded. It applies to calls that start from now on.
func (g *Registry) SetDefaultTimeout(d time.Duration) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.timeout = max(d, 0)
	g.publish()
}

// DefaultTimeout is the bound set by SetDefaultTimeout; zero for none.
func (g *Registry) DefaultTimeout() time.Duration {
	g.mu.RLock()
	defer g.mu.RUnlock()
	return g.timeout
}

// Register adds actions. A later action with the same name and version
// replaces an earlier one, unless the earlier one is Protected. An action
// without a name or Run, a bad Validator rule or an unknown middleware name
// is an error, and nothing from that call is registered.
func (g *Registry) Register(actions ...*Action) error {
	entries := make([]*entry, 0, len(actions))
	for _, a := range actions {
		e, err := g.compile(a)
		if err != nil {
			return err
		}
		entries = append(entries, e)
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	type key struct {
		name    string
		version int
	}
	batch := make(map[key]*Action, len(entries))
	for _, e := range entries {
		a := e.action
		for _, name := range a.Middleware {
			if g.middleware[name] == nil {
				return fmt.Errorf("action: %s: unknown middleware %q (register it with Use first)", a.Name, name)
			}
		}
		k := key{a.Name, a.version()}
		old := g.actions[a.Name][a.version()]
		if (old != nil && old.action.Protected) || (batch[k] != nil && batch[k].Protected) {
			return fmt.Errorf("action: %s version %d is protected and cannot be overridden", a.Name, a.version())
		}
		batch[k] = a
	}
	for _, e := range entries {
		a := e.action
		if g.actions[a.Name] == nil {
			g.actions[a.Name] = make(map[int]*entry)
		}
		g.actions[a.Name][a.version()] = e
	}
	g.publish()
	return nil
}

func (g *Registry) compile(a *Action) (*entry, error) {
	if a == nil {
		return nil, errors.New("action: Register called with a nil action")
	}
	if strings.TrimSpace(a.Name) == "" {
		return nil, errors.New("action: an action needs a Name")
	}
	if a.Run == nil {
		return nil, fmt.Errorf("action: %s: Run is nil", a.Name)
	}
	if a.Version < 0 {
		return nil, fmt.Errorf("action: %s: Version must be positive, got %d", a.Name, a.Version)
	}
	if a.typed != nil && a.typed.err != nil {
		return nil, fmt.Errorf("action: %s: %w", a.Name, a.typed.err)
	}
	e := &entry{action: a}
	if a.Inputs != nil {
		set, err := input.Compile(a.Inputs, input.Ignore(ParamAction, ParamAPIVersion))
		if err != nil {
			return nil, fmt.Errorf("action: %s: %w", a.Name, err)
		}
		e.inputs = set
	}
	return e, nil
}

// Use registers middleware. Global middleware applies to every action at
// once; named middleware applies to actions that list it.
func (g *Registry) Use(ms ...*Middleware) error {
	g.mu.Lock()
	defer g.mu.Unlock()
	seen := make(map[string]bool, len(ms))
	for _, m := range ms {
		if m == nil || m.Name == "" {
			return errors.New("action: middleware needs a Name")
		}
		if m.Pre == nil && m.Post == nil && m.Wrap == nil {
			return fmt.Errorf("action: middleware %q has neither Pre, Post nor Wrap", m.Name)
		}
		if g.middleware[m.Name] != nil || seen[m.Name] {
			return fmt.Errorf("action: middleware %q is already registered", m.Name)
		}
		seen[m.Name] = true
	}
	for _, m := range ms {
		g.middleware[m.Name] = m
		g.ordered = append(g.ordered, m)
	}
	g.gen++
	g.publish()
	return nil
}

// Lookup returns the action name at version, or the newest version when
// version is 0.
func (g *Registry) Lookup(name string, version int) (*Action, bool) {
	e := g.lookup(name, version)
	if e == nil {
		return nil, false
	}
	return e.action, true
}

func (g *Registry) lookup(name string, version int) *entry {
	vs := g.hot.Load().actions[name]
	if vs == nil {
		return nil
	}
	if version != 0 {
		return vs.of[version]
	}
	return vs.newest
}

// List returns every registered action, sorted by name then version.
func (g *Registry) List() []*Action {
	g.mu.RLock()
	defer g.mu.RUnlock()
	var out []*Action
	for _, versions := range g.actions {
		for _, e := range versions {
			out = append(out, e.action)
		}
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Name != out[j].Name {
			return out[i].Name < out[j].Name
		}
		return out[i].version() < out[j].version()
	})
	return out
}

func (g *Registry) handler(e *entry) *compiled {
	if c := e.call.Load(); c != nil && c.gen == g.hot.Load().gen {
		return c
	}
	g.mu.RLock()
	defer g.mu.RUnlock()
	e.mu.Lock()
	defer e.mu.Unlock()
	c := e.call.Load()
	if c == nil || c.gen != g.gen {
		p := newPipeline(applicable(e.action, g.ordered))
		c = &compiled{h: p.handler(e), seesRaw: p.seesRaw(), gen: g.gen}
		e.call.Store(c)
	}
	return c
}

// Call runs an action internally, as Stellar's api.actions.call: private
// actions are allowed, and the response map is returned. Errors are
// *apierror.Error values.
func (g *Registry) Call(ctx context.Context, name string, params map[string]any) (map[string]any, error) {
	r, err := g.call(ctx, name, params)
	if err != nil {
		return nil, err
	}
	return r.Response, nil
}

// call runs an internal call and returns its request.
func (g *Registry) call(ctx context.Context, name string, params map[string]any) (*Request, error) {
	r := &Request{Conn: connection.New(connection.TypeInternal, "", g.hot.Load().nodeID)}
	if err := g.Run(ctx, name, params, r); err != nil {
		return nil, err
	}
	return r, nil
}

// Run runs the action name for a transport. raw holds the parameters as the
// client sent them; r carries the connection and transport fields and
// receives Action, Params and Response. The version is r.Version when set,
// else raw["apiVersion"] (newest when absent). The returned error, if any,
// is an *apierror.Error, and has been logged. A call that reaches an
// action fires event.ActionBefore and event.ActionAfter on the registry's
// bus (WithEvents).
//
// What a client gets of a failure is what it may see: an unexpected one (a
// plain error, a panic) is internal_error with a generic message, and
// every 5xx carries a request id; the details are logged once, at ERROR,
// under that id. A call whose caller went away (ctx canceled: the client
// disconnected) is logged at debug with status 499 and fails with
// client_closed. Internal calls (Call) keep their error as it is, for the
// code that made them.
func (g *Registry) Run(ctx context.Context, name string, raw map[string]any, r *Request) error {
	start := time.Now()
	if r == nil {
		r = &Request{}
	}
	hot := g.hot.Load()
	logger, timeout := hot.logger, hot.timeout
	began, err := g.run(ctx, name, raw, r, logger, timeout)
	var ae, pub *apierror.Error // what happened, and what the caller gets
	gone := false
	if err != nil {
		ae = apierror.From(err)
		pub = ae
		switch {
		case errors.Is(ctx.Err(), context.Canceled):
			gone = true
			pub = &apierror.Error{Code: apierror.CodeClientClosed, Status: apierror.StatusClientClosed,
				Message: "the caller went away before the answer", Err: ae}
		case ae.HTTPStatus() >= 500:
			id := ae.RequestID
			if id == "" {
				id = r.RequestID
			}
			if id == "" {
				id = apierror.NewRequestID()
			}
			if r.Internal() {
				c := *ae
				c.RequestID = id
				pub = &c
			} else {
				pub = apierror.Public(ae, id)
			}
		}
	}
	if began && g.events.Has(event.ActionAfter.Name()) {
		p := g.payload(r)
		p.Duration = time.Since(start)
		if pub != nil {
			p.Err = pub
		}
		g.fire(ctx, logger, event.ActionAfter, p)
	}
	level := slog.LevelInfo
	if r.Action != nil {
		level = r.Action.LogLevel
	}
	if err == nil && !logger.Enabled(ctx, level) {
		return nil // skip building the line on the hot path
	}
	attrs := []slog.Attr{
		slog.String("action", name),
		slog.String("conn", connType(r)),
		logging.Ms("duration_ms", time.Since(start)),
	}
	if r.RequestID != "" {
		attrs = append(attrs, slog.String("request_id", r.RequestID))
	}
	switch {
	case err == nil:
		logger.LogAttrs(ctx, level, "action", attrs...)
		return nil
	case gone:
		attrs = append(attrs, slog.Int("status", apierror.StatusClientClosed), slog.String("error", ae.Message))
		logger.LogAttrs(ctx, slog.LevelDebug, "action canceled: the caller went away", attrs...)
		return pub
	}
	attrs = append(attrs, slog.String("code", ae.Code), slog.String("error", ae.Message))
	if ae.HTTPStatus() >= 500 {
		level = slog.LevelError
		attrs = append(attrs, slog.Int("status", ae.HTTPStatus()))
		if r.RequestID == "" {
			attrs = append(attrs, slog.String("request_id", pub.RequestID))
		}
		if ae.Err != nil {
			attrs = append(attrs, slog.String("cause", ae.Err.Error()))
		}
	} else {
		// The caller's mistake (a 4xx): worth a line with its code, not
		// an operator's attention.
		attrs = append(attrs, slog.Int("status", ae.HTTPStatus()))
		level = max(level, slog.LevelInfo)
	}
	logger.LogAttrs(ctx, level, "action failed", attrs...)
	return pub
}

// payload is the event payload of the call r, whose action is set.
func (g *Registry) payload(r *Request) *event.Action {
	return &event.Action{
		Name: r.Action.Name, Version: r.Action.version(), Params: r.Params,
		Conn: r.Conn, ConnType: connType(r), Route: r.Route,
	}
}

// connType is the type of r's connection; internal when it has none.
func connType(r *Request) string {
	if r.Conn == nil {
		return connection.TypeInternal
	}
	return r.Conn.Type
}

// fire fires one of the action events; a listener's error is logged and
// changes nothing else.
func (g *Registry) fire(ctx context.Context, logger *slog.Logger, ev event.Event[event.Action], p *event.Action) {
	if err := event.Fire(ctx, g.events, ev, p); err != nil && !errors.Is(err, event.ErrStop) {
		logger.Warn("event listener failed", "event", ev.Name(), "action", p.Name, "error", err.Error())
	}
}

// run runs the call; began reports whether it got past routing and the
// checks of the caller, so that ActionBefore fired.
func (g *Registry) run(ctx context.Context, name string, raw map[string]any, r *Request,
	logger *slog.Logger, defaultTimeout time.Duration) (began bool, err error) {
	if name == "" {
		return false, apierror.New(apierror.CodeActionNotFound, http.StatusNotFound,
			"no action given: call /api/{action}, or pass the action parameter")
	}
	version := r.Version
	if version == 0 {
		v, err := apiVersion(raw)
		if err != nil {
			return false, err
		}
		version = v
	}
	e := g.lookup(name, version)
	if e == nil {
		if version != 0 && g.lookup(name, 0) != nil {
			return false, apierror.Newf(apierror.CodeActionNotFound, http.StatusNotFound,
				"action %q has no version %d", name, version)
		}
		return false, apierror.Newf(apierror.CodeActionNotFound, http.StatusNotFound, "unknown action %q", name)
	}
	a := e.action
	r.Action = a
	if a.Private && !r.Internal() {
		return false, apierror.Newf(apierror.CodePrivateAction, http.StatusForbidden,
			"action %q is private: it can only be called from inside the server", name)
	}
	if r.Conn != nil {
		for _, t := range a.BlockedConnectionTypes {
			if t == r.Conn.Type {
				return false, apierror.Newf(apierror.CodeConnectionBlocked, http.StatusForbidden,
					"action %q cannot be called over a %s connection", name, t)
			}
		}
	}
	call := g.handler(e)
	before := g.events.Has(event.ActionBefore.Name())
	r.Params = Params(raw)
	if call.seesRaw || before {
		// Middleware may change the params before the inputs check
		// them: give it a copy, not the caller's map.
		r.Params = maps.Clone(r.Params)
		if r.Params == nil {
			r.Params = make(Params)
		}
	}
	if before {
		p := g.payload(r)
		g.fire(ctx, logger, event.ActionBefore, p)
		if p.Params != nil {
			r.Params = p.Params // a listener may replace the map
		}
	}
	if r.Response == nil {
		r.Response = make(map[string]any)
	}
	callCtx := ctx
	timeout := a.Timeout
	if timeout == 0 {
		timeout = defaultTimeout
	}
	if timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, timeout)
		defer cancel()
	}
	err = serve(ctx, call.h, r)
	if err != nil && errors.Is(err, context.DeadlineExceeded) && ctx.Err() != nil {
		msg := fmt.Sprintf("action %q did not finish within %s", name, timeout)
		if callCtx.Err() != nil {
			msg = fmt.Sprintf("action %q did not finish before the caller's deadline", name)
		}
		return true, &apierror.Error{Code: apierror.CodeTimeout, Status: http.StatusGatewayTimeout, Message: msg, Err: err}
	}
	return true, err
}

// serve runs h, turning a panic into an internal error for this call only.
func serve(ctx context.Context, h Handler, r *Request) (err error) {
	defer func() {
		if p := recover(); p != nil {
			err = panicError(p)
		}
	}()
	return h.ServeAction(ctx, r)
}

func panicError(p any) error {
	return &apierror.Error{
		Code:    apierror.CodeInternal,
		Status:  http.StatusInternalServerError,
		Message: "internal server error",
		Err:     fmt.Errorf("panic: %v\n%s", p, debug.Stack()),
	}
}

func apiVersion(raw map[string]any) (int, error) {
	v, ok := raw[ParamAPIVersion]
	if !ok || v == nil || v == "" {
		return 0, nil
	}
	// Params.Int gives 0 for a value that is not an integer, which the
	// range check refuses.
	n := Params(raw).Int(ParamAPIVersion)
	if n < 1 || n > 1<<31 {
		return 0, &apierror.Error{
			Code: apierror.CodeValidationFailed, Status: http.StatusUnprocessableEntity,
			Message: fmt.Sprintf("apiVersion must be a positive integer, got %v", v),
			Fields:  map[string]string{ParamAPIVersion: "must be a positive integer"},
		}
	}
	return int(n), nil
}

// processInputs returns the params the action sees: raw checked by the
// action's inputs, or, when it declares none, every parameter but the
// reserved ones.
func processInputs(ctx context.Context, e *entry, raw map[string]any) (Params, error) {
	if e.inputs == nil {
		params := make(Params, len(raw))
		for k, v := range raw {
			if k != ParamAction && k != ParamAPIVersion {
				params[k] = v
			}
		}
		return params, nil
	}
	return e.inputs.Process(ctx, raw)
}
