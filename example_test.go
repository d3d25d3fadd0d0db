package stellar_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/stellarfw/stellar-go"
)

// started starts an app with no listener, logging nowhere, for the
// examples; stop it with app.Shutdown.
func started(register func(app *stellar.App) error) *stellar.App {
	app := stellar.New(stellar.Config{ID: "node-1"}, stellar.WithLogOutput(io.Discard))
	cfg := app.Config()
	cfg.HTTP.Addr, cfg.TCP.Addr = "off", "off"
	if err := app.Configure(cfg); err != nil {
		panic(err)
	}
	if register != nil {
		if err := register(app); err != nil {
			panic(err)
		}
	}
	if err := app.Start(context.Background()); err != nil {
		panic(err)
	}
	return app
}

type GreetIn struct {
	Name string `validate:"required|alpha"`
}

type GreetOut struct {
	Greeting string `json:"greeting"`
}

// A program: New, an action, and the command line. Here the action is
// called internally instead of served.
func ExampleNew() {
	app := stellar.New(stellar.Config{})
	err := app.Actions.Register(stellar.TypedAction("greet",
		func(ctx context.Context, r *stellar.Request, in GreetIn) (GreetOut, error) {
			return GreetOut{Greeting: "hello, " + in.Name}, nil
		}))
	if err != nil {
		panic(err)
	}
	// In main: os.Exit(app.Main(os.Args)), which serves it at /api/greet.
	out, err := stellar.CallAs[GreetOut](context.Background(), app, "greet", GreetIn{Name: "ann"})
	fmt.Println(out.Greeting, err)
	// Output: hello, ann <nil>
}

// Registering actions: the map form, with declared inputs and a version.
func Example_register() {
	app := stellar.New(stellar.Config{})
	err := app.Actions.Register(
		&stellar.Action{
			Name: "giveAge",
			Inputs: map[string]stellar.Input{
				"name":      {Required: true, Format: stellar.String},
				"birthYear": {Required: true, Format: stellar.Integer, Validator: "between:1900,2100"},
			},
			Run: func(ctx context.Context, r *stellar.Request) error {
				year, _ := stellar.Param[int64](r.Params, "birthYear")
				r.Response["result"] = fmt.Sprintf("%s was born in %d", r.Params.String("name"), year)
				return nil
			},
		},
	)
	if err != nil {
		panic(err)
	}
	res, err := app.Actions.Call(context.Background(), "giveAge", map[string]any{"name": "ann", "birthYear": "1990"})
	fmt.Println(res["result"], err)
	_, err = app.Actions.Call(context.Background(), "giveAge", map[string]any{"name": "ann", "birthYear": "1800"})
	fmt.Println(err)
	// Output:
	// ann was born in 1990 <nil>
	// validation_failed: invalid parameter: birthYear must be between 1900 and 2100
}

// Enqueueing a task, at once and delayed, from anywhere in the program.
func Example_enqueue() {
	type MailIn struct {
		To string `validate:"required|email"`
	}
	sent := make(chan string, 1)
	app := started(func(app *stellar.App) error {
		return app.Tasks.Register(stellar.TypedTask("mail", func(ctx context.Context, t *stellar.Task, in MailIn) error {
			sent <- in.To
			return nil
		}, func(d *stellar.TaskDefinition) { d.Queue = "mail" }))
	})
	defer app.Shutdown(context.Background())

	ctx := context.Background()
	if _, err := app.Tasks.Enqueue(ctx, "mail", MailIn{To: "ann@example.com"}); err != nil {
		panic(err)
	}
	fmt.Println("sent to", <-sent)
	_, err := app.Tasks.Enqueue(ctx, "mail", MailIn{To: "bo@example.com"}, stellar.TaskIn(time.Hour), stellar.TaskUnique("bo"))
	fmt.Println(err)
	_, err = app.Tasks.Enqueue(ctx, "mail", MailIn{To: "bo@example.com"}, stellar.TaskIn(time.Hour), stellar.TaskUnique("bo"))
	fmt.Println(errors.Is(err, stellar.ErrDuplicateTask))
	// Output:
	// sent to ann@example.com
	// <nil>
	// true
}

// The cache: save with a TTL, load as a type, with its metadata.
func Example_cache() {
	app := started(nil)
	defer app.Shutdown(context.Background())

	type Session struct{ User string }
	ctx := context.Background()
	if err := app.Cache.Save(ctx, "session:1", Session{User: "ann"}, stellar.CacheTTL(time.Hour)); err != nil {
		panic(err)
	}
	var entry stellar.CacheEntry
	s, err := stellar.CacheLoad[Session](ctx, app.Cache, "session:1", stellar.CacheWithEntry(&entry))
	fmt.Println(s.User, err, entry.ExpireAt.Sub(entry.CreatedAt))
	_, err = stellar.CacheLoad[Session](ctx, app.Cache, "session:2")
	fmt.Println(errors.Is(err, stellar.ErrCacheNotFound))
	// Output:
	// ann <nil> 1h0m0s
	// true
}

// Cluster.Do calls a method on the live nodes (here, the one node) and
// returns the first answer; ToNode picks the node.
func Example_clusterDo() {
	app := started(func(app *stellar.App) error {
		app.Cluster.HandleFunc("whoami", func(ctx context.Context, call *stellar.ClusterCall) (any, error) {
			return map[string]string{"id": app.ID(), "askedBy": call.From}, nil
		})
		return nil
	})
	defer app.Shutdown(context.Background())

	ctx := context.Background()
	reply, err := app.Cluster.Do(ctx, "whoami", nil)
	if err != nil {
		panic(err)
	}
	var who map[string]string
	err = reply.Decode(&who)
	fmt.Println(reply.Node, who["id"], who["askedBy"], err)
	_, err = app.Cluster.Do(ctx, "whoami", nil, stellar.ToNode("node-2"))
	fmt.Println(err != nil)
	// Output:
	// node-1 node-1 node-1 <nil>
	// true
}

// Chat rooms: a chat middleware that changes every message said (by a
// client's say, or App.Chat.Broadcast), and rooms the server manages.
// Clients join rooms with the roomAdd verb; see package stellartest for
// a test that does.
func Example_chat() {
	app := started(func(app *stellar.App) error {
		return app.Chat.Use(&stellar.ChatMiddleware{
			Name: "shout",
			Say: func(ctx context.Context, from *stellar.Conn, m *stellar.ChatMessage) error {
				if s, ok := m.Message.(string); ok {
					m.Message = s + "!"
				}
				return nil
			},
		})
	})
	defer app.Shutdown(context.Background())

	ctx := context.Background()
	err := app.Chat.Create(ctx, "lobby")
	fmt.Println(err)
	err = app.Chat.Create(ctx, "lobby")
	fmt.Println(errors.Is(err, stellar.ErrRoomExists))
	rooms, err := app.Chat.List(ctx)
	fmt.Println(rooms, err)
	st, err := app.Chat.Status(ctx, "lobby")
	fmt.Println(st.MembersCount, err)
	// Output:
	// <nil>
	// true
	// [defaultRoom lobby] <nil>
	// 0 <nil>
}
