package node

import (
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"strings"

	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/stellarfw/stellar-go/connection"
	"github.com/stellarfw/stellar-go/internal/dashboard"
	"github.com/stellarfw/stellar-go/internal/metrics"
	"github.com/stellarfw/stellar-go/internal/profiler"
	httpt "github.com/stellarfw/stellar-go/transport/http"
	"github.com/stellarfw/stellar-go/transport/ws"
)

// HTTP is the user's own HTTP on the node's listener: the handlers of
// App.Handle and the middleware of App.Use.
type HTTP struct {
	// Mux holds the handlers, tried before the actions and the files;
	// Patterns lists its patterns. Nil for none.
	Mux      *http.ServeMux
	Patterns []string
	// Middleware wraps the whole HTTP handler, the first outermost.
	Middleware []func(http.Handler) http.Handler
}

// ErrHandlerCollides means a pattern of App.Handle would take requests
// meant for the node's own endpoints or its actions.
var ErrHandlerCollides = errors.New("stellar: an HTTP handler collides with the node's own")

// httpHandlers returns the exact-path handlers of the HTTP server (the
// WebSocket endpoint, its browser client, the metrics) and the wrap that
// mounts the user's handlers, the profiler and the middleware around the
// server, and counts its requests. It fails when two of the node's own
// paths are one, or when a user's pattern takes a request meant for the
// node.
func (n *Node) httpHandlers() (map[string]http.Handler, func(http.Handler) http.Handler, error) {
	cfg, p := n.cfg, n.parts
	handlers := map[string]http.Handler{}
	// own lists the node's endpoints, for the collision checks and the
	// metrics' route label.
	own := []endpoint{{"/healthz", "the health check"}, {"/readyz", "the readiness check"}}
	add := func(path, what string, h http.Handler) error {
		for _, e := range own {
			if e.path == path {
				return fmt.Errorf("stellar: %s and %s are both at %s", e.what, what, path)
			}
		}
		own = append(own, endpoint{path, what})
		if h != nil {
			handlers[path] = h
		}
		return nil
	}
	if op := cfg.HTTP.OpenAPIPath; op != "" && op != "off" {
		if err := add(op, "the OpenAPI document (http.openapi_path)", nil); err != nil {
			return nil, nil, err
		}
	}
	if n.ws != nil {
		if err := add(n.ws.Path(), "the WebSocket endpoint (websocket.path)", n.ws); err != nil {
			return nil, nil, err
		}
		if err := add(ws.ClientPath, "the browser client", ws.ClientHandler(n.ws.Path())); err != nil {
			return nil, nil, err
		}
	}
	if mp := cfg.HTTP.MetricsPath; mp != "" && mp != "off" && p.Metrics != nil {
		h := promhttp.HandlerFor(p.Metrics, promhttp.HandlerOpts{
			ErrorLog:      promLogger{n.log},
			ErrorHandling: promhttp.ContinueOnError,
		})
		if err := add(mp, "the metrics (http.metrics_path)", h); err != nil {
			return nil, nil, err
		}
	}
	// The exact paths label the requests to them; the profiler labels
	// its own (mount).
	paths := make([]string, 0, len(own))
	for _, e := range own {
		paths = append(paths, e.path)
	}
	probes := slices.Clone(own)
	var prof http.Handler
	if cfg.HTTP.Pprof {
		prof = profiler.Handler(cfg.HTTP.WriteTimeout)
		probes = append(probes, endpoint{profiler.Prefix, "the profiler (http.pprof)"}, endpoint{profiler.Prefix + "profile", "the profiler (http.pprof)"})
	}
	dash, err := n.dashboard(own)
	if err != nil {
		return nil, nil, err
	}
	if dash != nil {
		what := "the dashboard (dashboard.token)"
		probes = append(probes, endpoint{dashboard.Path, what}, endpoint{dashboard.Path + "/", what}, endpoint{dashboard.Path + "/api/snapshot", what})
	}

	if u := p.HTTP.Mux; u != nil {
		probes = append(probes, n.actionProbes()...)
		for _, e := range probes {
			if pattern, ok := takes(u, e.path); ok {
				return nil, nil, fmt.Errorf("%w: pattern %q takes %s, %s", ErrHandlerCollides, pattern, e.path, e.what)
			}
		}
		if dash != nil {
			for _, pattern := range p.HTTP.Patterns {
				if path := patternPath(pattern); dashboard.Serves(path) {
					return nil, nil, fmt.Errorf("%w: pattern %q is under the dashboard's path %s (dashboard.token)", ErrHandlerCollides, pattern, dashboard.Path)
				}
			}
		}
		if ap := cfg.HTTP.ActionPath; ap != "" && ap != "off" {
			for _, pattern := range p.HTTP.Patterns {
				if path := patternPath(pattern); path != "" && underPath(path, ap) {
					return nil, nil, fmt.Errorf("%w: pattern %q is under the action path %s (http.action_path)", ErrHandlerCollides, pattern, ap)
				}
			}
		}
	}

	mw, m := p.HTTP.Middleware, n.metrics
	wrap := func(next http.Handler) http.Handler {
		h := next
		if p.HTTP.Mux != nil || prof != nil || dash != nil {
			h = &mount{user: p.HTTP.Mux, pprof: prof, dash: dash, next: next}
		}
		for i := len(mw) - 1; i >= 0; i-- {
			h = mw[i](h)
		}
		if m != nil {
			h = m.HTTP(h, paths)
		}
		return h
	}
	return handlers, wrap, nil
}

// endpoint is a path the node serves and what it is there.
type endpoint struct{ path, what string }

// actionProbes are paths that reach actions, for the collision checks:
// the action path and an action below it, and, when actions are served
// at the root, each action and route there.
func (n *Node) actionProbes() []endpoint {
	var out []endpoint
	names := map[string]bool{}
	for _, a := range n.parts.Actions.List() {
		names[a.Name] = true
	}
	if ap := n.cfg.HTTP.ActionPath; ap != "" && ap != "off" {
		ap = strings.TrimSuffix(ap, "/")
		what := "the action path (http.action_path)"
		out = append(out, endpoint{ap, what}, endpoint{ap + "/", what}, endpoint{ap + "/x", what})
		for name := range names {
			out = append(out, endpoint{ap + "/" + name, fmt.Sprintf("the action %q", name)})
		}
	}
	if n.cfg.HTTP.RootEndpointType == httpt.RootAPI {
		out = append(out, endpoint{"/", "the actions at the root (http.root_endpoint_type api)"})
		for name := range names {
			out = append(out, endpoint{"/" + name, fmt.Sprintf("the action %q", name)})
		}
		routes := n.parts.Routes.List()
		for _, r := range n.cfg.HTTP.Routes {
			routes = append(routes, httpt.Route{Method: r.Method, Path: r.Path, Action: r.Action})
		}
		for _, r := range routes {
			out = append(out, endpoint{routeProbe(r.Path), fmt.Sprintf("the route %s to %q", r.Path, r.Action)})
		}
	}
	return out
}

// probeMethods are the methods a collision is looked for with (GET
// covers HEAD).
var probeMethods = []string{http.MethodGet, http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete}

// takes reports whether mux has a handler for a request to path, by any
// of probeMethods, and its pattern.
func takes(mux *http.ServeMux, path string) (string, bool) {
	for _, m := range probeMethods {
		r := &http.Request{Method: m, URL: &url.URL{Path: path}, Header: http.Header{}}
		if _, pattern := mux.Handler(r); pattern != "" {
			return pattern, true
		}
	}
	return "", false
}

// patternPath is the path of a ServeMux pattern ("[METHOD ][HOST]/PATH").
func patternPath(pattern string) string {
	rest := strings.TrimSpace(pattern)
	if i := strings.IndexAny(rest, " \t"); i >= 0 {
		rest = strings.TrimSpace(rest[i:])
	}
	if i := strings.IndexByte(rest, '/'); i >= 0 {
		return rest[i:]
	}
	return ""
}

// underPath reports whether path is prefix or below it.
func underPath(path, prefix string) bool {
	prefix = strings.TrimSuffix(prefix, "/")
	return path == prefix || strings.HasPrefix(path, prefix+"/")
}

// routeProbe is a path a route pattern matches: each :param, :param(re)
// and *tail becomes x.
func routeProbe(pattern string) string {
	segs := strings.Split(pattern, "/")
	for i, s := range segs {
		if strings.HasPrefix(s, ":") || strings.HasPrefix(s, "*") {
			segs[i] = "x"
		}
	}
	return strings.Join(segs, "/")
}

// mount serves the profiler, the dashboard and the user's handlers
// before the node's HTTP server.
type mount struct {
	user  *http.ServeMux // nil for none
	pprof http.Handler   // nil unless http.pprof
	dash  http.Handler   // nil unless dashboard.token
	next  http.Handler
}

func (m *mount) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if m.pprof != nil && strings.HasPrefix(r.URL.Path, profiler.Prefix) {
		metrics.SetRoute(r.Context(), profiler.Prefix)
		m.pprof.ServeHTTP(w, r)
		return
	}
	if m.dash != nil && dashboard.Serves(r.URL.Path) {
		metrics.SetRoute(r.Context(), dashboard.Path)
		m.dash.ServeHTTP(w, r)
		return
	}
	if m.user != nil {
		if _, pattern := m.user.Handler(r); pattern != "" {
			metrics.SetRoute(r.Context(), pattern)
			m.user.ServeHTTP(w, r) // sets the request's pattern and path values
			return
		}
	}
	m.next.ServeHTTP(w, r)
}

// promLogger logs the errors of a scrape.
type promLogger struct{ log *slog.Logger }

func (l promLogger) Println(v ...any) { l.log.Warn("serving metrics", "error", fmt.Sprint(v...)) }

// dashboard is the dashboard when dashboard.token is set, else nil. It
// fails when one of the node's own paths (own) or of its actions lies
// below the dashboard's path, which it would hide.
func (n *Node) dashboard(own []endpoint) (http.Handler, error) {
	cfg, p := n.cfg, n.parts
	if cfg.Dashboard.Token == "" {
		return nil, nil
	}
	for _, e := range append(slices.Clone(own), n.actionProbes()...) {
		if dashboard.Serves(e.path) {
			return nil, fmt.Errorf("%w: the dashboard (dashboard.token) is at %s, and so is %s", ErrHandlerCollides, dashboard.Path, e.what)
		}
	}
	return dashboard.New(dashboard.Options{
		Token:     cfg.Dashboard.Token,
		NodeID:    cfg.ID,
		Inspector: n.inspector,
		Tasks:     p.Tasks,
		Cluster:   p.Cluster,
		Chat:      p.Chat,
		Cache:     n.cache,
		Logger:    n.log,
		Done:      n.life.Done(),
		Now:       p.Now,
	}), nil
}

// nodeInfo is what this node tells the dashboards of the cluster about
// itself.
func (n *Node) nodeInfo() dashboard.NodeInfo {
	p := n.parts
	in := dashboard.NodeInfo{
		ID:          n.cfg.ID,
		Framework:   p.Version,
		Concurrency: max(n.cfg.Tasks.Workers, 0),
		Connections: map[string]int{
			"tcp":       p.Connections.Len(connection.TypeTCP),
			"websocket": p.Connections.Len(connection.TypeWebSocket),
		},
	}
	if p.Tasks != nil {
		in.TasksRunning = p.Tasks.Running()
	}
	if p.Cluster != nil {
		in.Dropped, in.LateReplies = p.Cluster.Dropped(), p.Cluster.LateReplies()
	}
	if n.http != nil {
		in.HTTPAddr, in.HTTPInFlight = n.http.Addr().String(), n.http.InFlight()
	}
	if n.tcp != nil {
		in.TCPAddr = n.tcp.Addr().String()
	}
	return in
}
