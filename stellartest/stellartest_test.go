package stellartest_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/stellarfw/stellar-go"
	"github.com/stellarfw/stellar-go/stellartest"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

type AddIn struct {
	A float64 `validate:"required"`
	B float64 `default:"1"`
}

type AddOut struct {
	Sum float64 `json:"sum"`
}

type MailIn struct {
	To string `validate:"required|email"`
}

// setup is what a program's main registers: actions, tasks, a route.
func setup(app *stellar.App) error {
	add := stellar.TypedAction("add", func(ctx context.Context, r *stellar.Request, in AddIn) (AddOut, error) {
		return AddOut{Sum: in.A + in.B}, nil
	}, func(a *stellar.Action) { a.BlockedConnectionTypes = []string{stellar.ConnectionTCP} })
	secret := &stellar.Action{Name: "secret", Private: true, Run: func(ctx context.Context, r *stellar.Request) error {
		r.Response["secret"] = 42
		return nil
	}}
	teapot := &stellar.Action{Name: "teapot", Run: func(ctx context.Context, r *stellar.Request) error {
		if r.Header != nil {
			r.Header.Set("X-Brew", "earl grey")
			r.Status = http.StatusTeapot
		}
		r.Response["conn"] = r.Conn.Type
		r.Response["path"] = ""
		if r.HTTPRequest != nil {
			r.Response["path"] = r.HTTPRequest.URL.Path
		}
		return nil
	}}
	signup := &stellar.Action{
		Name:   "signup",
		Inputs: map[string]stellar.Input{"email": {Required: true}},
		Run: func(ctx context.Context, r *stellar.Request) error {
			to := r.Params.String("email")
			if _, err := app.Tasks.Enqueue(ctx, "mail", MailIn{To: to}); err != nil {
				return err
			}
			if _, err := app.Tasks.Enqueue(ctx, "mail", MailIn{To: to}, stellar.TaskIn(24*time.Hour), stellar.TaskQueue("later")); err != nil {
				return err
			}
			return app.Cluster.Publish(ctx, "signed.up", map[string]string{"email": to})
		},
	}
	if err := app.Actions.Register(add, secret, teapot, signup); err != nil {
		return err
	}
	return app.Tasks.Register(stellar.TypedTask("mail", func(ctx context.Context, t *stellar.Task, in MailIn) error {
		if strings.HasSuffix(in.To, "@fail.example") {
			return errors.New("mailbox full")
		}
		return app.Cache.Save(ctx, "mailed:"+in.To, true)
	}))
}

// TestRun: an action run as each connection type, its typed output, and
// the errors a client of that type gets.
func TestRun(t *testing.T) {
	app := stellartest.New(t, setup)
	for _, typ := range []string{stellartest.Web, stellartest.WebSocket, stellartest.Internal} {
		out, err := stellartest.Run[AddOut](app, typ, "add", AddIn{A: 2, B: 3})
		if err != nil || out.Sum != 5 {
			t.Errorf("add as %s: %+v, %v", typ, out, err)
		}
	}
	if out, err := stellartest.Run[AddOut](app, stellartest.Web, "add", map[string]any{"a": "2"}); err != nil || out.Sum != 3 {
		t.Errorf("add with a map and a default: %+v, %v", out, err)
	}
	m, err := stellartest.Run[map[string]any](app, stellartest.Web, "add", AddIn{A: 1})
	if err != nil || m["sum"] != 1.0 { // a zero B is sent, not left to its default
		t.Errorf("add as a map: %v, %v", m, err)
	}
	tests := []struct {
		typ, name string
		params    any
		code      string
	}{
		{stellartest.TCP, "add", AddIn{A: 1}, "connection_blocked"},
		{stellartest.Web, "add", nil, "validation_failed"},
		{stellartest.Web, "secret", nil, "private_action"},
		{stellartest.WebSocket, "nosuch", nil, "action_not_found"},
	}
	for _, tc := range tests {
		_, err := stellartest.Run[AddOut](app, tc.typ, tc.name, tc.params)
		var ae *stellar.Error
		if stellartest.Code(err) != tc.code || !errors.As(err, &ae) {
			t.Errorf("%s as %s: %v, want %s", tc.name, tc.typ, err, tc.code)
		}
	}
	if s, err := stellartest.Run[map[string]any](app, stellartest.Internal, "secret", nil); err != nil || s["secret"] != 42.0 {
		t.Errorf("secret internally: %v, %v", s, err)
	}
	if stellartest.Code(nil) != "" || stellartest.Code(errors.New("x")) != "action_failed" {
		t.Error("Code of nil or of a plain error")
	}
}

// TestRunRequest: a web request carries the HTTP fields, and the test
// reads what the action set on them.
func TestRunRequest(t *testing.T) {
	app := stellartest.New(t, setup)
	r := app.NewRequest(stellartest.Web)
	out, err := stellartest.RunRequest[map[string]any](app, r, "teapot", nil)
	if err != nil || out["conn"] != "web" || out["path"] != "/api/teapot" {
		t.Fatalf("teapot: %v, %v", out, err)
	}
	if r.Status != http.StatusTeapot || r.Header.Get("X-Brew") != "earl grey" {
		t.Errorf("status %d, header %v", r.Status, r.Header)
	}
	if out, err := stellartest.Run[map[string]any](app, stellartest.TCP, "teapot", nil); err != nil || out["conn"] != "tcp" || out["path"] != "" {
		t.Errorf("teapot over tcp: %v, %v", out, err)
	}
}

// TestEnqueuedAndPublished: what an action enqueues (at once and
// delayed) and publishes is listed; with no workers nothing runs until
// RunTask runs it inline.
func TestEnqueuedAndPublished(t *testing.T) {
	app := stellartest.New(t, setup)
	if _, err := stellartest.Run[map[string]any](app, stellartest.Web, "signup", map[string]any{"email": "ann@example.com"}); err != nil {
		t.Fatal(err)
	}
	enq := app.Enqueued()
	if len(enq) != 2 || enq[0].Name != "mail" || enq[0].Queue != "default" || !enq[0].RunAt.IsZero() || enq[1].Queue != "later" {
		t.Fatalf("enqueued = %+v", enq)
	}
	var in MailIn
	if err := enq[0].Decode(&in); err != nil || in.To != "ann@example.com" {
		t.Errorf("args %s: %+v, %v", enq[0].Args, in, err)
	}
	delayed := app.Delayed()
	if len(delayed) != 1 || delayed[0].ID != enq[1].ID || time.Until(delayed[0].RunAt) < 23*time.Hour {
		t.Errorf("delayed = %+v", delayed)
	}
	pub := app.Published()
	var p map[string]string
	if len(pub) != 1 || pub[0].Type != "signed.up" || pub[0].From != stellartest.NodeID || pub[0].Decode(&p) != nil || p["email"] != "ann@example.com" {
		t.Errorf("published = %+v", pub)
	}
	// No worker ran it.
	if _, err := stellar.CacheLoad[bool](t.Context(), app.Cache, "mailed:ann@example.com"); !errors.Is(err, stellar.ErrCacheNotFound) {
		t.Fatalf("the task ran without workers: %v", err)
	}
	if err := app.RunTask("mail", MailIn{To: "ann@example.com"}); err != nil {
		t.Fatal(err)
	}
	if ok, err := stellar.CacheLoad[bool](t.Context(), app.Cache, "mailed:ann@example.com"); err != nil || !ok {
		t.Errorf("after RunTask: %v, %v", ok, err)
	}
	if err := app.RunTask("mail", MailIn{To: "bo@fail.example"}); err == nil || !strings.Contains(err.Error(), "mailbox full") {
		t.Errorf("a failing task: %v", err)
	}
	if err := app.RunTask("mail", map[string]any{"to": "nope"}); stellartest.Code(err) != "validation_failed" {
		t.Errorf("bad args: %v", err)
	}
	app.Reset()
	if len(app.Enqueued())+len(app.Published()) != 0 {
		t.Error("Reset kept records")
	}
}

// TestClock: on the fake clock, a cache entry expires and a delayed task
// becomes due when the test advances it, and a periodic task runs once
// per period it crosses.
func TestClock(t *testing.T) {
	clock := stellartest.NewClock(time.Time{})
	var ticks atomic.Int64
	app := stellartest.New(t, func(app *stellar.App) error {
		if err := setup(app); err != nil {
			return err
		}
		return app.Tasks.Register(&stellar.TaskDefinition{Name: "tick", Frequency: time.Hour, Handler: stellar.TaskHandlerFunc(func(context.Context, *stellar.Task) error {
			ticks.Add(1)
			return nil
		})})
	}, stellartest.WithClock(clock), stellartest.WithWorkers(2))
	ctx := t.Context()
	if app.Clock() != clock {
		t.Fatal("Clock() is not the clock given")
	}
	if err := app.Cache.Save(ctx, "k", "v", stellar.CacheTTL(time.Minute)); err != nil {
		t.Fatal(err)
	}
	var entry stellar.CacheEntry
	if v, err := stellar.CacheLoad[string](ctx, app.Cache, "k", stellar.CacheWithEntry(&entry)); err != nil || v != "v" || !entry.ExpireAt.Equal(stellartest.Start.Add(time.Minute)) {
		t.Fatalf("load: %q, %v, expires %v", v, err, entry.ExpireAt)
	}
	clock.Advance(time.Minute)
	if _, err := stellar.CacheLoad[string](ctx, app.Cache, "k"); !errors.Is(err, stellar.ErrCacheNotFound) {
		t.Errorf("after a minute: %v", err)
	}

	app.Eventually("the periodic task's first run", func() bool { return ticks.Load() == 1 })
	if _, err := app.Tasks.Enqueue(ctx, "mail", MailIn{To: "cy@example.com"}, stellar.TaskIn(2*time.Hour)); err != nil {
		t.Fatal(err)
	}
	d := app.Delayed()
	if len(d) != 1 || !d[0].RunAt.Equal(clock.Now().Add(2*time.Hour)) {
		t.Fatalf("delayed = %+v", d)
	}
	mailed := func() bool {
		ok, err := stellar.CacheLoad[bool](ctx, app.Cache, "mailed:cy@example.com")
		return err == nil && ok
	}
	clock.Advance(time.Hour)
	app.Eventually("the second periodic run", func() bool { return ticks.Load() == 2 })
	if mailed() {
		t.Fatal("the delayed task ran an hour early")
	}
	clock.Advance(time.Hour)
	app.Eventually("the delayed task", mailed)
	app.Eventually("the third periodic run", func() bool { return ticks.Load() == 3 })
}

// TestClient: persistent connections join a room, say and receive in
// it, keep params, and run actions; the connection middleware can refuse
// one.
func TestClient(t *testing.T) {
	var closed atomic.Int64
	app := stellartest.New(t, func(app *stellar.App) error {
		if err := setup(app); err != nil {
			return err
		}
		if err := app.Actions.Register(&stellar.Action{Name: "whoami", Run: func(ctx context.Context, r *stellar.Request) error {
			r.Response["name"] = r.Params.String("name")
			r.Response["type"] = r.Conn.Type
			return nil
		}}); err != nil {
			return err
		}
		return app.Connections.Use(&stellar.ConnectionMiddleware{
			Name: "bouncer",
			Create: func(ctx context.Context, c *stellar.Conn) error {
				if c.Type == stellar.ConnectionTCP && len(app.Connections.All()) >= 2 {
					return stellar.NewError("full", http.StatusServiceUnavailable, "the server is full")
				}
				return nil
			},
			Destroy: func(ctx context.Context, c *stellar.Conn) { closed.Add(1) },
		})
	})
	ann, bo := app.Connect(stellartest.WebSocket), app.Connect(stellartest.TCP)
	if ann.Welcome()["id"] != ann.ID() || ann.Welcome()["defaultRoom"] != "defaultRoom" {
		t.Errorf("welcome = %v", ann.Welcome())
	}
	for _, c := range []*stellartest.Client{ann, bo} {
		if err := c.RoomAdd("lobby"); stellartest.Code(err) != "room_not_found" {
			t.Fatalf("roomAdd of a missing room: %v", err)
		}
	}
	if err := app.Chat.Create(t.Context(), "lobby"); err != nil {
		t.Fatal(err)
	}
	for _, c := range []*stellartest.Client{ann, bo} {
		if err := c.RoomAdd("lobby"); err != nil {
			t.Fatal(err)
		}
	}
	st, err := ann.RoomView("lobby")
	if err != nil || st.MembersCount != 2 {
		t.Fatalf("roomView: %+v, %v", st, err)
	}
	if err := ann.Say("lobby", "hello"); err != nil {
		t.Fatal(err)
	}
	m := bo.WaitMessage("ann's message", func(m map[string]any) bool { return m["message"] == "hello" })
	if m["from"] != ann.ID() || m["room"] != "lobby" {
		t.Errorf("message = %v", m)
	}
	if pub := app.Published(); len(pub) == 0 {
		t.Error("the room's message is not among the published")
	}
	if err := bo.Say("elsewhere", "x"); stellartest.Code(err) == "" {
		t.Error("say in a room bo is not in")
	}

	if err := ann.ParamAdd("name", "ann"); err != nil {
		t.Fatal(err)
	}
	type who struct{ Name, Type string }
	if w, err := stellartest.RunOn[who](ann, "whoami", nil); err != nil || w.Name != "ann" || w.Type != "websocket" {
		t.Errorf("whoami: %+v, %v", w, err)
	}
	if out, err := stellartest.RunOn[AddOut](ann, "add", AddIn{A: 4, B: 2}); err != nil || out.Sum != 6 {
		t.Errorf("add over websocket: %+v, %v", out, err)
	}
	if _, err := stellartest.RunOn[AddOut](bo, "add", AddIn{A: 4}); stellartest.Code(err) != "connection_blocked" {
		t.Errorf("add over tcp: %v", err)
	}
	if d, err := ann.Details(); err != nil || d["type"] != "websocket" || fmt.Sprint(d["rooms"]) != "[lobby]" {
		t.Errorf("details: %v, %v", d, err)
	}

	if _, err := app.TryConnect(stellartest.TCP); stellartest.Code(err) != "full" {
		t.Errorf("a third connection: %v, want the middleware's refusal", err)
	}
	bo.Close()
	bo.Close()
	app.Eventually("bo's destroy middleware", func() bool { return closed.Load() == 1 })
	if st, err := ann.RoomView("lobby"); err != nil || st.MembersCount != 1 {
		t.Errorf("after bo left: %+v, %v", st, err)
	}
}
