package action

import (
	"context"
	"errors"
	"fmt"
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
			"post:n10", "post:g50", "post:gDefault", "post:n100", "post:nLate",
		}},
		{"globalOnly", []string{"pre:g50", "pre:gDefault", "run", "post:g50", "post:gDefault"}},
		{"namesGlobal", []string{"pre:g50", "pre:gDefault", "run", "post:g50", "post:gDefault"}},
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
		want := []string{"pre:g1", "pre:g50", "pre:gDefault", "run", "post:g1", "post:g50", "post:gDefault"}
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
		cause    string // of an unexpected failure, hidden from the client
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
			code: apierror.CodeInternal, status: http.StatusInternalServerError, message: apierror.InternalMessage, cause: "no session",
			wantRuns: []string{"pre:outer", "pre:inner"},
		},
		{
			name: "action fails: no Post runs", run: errors.New("broken"),
			code: apierror.CodeInternal, status: http.StatusInternalServerError, message: apierror.InternalMessage, cause: "broken",
			wantRuns: []string{"pre:outer", "pre:inner", "pre:last", "run"},
		},
		{
			name: "Post fails: later Post does not run", post: errors.New("cannot render"),
			code: apierror.CodeInternal, status: http.StatusInternalServerError, message: apierror.InternalMessage, cause: "cannot render",
			wantRuns: []string{"pre:outer", "pre:inner", "pre:last", "run", "post:outer", "post:inner"},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			tr := &trace{}
			inner := &Middleware{Name: "inner", Priority: 20, Global: true,
				Pre:  func(context.Context, *Request) error { tr.add("pre:inner"); return tc.pre },
				Post: func(context.Context, *Request) error { tr.add("post:inner"); return tc.post },
			}
			g := newMiddlewareRegistry(t, traced(tr, "outer", 10, true), inner, traced(tr, "last", 30, true))
			if err := g.Register(tracedAction(tr, "a", tc.run)); err != nil {
				t.Fatal(err)
			}
			_, err := webRun(g, "a", nil)
			ae := wantAPIError(t, err, tc.code, tc.status)
			if ae.Message != tc.message {
				t.Errorf("message = %q, want %q", ae.Message, tc.message)
			}
			if tc.cause != "" && (ae.Err == nil || !strings.Contains(ae.Err.Error(), tc.cause) || ae.RequestID == "") {
				t.Errorf("cause %v, request id %q: want %q and an id", ae.Err, ae.RequestID, tc.cause)
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
	// both has Wrap and Pre/Post: every Wrap wraps every Pre and Post.
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
	want := []string{"wrap:before", "wrap:both", "pre:both", "run", "post:both", "wrap:after"}
	if !reflect.DeepEqual(tr.steps, want) {
		t.Errorf("steps:\n got %v\nwant %v", tr.steps, want)
	}

	tr.steps = nil
	_, err = webRun(g, "fails", nil)
	ae := wantAPIError(t, err, apierror.CodeUnavailable, http.StatusServiceUnavailable)
	if !errors.Is(ae, cause) {
		t.Errorf("error %v does not wrap the action's error", ae)
	}
	want = []string{"wrap:before", "wrap:both", "pre:both", "run", "wrap:after"}
	if !reflect.DeepEqual(tr.steps, want) {
		t.Errorf("steps:\n got %v\nwant %v", tr.steps, want)
	}
}

// Calls refused before middleware runs: unknown, private. A call whose
// inputs fail has run Pre (which comes first) but neither the action nor
// Post.
func TestMiddlewareOnRejectedCalls(t *testing.T) {
	tr := &trace{}
	g := newMiddlewareRegistry(t, traced(tr, "m", 0, true))
	if err := g.Register(
		&Action{Name: "v", Inputs: map[string]Input{"n": {Required: true}}, Run: func(context.Context, *Request) error {
			tr.add("run")
			return nil
		}},
		&Action{Name: "p", Private: true, Run: func(context.Context, *Request) error { return nil }},
	); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		action string
		want   []string
	}{
		{"p", nil},
		{"missing", nil},
		{"v", []string{"pre:m"}},
	}
	for _, tc := range cases {
		t.Run(tc.action, func(t *testing.T) {
			tr.steps = nil
			if _, err := webRun(g, tc.action, nil); err == nil {
				t.Fatalf("%s: call succeeded", tc.action)
			}
			if !reflect.DeepEqual(tr.steps, tc.want) {
				t.Errorf("steps = [%s], want %v", strings.Join(tr.steps, ", "), tc.want)
			}
		})
	}
}

// auth refuses calls without token=secret, as a global auth middleware
// would.
func auth(tr *trace, afterInputs bool) *Middleware {
	return &Middleware{Name: "auth", Priority: 10, Global: true, AfterInputs: afterInputs,
		Pre: func(_ context.Context, r *Request) error {
			tr.add("pre:auth")
			if r.Params["token"] != "secret" {
				return apierror.New("unauthorized", http.StatusUnauthorized, "log in first")
			}
			return nil
		},
	}
}

// inputsAction has a required input "n" whose validator records "inputs".
func inputsAction(tr *trace) *Action {
	return &Action{
		Name: "needsN",
		Inputs: map[string]Input{
			"n":     {Required: true, Format: Integer, Validators: []ValidatorFunc{func(any, Params) error { tr.add("inputs"); return nil }}},
			"token": {},
		},
		Run: func(_ context.Context, r *Request) error {
			tr.add("run")
			r.Response["n"] = r.Params["n"]
			return nil
		},
	}
}

func TestPreRunsBeforeInputs(t *testing.T) {
	t.Run("a refusing Pre hides the missing input", func(t *testing.T) {
		tr := &trace{}
		g := newMiddlewareRegistry(t, auth(tr, false))
		if err := g.Register(inputsAction(tr)); err != nil {
			t.Fatal(err)
		}
		_, err := webRun(g, "needsN", nil) // no token, no n
		ae := wantAPIError(t, err, "unauthorized", http.StatusUnauthorized)
		if len(ae.Fields) != 0 || strings.Contains(ae.Message, "n is required") {
			t.Errorf("the refusal tells the input's name: %+v", ae)
		}
		if want := []string{"pre:auth"}; !reflect.DeepEqual(tr.steps, want) {
			t.Errorf("steps = %v, want %v", tr.steps, want)
		}

		tr.steps = nil
		_, err = webRun(g, "needsN", map[string]any{"token": "secret"})
		ae = wantAPIError(t, err, apierror.CodeValidationFailed, http.StatusUnprocessableEntity)
		if ae.Fields["n"] != "is required" {
			t.Errorf("fields = %v", ae.Fields)
		}
	})
	t.Run("AfterInputs keeps the old order", func(t *testing.T) {
		tr := &trace{}
		g := newMiddlewareRegistry(t, auth(tr, true))
		if err := g.Register(inputsAction(tr)); err != nil {
			t.Fatal(err)
		}
		_, err := webRun(g, "needsN", nil)
		wantAPIError(t, err, apierror.CodeValidationFailed, http.StatusUnprocessableEntity)
		if len(tr.steps) != 0 {
			t.Errorf("the AfterInputs Pre ran on invalid inputs: %v", tr.steps)
		}
		_, err = webRun(g, "needsN", map[string]any{"n": "3"})
		wantAPIError(t, err, "unauthorized", http.StatusUnauthorized)
		if want := []string{"inputs", "pre:auth"}; !reflect.DeepEqual(tr.steps, want) {
			t.Errorf("steps = %v, want %v", tr.steps, want)
		}
	})
	t.Run("a Pre adds a param a required input accepts", func(t *testing.T) {
		tr := &trace{}
		caller := map[string]any{"token": "secret"}
		g := newMiddlewareRegistry(t, auth(tr, false), &Middleware{Name: "session", Priority: 20, Global: true,
			Pre: func(_ context.Context, r *Request) error {
				tr.add("pre:session")
				r.Params["n"] = "42" // e.g. the user id from a session; the input formats it
				delete(r.Params, "token")
				return nil
			},
		})
		if err := g.Register(inputsAction(tr)); err != nil {
			t.Fatal(err)
		}
		resp := mustCall(t, g, "needsN", caller)
		if resp["n"] != int64(42) {
			t.Errorf("n = %v (%T), want int64 42", resp["n"], resp["n"])
		}
		if want := []string{"pre:auth", "pre:session", "inputs", "run"}; !reflect.DeepEqual(tr.steps, want) {
			t.Errorf("steps = %v, want %v", tr.steps, want)
		}
		if want := map[string]any{"token": "secret"}; !reflect.DeepEqual(caller, want) {
			t.Errorf("the caller's params changed: %v", caller)
		}
	})
}

// TestMiddlewarePipeline checks the whole order of one call: Wraps around
// everything, Pre by priority across global and named middleware, the
// inputs, AfterInputs middleware, the action, Post by priority.
func TestMiddlewarePipeline(t *testing.T) {
	tr := &trace{}
	wrapper := func(name string, priority int, afterInputs bool) *Middleware {
		return &Middleware{Name: name, Priority: priority, Global: true, AfterInputs: afterInputs,
			Wrap: func(next Handler) Handler {
				return HandlerFunc(func(ctx context.Context, r *Request) error {
					tr.add("wrap:" + name)
					err := next.ServeAction(ctx, r)
					tr.add("unwrap:" + name)
					return err
				})
			},
		}
	}
	late := traced(tr, "late", 1, true) // lowest priority, but after the inputs
	late.AfterInputs = true
	late.Pre = func(_ context.Context, r *Request) error {
		tr.add(fmt.Sprintf("pre:late n=%T", r.Params["n"]))
		return nil
	}
	g := newMiddlewareRegistry(t,
		traced(tr, "g200", 200, true),
		traced(tr, "n5", 5, false),
		wrapper("w300", 300, false),
		wrapper("w1", 1, false),
		wrapper("wLate", 2, true),
		late,
		traced(tr, "g50", 50, true),
	)
	a := inputsAction(tr)
	a.Middleware = []string{"n5"}
	if err := g.Register(a); err != nil {
		t.Fatal(err)
	}
	if _, err := webRun(g, "needsN", map[string]any{"n": "7"}); err != nil {
		t.Fatal(err)
	}
	want := []string{
		"wrap:w1", "wrap:w300",
		"pre:n5", "pre:g50", "pre:g200",
		"inputs",
		"wrap:wLate", "pre:late n=int64",
		"run",
		"post:late", "post:n5", "post:g50", "post:g200",
		"unwrap:wLate",
		"unwrap:w300", "unwrap:w1",
	}
	if !reflect.DeepEqual(tr.steps, want) {
		t.Errorf("steps:\n got %v\nwant %v", tr.steps, want)
	}

	// A Wrap sees a validation error; an AfterInputs Wrap never runs.
	tr.steps = nil
	_, err := webRun(g, "needsN", nil)
	wantAPIError(t, err, apierror.CodeValidationFailed, http.StatusUnprocessableEntity)
	want = []string{"wrap:w1", "wrap:w300", "pre:n5", "pre:g50", "pre:g200", "unwrap:w300", "unwrap:w1"}
	if !reflect.DeepEqual(tr.steps, want) {
		t.Errorf("steps:\n got %v\nwant %v", tr.steps, want)
	}
}

func TestPrePanic(t *testing.T) {
	g := newMiddlewareRegistry(t, &Middleware{Name: "boom", Global: true,
		Pre: func(context.Context, *Request) error { panic("bad middleware") }})
	if err := g.Register(inputsAction(&trace{})); err != nil {
		t.Fatal(err)
	}
	_, err := webRun(g, "needsN", nil)
	wantAPIError(t, err, apierror.CodeInternal, http.StatusInternalServerError)
}
