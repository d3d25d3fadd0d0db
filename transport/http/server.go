// Package http is the HTTP transport: it serves actions at /api/{action} and
// /api?action=, through a RESTful route table, and static files from a
// public folder; it answers /healthz and /readyz, and serves the OpenAPI
// document of its actions when Config.OpenAPIPath is set; and it drains
// in-flight requests on shutdown. It is the Go counterpart of Stellar's
// web server.
package http

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"runtime/debug"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"go.opentelemetry.io/otel/trace"

	"github.com/stellarfw/stellar-go/action"
	"github.com/stellarfw/stellar-go/apierror"
	"github.com/stellarfw/stellar-go/connection"
	"github.com/stellarfw/stellar-go/internal/limit"
	"github.com/stellarfw/stellar-go/internal/listen"
	"github.com/stellarfw/stellar-go/internal/tlsconf"
	"github.com/stellarfw/stellar-go/internal/tracing"
)

// Actions is what a Server needs from the node's actions:
// *action.Registry implements it.
type Actions interface {
	// Lookup returns the action name at version, the newest when version
	// is 0.
	Lookup(name string, version int) (*action.Action, bool)
	// Run runs the action name for a request; see action.Registry.Run.
	Run(ctx context.Context, name string, raw map[string]any, r *action.Request) error
	// List returns every action, every version, for the OpenAPI
	// document.
	List() []*action.Action
}

var _ Actions = (*action.Registry)(nil)

// Options configure a Server: its Config and the parts it serves.
type Options struct {
	Config     Config
	ServerName string // serverInformation.serverName
	APIVersion string // serverInformation.apiVersion
	NodeID     string
	Actions    Actions
	// Routes is the route table filled in code; Config.Routes are tried
	// after it.
	Routes *Routes
	Logger *slog.Logger
	// Files, when set, serves the public files from this file system (an
	// embed.FS, say) instead of Config.PublicDir.
	Files fs.FS
	// Ready reports whether the node can serve: nil means ready. /readyz
	// answers 503 with its message otherwise.
	Ready func(ctx context.Context) error
	// Handlers serve exact paths before actions and files: the WebSocket
	// endpoint and the browser client.
	Handlers map[string]http.Handler
	// Wrap, when set, wraps the server's handler: the node mounts its
	// user's handlers and middleware, and its metrics, around it.
	Wrap func(http.Handler) http.Handler
	// TracerProvider, when set, gets a server span for every request;
	// nil starts none (the trace context is carried all the same).
	TracerProvider trace.TracerProvider
	// QuietPaths are exact paths whose request lines are logged at debug
	// rather than info: /healthz and /readyz always, the metrics path.
	QuietPaths []string
}

// Server is the HTTP transport of one node.
type Server struct {
	opts      Options
	cfg       Config
	cfgRoutes *Routes // Config.Routes
	routesErr error   // of a malformed Config.Routes entry, returned by Listen
	cfgErr    error   // of a malformed proxy, fingerprint or header setting, returned by Listen
	proxies   []netip.Prefix
	headers   []header
	sameSite  http.SameSite
	cookies   [2]fingerprintCookie // the fingerprint's Set-Cookie, not secure and secure
	logger    *slog.Logger
	tracer    *tracing.Tracer // nil: no spans
	quiet     map[string]bool // paths logged at debug
	static    *staticFiles
	srv       *http.Server
	bodies    *limit.Bytes    // request-body bytes in flight
	refused   *limit.Refusals // requests refused by a limit

	mu       sync.Mutex
	ln       net.Listener  // guarded by mu
	idle     chan struct{} // guarded by mu; closed when draining and inflight is 0
	served   chan struct{} // closed when Serve returns
	draining atomic.Bool
	// inflight counts the action requests running, without a lock on
	// their way: a request counts itself in, then checks draining.
	inflight atomic.Int64
	tracker  *connTracker // set by Listen on a listener shared with sibling workers

	cert       *tlsconf.Certificate // set by Listen with TLS
	redirect   *http.Server         // the HTTP→HTTPS redirect, when configured
	redirectLn net.Listener
}

// New returns a server; call Listen, then Serve.
func New(opts Options) *Server {
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if opts.Routes == nil {
		opts.Routes = &Routes{}
	}
	opts.Config.setDefaults()
	s := &Server{
		opts:      opts,
		cfg:       opts.Config,
		cfgRoutes: &Routes{},
		logger:    opts.Logger,
		tracer:    tracing.New(opts.TracerProvider),
		quiet:     map[string]bool{"/healthz": true, "/readyz": true},
		served:    make(chan struct{}),
		bodies:    limit.NewBytes(opts.Config.MaxBodyBytesInFlight),
		refused:   limit.NewRefusals(limit.BodySize, limit.BodiesInFlight),
	}
	// Collisions are left to Listen, which names both routes' keys.
	for i, r := range s.cfg.Routes {
		if err := s.cfgRoutes.add(r.Method, r.Path, r.Action, r.Version, nil, false); err != nil && s.routesErr == nil {
			s.routesErr = fmt.Errorf("http.routes[%d]: %w", i, err)
		}
	}
	if s.cfg.RootEndpointType != RootAPI || s.cfg.FilesPath != "off" {
		s.static = &staticFiles{fsys: opts.Files, dir: s.cfg.PublicDir, index: s.cfg.DirectoryFile, cache: s.cfg.CacheControl}
	}
	for _, p := range opts.QuietPaths {
		s.quiet[p] = true
	}
	var err1, err2, err3 error
	s.proxies, err1 = parseProxies(s.cfg.TrustedProxies)
	s.sameSite, err2 = checkFingerprint(s.cfg.Fingerprint)
	s.headers, err3 = parseHeaders(s.cfg.Headers)
	s.cfgErr = errors.Join(err1, err2, err3)
	s.cookies = newFingerprintCookies(s.cfg.Fingerprint, s.sameSite)
	var h http.Handler = s
	if s.cfg.CompressMinBytes >= 0 {
		h = compressor{next: s, minBytes: s.cfg.CompressMinBytes}
	}
	if opts.Wrap != nil {
		h = opts.Wrap(h)
	}
	h = s.observe(h)
	// Outermost: behind a trusted proxy, everything inside (the request
	// line included) sees the client's address.
	if len(s.proxies) > 0 || len(s.headers) > 0 {
		h = front{s: s, next: h}
	}
	s.srv = &http.Server{
		Handler:           h,
		ReadTimeout:       s.cfg.ReadTimeout,
		ReadHeaderTimeout: s.cfg.ReadHeaderTimeout,
		WriteTimeout:      s.cfg.WriteTimeout,
		IdleTimeout:       s.cfg.IdleTimeout,
		MaxHeaderBytes:    s.cfg.MaxHeaderBytes,
		ErrorLog:          slog.NewLogLogger(opts.Logger.Handler(), slog.LevelWarn),
	}
	return s
}

// Listen binds the configured address. It fails at once if the port is in
// use, the address is bad or a route of Config.Routes is malformed, so
// that the node can refuse to start.
func (s *Server) Listen() error {
	if s.routesErr != nil {
		return s.routesErr
	}
	if s.cfgErr != nil {
		return s.cfgErr
	}
	if err := CheckRoutes(s.opts.Routes, s.cfg.Routes); err != nil {
		return err
	}
	if p := s.cfg.OpenAPIPath; p != "off" && !strings.HasPrefix(p, "/") {
		return fmt.Errorf("http: the OpenAPI path must start with / or be off, got %q", p)
	}
	if err := s.setupTLS(); err != nil {
		return err
	}
	ln, err := listen.Listen("tcp", s.cfg.Addr)
	if err != nil {
		return fmt.Errorf("http: cannot listen on %s: %w", s.cfg.Addr, err)
	}
	if err := s.listenRedirect(ln.Addr()); err != nil {
		_ = ln.Close()
		return err
	}
	if listen.Shared(ln) {
		ln = s.shared(ln)
	}
	s.mu.Lock()
	s.ln = ln
	s.mu.Unlock()
	return nil
}

// Close closes the listener of a server that Listen bound and Serve
// never served (a start that failed later): nothing is drained.
func (s *Server) Close() error {
	s.mu.Lock()
	ln := s.ln
	s.ln = nil
	s.mu.Unlock()
	if ln == nil {
		return nil
	}
	if s.redirectLn != nil {
		_ = s.redirectLn.Close()
	}
	return ln.Close()
}

// Addr is the bound address, once Listen succeeded.
func (s *Server) Addr() net.Addr {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ln == nil {
		return nil
	}
	return s.ln.Addr()
}

// Serve serves on the listener from Listen until Shutdown. It returns nil
// after a shutdown.
func (s *Server) Serve() error {
	defer close(s.served)
	s.mu.Lock()
	ln := s.ln
	s.mu.Unlock()
	if ln == nil {
		return errors.New("http: Serve called before Listen")
	}
	s.serveRedirect()
	var err error
	if s.cert != nil {
		err = s.srv.ServeTLS(ln, "", "") // the certificate is in srv.TLSConfig
	} else {
		err = s.srv.Serve(ln)
	}
	if errors.Is(err, http.ErrServerClosed) {
		return nil
	}
	return err
}

// Drain stops taking new action requests (they get 503 server_draining and
// /readyz turns 503) and waits until those in flight finish or ctx ends.
// The listener stays open meanwhile so that clients get a clear answer.
func (s *Server) Drain(ctx context.Context) error {
	s.draining.Store(true)
	s.mu.Lock()
	if s.idle == nil {
		s.idle = make(chan struct{})
		// A request that ended after draining was set and before idle
		// was made found nothing to close: it is counted out already.
		if s.inflight.Load() == 0 {
			close(s.idle)
		}
	}
	idle := s.idle
	s.mu.Unlock()
	select {
	case <-idle:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("http: %d requests still running when the drain deadline passed: %w", s.InFlight(), ctx.Err())
	}
}

// InFlight is the number of action requests running.
func (s *Server) InFlight() int { return int(s.inflight.Load()) }

// Shutdown drains, then closes the listener and idle connections, waiting
// for active ones until ctx ends. Safe to call more than once. A server on
// a listener shared with sibling workers hands off instead (see handOff).
func (s *Server) Shutdown(ctx context.Context) error {
	redirectErr := s.shutdownRedirect(ctx)
	if s.sharedLn() != nil {
		return errors.Join(s.handOff(ctx), redirectErr)
	}
	drainErr := s.Drain(ctx)
	err := s.srv.Shutdown(ctx)
	if err != nil {
		_ = s.srv.Close()
	}
	s.mu.Lock()
	started := s.ln != nil
	s.mu.Unlock()
	if started {
		select {
		case <-s.served:
		case <-ctx.Done():
		}
	}
	return errors.Join(drainErr, err, redirectErr)
}

// begin counts an action request in, or reports that the server drains.
// A request counts itself in before it looks at draining, and Drain sets
// draining before it looks at the count: either the request sees the
// drain and counts itself out, or Drain sees the request and waits for
// it.
func (s *Server) begin() bool {
	s.inflight.Add(1)
	if s.draining.Load() {
		s.end()
		return false
	}
	return true
}

func (s *Server) end() {
	if s.inflight.Add(-1) != 0 || !s.draining.Load() {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.idle != nil && s.inflight.Load() == 0 {
		select {
		case <-s.idle:
		default:
			close(s.idle)
		}
	}
}

// ServeHTTP answers one request.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	defer func() {
		if p := recover(); p != nil {
			if p == http.ErrAbortHandler {
				panic(p)
			}
			id := requestID(r.Context())
			s.logger.ErrorContext(r.Context(), "http handler panic", "panic", fmt.Sprint(p), "stack", string(debug.Stack()),
				"method", r.Method, "path", r.URL.Path, "status", http.StatusInternalServerError, "request_id", id)
			s.writeError(w, r, nil, time.Now(), apierror.Public(apierror.New(apierror.CodeInternal, http.StatusInternalServerError, "panic"), id))
		}
	}()
	if s.cors(w, r) {
		return
	}
	switch r.URL.Path {
	case "/healthz":
		writeJSON(w, http.StatusOK, map[string]any{"status": "ok"})
		return
	case "/readyz":
		s.readyz(w, r)
		return
	}
	if p := s.cfg.OpenAPIPath; p != "off" && r.URL.Path == p {
		s.serveOpenAPI(w, r)
		return
	}
	if h, ok := s.opts.Handlers[r.URL.Path]; ok {
		h.ServeHTTP(w, r)
		return
	}
	prefix := s.cfg.ActionPath
	if prefix != "" && prefix != "off" {
		if rest, ok := underPrefix(r.URL.Path, prefix); ok {
			s.serveAction(w, r, rest)
			return
		}
	}
	if fp := s.cfg.FilesPath; fp != "off" && s.static != nil {
		if rest, ok := underPrefix(r.URL.Path, fp); ok {
			if (r.Method == http.MethodGet || r.Method == http.MethodHead) && s.static.serve(w, r, rest) {
				return
			}
			s.writeError(w, r, nil, time.Now(), apierror.Newf(apierror.CodeNotFound, http.StatusNotFound, "nothing at %s", r.URL.Path))
			return
		}
	}
	if s.cfg.RootEndpointType == RootAPI {
		s.serveAction(w, r, strings.TrimPrefix(r.URL.Path, "/"))
		return
	}
	if s.static != nil && (r.Method == http.MethodGet || r.Method == http.MethodHead) {
		if s.static.serve(w, r, r.URL.Path) {
			return
		}
	}
	s.writeError(w, r, nil, time.Now(), apierror.Newf(apierror.CodeNotFound, http.StatusNotFound, "nothing at %s", r.URL.Path))
}

// underPrefix reports whether path is prefix or below it, and returns the
// rest without a leading slash.
func underPrefix(path, prefix string) (string, bool) {
	prefix = strings.TrimSuffix(prefix, "/")
	if path == prefix {
		return "", true
	}
	if strings.HasPrefix(path, prefix+"/") {
		return path[len(prefix)+1:], true
	}
	return "", false
}

func (s *Server) readyz(w http.ResponseWriter, r *http.Request) {
	if s.draining.Load() {
		writeJSON(w, http.StatusServiceUnavailable, map[string]any{"status": "draining"})
		return
	}
	if s.opts.Ready != nil {
		if err := s.opts.Ready(r.Context()); err != nil {
			writeJSON(w, http.StatusServiceUnavailable, map[string]any{"status": "not ready", "reason": err.Error()})
			return
		}
	}
	writeJSON(w, http.StatusOK, map[string]any{"status": "ready"})
}

// serveAction resolves and runs the action for rest, the path below the
// action prefix (or the root, for rootEndpointType api). A route's group
// middleware runs before the body is read.
func (s *Server) serveAction(w http.ResponseWriter, r *http.Request, rest string) {
	start := time.Now()
	conn := connection.New(connection.TypeWeb, connection.RemoteIP(r.RemoteAddr), s.opts.NodeID)
	conn.Fingerprint = s.fingerprint(w, r, conn)
	conn.CountMessage()
	if !s.begin() {
		s.writeError(w, r, conn, start, apierror.New(apierror.CodeDraining, http.StatusServiceUnavailable,
			"the server is shutting down; retry on another node"))
		return
	}
	defer s.end()

	var buf [8]param
	m, params := s.matchRoute(r.Method, rest, buf[:0])
	if m.rt != nil && len(m.rt.mw) > 0 {
		s.serveGroup(w, r, conn, start, rest, m, params)
		return
	}
	s.runAction(w, r, conn, start, rest, m, params)
}

// match is what matchRoute found for a path: the route rt (nil for
// none), or that the path names an action (which wins over routes), or
// that no route matched but one would for another method.
type match struct {
	rt          *route
	action      bool
	otherMethod bool
}

// serveGroup runs the action of a route through its group's middleware.
// The closure takes a copy of params, so that the caller's buffer stays
// on its stack.
func (s *Server) serveGroup(w http.ResponseWriter, r *http.Request, conn *connection.Conn, start time.Time, rest string, m match, params []param) {
	own := slices.Clone(params)
	var h http.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.runAction(w, r, conn, start, rest, m, own)
	})
	for i := len(m.rt.mw) - 1; i >= 0; i-- {
		h = m.rt.mw[i](h)
	}
	h.ServeHTTP(w, r)
}

// runAction reads the parameters and runs the action for rest, with
// what matchRoute found and the route's params. params is apart from m,
// not in it, so that it stays on the caller's stack.
func (s *Server) runAction(w http.ResponseWriter, r *http.Request, conn *connection.Conn, start time.Time, rest string,
	m match, params []param) {
	release, err := s.admitBody(w, r)
	if err != nil {
		s.refusal(err)
		w.Header().Set("Connection", "close") // the body is left unread
		s.writeError(w, r, conn, start, err)
		return
	}
	defer release()
	raw, err := parseParams(r)
	if err != nil {
		s.refusal(err)
		s.logger.DebugContext(r.Context(), "bad request", "method", r.Method, "path", r.URL.Path, "remote", conn.RemoteAddr, "error", err.Error())
		s.writeError(w, r, conn, start, err)
		return
	}
	name, routePattern, version, err := s.resolve(r, rest, raw, m, params)
	if err != nil {
		s.logger.DebugContext(r.Context(), "no action", "method", r.Method, "path", r.URL.Path, "remote", conn.RemoteAddr, "error", err.Error())
		s.writeError(w, r, conn, start, err)
		return
	}
	noteAction(r.Context(), name, routePattern)
	call := &actionCall{req: action.Request{
		Conn:        conn,
		Route:       routePattern,
		RequestID:   RequestID(r.Context()),
		Version:     version,
		Header:      w.Header(),
		HTTPRequest: r,
		Writer:      w,
	}}
	req := &call.req
	if err := s.opts.Actions.Run(r.Context(), name, raw, req); err != nil {
		s.writeErrorRaw(w, r, conn, start, err, raw)
		return
	}
	if req.NoRender {
		return
	}
	// The response map is the action's and the action is done: add the
	// information to it rather than copying it.
	body := req.Response
	s.addInformation(body, conn, start, raw, &call.info)
	status := req.Status
	if status == 0 {
		status = http.StatusOK
	}
	buf := getBuffer()
	defer putBuffer(buf)
	if err := encodeBody(buf, body); err != nil {
		id := requestID(r.Context())
		s.logger.ErrorContext(r.Context(), "action response is not JSON-encodable", "action", name, "status", http.StatusInternalServerError,
			"request_id", id, "error", err.Error())
		s.writeError(w, r, conn, start, apierror.Public(&apierror.Error{Code: apierror.CodeInternal, Err: err}, id))
		return
	}
	writeRaw(w, status, buf.Bytes())
}

// matchRoute finds the route of the table (code routes, then
// Config.Routes) for rest, unless rest names no path (the action
// parameter decides) or names an action, which wins over routes.
func (s *Server) matchRoute(method, rest string, params []param) (match, []param) {
	if rest == "" {
		return match{}, params
	}
	if !strings.Contains(rest, "/") {
		if _, ok := s.opts.Actions.Lookup(rest, 0); ok {
			return match{action: true}, params
		}
	}
	path := rest // the tables trim slashes; no "/" needs to be prepended
	var m match
	m.rt, params, m.otherMethod = s.opts.Routes.match(method, path, params)
	if m.rt == nil {
		var other bool
		m.rt, params, other = s.cfgRoutes.match(method, path, params)
		m.otherMethod = m.otherMethod || other
	}
	return m, params
}

// resolve finds the action for a request: the path segment under the
// action prefix when it names an action, else the action parameter when no
// path is given, else the route that matched. Route path parameters are
// merged into raw, overriding every other source; version is the route's
// pinned version, 0 for none.
func (s *Server) resolve(r *http.Request, rest string, raw map[string]any, m match, params []param) (name, pattern string, version int, err error) {
	if rest == "" {
		if a, ok := raw[action.ParamAction].(string); ok && a != "" {
			return a, "", 0, nil
		}
		return "", "", 0, apierror.New(apierror.CodeActionNotFound, http.StatusNotFound,
			"no action given: call "+s.actionHint()+"{action}, or pass the action parameter")
	}
	if m.rt != nil {
		for _, p := range params {
			raw[p.name] = p.value
		}
		return m.rt.action, m.rt.pattern, m.rt.version, nil
	}
	if m.action {
		return rest, "", 0, nil
	}
	if m.otherMethod {
		return "", "", 0, apierror.Newf(apierror.CodeMethodNotAllowed, http.StatusMethodNotAllowed,
			"%s is not allowed on /%s", r.Method, rest)
	}
	if !strings.Contains(rest, "/") {
		return "", "", 0, apierror.Newf(apierror.CodeActionNotFound, http.StatusNotFound, "unknown action %q", rest)
	}
	return "", "", 0, apierror.Newf(apierror.CodeNotFound, http.StatusNotFound, "no action or route at %s", r.URL.Path)
}

func (s *Server) actionHint() string {
	if s.cfg.ActionPath != "" && s.cfg.ActionPath != "off" {
		return strings.TrimSuffix(s.cfg.ActionPath, "/") + "/"
	}
	return "/"
}

func (s *Server) writeError(w http.ResponseWriter, r *http.Request, conn *connection.Conn, start time.Time, err error) {
	s.writeErrorRaw(w, r, conn, start, err, nil)
}

func (s *Server) writeErrorRaw(w http.ResponseWriter, r *http.Request, conn *connection.Conn, start time.Time, err error, raw map[string]any) {
	ae := apierror.From(err)
	noteError(r.Context(), ae.Code)
	if id := RequestID(r.Context()); id != "" && ae.RequestID == "" {
		c := *ae
		c.RequestID = id
		ae = &c
	}
	body := map[string]any{"error": ae.Body().Error}
	if conn != nil {
		s.addInformation(body, conn, start, raw, nil)
	}
	switch ae.Code {
	case apierror.CodeDraining:
		w.Header().Set("Connection", "close")
		w.Header().Set("Retry-After", "1")
	case apierror.CodeServerBusy:
		w.Header().Set("Retry-After", "1")
	}
	if ae.RequestID != "" {
		w.Header().Set("X-Request-Id", ae.RequestID)
	}
	writeJSON(w, ae.HTTPStatus(), body)
}

// actionCall holds the records of one action request in one allocation:
// the action's request and the information added to its response.
type actionCall struct {
	req  action.Request
	info information
}

// information is what addInformation adds to a response.
type information struct {
	server    serverInformation
	requester requesterInformation
}

// serverInformation and requesterInformation are added to every response,
// as in Stellar.
type serverInformation struct {
	ServerName      string `json:"serverName"`
	APIVersion      string `json:"apiVersion"`
	RequestDuration int64  `json:"requestDuration"` // milliseconds
	CurrentTime     int64  `json:"currentTime"`     // Unix milliseconds
}

type requesterInformation struct {
	ID             string         `json:"id"`
	Fingerprint    string         `json:"fingerprint"`
	RemoteIP       string         `json:"remoteIP"`
	ReceivedParams map[string]any `json:"receivedParams"`
	// ReceivedParamsOmitted counts the params left out of ReceivedParams
	// past EchoTotalBytes.
	ReceivedParamsOmitted int `json:"receivedParamsOmitted,omitempty"`
}

// addInformation adds serverInformation and requesterInformation to
// body, held in into (new ones when into is nil).
func (s *Server) addInformation(body map[string]any, conn *connection.Conn, start time.Time, raw map[string]any, into *information) {
	if s.cfg.HideServerInformation && s.cfg.HideRequesterInformation {
		return
	}
	if into == nil {
		into = new(information)
	}
	if !s.cfg.HideServerInformation {
		now := time.Now()
		into.server = serverInformation{
			ServerName:      s.opts.ServerName,
			APIVersion:      s.opts.APIVersion,
			RequestDuration: now.Sub(start).Milliseconds(),
			CurrentTime:     now.UnixMilli(),
		}
		body["serverInformation"] = &into.server
	}
	if !s.cfg.HideRequesterInformation {
		echo, omitted := echoParams(raw)
		into.requester = requesterInformation{
			ID:                    conn.ID,
			Fingerprint:           conn.Fingerprint,
			RemoteIP:              conn.RemoteAddr,
			ReceivedParams:        echo,
			ReceivedParamsOmitted: omitted,
		}
		body["requesterInformation"] = &into.requester
	}
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	buf := getBuffer()
	defer putBuffer(buf)
	if err := json.NewEncoder(buf).Encode(v); err != nil {
		buf.Reset()
		buf.WriteString(`{"error":{"code":"internal_error","message":"internal server error"}}` + "\n")
		status = http.StatusInternalServerError
	}
	writeRaw(w, status, buf.Bytes())
}

var (
	contentTypeJSON = []string{"application/json; charset=utf-8"}
	noSniff         = []string{"nosniff"}
)

// headerValue is h.Get(key) for a key in canonical form: indexing
// spares Get's canonicalization of key on every request.
func headerValue(h http.Header, key string) string {
	if v := h[key]; len(v) > 0 {
		return v[0]
	}
	return ""
}

// writeRaw sends buf, a JSON document ending in a newline, as the whole
// body.
func writeRaw(w http.ResponseWriter, status int, buf []byte) {
	h := w.Header()
	h["Content-Type"] = contentTypeJSON
	h["X-Content-Type-Options"] = noSniff
	w.WriteHeader(status)
	if g, ok := w.(*compressWriter); ok {
		_, _ = g.writeLast(buf)
		return
	}
	_, _ = w.Write(buf)
}

var bufferPool = sync.Pool{New: func() any { return new(bytes.Buffer) }}

func getBuffer() *bytes.Buffer { return bufferPool.Get().(*bytes.Buffer) }

// putBuffer returns buf to the pool, unless a huge response grew it.
func putBuffer(buf *bytes.Buffer) {
	if buf.Cap() > 64<<10 {
		return
	}
	buf.Reset()
	bufferPool.Put(buf)
}
