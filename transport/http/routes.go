package http

import (
	"errors"
	"fmt"
	"net/http"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
)

// Route methods, as in Stellar's routes.json.
const (
	MethodAll = "all"
)

// ErrRouteCollides means a route can never match: a route tried before
// it takes every request it would.
var ErrRouteCollides = errors.New("http: route collides with an earlier one")

// Routes is a RESTful route table mapping path patterns to actions.
// Routes are tried in the order they were added; the first whose method
// and path match wins. It is safe for concurrent use.
//
// A pattern is a path of segments, each one of:
//
//   - a literal, matched exactly: /users
//   - a parameter, :name, matching any one segment: /users/:id
//   - a constrained parameter, :name(regexp), matching a segment that the
//     RE2 regular expression matches whole: /users/:id([0-9]+)
//   - a wildcard tail, *name, last only, matching the rest of the path,
//     slashes included, possibly empty: /files/*path
//
// Parameters become request params. A route that can never match
// because an earlier one takes all its requests is refused with
// ErrRouteCollides: by Add within one table, and at Listen across the
// code routes and Config.Routes.
type Routes struct {
	mu     sync.Mutex              // serialises writers
	routes atomic.Pointer[[]route] // copied on write; readers take no lock
}

type segKind uint8

const (
	segLiteral segKind = iota
	segParam
	segWildcard
)

// segment is one segment of a pattern.
type segment struct {
	kind   segKind
	text   string         // the literal, or the parameter's name
	re     *regexp.Regexp // the constraint of a parameter, nil for none
	reSrc  string         // its source, as written
	digits bool           // the constraint is [0-9]+ or \d+, matched without re
}

type route struct {
	method   string // upper-case HTTP method, or "" for all
	pattern  string
	segments []segment
	fixed    int    // segments before a wildcard tail, or all of them
	lead     string // the first segment when it is a literal, and the slash after it when a fixed one follows
	wild     bool   // the last segment is a wildcard
	action   string
	version  int
	mw       []func(http.Handler) http.Handler // of the route's group, outermost first
}

// param is one path parameter of a match.
type param struct{ name, value string }

// Add maps method (get, post, put, patch, delete or all) and path, a
// pattern, to the action, pinned to version (0: newest).
func (rt *Routes) Add(method, path, action string, version int) error {
	return rt.add(method, path, action, version, nil, true)
}

// add adds a route; check refuses one that an earlier one covers.
func (rt *Routes) add(method, path, action string, version int, mw []func(http.Handler) http.Handler, check bool) error {
	r, err := newRoute(method, path, action, version)
	if err != nil {
		return err
	}
	r.mw = mw
	rt.mu.Lock()
	defer rt.mu.Unlock()
	old := rt.load()
	for i := range old {
		if check && covers(&old[i], &r) {
			return collision(&old[i], &r, "added before it")
		}
	}
	next := make([]route, len(old), len(old)+1)
	copy(next, old)
	next = append(next, r)
	rt.routes.Store(&next)
	return nil
}

func (rt *Routes) load() []route {
	if p := rt.routes.Load(); p != nil {
		return *p
	}
	return nil
}

// newRoute checks and parses one route.
func newRoute(method, path, action string, version int) (route, error) {
	m := strings.ToLower(strings.TrimSpace(method))
	switch m {
	case "get", "post", "put", "patch", "delete":
		m = strings.ToUpper(m)
	case MethodAll:
		m = ""
	default:
		return route{}, fmt.Errorf("http: route %s %s: method must be get, post, put, patch, delete or all", method, path)
	}
	if action == "" {
		return route{}, fmt.Errorf("http: route %s %s: no action", method, path)
	}
	if version < 0 {
		return route{}, fmt.Errorf("http: route %s %s: negative apiVersion", method, path)
	}
	segs, err := parsePattern(path)
	if err != nil {
		return route{}, fmt.Errorf("http: route %s %s: %w", method, path, err)
	}
	r := route{method: m, pattern: path, segments: segs, fixed: len(segs), action: action, version: version}
	if n := len(segs); n > 0 && segs[n-1].kind == segWildcard {
		r.wild, r.fixed = true, n-1
	}
	if len(segs) > 0 && segs[0].kind == segLiteral {
		r.lead = segs[0].text
		if r.fixed > 1 {
			r.lead += "/"
		}
	}
	return r, nil
}

// CheckPattern reports whether path is a well-formed route pattern, and
// what is wrong with it if not.
func CheckPattern(path string) error {
	_, err := parsePattern(path)
	return err
}

// parsePattern splits a route pattern into its segments.
func parsePattern(path string) ([]segment, error) {
	if !strings.HasPrefix(path, "/") {
		return nil, errors.New("path must start with /")
	}
	parts := splitPath(path)
	segs := make([]segment, 0, len(parts))
	seen := map[string]bool{}
	for i, s := range parts {
		var seg segment
		switch {
		case strings.HasPrefix(s, ":"):
			name, constraint, hasConstraint := strings.Cut(s[1:], "(")
			seg = segment{kind: segParam, text: name}
			if hasConstraint {
				if !strings.HasSuffix(constraint, ")") {
					return nil, fmt.Errorf("segment %q: a constraint is :name(regexp), ending the segment, and holds no /", s)
				}
				src := constraint[:len(constraint)-1]
				if src == "" {
					return nil, fmt.Errorf("segment %q: empty constraint", s)
				}
				re, err := regexp.Compile(`^(?:` + src + `)$`)
				if err != nil {
					return nil, fmt.Errorf("segment %q: bad constraint: %w", s, err)
				}
				seg.re, seg.reSrc = re, src
				seg.digits = src == "[0-9]+" || src == `\d+`
			}
		case strings.HasPrefix(s, "*"):
			if i != len(parts)-1 {
				return nil, fmt.Errorf("segment %q: a wildcard *name must be the last segment", s)
			}
			seg = segment{kind: segWildcard, text: s[1:]}
		default:
			if strings.ContainsAny(s, "()") {
				return nil, fmt.Errorf("segment %q: parentheses only follow a :name", s)
			}
			segs = append(segs, segment{kind: segLiteral, text: s})
			continue
		}
		if seg.text == "" {
			return nil, fmt.Errorf("segment %q: empty parameter name", s)
		}
		if strings.ContainsAny(seg.text, ":*()") {
			return nil, fmt.Errorf("segment %q: a parameter name holds none of : * ( )", s)
		}
		if seen[seg.text] {
			return nil, fmt.Errorf("parameter %q appears twice", seg.text)
		}
		seen[seg.text] = true
		segs = append(segs, seg)
	}
	return segs, nil
}

// covers reports whether a, tried first, takes every request that b
// would match, so that b can never match.
func covers(a, b *route) bool {
	if a.method != "" && a.method != b.method {
		return false
	}
	for i := range a.segments {
		as := &a.segments[i]
		if as.kind == segWildcard {
			return true // a takes the rest, whatever b has there
		}
		if i >= len(b.segments) {
			return false // b is shorter: a needs a segment b's requests lack
		}
		bs := &b.segments[i]
		if bs.kind == segWildcard {
			return false // b matches paths of any length, a of one only
		}
		switch {
		case as.kind == segLiteral:
			if bs.kind != segLiteral || bs.text != as.text {
				return false
			}
		case as.re == nil:
			// An unconstrained parameter takes any one segment.
		case bs.kind == segLiteral:
			if !as.matches(bs.text) {
				return false
			}
		case bs.re == nil || bs.reSrc != as.reSrc:
			return false // which constraint is wider is not worked out: assume none
		}
	}
	return len(a.segments) == len(b.segments)
}

func collision(earlier, later *route, where string) error {
	return fmt.Errorf("%w: %s %s to %q can never match: %s %s to %q, %s, takes every request it would (add the more specific route first)",
		ErrRouteCollides, later.methodName(), later.pattern, later.action, earlier.methodName(), earlier.pattern, earlier.action, where)
}

func (r *route) methodName() string {
	if r.method == "" {
		return "ALL"
	}
	return r.method
}

// CheckRoutes reports the first route of code routes then config routes
// (the order a server tries them in) that can never match because one
// before it takes all its requests, or that is malformed.
func CheckRoutes(code *Routes, cfg []Route) error {
	var all []route
	if code != nil {
		all = append(all, code.load()...)
	}
	ncode := len(all)
	for i, c := range cfg {
		r, err := newRoute(c.Method, c.Path, c.Action, c.Version)
		if err != nil {
			return err
		}
		for j := range all {
			if covers(&all[j], &r) {
				where := "added by the program"
				if j >= ncode {
					where = fmt.Sprintf("http.routes[%d]", j-ncode)
				}
				return fmt.Errorf("http.routes[%d]: %w", i, collision(&all[j], &r, where))
			}
		}
		all = append(all, r)
	}
	return nil
}

// List returns the routes in the order they are tried.
func (rt *Routes) List() []Route {
	routes := rt.load()
	out := make([]Route, len(routes))
	for i, r := range routes {
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

// Group returns a group of routes of rt whose patterns start with
// prefix (a pattern itself: "/admin", "/teams/:team") and whose requests
// pass through mw (net/http middleware, the first outermost) before their
// action runs, after the request body is admitted. Groups nest.
func (rt *Routes) Group(prefix string, mw ...func(http.Handler) http.Handler) *Group {
	g := &Group{rt: rt}
	return g.Group(prefix, mw...)
}

// Group is a set of routes of one table sharing a path prefix and
// middleware; see Routes.Group.
type Group struct {
	rt     *Routes
	prefix string
	mw     []func(http.Handler) http.Handler
	err    error // of a malformed prefix, returned by every Add
}

// Group returns a group nested in g: its prefix follows g's and its
// middleware runs inside g's.
func (g *Group) Group(prefix string, mw ...func(http.Handler) http.Handler) *Group {
	ng := &Group{rt: g.rt, err: g.err, mw: append(append([]func(http.Handler) http.Handler(nil), g.mw...), mw...)}
	for _, m := range mw {
		if m == nil && ng.err == nil {
			ng.err = fmt.Errorf("http: route group %s: nil middleware", prefix)
		}
	}
	switch {
	case ng.err != nil:
	case !strings.HasPrefix(prefix, "/"):
		ng.err = fmt.Errorf("http: route group %q: prefix must start with /", prefix)
	default:
		if segs, err := parsePattern(prefix); err != nil {
			ng.err = fmt.Errorf("http: route group %s: %w", prefix, err)
		} else if n := len(segs); n > 0 && segs[n-1].kind == segWildcard {
			ng.err = fmt.Errorf("http: route group %s: a prefix cannot end in a wildcard", prefix)
		}
	}
	ng.prefix = strings.TrimSuffix(g.prefix+strings.TrimSuffix(prefix, "/"), "/")
	return ng
}

// Add maps method and the group's prefix followed by path to the action,
// as Routes.Add does.
func (g *Group) Add(method, path, action string, version int) error {
	if g.err != nil {
		return g.err
	}
	if !strings.HasPrefix(path, "/") {
		return fmt.Errorf("http: route %s %s: path must start with /", method, path)
	}
	full := g.prefix + path
	if path == "/" && g.prefix != "" {
		full = g.prefix
	}
	return g.rt.add(method, full, action, version, g.mw, true)
}

// Get maps GET path to action.
func (g *Group) Get(path, action string) error { return g.Add("get", path, action, 0) }

// Post maps POST path to action.
func (g *Group) Post(path, action string) error { return g.Add("post", path, action, 0) }

// Put maps PUT path to action.
func (g *Group) Put(path, action string) error { return g.Add("put", path, action, 0) }

// Patch maps PATCH path to action.
func (g *Group) Patch(path, action string) error { return g.Add("patch", path, action, 0) }

// Delete maps DELETE path to action.
func (g *Group) Delete(path, action string) error { return g.Add("delete", path, action, 0) }

// All maps every method on path to action.
func (g *Group) All(path, action string) error { return g.Add(MethodAll, path, action, 0) }

// match finds the route for method and path, appending its parameters to
// params (a caller's buffer, so that a match allocates nothing). It
// returns nil and whether the path matched only for other methods when
// no route matches.
func (rt *Routes) match(method, path string, params []param) (r *route, out []param, otherMethod bool) {
	routes := rt.load()
	if len(routes) == 0 {
		return nil, params, false
	}
	path = strings.Trim(path, "/")
	n := 0
	if path != "" {
		n = strings.Count(path, "/") + 1
	}
	base := len(params)
	for i := range routes {
		c := &routes[i]
		if n < c.fixed || (!c.wild && n != c.fixed) || !strings.HasPrefix(path, c.lead) {
			continue
		}
		methodOK := c.method == "" || c.method == method ||
			(c.method == http.MethodGet && method == http.MethodHead)
		if !methodOK && otherMethod {
			continue // already known: no need to match the path again
		}
		var ok bool
		params, ok = c.matchPath(path, params[:base])
		if !ok {
			continue
		}
		if !methodOK {
			otherMethod = true
			continue
		}
		return c, params, false
	}
	return nil, params[:base], otherMethod
}

// matchPath matches path, trimmed of its slashes, against the route's
// segments, appending the parameters to params.
func (r *route) matchPath(path string, params []param) ([]param, bool) {
	rest, done := path, path == ""
	for i := range r.segments {
		s := &r.segments[i]
		if s.kind == segWildcard {
			return append(params, param{s.text, rest}), true
		}
		if done {
			return params, false
		}
		var seg string
		if j := strings.IndexByte(rest, '/'); j >= 0 {
			seg, rest = rest[:j], rest[j+1:]
		} else {
			seg, rest, done = rest, "", true
		}
		switch {
		case s.kind == segLiteral:
			if seg != s.text {
				return params, false
			}
		case s.re != nil && !s.matches(seg):
			return params, false
		default:
			params = append(params, param{s.text, seg})
		}
	}
	return params, done
}

// matches reports whether v passes the segment's constraint.
func (s *segment) matches(v string) bool {
	if s.digits {
		if v == "" {
			return false
		}
		for i := 0; i < len(v); i++ {
			if v[i] < '0' || v[i] > '9' {
				return false
			}
		}
		return true
	}
	return s.re.MatchString(v)
}

func splitPath(p string) []string {
	p = strings.Trim(p, "/")
	if p == "" {
		return nil
	}
	return strings.Split(p, "/")
}
