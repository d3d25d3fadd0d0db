// Package dashboard is the operator's web dashboard that every node serves
// at /dashboard when dashboard.token is set: the live nodes of the
// cluster, the task queues with their depths and rates, running, failed,
// delayed and periodic tasks, paused queues, chat rooms, cache and unique
// locks, and the cluster messages each node dropped. It reads the whole
// cluster through the task Inspector, the cluster's membership and one
// cluster call to every node, so any node shows the same picture.
//
// The page is plain HTML, JavaScript and CSS embedded in the binary. It
// updates over server-sent events. Every request but the login form and
// the static assets carries the credential: the token as
// "Authorization: Bearer TOKEN", or the HttpOnly, SameSite=Strict cookie
// the login form sets. The actions (retry, remove, pause, resume) are
// POSTs; with the cookie they must also come from the dashboard's own
// origin.
package dashboard

import (
	"context"
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"html/template"
	"io/fs"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/stellarfw/stellar-go/cache"
	"github.com/stellarfw/stellar-go/chat"
	"github.com/stellarfw/stellar-go/cluster"
	"github.com/stellarfw/stellar-go/task"
)

// Path is where the dashboard is served; everything below it is its own.
const Path = "/dashboard"

// DefaultInterval is how often an open page gets a new picture of the
// cluster, unless Options.Interval says otherwise.
const DefaultInterval = 500 * time.Millisecond

// Options are what the dashboard reads and changes.
type Options struct {
	// Token is the credential. New panics when it is empty: no token, no
	// dashboard.
	Token string
	// NodeID is the node serving the dashboard.
	NodeID string
	// Inspector reads and changes the queues of the whole cluster.
	Inspector *task.Inspector
	// Tasks, when set, lists the periodic tasks (those registered on this
	// node: every node of one program registers the same).
	Tasks *task.Manager
	// Cluster, when set, lists the live nodes and asks each for its
	// figures (HandleNodeInfo).
	Cluster *cluster.Cluster
	// Chat, when set, lists the chat rooms and their members.
	Chat *chat.Chat
	// Cache, when set, lists the cache locks.
	Cache *cache.Cache
	// Logger logs refused requests (info) and failed reads (warn).
	Logger *slog.Logger
	// Done closes when the node stops: the event streams end, so that
	// the HTTP server's drain does not wait for them.
	Done <-chan struct{}
	// Interval is how often an open page is updated. Default
	// DefaultInterval.
	Interval time.Duration
	// Now is the clock of the periodic tasks' next fire times. Default
	// time.Now.
	Now func() time.Time
}

// Dashboard serves the dashboard; it is an http.Handler for Path and
// everything below it.
type Dashboard struct {
	opts  Options
	log   *slog.Logger
	auth  auth
	mux   *http.ServeMux
	login *template.Template

	buildMu sync.Mutex // one build of the picture at a time
	rates   rates      // guarded by buildMu

	mu       sync.Mutex
	cached   []byte    // guarded by mu; the last picture, as JSON
	cachedAt time.Time // guarded by mu; when it was built (zero: stale)
	nodes    nodeCache // guarded by mu
}

//go:embed assets
var assets embed.FS

// New returns the dashboard of opts. It panics without a Token or an
// Inspector: the node wiring never builds one without them.
func New(opts Options) *Dashboard {
	if opts.Token == "" || opts.Inspector == nil {
		panic("dashboard: New needs a Token and an Inspector")
	}
	if opts.Interval <= 0 {
		opts.Interval = DefaultInterval
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	d := &Dashboard{
		opts:  opts,
		log:   opts.Logger,
		auth:  newAuth(opts.Token),
		login: template.Must(template.ParseFS(assets, "assets/login.html")),
		rates: rates{},
	}
	static, err := fs.Sub(assets, "assets")
	if err != nil {
		panic(err)
	}
	m := http.NewServeMux()
	m.Handle("GET "+Path+"/assets/", http.StripPrefix(Path+"/assets/", staticFiles(static)))
	m.HandleFunc("POST "+Path+"/login", d.serveLogin)
	m.HandleFunc("POST "+Path+"/logout", d.serveLogout)
	m.Handle("GET "+Path, d.guard(http.HandlerFunc(d.servePage)))
	m.Handle("GET "+Path+"/{$}", d.guard(http.HandlerFunc(d.servePage)))
	m.Handle("GET "+Path+"/api/events", d.guard(http.HandlerFunc(d.serveEvents)))
	m.Handle("GET "+Path+"/api/snapshot", d.guard(http.HandlerFunc(d.serveSnapshot)))
	for _, p := range parts {
		m.Handle("GET "+Path+"/api/"+p.name, d.guard(d.servePart(p)))
	}
	for _, a := range actions {
		m.Handle("POST "+Path+"/api/"+a.pattern, d.guard(d.serveAction(a)))
	}
	// Anything else below Path: the credential first, then 404 or 405.
	m.Handle(Path+"/", d.guard(http.HandlerFunc(d.serveNotFound)))
	d.mux = m
	return d
}

// Endpoints lists the data endpoints (GET, JSON) below Path, for tests
// and the docs.
func Endpoints() []string {
	out := []string{"/api/snapshot"}
	for _, p := range parts {
		out = append(out, "/api/"+p.name)
	}
	return out
}

// Serves reports whether path is the dashboard's.
func Serves(path string) bool {
	return path == Path || strings.HasPrefix(path, Path+"/")
}

// ServeHTTP serves the requests to Path and below.
func (d *Dashboard) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	h.Set("Content-Security-Policy", "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; "+
		"img-src 'self' data:; form-action 'self'; frame-ancestors 'none'; base-uri 'none'")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("X-Frame-Options", "DENY")
	h.Set("Referrer-Policy", "same-origin")
	d.mux.ServeHTTP(w, r)
}

// serveNotFound answers what the dashboard does not serve: 405 when
// another method would be served, else 404.
func (d *Dashboard) serveNotFound(w http.ResponseWriter, r *http.Request) {
	for _, m := range []string{http.MethodGet, http.MethodPost} {
		if m == r.Method {
			continue
		}
		other := r.Clone(r.Context())
		other.Method = m
		if _, pattern := d.mux.Handler(other); pattern != Path+"/" {
			w.Header().Set("Allow", m)
			d.fail(w, r, http.StatusMethodNotAllowed, "method_not_allowed", fmt.Errorf("%s %s: use %s", r.Method, r.URL.Path, m))
			return
		}
	}
	d.fail(w, r, http.StatusNotFound, "not_found", fmt.Errorf("the dashboard has nothing at %s", r.URL.Path))
}

// staticFiles serves the embedded assets (no directory listings).
func staticFiles(fsys fs.FS) http.Handler {
	files := http.FileServerFS(fsys)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "" || strings.HasSuffix(r.URL.Path, "/") || strings.HasSuffix(r.URL.Path, ".html") {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Cache-Control", "no-cache")
		files.ServeHTTP(w, r)
	})
}

// servePage serves the dashboard's page.
func (d *Dashboard) servePage(w http.ResponseWriter, r *http.Request) {
	b, err := assets.ReadFile("assets/index.html")
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	_, _ = w.Write(b)
}

// serveSnapshot answers the whole picture at once.
func (d *Dashboard) serveSnapshot(w http.ResponseWriter, r *http.Request) {
	b, err := d.picture(r.Context())
	if err != nil {
		d.fail(w, r, http.StatusServiceUnavailable, "unavailable", err)
		return
	}
	writeJSONBytes(w, http.StatusOK, b)
}

// servePart answers one part of the picture, read afresh.
func (d *Dashboard) servePart(p part) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx, cancel := context.WithTimeout(r.Context(), readTimeout)
		defer cancel()
		var s Snapshot
		d.buildMu.Lock()
		err := p.fill(d, ctx, &s)
		d.buildMu.Unlock()
		if err != nil {
			d.fail(w, r, http.StatusServiceUnavailable, "unavailable", err)
			return
		}
		writeJSON(w, http.StatusOK, p.view(&s))
	})
}

// errorBody is the JSON of an error answer.
type errorBody struct {
	Error struct {
		Code    string `json:"code"`
		Message string `json:"message"`
	} `json:"error"`
}

// fail answers an error as JSON. Server-side failures are logged at
// warn; what the client got wrong at info.
func (d *Dashboard) fail(w http.ResponseWriter, r *http.Request, status int, code string, err error) {
	level := slog.LevelInfo
	if status >= 500 {
		level = slog.LevelWarn
	}
	d.log.Log(r.Context(), level, "dashboard: request failed", "method", r.Method, "path", r.URL.Path,
		"status", status, "error", err.Error())
	var body errorBody
	body.Error.Code, body.Error.Message = code, err.Error()
	writeJSON(w, status, body)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		status = http.StatusInternalServerError
		b = []byte(`{"error":{"code":"internal_error","message":"encoding the answer failed"}}`)
	}
	writeJSONBytes(w, status, b)
}

func writeJSONBytes(w http.ResponseWriter, status int, b []byte) {
	h := w.Header()
	h.Set("Content-Type", "application/json; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_, _ = w.Write(b)
	_, _ = w.Write([]byte("\n"))
}

// readTimeout bounds one build of the picture or of one part.
const readTimeout = 3 * time.Second

// picture returns the whole picture as JSON: the cached one while it is
// younger than half the interval, else a new one. Builds are shared: one at a time, whoever asks.
func (d *Dashboard) picture(ctx context.Context) ([]byte, error) {
	maxAge := d.opts.Interval / 2
	d.mu.Lock()
	b, at := d.cached, d.cachedAt
	d.mu.Unlock()
	if b != nil && !at.IsZero() && time.Since(at) < maxAge {
		return b, nil
	}
	d.buildMu.Lock()
	defer d.buildMu.Unlock()
	d.mu.Lock()
	b, at = d.cached, d.cachedAt
	d.mu.Unlock()
	if b != nil && !at.IsZero() && time.Since(at) < maxAge {
		return b, nil // built while this one waited
	}
	// The build is shared: it does not end with the request that asked.
	bctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), readTimeout)
	defer cancel()
	s := d.build(bctx)
	nb, err := json.Marshal(s)
	if err != nil {
		return nil, err
	}
	d.mu.Lock()
	d.cached, d.cachedAt = nb, time.Now()
	d.mu.Unlock()
	if len(s.Errors) == len(parts) && len(parts) > 0 {
		return nb, errors.New(s.Errors[0].Error)
	}
	return nb, nil
}

// invalidate makes the next picture a new one, after an action.
func (d *Dashboard) invalidate() {
	d.mu.Lock()
	d.cachedAt = time.Time{}
	d.nodes.at = time.Time{}
	d.mu.Unlock()
}
