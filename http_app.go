package stellar

import (
	"fmt"
	"net/http"
	"slices"
	"strings"

	"github.com/stellarfw/stellar-go/internal/node"
)

// Handle mounts h on the node's HTTP listener at pattern, a net/http
// ServeMux pattern ("/hooks/", "GET /items/{id}", …): a request it
// matches is served by h, before the actions and the files. Register
// handlers before Start. Start fails when a pattern takes a request meant
// for the node: the action path or an action below it, /healthz, /readyz,
// the metrics, the WebSocket endpoint, the OpenAPI document or, with
// http.pprof, the profiler. Like http.ServeMux.Handle, it panics on a
// malformed pattern or one registered already, and it panics after Start.
func (a *App) Handle(pattern string, h http.Handler) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.state != stateNew {
		panic("stellar: Handle(" + pattern + ") called after Start")
	}
	if a.http.Mux == nil {
		a.http.Mux = http.NewServeMux()
	}
	a.http.Mux.Handle(pattern, h)
	a.http.Patterns = append(a.http.Patterns, pattern)
}

// Mount serves h for every request, by any method, to prefix or below
// it ("/legacy" takes /legacy, /legacy/ and /legacy/x/y), with prefix
// taken off the path that h sees: "/" for the prefix itself, "/x/y"
// below it. It registers through Handle, so the same rules hold: before
// the actions and the files, the same collision checks at Start, a
// panic after Start or on a prefix mounted already. The prefix is a
// literal path: it must start with "/", not be "/" alone, and hold no
// ServeMux wildcard ({…}) or space.
func (a *App) Mount(prefix string, h http.Handler) {
	prefix = strings.TrimSuffix(prefix, "/")
	if prefix == "" || !strings.HasPrefix(prefix, "/") || strings.ContainsAny(prefix, "{} \t") {
		panic(fmt.Sprintf("stellar: Mount(%q): the prefix must be a literal path below /", prefix))
	}
	if h == nil {
		panic("stellar: Mount(" + prefix + ") with a nil handler")
	}
	stripped := http.StripPrefix(prefix, h)
	a.Handle(prefix+"/", stripped)
	a.Handle(prefix, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		r2 := *r
		u := *r.URL
		u.Path, u.RawPath = prefix+"/", ""
		r2.URL = &u
		stripped.ServeHTTP(w, &r2)
	}))
}

// Use wraps the node's whole HTTP handler in mw (net/http middleware:
// request ids, gzip, authentication, tracing…): every request of the
// HTTP listener goes through it, the node's own endpoints included. The
// first registered is the outermost. Register middleware before Start;
// Use panics after Start.
func (a *App) Use(mw func(http.Handler) http.Handler) {
	if mw == nil {
		panic("stellar: Use with a nil middleware")
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.state != stateNew {
		panic("stellar: Use called after Start")
	}
	a.http.Middleware = append(a.http.Middleware, mw)
}

// userHTTP is what Handle and Use registered.
func (a *App) userHTTP() node.HTTP {
	a.mu.Lock()
	defer a.mu.Unlock()
	h := a.http
	h.Patterns = slices.Clone(h.Patterns)
	h.Middleware = slices.Clone(h.Middleware)
	return h
}
