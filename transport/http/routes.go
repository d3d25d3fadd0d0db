package http

import (
	"fmt"
	"net/http"
	"strings"
	"sync"
)

// Route methods, as in Stellar's routes.json.
const (
	MethodAll = "all"
)

// Routes is a RESTful route table mapping paths such as "/users/:id" to
// actions. Routes are tried in the order they were added; the first whose
// method and path match wins. It is safe for concurrent use.
type Routes struct {
	mu     sync.RWMutex
	routes []route // guarded by mu
}

type route struct {
	method   string // upper-case HTTP method, or "" for all
	pattern  string
	segments []string
	action   string
	version  int
}

// Add maps method (get, post, put, patch, delete or all) and path to the
// action, pinned to version (0: newest).
func (rt *Routes) Add(method, path, action string, version int) error {
	m := strings.ToLower(strings.TrimSpace(method))
	switch m {
	case "get", "post", "put", "patch", "delete":
		m = strings.ToUpper(m)
	case MethodAll:
		m = ""
	default:
		return fmt.Errorf("http: route %s %s: method must be get, post, put, patch, delete or all", method, path)
	}
	if !strings.HasPrefix(path, "/") {
		return fmt.Errorf("http: route %s %s: path must start with /", method, path)
	}
	if action == "" {
		return fmt.Errorf("http: route %s %s: no action", method, path)
	}
	if version < 0 {
		return fmt.Errorf("http: route %s %s: negative apiVersion", method, path)
	}
	segs := splitPath(path)
	seen := map[string]bool{}
	for _, s := range segs {
		if strings.HasPrefix(s, ":") {
			name := s[1:]
			if name == "" {
				return fmt.Errorf("http: route %s %s: empty parameter name", method, path)
			}
			if seen[name] {
				return fmt.Errorf("http: route %s %s: parameter %q appears twice", method, path, name)
			}
			seen[name] = true
		}
	}
	rt.mu.Lock()
	defer rt.mu.Unlock()
	rt.routes = append(rt.routes, route{method: m, pattern: path, segments: segs, action: action, version: version})
	return nil
}

// List returns the routes in the order they are tried.
func (rt *Routes) List() []Route {
	rt.mu.RLock()
	defer rt.mu.RUnlock()
	out := make([]Route, len(rt.routes))
	for i, r := range rt.routes {
		m := strings.ToLower(r.method)
		if m == "" {
			m = MethodAll
		}
		out[i] = Route{Method: m, Path: r.pattern, Action: r.action, Version: r.version}
	}
	return out
}

// Get maps GET path to action.
func (rt *Routes) Get(path, action string) error { return rt.Add("get", path, action, 0) }

// Post maps POST path to action.
func (rt *Routes) Post(path, action string) error { return rt.Add("post", path, action, 0) }

// Put maps PUT path to action.
func (rt *Routes) Put(path, action string) error { return rt.Add("put", path, action, 0) }

// Patch maps PATCH path to action.
func (rt *Routes) Patch(path, action string) error { return rt.Add("patch", path, action, 0) }

// Delete maps DELETE path to action.
func (rt *Routes) Delete(path, action string) error { return rt.Add("delete", path, action, 0) }

// All maps every method on path to action.
func (rt *Routes) All(path, action string) error { return rt.Add(MethodAll, path, action, 0) }

// match finds the route for method and path. It returns the route, its
// path parameters, and whether the path matched only for other methods.
func (rt *Routes) match(method, path string) (r route, params map[string]string, found, otherMethod bool) {
	segs := splitPath(path)
	rt.mu.RLock()
	defer rt.mu.RUnlock()
	for _, candidate := range rt.routes {
		p, ok := candidate.matchPath(segs)
		if !ok {
			continue
		}
		if candidate.method != "" && candidate.method != method &&
			!(candidate.method == http.MethodGet && method == http.MethodHead) {
			otherMethod = true
			continue
		}
		return candidate, p, true, false
	}
	return route{}, nil, false, otherMethod
}

func (r route) matchPath(segs []string) (map[string]string, bool) {
	if len(segs) != len(r.segments) {
		return nil, false
	}
	var params map[string]string
	for i, s := range r.segments {
		if strings.HasPrefix(s, ":") {
			if params == nil {
				params = make(map[string]string)
			}
			params[s[1:]] = segs[i]
			continue
		}
		if s != segs[i] {
			return nil, false
		}
	}
	return params, true
}

func splitPath(p string) []string {
	p = strings.Trim(p, "/")
	if p == "" {
		return nil
	}
	return strings.Split(p, "/")
}
