package action

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"reflect"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stellarfw/stellar-go/apierror"
	"github.com/stellarfw/stellar-go/connection"
)

// newTestRegistry returns a registry that logs nowhere, with actions
// registered.
func newTestRegistry(t *testing.T, actions ...*Action) *Registry {
	t.Helper()
	g := NewRegistry(discardLogger(), "test-node")
	if err := g.Register(actions...); err != nil {
		t.Fatalf("Register: %v", err)
	}
	return g
}

func discardLogger() *slog.Logger { return slog.New(slog.DiscardHandler) }

// echo is an action that copies its params into its response.
func echo(name string, inputs map[string]Input) *Action {
	return &Action{Name: name, Inputs: inputs, Run: func(_ context.Context, r *Request) error {
		for k, v := range r.Params {
			r.Response[k] = v
		}
		return nil
	}}
}

// reply is an action that answers {"from": from}.
func reply(name string, version int, from string) *Action {
	return &Action{Name: name, Version: version, Run: func(_ context.Context, r *Request) error {
		r.Response["from"] = from
		return nil
	}}
}

func newConn(typ string) *connection.Conn { return connection.New(typ, "127.0.0.1", "test-node") }

// webRun runs name as a web client would.
func webRun(g *Registry, name string, raw map[string]any) (*Request, error) {
	r := &Request{Conn: newConn(connection.TypeWeb)}
	err := g.Run(context.Background(), name, raw, r)
	return r, err
}

// wantAPIError fails unless err is an *apierror.Error with code and status.
func wantAPIError(t *testing.T, err error, code string, status int) *apierror.Error {
	t.Helper()
	var ae *apierror.Error
	if !errors.As(err, &ae) {
		t.Fatalf("error = %v (%T), want *apierror.Error %s", err, err, code)
	}
	if ae.Code != code || ae.HTTPStatus() != status {
		t.Fatalf("error = %s %d (%q), want %s %d", ae.Code, ae.HTTPStatus(), ae.Message, code, status)
	}
	return ae
}

func mustCall(t *testing.T, g *Registry, name string, params map[string]any) map[string]any {
	t.Helper()
	resp, err := g.Call(context.Background(), name, params)
	if err != nil {
		t.Fatalf("Call(%s, %v): %v", name, params, err)
	}
	return resp
}

func TestUnknownParams(t *testing.T) {
	raw := map[string]any{"a": "1", "extra": "x", ParamAction: "p", ParamAPIVersion: "1"}
	cases := []struct {
		name   string
		inputs map[string]Input
		want   map[string]any
	}{
		{"declared inputs drop the rest", map[string]Input{"a": {}, "b": {}}, map[string]any{"a": "1"}},
		{"nil inputs pass everything", nil, map[string]any{"a": "1", "extra": "x"}},
		{"empty inputs drop everything", map[string]Input{}, map[string]any{}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			g := newTestRegistry(t, echo("p", tc.inputs))
			r, err := webRun(g, "p", raw)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(r.Response, tc.want) || !reflect.DeepEqual(map[string]any(r.Params), tc.want) {
				t.Errorf("params = %#v, want %#v", r.Params, tc.want)
			}
		})
	}
}

// TestReservedParamsHiddenFromRules checks that rules naming other fields
// do not see the action and apiVersion parameters, unless an input declares
// them.
func TestReservedParamsHiddenFromRules(t *testing.T) {
	g := newTestRegistry(t,
		echo("r", map[string]Input{
			"x": {Validator: "required_with:" + ParamAPIVersion},
			"y": {Validator: "different:" + ParamAction},
		}),
		echo("declared", map[string]Input{ParamAPIVersion: {Format: Integer}, "x": {Format: Integer, Validator: "same:" + ParamAPIVersion}}),
	)
	if _, err := webRun(g, "r", map[string]any{ParamAction: "r", ParamAPIVersion: "1", "y": "r"}); err != nil {
		t.Errorf("rules saw a reserved parameter: %v", err)
	}
	r, err := webRun(g, "declared", map[string]any{ParamAPIVersion: "1", "x": "1"})
	if err != nil {
		t.Fatal(err)
	}
	if want := (Params{ParamAPIVersion: int64(1), "x": int64(1)}); !reflect.DeepEqual(r.Params, want) {
		t.Errorf("params = %#v, want %#v", r.Params, want)
	}
}

func TestVersions(t *testing.T) {
	g := newTestRegistry(t, reply("calc", 0, "v1"), reply("calc", 3, "v3"), reply("calc", 2, "v2"))
	cases := []struct {
		name     string
		version  any // nil: not sent
		want     string
		wantCode string
		status   int
	}{
		{name: "newest by default", want: "v3"},
		{name: "empty means newest", version: "", want: "v3"},
		{name: "text", version: "1", want: "v1"},
		{name: "zero version is 1", version: int64(1), want: "v1"},
		{name: "number", version: float64(2), want: "v2"},
		{name: "go int", version: 2, want: "v2"},
		{name: "unknown version", version: "9", wantCode: apierror.CodeActionNotFound, status: http.StatusNotFound},
		{name: "word", version: "abc", wantCode: apierror.CodeValidationFailed, status: http.StatusUnprocessableEntity},
		{name: "zero", version: "0", wantCode: apierror.CodeValidationFailed, status: http.StatusUnprocessableEntity},
		{name: "negative", version: int64(-1), wantCode: apierror.CodeValidationFailed, status: http.StatusUnprocessableEntity},
		{name: "fraction", version: 1.5, wantCode: apierror.CodeValidationFailed, status: http.StatusUnprocessableEntity},
		{name: "huge", version: "99999999999", wantCode: apierror.CodeValidationFailed, status: http.StatusUnprocessableEntity},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			raw := map[string]any{}
			if tc.version != nil {
				raw[ParamAPIVersion] = tc.version
			}
			r, err := webRun(g, "calc", raw)
			if tc.wantCode != "" {
				ae := wantAPIError(t, err, tc.wantCode, tc.status)
				if tc.wantCode == apierror.CodeValidationFailed && ae.Fields[ParamAPIVersion] == "" {
					t.Errorf("Fields = %v, want an apiVersion entry", ae.Fields)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if r.Response["from"] != tc.want {
				t.Errorf("answered by %v, want %s", r.Response["from"], tc.want)
			}
		})
	}
	t.Run("Request.Version pins over the parameter", func(t *testing.T) {
		for _, raw := range []map[string]any{nil, {ParamAPIVersion: "3"}, {ParamAPIVersion: "abc"}} {
			r := &Request{Conn: newConn(connection.TypeWeb), Version: 2}
			if err := g.Run(context.Background(), "calc", raw, r); err != nil || r.Response["from"] != "v2" {
				t.Errorf("Version 2 with %v: answered by %v, %v; want v2", raw, r.Response["from"], err)
			}
		}
		r := &Request{Conn: newConn(connection.TypeWeb), Version: 9}
		if err := g.Run(context.Background(), "calc", nil, r); err == nil {
			t.Error("Version 9 ran an action")
		} else {
			wantAPIError(t, err, apierror.CodeActionNotFound, http.StatusNotFound)
		}
	})
	t.Run("unknown action", func(t *testing.T) {
		_, err := webRun(g, "nope", nil)
		wantAPIError(t, err, apierror.CodeActionNotFound, http.StatusNotFound)
	})
	t.Run("no action name", func(t *testing.T) {
		_, err := webRun(g, "", nil)
		wantAPIError(t, err, apierror.CodeActionNotFound, http.StatusNotFound)
	})
	t.Run("Lookup", func(t *testing.T) {
		if a, ok := g.Lookup("calc", 0); !ok || a.Version != 3 {
			t.Errorf("Lookup(calc, 0) = %v, %v; want version 3", a, ok)
		}
		if a, ok := g.Lookup("calc", 1); !ok || a.Version != 0 {
			t.Errorf("Lookup(calc, 1) = %v, %v; want the action with Version 0", a, ok)
		}
		if _, ok := g.Lookup("calc", 4); ok {
			t.Error("Lookup(calc, 4) found an action")
		}
		if _, ok := g.Lookup("nope", 0); ok {
			t.Error("Lookup(nope, 0) found an action")
		}
	})
	t.Run("List", func(t *testing.T) {
		g := newTestRegistry(t, reply("b", 2, ""), reply("a", 0, ""), reply("b", 1, ""))
		var got []string
		for _, a := range g.List() {
			got = append(got, a.Name+"@"+string(rune('0'+a.version())))
		}
		if want := []string{"a@1", "b@1", "b@2"}; !reflect.DeepEqual(got, want) {
			t.Errorf("List = %v, want %v", got, want)
		}
	})
}

func TestPrivate(t *testing.T) {
	g := newTestRegistry(t, &Action{Name: "secret", Private: true, Run: func(_ context.Context, r *Request) error {
		r.Response["internal"] = r.Internal()
		return nil
	}})
	for _, typ := range []string{connection.TypeWeb, connection.TypeWebSocket, connection.TypeTCP} {
		t.Run(typ, func(t *testing.T) {
			err := g.Run(context.Background(), "secret", nil, &Request{Conn: newConn(typ)})
			wantAPIError(t, err, apierror.CodePrivateAction, http.StatusForbidden)
		})
	}
	t.Run("Call", func(t *testing.T) {
		if resp := mustCall(t, g, "secret", nil); resp["internal"] != true {
			t.Errorf("response = %v", resp)
		}
	})
	t.Run("internal connection", func(t *testing.T) {
		if err := g.Run(context.Background(), "secret", nil, &Request{Conn: newConn(connection.TypeInternal)}); err != nil {
			t.Fatal(err)
		}
	})
}

func TestBlockedConnectionTypes(t *testing.T) {
	g := newTestRegistry(t, &Action{
		Name:                   "httpOnly",
		BlockedConnectionTypes: []string{connection.TypeWebSocket, connection.TypeTCP},
		Run:                    func(context.Context, *Request) error { return nil },
	})
	cases := []struct {
		typ     string
		blocked bool
	}{
		{connection.TypeWeb, false},
		{connection.TypeWebSocket, true},
		{connection.TypeTCP, true},
		{connection.TypeInternal, false},
	}
	for _, tc := range cases {
		t.Run(tc.typ, func(t *testing.T) {
			err := g.Run(context.Background(), "httpOnly", nil, &Request{Conn: newConn(tc.typ)})
			if tc.blocked {
				wantAPIError(t, err, apierror.CodeConnectionBlocked, http.StatusForbidden)
			} else if err != nil {
				t.Fatal(err)
			}
		})
	}
}

func TestProtected(t *testing.T) {
	t.Run("protected cannot be overridden", func(t *testing.T) {
		orig := reply("core", 0, "original")
		orig.Protected = true
		g := newTestRegistry(t, orig)
		if err := g.Register(reply("core", 1, "override")); err == nil {
			t.Fatal("overriding a protected action succeeded")
		}
		if resp := mustCall(t, g, "core", nil); resp["from"] != "original" {
			t.Errorf("answered by %v, want original", resp["from"])
		}
		// Another version is a different action, and may be added.
		if err := g.Register(reply("core", 2, "v2")); err != nil {
			t.Fatalf("adding version 2: %v", err)
		}
	})
	t.Run("non-protected is replaced", func(t *testing.T) {
		g := newTestRegistry(t, reply("core", 0, "original"))
		if err := g.Register(reply("core", 0, "override")); err != nil {
			t.Fatal(err)
		}
		if resp := mustCall(t, g, "core", nil); resp["from"] != "override" {
			t.Errorf("answered by %v, want override", resp["from"])
		}
	})
	t.Run("protected in the same batch", func(t *testing.T) {
		orig := reply("core", 0, "original")
		orig.Protected = true
		g := newTestRegistry(t)
		if err := g.Register(orig, reply("core", 0, "override")); err == nil {
			t.Fatal("overriding a protected action in the same Register call succeeded")
		}
		if _, ok := g.Lookup("core", 0); ok {
			t.Error("a failed Register registered an action")
		}
	})
}

func TestRegisterErrors(t *testing.T) {
	run := func(context.Context, *Request) error { return nil }
	cases := []struct {
		name   string
		action *Action
		want   []string // parts of the error message
	}{
		{"nil", nil, []string{"nil action"}},
		{"no name", &Action{Run: run}, []string{"Name"}},
		{"blank name", &Action{Name: "  ", Run: run}, []string{"Name"}},
		{"no Run", &Action{Name: "a"}, []string{"a", "Run"}},
		{"negative version", &Action{Name: "a", Version: -1, Run: run}, []string{"a", "Version"}},
		{"unknown rule", &Action{Name: "a", Run: run, Inputs: map[string]Input{"x": {Validator: "required|nope"}}},
			[]string{"a", `input "x"`, `"nope"`}},
		{"bad rule argument", &Action{Name: "a", Run: run, Inputs: map[string]Input{"x": {Validator: "min:abc"}}},
			[]string{"a", `input "x"`, `"min"`, "abc"}},
		{"unknown middleware", &Action{Name: "a", Run: run, Middleware: []string{"auth"}},
			[]string{"a", `"auth"`}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			g := newTestRegistry(t)
			good := reply("good", 0, "")
			err := g.Register(good, tc.action)
			if err == nil {
				t.Fatal("Register succeeded")
			}
			for _, part := range tc.want {
				if !strings.Contains(err.Error(), part) {
					t.Errorf("error %q does not contain %q", err, part)
				}
			}
			if len(g.List()) != 0 {
				t.Error("a failed Register registered the other actions")
			}
		})
	}
}

func TestUseErrors(t *testing.T) {
	pre := func(context.Context, *Request) error { return nil }
	cases := []struct {
		name string
		ms   []*Middleware
	}{
		{"nil", []*Middleware{nil}},
		{"no name", []*Middleware{{Pre: pre}}},
		{"no hooks", []*Middleware{{Name: "m"}}},
		{"already registered", []*Middleware{{Name: "taken", Pre: pre}}},
		{"twice in one call", []*Middleware{{Name: "m", Pre: pre}, {Name: "m", Pre: pre}}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			g := newTestRegistry(t)
			if err := g.Use(&Middleware{Name: "taken", Pre: pre}); err != nil {
				t.Fatal(err)
			}
			if err := g.Use(tc.ms...); err == nil {
				t.Fatal("Use succeeded")
			}
		})
	}
}

func TestPanics(t *testing.T) {
	g := newTestRegistry(t,
		&Action{Name: "boom", Run: func(context.Context, *Request) error { panic("kaboom") }},
		&Action{Name: "badFormat", Inputs: map[string]Input{"x": {Format: func(any) (any, error) { panic("format") }}},
			Run: func(context.Context, *Request) error { return nil }},
		&Action{Name: "badDefault", Inputs: map[string]Input{"x": {Default: DefaultFunc(func(context.Context) any { panic("default") })}},
			Run: func(context.Context, *Request) error { return nil }},
		reply("ok", 0, "ok"),
	)
	for _, name := range []string{"boom", "badFormat", "badDefault"} {
		t.Run(name, func(t *testing.T) {
			raw := map[string]any{"x": "1"}
			if name == "badDefault" {
				raw = nil
			}
			_, err := webRun(g, name, raw)
			ae := wantAPIError(t, err, apierror.CodeInternal, http.StatusInternalServerError)
			if strings.Contains(ae.Message, "kaboom") || ae.Err == nil || !strings.Contains(ae.Err.Error(), "panic") {
				t.Errorf("message %q must hide the panic, cause %v must keep it", ae.Message, ae.Err)
			}
			// The registry keeps serving.
			if resp := mustCall(t, g, "ok", nil); resp["from"] != "ok" {
				t.Errorf("next call answered %v", resp)
			}
			_, err = webRun(g, name, raw)
			wantAPIError(t, err, apierror.CodeInternal, http.StatusInternalServerError)
		})
	}
}

func TestActionErrors(t *testing.T) {
	g := newTestRegistry(t,
		&Action{Name: "plain", Run: func(context.Context, *Request) error { return errors.New("disk full") }},
		&Action{Name: "coded", Run: func(context.Context, *Request) error {
			return apierror.New("quota_exceeded", http.StatusTooManyRequests, "slow down")
		}},
	)
	// A client sees a plain error as internal_error, with a request id
	// and not its text; the code that called internally sees it whole.
	_, err := webRun(g, "plain", nil)
	ae := wantAPIError(t, err, apierror.CodeInternal, http.StatusInternalServerError)
	if ae.Message != apierror.InternalMessage || strings.Contains(ae.Message, "disk") || ae.RequestID == "" {
		t.Errorf("client error = %+v", ae)
	}
	body, _ := json.Marshal(ae.Body())
	if strings.Contains(string(body), "disk full") || !strings.Contains(string(body), `"requestId":"`+ae.RequestID+`"`) {
		t.Errorf("client body = %s", body)
	}
	_, err = g.Call(context.Background(), "plain", nil)
	if ae := wantAPIError(t, err, apierror.CodeActionFailed, http.StatusInternalServerError); ae.Message != "disk full" {
		t.Errorf("internal call: message = %q", ae.Message)
	}
	_, err = webRun(g, "coded", nil)
	if ae := wantAPIError(t, err, "quota_exceeded", http.StatusTooManyRequests); ae.Message != "slow down" {
		t.Errorf("message = %q", ae.Message)
	}
}

func TestTimeout(t *testing.T) {
	waitForCtx := func(ctx context.Context, _ *Request) error {
		<-ctx.Done() // returns when the timeout fires; no sleeping
		return ctx.Err()
	}
	g := newTestRegistry(t,
		&Action{Name: "slow", Timeout: 10 * time.Millisecond, Run: waitForCtx},
		&Action{Name: "unbounded", Run: waitForCtx},
		&Action{Name: "fast", Timeout: time.Minute, Run: func(ctx context.Context, r *Request) error {
			if _, ok := ctx.Deadline(); !ok {
				return errors.New("no deadline on the action's context")
			}
			r.Response["ok"] = true
			return nil
		}},
	)
	t.Run("action timeout", func(t *testing.T) {
		_, err := webRun(g, "slow", nil)
		ae := wantAPIError(t, err, apierror.CodeTimeout, http.StatusGatewayTimeout)
		if !strings.Contains(ae.Message, "10ms") || !errors.Is(ae, context.DeadlineExceeded) {
			t.Errorf("error = %v", ae)
		}
	})
	t.Run("caller deadline", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Millisecond)
		defer cancel()
		err := g.Run(ctx, "unbounded", nil, &Request{Conn: newConn(connection.TypeWeb)})
		ae := wantAPIError(t, err, apierror.CodeTimeout, http.StatusGatewayTimeout)
		if !strings.Contains(ae.Message, "caller's deadline") {
			t.Errorf("message = %q, want it to blame the caller's deadline", ae.Message)
		}
	})
	t.Run("within the timeout", func(t *testing.T) {
		if resp := mustCall(t, g, "fast", nil); resp["ok"] != true {
			t.Errorf("response = %v", resp)
		}
	})
}

func TestDefaultTimeout(t *testing.T) {
	waitForCtx := func(ctx context.Context, r *Request) error {
		if _, ok := ctx.Deadline(); !ok {
			r.Response["deadline"] = false
			return nil
		}
		<-ctx.Done()
		return ctx.Err()
	}
	g := newTestRegistry(t,
		&Action{Name: "default", Run: waitForCtx},
		&Action{Name: "own", Timeout: 20 * time.Millisecond, Run: waitForCtx},
		&Action{Name: "unbounded", Timeout: -1, Run: waitForCtx},
	)
	if resp := mustCall(t, g, "default", nil); resp["deadline"] != false {
		t.Fatalf("an action ran with a deadline before any default: %v", resp)
	}
	g.SetDefaultTimeout(10 * time.Millisecond)
	cases := []struct {
		action string
		within string // in the timeout message; "" for no timeout
	}{
		{"default", "10ms"},
		{"own", "20ms"},
		{"unbounded", ""},
	}
	for _, tc := range cases {
		t.Run(tc.action, func(t *testing.T) {
			r, err := webRun(g, tc.action, nil)
			if tc.within == "" {
				if err != nil || r.Response["deadline"] != false {
					t.Fatalf("err = %v, response = %v; want no deadline", err, r.Response)
				}
				return
			}
			ae := wantAPIError(t, err, apierror.CodeTimeout, http.StatusGatewayTimeout)
			if !strings.Contains(ae.Message, "within "+tc.within) {
				t.Errorf("message = %q, want the timeout %s", ae.Message, tc.within)
			}
		})
	}
}

// recordHandler keeps the records it handles.
type recordHandler struct {
	mu      sync.Mutex
	records []slog.Record
}

func (h *recordHandler) Enabled(context.Context, slog.Level) bool { return true }
func (h *recordHandler) Handle(_ context.Context, r slog.Record) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.records = append(h.records, r)
	return nil
}
func (h *recordHandler) WithAttrs([]slog.Attr) slog.Handler { return h }
func (h *recordHandler) WithGroup(string) slog.Handler      { return h }

func TestRunLogs(t *testing.T) {
	h := &recordHandler{}
	g := NewRegistry(slog.New(h), "n1")
	err := g.Register(
		&Action{Name: "quiet", LogLevel: slog.LevelDebug, Run: func(context.Context, *Request) error { return nil }},
		&Action{Name: "fails", Run: func(context.Context, *Request) error { return errors.New("broken") }},
		&Action{Name: "checks", Inputs: map[string]Input{"n": {Required: true}}, Run: func(context.Context, *Request) error { return nil }},
	)
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		action string
		level  slog.Level
		code   string
	}{
		{"quiet", slog.LevelDebug, ""},
		{"fails", slog.LevelError, apierror.CodeActionFailed},
		{"checks", slog.LevelInfo, apierror.CodeValidationFailed}, // a client error: info, with its code
	}
	for _, tc := range cases {
		t.Run(tc.action, func(t *testing.T) {
			h.mu.Lock()
			h.records = nil
			h.mu.Unlock()
			_, err := webRun(g, tc.action, nil)
			h.mu.Lock()
			defer h.mu.Unlock()
			if len(h.records) != 1 {
				t.Fatalf("%d records, want 1", len(h.records))
			}
			rec := h.records[0]
			attrs := map[string]string{}
			rec.Attrs(func(a slog.Attr) bool { attrs[a.Key] = a.Value.String(); return true })
			if rec.Level != tc.level || attrs["action"] != tc.action || attrs["code"] != tc.code || attrs["conn"] != connection.TypeWeb {
				t.Errorf("record = %v %q %v", rec.Level, rec.Message, attrs)
			}
			if tc.level == slog.LevelError {
				// The log has the details, under the id the client got.
				ae := wantAPIError(t, err, apierror.CodeInternal, http.StatusInternalServerError)
				if attrs["request_id"] != ae.RequestID || attrs["error"] != "broken" || attrs["status"] != "500" {
					t.Errorf("error record %v, client's request id %q", attrs, ae.RequestID)
				}
			}
		})
	}
}

// TestRunCallerGone: a caller that goes away while its action runs (a
// client that disconnected) is a debug line with status 499, not an
// ERROR, and the call fails with client_closed.
func TestRunCallerGone(t *testing.T) {
	h := &recordHandler{}
	g := NewRegistry(slog.New(h), "n1")
	started := make(chan struct{})
	if err := g.Register(&Action{Name: "slow", Run: func(ctx context.Context, r *Request) error {
		close(started)
		<-ctx.Done()
		return fmt.Errorf("redis: save: %w", ctx.Err())
	}}); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() { errc <- g.Run(ctx, "slow", nil, &Request{Conn: newConn(connection.TypeWeb)}) }()
	<-started
	cancel()
	wantAPIError(t, <-errc, apierror.CodeClientClosed, apierror.StatusClientClosed)
	h.mu.Lock()
	defer h.mu.Unlock()
	if len(h.records) != 1 {
		t.Fatalf("%d records, want 1", len(h.records))
	}
	rec := h.records[0]
	attrs := map[string]string{}
	rec.Attrs(func(a slog.Attr) bool { attrs[a.Key] = a.Value.String(); return true })
	if rec.Level != slog.LevelDebug || attrs["status"] != "499" || attrs["action"] != "slow" {
		t.Errorf("record = %v %q %v", rec.Level, rec.Message, attrs)
	}
}

func TestConcurrentCalls(t *testing.T) {
	g := newTestRegistry(t, echo("sum", map[string]Input{
		"a": {Format: Integer, Validator: "required|integer"},
		"b": {Format: Integer, Default: int64(1)},
	}))
	var mw atomic.Int64
	var wg sync.WaitGroup
	errs := make(chan error, 64)
	for i := range 64 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if i == 16 {
				// So is an action, and a version of the one called.
				if err := g.Register(echo("other", nil), &Action{Name: "sum", Version: 2, Run: func(context.Context, *Request) error { return nil }}); err != nil {
					errs <- err
				}
			}
			if i == 32 {
				// Middleware added while calls run is picked up safely.
				if err := g.Use(&Middleware{Name: "count", Global: true, Pre: func(context.Context, *Request) error {
					mw.Add(1)
					return nil
				}}); err != nil {
					errs <- err
				}
			}
			resp, err := g.Call(context.Background(), "sum", map[string]any{"a": int64(i), ParamAPIVersion: "1"})
			if err != nil {
				errs <- err
			} else if resp["a"] != int64(i) || resp["b"] != int64(1) {
				errs <- errors.New("wrong params")
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	mustCall(t, g, "sum", map[string]any{"a": "1"})
	if mw.Load() == 0 {
		t.Error("middleware registered during the calls never ran")
	}
}

func TestRunWithoutRequest(t *testing.T) {
	g := newTestRegistry(t, reply("a", 0, "a"))
	if err := g.Run(context.Background(), "a", nil, nil); err != nil {
		t.Fatalf("Run with a nil Request: %v", err)
	}
}

// TestRunRequestID: a call that carries a request id (an HTTP request's
// X-Request-Id) is logged under it, and a 5xx answers with it rather than
// a new one.
func TestRunRequestID(t *testing.T) {
	h := &recordHandler{}
	g := NewRegistry(slog.New(h), "n1")
	if err := g.Register(&Action{Name: "fails", Run: func(context.Context, *Request) error { return errors.New("broken") }}); err != nil {
		t.Fatal(err)
	}
	r := &Request{Conn: newConn(connection.TypeWeb), RequestID: "req-42"}
	err := g.Run(context.Background(), "fails", nil, r)
	ae := wantAPIError(t, err, apierror.CodeInternal, http.StatusInternalServerError)
	if ae.RequestID != "req-42" {
		t.Errorf("client's request id %q, want req-42", ae.RequestID)
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if len(h.records) != 1 {
		t.Fatalf("%d records, want 1", len(h.records))
	}
	ids := 0
	h.records[0].Attrs(func(a slog.Attr) bool {
		if a.Key == "request_id" {
			ids++
			if a.Value.String() != "req-42" {
				t.Errorf("logged request_id %q", a.Value.String())
			}
		}
		return true
	})
	if ids != 1 {
		t.Errorf("%d request_id attributes, want 1", ids)
	}
}
