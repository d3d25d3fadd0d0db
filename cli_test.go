package stellar

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stellarfw/stellar-go/internal/redistest"
)

func TestTasksCLI(t *testing.T) {
	srv := redistest.Start(t)
	t.Setenv("STELLAR_REDIS_URL", "")
	t.Setenv("STELLAR_REDIS_PREFIX", redistest.Prefix(t))
	newApp := func() *App {
		a := New(Config{})
		if err := a.Tasks.Register(&TaskDefinition{Name: "send", Queue: "mail", Handler: TaskHandlerFunc(func(context.Context, *Task) error { return nil })}); err != nil {
			t.Fatal(err)
		}
		return a
	}
	runWith := func(redis bool, args ...string) (int, string, string) {
		var out, errOut bytes.Buffer
		if redis {
			args = append(args, "--redis", srv.URL())
		}
		code := newApp().main(append([]string{"stellar", "tasks"}, args...), &out, &errOut)
		return code, out.String(), errOut.String()
	}
	run := func(args ...string) (int, string, string) { return runWith(true, args...) }
	// list shows this program's definitions: it needs no backend.
	code, out, _ := runWith(false, "list", "--json")
	var defs []map[string]any
	if code != ExitOK || json.Unmarshal([]byte(out), &defs) != nil || len(defs) != 1 || defs[0]["queue"] != "mail" {
		t.Fatalf("list: %d %s", code, out)
	}
	// The others refuse to read a memory backend of their own.
	for _, args := range [][]string{{"stats"}, {"enqueue", "send"}, {"failed"}, {"retry", "x"}, {"remove", "x"}, {"delayed"}} {
		if code, out, errOut := runWith(false, args...); code != ExitUsage || out != "" || !strings.Contains(errOut, "no Redis configured: set --redis or STELLAR_REDIS_URL") {
			t.Errorf("tasks %v without Redis: exit %d, stdout %q, stderr %q", args, code, out, errOut)
		}
	}
	code, out, _ = run("enqueue", "send", `{"x":1}`, "--in", "1h", "--json")
	var enq map[string]string
	if code != ExitOK || json.Unmarshal([]byte(out), &enq) != nil || enq["id"] == "" {
		t.Fatalf("enqueue: %d %s", code, out)
	}
	if code, out, _ := run("stats"); code != ExitOK || !strings.Contains(out, "PENDING") {
		t.Fatalf("stats: %d %s", code, out)
	}
	if code, out, _ := run("delayed"); code != ExitOK || !strings.Contains(out, enq["id"]) {
		t.Fatalf("delayed: %d %s, want %s", code, out, enq["id"])
	}
	if code, _, _ := runWith(false); code == ExitOK {
		t.Error("tasks with no command succeeded")
	}
	for _, args := range [][]string{{"nosuch"}, {"retry"}, {"enqueue", "send", "{bad"}, {"enqueue", "nosuch"}, {"remove", "nope"}} {
		if code, _, _ := run(args...); code == ExitOK {
			t.Errorf("tasks %v succeeded", args)
		}
	}
	t.Setenv("STELLAR_REDIS_PREFIX", redistest.Prefix(t))
	if code, out, _ := run("delayed", "--json"); code != ExitOK || strings.TrimSpace(out) != "[]" {
		t.Fatalf("delayed on a fresh prefix: %d %s", code, out)
	}
}

// TestRouteToUnknownActionRefused: run and config exit 2 naming a route
// (of the config file or of the program) whose action is not registered,
// before anything starts.
func TestRouteToUnknownActionRefused(t *testing.T) {
	t.Setenv("STELLAR_LOG_FORMAT", "text") // the error as text, to read it whole
	dir := t.TempDir()
	file := filepath.Join(dir, "stellar.toml")
	if err := os.WriteFile(file, []byte("[[http.routes]]\nmethod = \"get\"\npath = \"/r\"\naction = \"statsu\"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, cmd := range []string{"run", "config"} {
		var out, errOut bytes.Buffer
		code := New(Config{}).main([]string{"stellar", cmd, "--config", file, "--http", "127.0.0.1:0", "--tcp", "off"}, &out, &errOut)
		if code != ExitUsage || !strings.Contains(errOut.String(), `route http.routes[0] (GET /r) names action "statsu", which is not registered (did you mean "status"?)`) {
			t.Errorf("%s: exit %d, stderr %q", cmd, code, errOut.String())
		}
	}
	app := New(Config{})
	if err := app.Routes.Get("/x", "nosuch"); err != nil {
		t.Fatal(err)
	}
	var out, errOut bytes.Buffer
	t.Chdir(dir)
	if code := app.main([]string{"stellar", "config", "--config", filepath.Join(t.TempDir(), "none.json")}, &out, &errOut); code != ExitUsage {
		t.Errorf("config with a missing file: exit %d", code)
	}
	errOut.Reset()
	if err := os.Remove(file); err != nil {
		t.Fatal(err)
	}
	if code := app.main([]string{"stellar", "config"}, &out, &errOut); code != ExitUsage || !strings.Contains(errOut.String(), `route added by the program (GET /x) names action "nosuch"`) {
		t.Errorf("config with a program route to nosuch: exit %d, stderr %q", code, errOut.String())
	}
}

// TestRouteCollisionExits: run and config exit 2, before anything
// starts, for a config route that a program route makes unreachable,
// naming both.
func TestRouteCollisionExits(t *testing.T) {
	t.Setenv("STELLAR_LOG_FORMAT", "text") // the error as text, to read it whole
	file := filepath.Join(t.TempDir(), "stellar.toml")
	if err := os.WriteFile(file, []byte("[[http.routes]]\nmethod = \"get\"\npath = \"/users/me\"\naction = \"status\"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	want := `http.routes[0]: http: route collides with an earlier one: GET /users/me to "status" can never match: GET /users/:id to "status", added by the program`
	for _, cmd := range []string{"run", "config"} {
		app := New(Config{})
		if err := app.Routes.Get("/users/:id", "status"); err != nil {
			t.Fatal(err)
		}
		var out, errOut bytes.Buffer
		code := app.main([]string{"stellar", cmd, "--config", file, "--http", "127.0.0.1:0", "--tcp", "off"}, &out, &errOut)
		if code != ExitUsage || !strings.Contains(errOut.String(), want) {
			t.Errorf("%s: exit %d, stderr %q", cmd, code, errOut.String())
		}
	}
}
