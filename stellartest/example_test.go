package stellartest_test

import (
	"context"
	"fmt"
	"time"

	"github.com/stellarfw/stellar-go"
	"github.com/stellarfw/stellar-go/stellartest"
)

// exampleT stands for the test's *testing.T, which an Example has not:
// in a test, pass t.
type exampleT struct {
	ctx      context.Context
	cancel   context.CancelFunc
	cleanups []func()
}

func newT() *exampleT {
	ctx, cancel := context.WithCancel(context.Background())
	return &exampleT{ctx: ctx, cancel: cancel}
}

func (t *exampleT) Helper()                           {}
func (t *exampleT) Cleanup(f func())                  { t.cleanups = append(t.cleanups, f) }
func (t *exampleT) Context() context.Context          { return t.ctx }
func (t *exampleT) Errorf(format string, args ...any) { fmt.Printf("error: "+format+"\n", args...) }
func (t *exampleT) Fatalf(format string, args ...any) { panic(fmt.Sprintf(format, args...)) }

// end is the end of the test: the cleanups run, last first.
func (t *exampleT) end() {
	t.cancel()
	for i := len(t.cleanups) - 1; i >= 0; i-- {
		t.cleanups[i]()
	}
}

type RandomIn struct {
	Max float64 `default:"1" validate:"min:0"`
}

type RandomOut struct {
	Number float64 `json:"number"`
}

// register is the program's setup, which its main calls too.
func register(app *stellar.App) error {
	return app.Actions.Register(stellar.TypedAction("randomNumber",
		func(ctx context.Context, r *stellar.Request, in RandomIn) (RandomOut, error) {
			return RandomOut{Number: in.Max / 2}, nil
		}))
}

// A user's action test, in five lines.
func ExampleNew() {
	t := newT() // in a test: the *testing.T
	defer t.end()

	app := stellartest.New(t, register)
	out, err := stellartest.Run[RandomOut](app, stellartest.Web, "randomNumber", RandomIn{Max: 10})
	if err != nil || out.Number > 10 {
		t.Fatalf("randomNumber: %+v, %v", out, err)
	}
	fmt.Println(out.Number)
	// Output: 5
}

// Run returns the error a client of that connection type gets; Code
// reads its code.
func ExampleRun() {
	t := newT()
	defer t.end()

	app := stellartest.New(t, func(app *stellar.App) error {
		if err := register(app); err != nil {
			return err
		}
		return app.Actions.Register(&stellar.Action{
			Name:                   "webOnly",
			BlockedConnectionTypes: []string{stellar.ConnectionTCP, stellar.ConnectionWebSocket},
			Run:                    func(ctx context.Context, r *stellar.Request) error { return nil },
		})
	})
	_, err := stellartest.Run[RandomOut](app, stellartest.Web, "randomNumber", map[string]any{"max": -1})
	fmt.Println(stellartest.Code(err), err)
	_, err = stellartest.Run[map[string]any](app, stellartest.TCP, "webOnly", nil)
	fmt.Println(stellartest.Code(err))
	_, err = stellartest.Run[map[string]any](app, stellartest.Web, "webOnly", nil)
	fmt.Println(err)
	// Output:
	// validation_failed validation_failed: invalid parameter: max must be at least 0
	// connection_blocked
	// <nil>
}

// An action that enqueues: the test sees what it enqueued, at once and
// delayed, and runs the task itself (the app runs no workers).
func ExampleApp_Enqueued() {
	t := newT()
	defer t.end()

	type WelcomeIn struct {
		Name string `validate:"required"`
	}
	app := stellartest.New(t, func(app *stellar.App) error {
		if err := app.Tasks.Register(stellar.TypedTask("welcome", func(ctx context.Context, tk *stellar.Task, in WelcomeIn) error {
			fmt.Println("welcome,", in.Name)
			return nil
		})); err != nil {
			return err
		}
		return app.Actions.Register(stellar.TypedAction("signup", func(ctx context.Context, r *stellar.Request, in WelcomeIn) (struct{}, error) {
			if _, err := app.Tasks.Enqueue(ctx, "welcome", in); err != nil {
				return struct{}{}, err
			}
			_, err := app.Tasks.Enqueue(ctx, "welcome", in, stellar.TaskIn(24*time.Hour))
			return struct{}{}, err
		}))
	})
	if _, err := stellartest.Run[struct{}](app, stellartest.Web, "signup", WelcomeIn{Name: "ann"}); err != nil {
		t.Fatalf("signup: %v", err)
	}
	for _, tk := range app.Enqueued() {
		fmt.Println(tk.Name, string(tk.Args), !tk.RunAt.IsZero())
	}
	fmt.Println(len(app.Delayed()), "delayed")
	if err := app.RunTask("welcome", WelcomeIn{Name: "ann"}); err != nil {
		t.Fatalf("welcome: %v", err)
	}
	// Output:
	// welcome {"name":"ann"} false
	// welcome {"name":"ann"} true
	// 1 delayed
	// welcome, ann
}

// What the app published to the cluster.
func ExampleApp_Published() {
	t := newT()
	defer t.end()

	app := stellartest.New(t, func(app *stellar.App) error {
		return app.Actions.Register(&stellar.Action{Name: "announce", Run: func(ctx context.Context, r *stellar.Request) error {
			return app.Cluster.Publish(ctx, "news", map[string]string{"text": r.Params.String("text")})
		}})
	})
	if _, err := stellartest.Run[map[string]any](app, stellartest.Web, "announce", map[string]any{"text": "hello"}); err != nil {
		t.Fatalf("announce: %v", err)
	}
	for _, m := range app.Published() {
		fmt.Println(m.Type, m.From, string(m.Payload))
	}
	// Output: news stellartest {"text":"hello"}
}

// The fake clock: the cache's expiries (and the task queues' delays)
// follow it.
func ExampleWithClock() {
	t := newT()
	defer t.end()

	clock := stellartest.NewClock(time.Time{})
	app := stellartest.New(t, nil, stellartest.WithClock(clock))
	ctx := t.Context()
	if err := app.Cache.Save(ctx, "session", "ann", stellar.CacheTTL(time.Hour)); err != nil {
		t.Fatalf("save: %v", err)
	}
	clock.Advance(59 * time.Minute)
	v, err := stellar.CacheLoad[string](ctx, app.Cache, "session")
	fmt.Println(v, err)
	clock.Advance(time.Minute)
	_, err = stellar.CacheLoad[string](ctx, app.Cache, "session")
	fmt.Println(err)
	// Output:
	// ann <nil>
	// cache: not found
}

// Two persistent connections in a chat room, and an action run over one
// of them.
func ExampleApp_Connect() {
	t := newT()
	defer t.end()

	app := stellartest.New(t, register)
	ann, bo := app.Connect(stellartest.WebSocket), app.Connect(stellartest.TCP)
	for _, c := range []*stellartest.Client{ann, bo} {
		if err := c.RoomAdd("defaultRoom"); err != nil {
			t.Fatalf("roomAdd: %v", err)
		}
	}
	if err := ann.Say("defaultRoom", "hi bo"); err != nil {
		t.Fatalf("say: %v", err)
	}
	m := bo.WaitMessage("ann's message", func(m map[string]any) bool { return m["message"] != nil })
	fmt.Println(m["message"], m["from"] == ann.ID())

	if err := bo.ParamAdd("max", 4); err != nil {
		t.Fatalf("paramAdd: %v", err)
	}
	out, err := stellartest.RunOn[RandomOut](bo, "randomNumber", nil)
	fmt.Println(out.Number, err)
	// Output:
	// hi bo true
	// 2 <nil>
}
