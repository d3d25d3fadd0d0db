package http

import (
	"bufio"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strings"
	"testing"

	"github.com/stellarfw/stellar-go/action"
	"github.com/stellarfw/stellar-go/apierror"
	"github.com/stellarfw/stellar-go/internal/logging"
)

// TestRouteWildcardsAndConstraints: over a real listener, a wildcard tail
// takes the rest of the path, slashes included, and a constrained
// parameter only the segments its regexp matches whole, leaving the
// others to later routes.
func TestRouteWildcardsAndConstraints(t *testing.T) {
	s := startServer(t, testConfig())
	rt := s.opts.Routes
	for _, r := range [][2]string{
		{"/users/:id([0-9]+)", "echo"},
		{"/users/:name([a-z]+)", "echo"},
		{"/files/*path", "echo"},
		{"/v/:major(\\d+)/:rest(v[0-9]+)", "echo"},
	} {
		if err := rt.Get(r[0], r[1]); err != nil {
			t.Fatal(err)
		}
	}
	for _, tc := range []struct {
		path   string
		status int
		route  string
		params map[string]string
	}{
		{"/api/users/42", 200, "/users/:id([0-9]+)", map[string]string{"id": "42"}},
		{"/api/users/ada", 200, "/users/:name([a-z]+)", map[string]string{"name": "ada"}},
		{"/api/users/Ada", 404, "", nil}, // neither constraint matches
		{"/api/users/42x", 404, "", nil}, // a constraint matches the whole segment
		{"/api/files/a/b/c.txt", 200, "/files/*path", map[string]string{"path": "a/b/c.txt"}},
		{"/api/files/", 200, "/files/*path", map[string]string{"path": ""}},
		{"/api/files", 200, "/files/*path", map[string]string{"path": ""}},
		{"/api/v/2/v10", 200, "/v/:major(\\d+)/:rest(v[0-9]+)", map[string]string{"major": "2", "rest": "v10"}},
		{"/api/v/two/v10", 404, "", nil},
	} {
		t.Run(tc.path, func(t *testing.T) {
			r := get(t, s.url+tc.path)
			if r.status != tc.status {
				t.Fatalf("status %d, want %d: %s", r.status, tc.status, r.raw)
			}
			if tc.status != 200 {
				if errorCode(r) != apierror.CodeNotFound {
					t.Fatalf("code %q, want not_found", errorCode(r))
				}
				return
			}
			if r.body["route"] != tc.route {
				t.Errorf("route %v, want %s", r.body["route"], tc.route)
			}
			for k, v := range tc.params {
				if r.body[k] != v {
					t.Errorf("param %s = %v, want %q", k, r.body[k], v)
				}
			}
		})
	}
	if r := do(t, "POST", s.url+"/api/files/x", "", nil); r.status != 405 {
		t.Errorf("POST on a GET wildcard route: %d", r.status)
	}
}

// TestRouteGroups: a group's routes carry its prefix and run through its
// middleware, outer group first, and the middleware can answer the
// request itself before the body is read; routes outside the group do
// not pass through it.
func TestRouteGroups(t *testing.T) {
	s := startServer(t, testConfig())
	tag := func(name string) func(http.Handler) http.Handler {
		return func(next http.Handler) http.Handler {
			return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				w.Header().Add("X-Group", name)
				if r.Header.Get("X-Deny") == name {
					http.Error(w, "denied by "+name, http.StatusForbidden)
					return
				}
				next.ServeHTTP(w, r)
			})
		}
	}
	admin := s.opts.Routes.Group("/admin", tag("admin"))
	if err := admin.Get("/users/:id", "echo"); err != nil {
		t.Fatal(err)
	}
	if err := admin.Post("/", "echo"); err != nil {
		t.Fatal(err)
	}
	team := admin.Group("/teams/:team/", tag("team"))
	if err := team.Get("/members/:member", "echo"); err != nil {
		t.Fatal(err)
	}
	if err := s.opts.Routes.Get("/public/:id", "echo"); err != nil {
		t.Fatal(err)
	}

	r := get(t, s.url+"/api/admin/users/7")
	if r.status != 200 || r.body["id"] != "7" || r.body["route"] != "/admin/users/:id" {
		t.Fatalf("group route: %d %v", r.status, r.body)
	}
	if got := r.header.Values("X-Group"); strings.Join(got, ",") != "admin" {
		t.Errorf("X-Group = %v, want admin", got)
	}
	if r := do(t, "POST", s.url+"/api/admin", "", nil); r.status != 200 || r.body["route"] != "/admin" {
		t.Errorf("the group's own path: %d %v", r.status, r.body)
	}
	r = get(t, s.url+"/api/admin/teams/red/members/ann")
	if r.status != 200 || r.body["team"] != "red" || r.body["member"] != "ann" {
		t.Fatalf("nested group: %d %v", r.status, r.body)
	}
	if got := r.header.Values("X-Group"); strings.Join(got, ",") != "admin,team" {
		t.Errorf("X-Group = %v, want admin then team", got)
	}
	req, _ := http.NewRequest(http.MethodGet, s.url+"/api/admin/teams/red/members/ann", strings.NewReader(strings.Repeat("x", 1<<10)))
	req.Header.Set("X-Deny", "team")
	if r := send(t, req); r.status != 403 || !strings.Contains(r.raw, "denied by team") {
		t.Errorf("middleware answering: %d %s", r.status, r.raw)
	}
	// The middleware runs before the body is admitted: a body declared
	// over http.max_body_bytes is the middleware's to refuse first.
	for deny, want := range map[string]int{"team": 403, "": 413} {
		raw, err := net.Dial("tcp", s.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		fmt.Fprintf(raw, "GET /api/admin/teams/red/members/ann HTTP/1.1\r\nHost: x\r\nX-Deny: %s\r\nContent-Length: %d\r\n\r\n", deny, 2<<20)
		res, err := http.ReadResponse(bufio.NewReader(raw), nil)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		raw.Close()
		if res.StatusCode != want {
			t.Errorf("X-Deny %q with a body over the limit: %d, want %d", deny, res.StatusCode, want)
		}
	}
	r = get(t, s.url+"/api/public/1")
	if r.status != 200 || len(r.header.Values("X-Group")) != 0 {
		t.Errorf("route outside the group: %d %v", r.status, r.header)
	}

	for _, g := range []*Group{
		s.opts.Routes.Group("admin"),
		s.opts.Routes.Group("/files/*rest"),
		s.opts.Routes.Group("/x", nil),
		s.opts.Routes.Group("/bad(").Group("/fine"),
	} {
		if err := g.Get("/y", "echo"); err == nil {
			t.Errorf("group %q accepted a route", g.prefix)
		}
	}
}

// TestRouteCollisions: a route that an earlier one makes unreachable is
// refused by Add, and by Listen across the code routes and
// Config.Routes, naming both; routes that only overlap are accepted.
func TestRouteCollisions(t *testing.T) {
	for _, tc := range []struct {
		name           string
		earlier, later [2]string // method, path
		collide        bool
	}{
		{"same", [2]string{"get", "/users/:id"}, [2]string{"get", "/users/:id"}, true},
		{"renamed param", [2]string{"get", "/users/:id"}, [2]string{"get", "/users/:name"}, true},
		{"literal after param", [2]string{"get", "/users/:id"}, [2]string{"get", "/users/me"}, true},
		{"constrained after param", [2]string{"get", "/users/:id"}, [2]string{"get", "/users/:id([0-9]+)"}, true},
		{"same constraint", [2]string{"get", "/u/:id([0-9]+)"}, [2]string{"get", "/u/:n([0-9]+)"}, true},
		{"literal the constraint takes", [2]string{"get", "/u/:id([0-9]+)"}, [2]string{"get", "/u/42"}, true},
		{"under a wildcard", [2]string{"get", "/files/*p"}, [2]string{"get", "/files/a/:b"}, true},
		{"all before get", [2]string{"all", "/x"}, [2]string{"get", "/x"}, true},
		{"trailing slash", [2]string{"get", "/x/"}, [2]string{"get", "/x"}, true},
		{"literal first", [2]string{"get", "/users/me"}, [2]string{"get", "/users/:id"}, false},
		{"other method", [2]string{"get", "/x"}, [2]string{"post", "/x"}, false},
		{"get before all", [2]string{"get", "/x"}, [2]string{"all", "/x"}, false},
		{"literal the constraint leaves", [2]string{"get", "/u/:id([0-9]+)"}, [2]string{"get", "/u/me"}, false},
		{"other constraint", [2]string{"get", "/u/:id([0-9]+)"}, [2]string{"get", "/u/:id([0-9a-f]+)"}, false},
		{"wildcard after fixed", [2]string{"get", "/files/a"}, [2]string{"get", "/files/*p"}, false},
		{"longer", [2]string{"get", "/a/:b"}, [2]string{"get", "/a/:b/c"}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rt := &Routes{}
			if err := rt.Add(tc.earlier[0], tc.earlier[1], "echo", 0); err != nil {
				t.Fatal(err)
			}
			err := rt.Add(tc.later[0], tc.later[1], "echo", 0)
			if tc.collide != errors.Is(err, ErrRouteCollides) {
				t.Fatalf("Add: %v, want a collision: %v", err, tc.collide)
			}
			if err != nil && (!strings.Contains(err.Error(), tc.earlier[1]) || !strings.Contains(err.Error(), tc.later[1])) {
				t.Errorf("the error names not both routes: %v", err)
			}
			// The same pair split between the code and the config.
			code := &Routes{}
			if err := code.Add(tc.earlier[0], tc.earlier[1], "echo", 0); err != nil {
				t.Fatal(err)
			}
			cfg := testConfig()
			cfg.Routes = []Route{{Method: tc.later[0], Path: tc.later[1], Action: "echo"}}
			srv := New(Options{Config: cfg, Actions: action.NewRegistry(logging.Discard(), ""), Routes: code, Logger: logging.Discard()})
			err = srv.Listen()
			t.Cleanup(func() { _ = srv.Close() })
			if tc.collide != errors.Is(err, ErrRouteCollides) {
				t.Fatalf("Listen: %v, want a collision: %v", err, tc.collide)
			}
			if tc.collide && !strings.Contains(err.Error(), "http.routes[0]") {
				t.Errorf("the error does not name the config route: %v", err)
			}
		})
	}

	cfg := testConfig()
	cfg.Routes = []Route{{Method: "get", Path: "/a/:x", Action: "echo"}, {Method: "get", Path: "/a/b", Action: "echo"}}
	srv := New(Options{Config: cfg, Actions: action.NewRegistry(logging.Discard(), ""), Logger: logging.Discard()})
	if err := srv.Listen(); !errors.Is(err, ErrRouteCollides) || !strings.Contains(err.Error(), "http.routes[0]") {
		t.Fatalf("two config routes: %v", err)
	}
}

func TestRoutePatternErrors(t *testing.T) {
	for _, p := range []string{
		"x", "/x/:", "/x/:id/:id", "/x/:id/*id", "/x/*", "/x/*rest/y", "/x/:id(", "/x/:id()",
		"/x/:id([0-9)", "/x/:id(a/b)", "/x/a(b)", "/x/:a:b",
	} {
		if err := CheckPattern(p); err == nil {
			t.Errorf("CheckPattern(%q) accepted it", p)
		}
	}
	for _, p := range []string{"/", "/x", "/x/:id", "/x/:id([0-9]+)", "/x/:id((a|b))", "/x/*rest", "/*all", "/a:b"} {
		if err := CheckPattern(p); err != nil {
			t.Errorf("CheckPattern(%q): %v", p, err)
		}
	}
}

func ExampleRoutes_Group() {
	rt := &Routes{}
	admin := rt.Group("/admin", func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.Header.Get("Authorization") == "" {
				http.Error(w, "who are you?", http.StatusUnauthorized)
				return
			}
			next.ServeHTTP(w, r)
		})
	})
	_ = admin.Get("/users/:id([0-9]+)", "getUser")
	_ = admin.Delete("/users/:id([0-9]+)", "removeUser")
	for _, r := range rt.List() {
		fmt.Println(r.Method, r.Path, r.Action)
	}
	// Output:
	// get /admin/users/:id([0-9]+) getUser
	// delete /admin/users/:id([0-9]+) removeUser
}

// TestRouteMatchAllocatesNothing: matching a route with parameters, and
// missing, allocate nothing (the parameters go to the caller's buffer).
func TestRouteMatchAllocatesNothing(t *testing.T) {
	rt := &Routes{}
	for _, p := range []string{"/users/:id([0-9]+)", "/users/:id/posts/:post", "/files/*path"} {
		if err := rt.Get(p, "a"); err != nil {
			t.Fatal(err)
		}
	}
	for _, path := range []string{"/users/42", "/users/a/posts/b", "/files/x/y", "/nothing"} {
		if n := testing.AllocsPerRun(100, func() {
			var buf [8]param
			_, _, _ = rt.match("GET", path, buf[:0])
		}); n != 0 {
			t.Errorf("%s: %v allocations", path, n)
		}
	}
}
