// Command example is a small Stellar application: it registers a few
// actions and hands control to the stellar command line. Build it and you
// have the stellar binary with these actions:
//
//	go run ./example run          # serve on :8080
//	curl localhost:8080/api/randomNumber
package main

import (
	"context"
	"embed"
	"fmt"
	"io/fs"
	"math/rand/v2"
	"net/http"
	"os"
	"time"

	"github.com/stellarfw/stellar-go"
)

//go:embed public
var public embed.FS

func main() {
	app := stellar.New(stellar.Config{})
	if err := setup(app); err != nil {
		fmt.Fprintln(os.Stderr, "example:", err)
		os.Exit(2)
	}
	os.Exit(app.Main(os.Args))
}

// setup registers the example's actions, middleware, routes, files, start
// hook and event listener.
func setup(app *stellar.App) error {
	files, err := fs.Sub(public, "public")
	if err != nil {
		return err
	}
	app.Public = files
	if err := app.Actions.Use(servedBy(app)); err != nil {
		return err
	}
	if err := app.Actions.Register(
		randomNumber(),
		giveAge(),
		greetV1(), greetV2(),
		sumNumbers(), calculate(app),
		sleep(),
	); err != nil {
		return err
	}
	if err := setupTasks(app); err != nil {
		return err
	}
	if err := setupCluster(app); err != nil {
		return err
	}
	if err := setupChat(app); err != nil {
		return err
	}
	if err := setupLifecycle(app); err != nil {
		return err
	}
	for _, r := range []struct{ method, path, action string }{
		{"get", "/random", "randomNumber"},
		{"get", "/age/:name/:birthYear", "giveAge"},
		{"post", "/calculate", "calculate"},
	} {
		if err := app.Routes.Add(r.method, r.path, r.action, 0); err != nil {
			return err
		}
	}
	return nil
}

// servedBy is global middleware that names the node in a response header.
func servedBy(app *stellar.App) *stellar.Middleware {
	return &stellar.Middleware{
		Name:   "servedBy",
		Global: true,
		Pre: func(ctx context.Context, r *stellar.Request) error {
			if r.Header != nil {
				r.Header.Set("X-Served-By", app.ID())
			}
			return nil
		},
	}
}

// randomNumber is Stellar's first example action.
func randomNumber() *stellar.Action {
	return &stellar.Action{
		Name:          "randomNumber",
		Description:   "Generate a random number",
		OutputExample: map[string]any{"number": 0.4042, "formattedNumber": "Your random number is 0.4042"},
		Run: func(ctx context.Context, r *stellar.Request) error {
			n := rand.Float64()
			r.Response["number"] = n
			r.Response["formattedNumber"] = fmt.Sprintf("Your random number is %v", n)
			return nil
		},
	}
}

// giveAge shows typed, validated inputs.
func giveAge() *stellar.Action {
	return &stellar.Action{
		Name:        "giveAge",
		Description: "Give the name and age based on the year of birth",
		Inputs: map[string]stellar.Input{
			"name":      {Required: true, Format: stellar.String, Validator: "alpha_dash|max:40"},
			"birthYear": {Required: true, Format: stellar.Integer, Validator: "between:1900,2100"},
		},
		Run: func(ctx context.Context, r *stellar.Request) error {
			year, _ := stellar.Param[int64](r.Params, "birthYear")
			age := int64(time.Now().Year()) - year
			r.Response["result"] = fmt.Sprintf("%s is aged %d years", r.Params.String("name"), age)
			return nil
		},
	}
}

// greetV1 and greetV2 are two versions of one action; clients get the
// newest unless they pass apiVersion=1.
func greetV1() *stellar.Action {
	return &stellar.Action{
		Name: "greet", Version: 1,
		Description: "Say hello",
		Inputs:      map[string]stellar.Input{"name": {Default: "world"}},
		Run: func(ctx context.Context, r *stellar.Request) error {
			r.Response["greeting"] = "Hello, " + r.Params.String("name")
			return nil
		},
	}
}

func greetV2() *stellar.Action {
	return &stellar.Action{
		Name: "greet", Version: 2,
		Description: "Say hello, in the language asked for",
		Inputs: map[string]stellar.Input{
			"name":     {Default: "world"},
			"language": {Default: "en", Validator: "in:en,pt,fr"},
		},
		Run: func(ctx context.Context, r *stellar.Request) error {
			words := map[string]string{"en": "Hello", "pt": "Olá", "fr": "Bonjour"}
			r.Response["greeting"] = words[r.Params.String("language")] + ", " + r.Params.String("name")
			return nil
		},
	}
}

// sumNumbers is private: clients cannot call it, other actions can.
func sumNumbers() *stellar.Action {
	return &stellar.Action{
		Name:        "sumNumbers",
		Description: "Add two numbers (internal)",
		Private:     true,
		Inputs: map[string]stellar.Input{
			"a": {Required: true, Format: stellar.Float},
			"b": {Required: true, Format: stellar.Float},
		},
		Run: func(ctx context.Context, r *stellar.Request) error {
			r.Response["sum"] = r.Params.Float("a") + r.Params.Float("b")
			return nil
		},
	}
}

// calculate calls the private sumNumbers action internally.
func calculate(app *stellar.App) *stellar.Action {
	return &stellar.Action{
		Name:        "calculate",
		Description: "Add two numbers, then double the sum",
		Inputs: map[string]stellar.Input{
			"a": {Required: true, Format: stellar.Float},
			"b": {Required: true, Format: stellar.Float},
		},
		Run: func(ctx context.Context, r *stellar.Request) error {
			res, err := app.Actions.Call(ctx, "sumNumbers", map[string]any{"a": r.Params["a"], "b": r.Params["b"]})
			if err != nil {
				return err
			}
			sum := res["sum"].(float64)
			r.Response["sum"] = sum
			r.Response["double"] = 2 * sum
			return nil
		},
	}
}

// sleep takes its time, to show graceful draining: stop the node while a
// call runs and the call still completes, while new calls get 503.
func sleep() *stellar.Action {
	return &stellar.Action{
		Name:        "sleep",
		Description: "Wait for ms milliseconds (at most 60000), then answer",
		Inputs: map[string]stellar.Input{
			"ms": {Default: int64(2000), Format: stellar.Integer, Validator: "between:0,60000"},
		},
		Run: func(ctx context.Context, r *stellar.Request) error {
			d := time.Duration(r.Params.Int("ms")) * time.Millisecond
			t := time.NewTimer(d)
			defer t.Stop()
			select {
			case <-t.C:
			case <-ctx.Done():
				return stellar.NewError("cancelled", http.StatusServiceUnavailable, "the call was cancelled before it finished")
			}
			r.Response["slept"] = d.Milliseconds()
			return nil
		},
	}
}
