package cli

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stellarfw/stellar-go/action"
	"github.com/stellarfw/stellar-go/config"
	httpt "github.com/stellarfw/stellar-go/transport/http"
)

// runMain runs the command line as the program at path /usr/local/bin/myapp.
func runMain(t *testing.T, app App, args ...string) (int, string, string) {
	t.Helper()
	var out, errOut bytes.Buffer
	code := Main(app, Info{Version: "9.9.9"}, append([]string{"/usr/local/bin/myapp"}, args...), &out, &errOut)
	return code, out.String(), errOut.String()
}

// TestHelp: every command's --help goes to stdout, names the program as
// it was run, and lists that command's flags only.
func TestHelp(t *testing.T) {
	tests := []struct {
		args    []string
		want    []string // in the help
		notWant []string // flags the command does not take
	}{
		{[]string{"help"}, []string{"myapp run [flags]", "myapp tasks COMMAND", "myapp help [command]"}, nil},
		{[]string{"--help"}, []string{"myapp run [flags]"}, nil},
		{[]string{"run", "--help"}, []string{"Usage: myapp run [flags]", "-http", "-tcp", "-redis", "-token", "-config", ":8080"}, []string{"-json", "-keys"}},
		{[]string{"help", "run"}, []string{"Usage: myapp run [flags]", "-http"}, nil},
		{[]string{"config", "-h"}, []string{"Usage: myapp config [flags]", "-keys", "-http"}, []string{"-json"}},
		{[]string{"docs", "--help"}, []string{"Usage: myapp docs [flags]", "-config"}, []string{"-http", "-redis", "-token"}},
		{[]string{"version", "--help"}, []string{"Usage: myapp version", "-config"}, []string{"-http"}},
		{[]string{"tasks", "--help"}, []string{"myapp tasks stats", "myapp tasks enqueue", "NAME [JSON-ARGS]"}, nil},
		{[]string{"tasks", "stats", "--help"}, []string{"Usage: myapp tasks stats [flags]", "-redis", "-config", "-json"}, []string{"-http", "-tcp", "-token", "-queue", "-offset", "-id"}},
		{[]string{"tasks", "enqueue", "--help"}, []string{"Usage: myapp tasks enqueue NAME [JSON-ARGS] [flags]", "-queue", "-in", "-redis"}, []string{"-http", "-offset"}},
		{[]string{"tasks", "failed", "-h"}, []string{"-offset", "-limit"}, []string{"-queue", "-http"}},
		{[]string{"tasks", "list", "--help"}, []string{"Usage: myapp tasks list [flags]", "-json", "needs no backend"}, []string{"-redis", "-http"}},
		{[]string{"help", "tasks", "pause"}, []string{"Usage: myapp tasks pause QUEUE [flags]"}, []string{"-http"}},
		{[]string{"cluster", "status", "--help"}, []string{"Usage: myapp cluster status [flags]", "-token-file", "-redis", "-token"}, []string{"-http", "-tcp"}},
		{[]string{"cluster", "--help"}, []string{"Usage: myapp cluster status"}, nil},
		{[]string{"startCluster", "--help"}, []string{"Usage: myapp startCluster [flags]", "-workers", "-name-prefix", "-pid-file", "-http"}, []string{"-json"}},
	}
	for _, tc := range tests {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			code, out, errOut := runMain(t, &docsApp{}, tc.args...)
			if code != ExitOK || errOut != "" {
				t.Fatalf("exit %d, stderr %q", code, errOut)
			}
			for _, w := range tc.want {
				if !strings.Contains(out, w) {
					t.Errorf("help lacks %q:\n%s", w, out)
				}
			}
			for _, w := range tc.notWant {
				if strings.Contains(out, "  "+w+" ") || strings.Contains(out, "  "+w+"\n") {
					t.Errorf("help lists %q, a flag the command does not take:\n%s", w, out)
				}
			}
			if strings.Contains(out, "stellar run") || strings.Contains(out, "stellar tasks") {
				t.Errorf("help names stellar, not the program:\n%s", out)
			}
		})
	}
}

// TestUsageErrors: a bad flag, an unknown command or a missing argument
// exits 2 with the error on stderr, naming the program, and nothing on
// stdout.
func TestUsageErrors(t *testing.T) {
	for _, args := range [][]string{
		{},
		{"nosuch"},
		{"run", "--nosuch"},
		{"tasks"},
		{"tasks", "nosuch"},
		{"tasks", "stats", "--http", ":1"}, // stats takes no --http
		{"tasks", "retry"},
		{"cluster", "nosuch"},
		{"docs", "extra"},
		{"startCluster", "--workers", "0"},
	} {
		code, out, errOut := runMain(t, &docsApp{}, args...)
		if code != ExitUsage || out != "" || !strings.Contains(errOut, "myapp") {
			t.Errorf("%q: exit %d, stdout %q, stderr %q; want 2, nothing, an error naming myapp", args, code, out, errOut)
		}
	}
	_, _, errOut := runMain(t, &docsApp{}, "startCluster", "--workers", "0")
	if !strings.Contains(errOut, "supervisor.workers") || !strings.Contains(errOut, "at least 1") {
		t.Errorf("--workers 0: %q", errOut)
	}
}

// TestVersion: version prints the app's version as configured (by the
// program, the config file or the environment) and the framework's.
func TestVersion(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "stellar.toml")
	if err := os.WriteFile(file, []byte("[general]\napi_version = \"2.3.4\"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	run := func(base config.Config, args ...string) string {
		t.Helper()
		var out, errOut bytes.Buffer
		if code := Main(&docsApp{}, Info{Base: base, Version: "9.9.9"}, append([]string{"myapp", "version"}, args...), &out, &errOut); code != ExitOK {
			t.Fatalf("version %v: exit %d: %s", args, code, errOut.String())
		}
		return out.String()
	}
	t.Chdir(t.TempDir())
	if out := run(config.Config{}); !strings.HasPrefix(out, "myapp 0.0.1\nstellar 9.9.9 (go") {
		t.Errorf("default: %q", out)
	}
	if out := run(config.Config{General: config.General{APIVersion: "1.0.0"}}); !strings.HasPrefix(out, "myapp 1.0.0\n") {
		t.Errorf("from the program: %q", out)
	}
	if out := run(config.Config{}, "--config", file); !strings.HasPrefix(out, "myapp 2.3.4\n") {
		t.Errorf("from the file: %q", out)
	}
	t.Setenv("STELLAR_GENERAL_API_VERSION", "5.0.0")
	if out := run(config.Config{}); !strings.HasPrefix(out, "myapp 5.0.0\n") {
		t.Errorf("from the environment: %q", out)
	}
}

// TestCheckRoutes: a route naming no registered action, or a version it
// lacks, is an error naming the route; the others pass.
func TestCheckRoutes(t *testing.T) {
	actions := action.NewRegistry(nil, "")
	run := func(context.Context, *action.Request) error { return nil }
	if err := actions.Register(&action.Action{Name: "giveAge", Run: run}, &action.Action{Name: "sum", Version: 2, Run: run}); err != nil {
		t.Fatal(err)
	}
	code := &httpt.Routes{}
	if err := code.Get("/age", "giveAge"); err != nil {
		t.Fatal(err)
	}
	good := config.Config{HTTP: config.HTTP{Routes: []config.Route{{Method: "get", Path: "/sum", Action: "sum", APIVersion: 2}}}}
	if err := CheckRoutes(good, code, actions); err != nil {
		t.Fatalf("good routes: %v", err)
	}
	bad := config.Config{HTTP: config.HTTP{Routes: []config.Route{
		{Method: "get", Path: "/ok", Action: "sum"},
		{Method: "post", Path: "/age", Action: "giveAg"},
		{Method: "get", Path: "/v3", Action: "sum", APIVersion: 3},
	}}}
	if err := code.Post("/nope", "nope"); err != nil {
		t.Fatal(err)
	}
	err := CheckRoutes(bad, code, actions)
	if err == nil {
		t.Fatal("bad routes passed")
	}
	for _, want := range []string{
		`route http.routes[1] (POST /age) names action "giveAg", which is not registered (did you mean "giveAge"?)`,
		`route http.routes[2] (GET /v3) names version 3 of action "sum", which has no such version`,
		`route added by the program (POST /nope) names action "nope", which is not registered`,
	} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks %q:\n%v", want, err)
		}
	}
	if strings.Contains(err.Error(), "routes[0]") {
		t.Errorf("the good route is reported:\n%v", err)
	}

	shadowed := config.Config{HTTP: config.HTTP{Routes: []config.Route{{Method: "get", Path: "/:what", Action: "sum"}}}}
	code = &httpt.Routes{}
	if err := code.Get("/:name", "giveAge"); err != nil {
		t.Fatal(err)
	}
	err = CheckRoutes(shadowed, code, actions)
	if !errors.Is(err, httpt.ErrRouteCollides) || !strings.Contains(err.Error(), `http.routes[0]: `) ||
		!strings.Contains(err.Error(), `GET /:name to "giveAge", added by the program`) {
		t.Errorf("a config route the code route shadows: %v", err)
	}
}
