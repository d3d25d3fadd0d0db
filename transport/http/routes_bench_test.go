package http

import (
	"fmt"
	"testing"
)

// benchRoutes is a table of 24 routes in the shape of a small REST API;
// the benchmarks match paths near its end, the worst case of a table
// tried in order.
func benchRoutes(b *testing.B) *Routes {
	b.Helper()
	rt := &Routes{}
	for i := range 10 {
		res := fmt.Sprintf("/res%d", i)
		if err := rt.Get(res+"/:id", "a"); err != nil {
			b.Fatal(err)
		}
		if err := rt.Post(res, "a"); err != nil {
			b.Fatal(err)
		}
	}
	for _, p := range []string{"/users/:id/posts/:post", "/users/:id", "/teams/:team/members/:member", "/static/page"} {
		if err := rt.Get(p, "a"); err != nil {
			b.Fatal(err)
		}
	}
	return rt
}

func BenchmarkRouteMatch(b *testing.B) {
	rt := benchRoutes(b)
	for _, bc := range []struct{ name, path string }{
		{"static", "/static/page"},
		{"two-params", "/teams/t1/members/m2"},
		{"miss", "/nothing/here/at/all"},
	} {
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				benchMatch(rt, "GET", bc.path)
			}
		})
	}
}

func benchMatch(rt *Routes, method, path string) {
	var buf [8]param
	_, _, _ = rt.match(method, path, buf[:0])
}
