package http

import (
	"strings"
	"testing"
)

// FuzzRouteMatch feeds arbitrary patterns and request paths to the
// router: parsing never panics, a match agrees with a plain reference
// matcher that splits the path, and when a route is refused as covered
// by another, every path the refused one matches the other matches too.
func FuzzRouteMatch(f *testing.F) {
	f.Add("/users/:id", "/users/:id([0-9]+)", "/users/42")
	f.Add("/files/*path", "/files/a", "/files/a/b/c.txt")
	f.Add("/a/:x(a|b)/c", "/a/b/c", "a/b/c/")
	f.Add("/:x(\\d+)", "/:y([0-9]+)", "//7")
	f.Add("/*rest", "/", "/")
	f.Add("/x/:y(", "/x/:y(a/b)", "/x/a/b")
	f.Add("/a/:b/*c", "/a/b/c/d", "/a//b")
	f.Fuzz(func(t *testing.T, patA, patB, path string) {
		a, errA := newRoute("get", patA, "a", 0)
		b, errB := newRoute("get", patB, "b", 0)
		if errA == nil {
			checkAgainstReference(t, &a, path)
		}
		if errB == nil {
			checkAgainstReference(t, &b, path)
		}
		if errA != nil || errB != nil || !covers(&a, &b) {
			return
		}
		trimmed := strings.Trim(path, "/")
		if _, ok := b.matchPath(trimmed, nil); ok {
			if _, ok := a.matchPath(trimmed, nil); !ok {
				t.Fatalf("%s is said to cover %s, but only the latter matches %q", patA, patB, path)
			}
		}
	})
}

// checkAgainstReference matches path with r and with a reference
// matcher that splits the path into segments first.
func checkAgainstReference(t *testing.T, r *route, path string) {
	t.Helper()
	rt := &Routes{}
	rt.routes.Store(&[]route{*r})
	got, params, _ := rt.match("GET", path, nil)
	want, wantOK := referenceMatch(r, path)
	if (got != nil) != wantOK {
		t.Fatalf("%s on %q: matched %v, the reference says %v", r.pattern, path, got != nil, wantOK)
	}
	if !wantOK {
		return
	}
	if len(params) != len(want) {
		t.Fatalf("%s on %q: params %v, want %v", r.pattern, path, params, want)
	}
	for i := range want {
		if params[i] != want[i] {
			t.Fatalf("%s on %q: params %v, want %v", r.pattern, path, params, want)
		}
	}
}

func referenceMatch(r *route, path string) ([]param, bool) {
	parts := splitPath(path)
	var out []param
	for i, s := range r.segments {
		if s.kind == segWildcard {
			return append(out, param{s.text, strings.Join(parts[i:], "/")}), true
		}
		if i >= len(parts) {
			return nil, false
		}
		switch {
		case s.kind == segLiteral:
			if parts[i] != s.text {
				return nil, false
			}
		case s.re != nil && !s.re.MatchString(parts[i]):
			return nil, false
		default:
			out = append(out, param{s.text, parts[i]})
		}
	}
	return out, len(parts) == len(r.segments)
}
