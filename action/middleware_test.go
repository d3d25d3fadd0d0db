package action

import (
	"context"
	"errors"
	"net/http"
	"reflect"
	"strings"
	"testing"

	"github.com/stellarfw/stellar-go/apierror"
)

// trace records the steps of one call, in order. Calls in these tests run
// one at a time.
type trace struct{ steps []string }

func (tr *trace) add(s string) { tr.steps = append(tr.steps, s) }

// traced returns middleware whose Pre and Post record "pre:name" and
// "post:name".
func traced(tr *trace, name string, priority int, global bool) *Middleware {
	return &Middleware{
		Name: name, Priority: priority, Global: global,
		Pre:  func(context.Context, *Request) error { tr.add("pre:" + name); return nil },
		Post: func(context.Context, *Request) error { tr.add("post:" + name); return nil },
	}
}

// tracedAction records "run" and returns err.
func tracedAction(tr *trace, name string, err error, middleware ...string) *Action {
	return &Action{Name: name, Middleware: middleware, Run: func(context.Context, *Request) error {
		tr.add("run")
		return err
	}}
}

func newMiddlewareRegistry(t *testing.T, ms ...*Middleware) *Registry {
	t.Helper()
	g := newTestRegistry(t)
	if err := g.Use(ms...); err != nil {
		t.Fatalf("Use: %v", err)
	}
	return g
}

func TestMiddlewareOrder(t *testing.T) {
	tr := &trace{}
	g := newMiddlewareRegistry(t,
		traced(tr, "gDefault", 0, true), // priority 0 means DefaultPriority (100)
		traced(tr, "nLate", 200, false),
		traced(tr, "g50", 50, true),
		traced(tr, "n100", 100, false), // ties with gDefault: registered after it
		traced(tr, "n10", 10, false),
		traced(tr, "unused", 1, false),
	)
	if err := g.Register(
		tracedAction(tr, "all", nil, "n10", "nLate", "n100", "n10"),
		tracedAction(tr, "globalOnly", nil),
		tracedAction(tr, "namesGlobal", nil, "g50"),
	); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		action string
		want   []string
	}{
		{"all", []string{
			"pre:n10", "pre:g50", "pre:gDefault", "pre:n100", "pre:nLate",
			"run",
			"post:nLate", "post:n100", "post:gDefault", "post:g50", "post:n10",
		}},
		{"globalOnly", []string{"pre:g50", "pre:gDefault", "run", "post:gDefault", "post:g50"}},
		{"namesGlobal", []string{"pre:g50", "pre:gDefault", "run", "post:gDefault", "post:g50"}},
	}
	for _, tc := range cases {
		t.Run(tc.action, func(t *testing.T) {
			tr.steps = nil
			if _, err := webRun(g, tc.action, nil); err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(tr.steps, tc.want) {
				t.Errorf("steps:\n got %v\nwant %v", tr.steps, tc.want)
			}
		})
	}
	t.Run("middleware added later", func(t *testing.T) {
		if err := g.Use(traced(tr, "g1", 1, true)); err != nil {
			t.Fatal(err)
		}
		tr.steps = nil
		if _, err := webRun(g, "globalOnly", nil); err != nil {
			t.Fatal(err)
		}
		want := []string{"pre:g1", "pre:g50", "pre:gDefault", "run", "post:gDefault", "post:g50", "post:g1"}
		if !reflect.DeepEqual(tr.steps, want) {
			t.Errorf("steps:\n got %v\nwant %v", tr.steps, want)
		}
	})
}

func TestMiddlewareAbort(t *testing.T) {
	denied := apierror.New("unauthorized", http.StatusUnauthorized, "log in first")
	cases := []struct {
		name     string
		pre      error // returned by the inner middleware's Pre
		post     error // returned by the inner middleware's Post
		run      error // returned by the action
		code     string
		status   int
		message  string
		wantRuns []string
	}{
		{
			name: "api error from Pre keeps its code", pre: denied,
			code: "unauthorized", status: http.StatusUnauthorized, message: "log in first",
			wantRuns: []string{"pre:outer", "pre:inner"},
		},
		{
			name: "wrapped api error from Pre", pre: errors.Join(errors.New("context"), denied),
			code: "unauthorized", status: http.StatusUnauthorized, message: "log in first",
			wantRuns: []string{"pre:outer", "pre:inner"},
		},
		{
			name: "plain error from Pre", pre: errors.New("no session"),
			code: apierror.CodeActionFailed, status: http.StatusInternalServerError, message: "no session",
			wantRuns: []string{"pre:outer", "pre:inner"},
		},
		{
			name: "action fails: no Post runs", run: errors.New("broken"),
			code: apierror.CodeActionFailed, status: http.StatusInternalServerError, message: "broken",
			wantRuns: []string{"pre:outer", "pre:inner", "run"},
		},
		{
			name: "Post fails: outer Post does not run", post: errors.New("cannot render"),
			code: apierror.CodeActionFailed, status: http.StatusInternalServerError, message: "cannot render",
			wantRuns: []string{"pre:outer", "pre:inner", "run", "post:inner"},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			tr := &trace{}
			inner := &Middleware{Name: "inner", Priority: 20, Global: true,
				Pre:  func(context.Context, *Request) error { tr.add("pre:inner"); return tc.pre },
				Post: func(context.Context, *Request) error { tr.add("post:inner"); return tc.post },
			}
			g := newMiddlewareRegistry(t, traced(tr, "outer", 10, true), inner)
			if err := g.Register(tracedAction(tr, "a", tc.run)); err != nil {
				t.Fatal(err)
			}
			_, err := webRun(g, "a", nil)
			ae := wantAPIError(t, err, tc.code, tc.status)
			if ae.Message != tc.message {
				t.Errorf("message = %q, want %q", ae.Message, tc.message)
			}
			if !reflect.DeepEqual(tr.steps, tc.wantRuns) {
				t.Errorf("steps = %v, want %v", tr.steps, tc.wantRuns)
			}
		})
	}
}

func TestMiddlewareChangesRequest(t *testing.T) {
	g := newMiddlewareRegistry(t, &Middleware{
		Name: "shape",
		Pre: func(_ context.Context, r *Request) error {
			r.Params["user"] = "ann" // e.g. from a session
			return nil
		},
		Post: func(_ context.Context, r *Request) error {
			r.Response["wrapped"] = true
			return nil
		},
	})
	if err := g.Register(&Action{Name: "me", Middleware: []string{"shape"}, Run: func(_ context.Context, r *Request) error {
		r.Response["user"] = r.Params["user"]
		return nil
	}}); err != nil {
		t.Fatal(err)
	}
	resp := mustCall(t, g, "me", nil)
	if want := map[string]any{"user": "ann", "wrapped": true}; !reflect.DeepEqual(resp, want) {
		t.Errorf("response = %v, want %v", resp, want)
	}
}

func TestMiddlewareWrap(t *testing.T) {
	tr := &trace{}
	// unavailable turns any action error into a 503 with a fixed message, and
	// sees both sides of the call.
	unavailable := &Middleware{Name: "unavailable", Priority: 10, Global: true, Wrap: func(next Handler) Handler {
		return HandlerFunc(func(ctx context.Context, r *Request) error {
			tr.add("wrap:before")
			err := next.ServeAction(ctx, r)
			tr.add("wrap:after")
			if err != nil {
				return &apierror.Error{Code: apierror.CodeUnavailable, Status: http.StatusServiceUnavailable,
					Message: "try again later", Err: err}
			}
			return nil
		})
	}}
	// both has Wrap and Pre/Post: Pre runs outside its own Wrap.
	both := &Middleware{Name: "both", Priority: 20, Global: true,
		Pre:  func(context.Context, *Request) error { tr.add("pre:both"); return nil },
		Post: func(context.Context, *Request) error { tr.add("post:both"); return nil },
		Wrap: func(next Handler) Handler {
			return HandlerFunc(func(ctx context.Context, r *Request) error {
				tr.add("wrap:both")
				return next.ServeAction(ctx, r)
			})
		},
	}
	g := newMiddlewareRegistry(t, unavailable, both)
	cause := errors.New("database down")
	if err := g.Register(tracedAction(tr, "ok", nil), tracedAction(tr, "fails", cause)); err != nil {
		t.Fatal(err)
	}

	_, err := webRun(g, "ok", nil)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"wrap:before", "pre:both", "wrap:both", "run", "post:both", "wrap:after"}
	if !reflect.DeepEqual(tr.steps, want) {
		t.Errorf("steps:\n got %v\nwant %v", tr.steps, want)
	}

	tr.steps = nil
	_, err = webRun(g, "fails", nil)
	ae := wantAPIError(t, err, apierror.CodeUnavailable, http.StatusServiceUnavailable)
	if !errors.Is(ae, cause) {
		t.Errorf("error %v does not wrap the action's error", ae)
	}
	want = []string{"wrap:before", "pre:both", "wrap:both", "run", "wrap:after"}
	if !reflect.DeepEqual(tr.steps, want) {
		t.Errorf("steps:\n got %v\nwant %v", tr.steps, want)
	}
}

func TestMiddlewareNotRunOnRejectedCalls(t *testing.T) {
	tr := &trace{}
	g := newMiddlewareRegistry(t, traced(tr, "m", 0, true))
	if err := g.Register(
		&Action{Name: "v", Inputs: map[string]Input{"n": {Required: true}}, Run: func(context.Context, *Request) error { return nil }},
		&Action{Name: "p", Private: true, Run: func(context.Context, *Request) error { return nil }},
	); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"v", "p", "missing"} {
		_, err := webRun(g, name, nil)
		if err == nil {
			t.Fatalf("%s: call succeeded", name)
		}
	}
	if len(tr.steps) != 0 {
		t.Errorf("middleware ran for rejected calls: %v", strings.Join(tr.steps, ", "))
	}
}
