package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// The test binary doubles as the example binary: with STELLAR_EXAMPLE_MAIN
// set it runs main, so the tests drive a real process without a build step.
func TestMain(m *testing.M) {
	if os.Getenv("STELLAR_EXAMPLE_MAIN") == "1" {
		// A worker of startCluster is this binary run again with its own
		// arguments (run --id …): they win over STELLAR_EXAMPLE_ARGS.
		if len(os.Args) < 2 || strings.HasPrefix(os.Args[1], "-test.") {
			os.Args = append([]string{"example"}, strings.Fields(os.Getenv("STELLAR_EXAMPLE_ARGS"))...)
		}
		if dir := os.Getenv(faultRecordsEnv); dir != "" {
			os.Exit(faultNode(dir, os.Args))
		}
		main()
		return
	}
	os.Exit(m.Run())
}

type node struct {
	cmd    *exec.Cmd
	url    string
	stderr *lockedBuffer
	done   chan struct{}
	err    error
}

type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// command returns the example as a process with args, in dir.
func command(t *testing.T, dir string, env []string, args ...string) *exec.Cmd {
	t.Helper()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(exe)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "STELLAR_EXAMPLE_MAIN=1", "STELLAR_EXAMPLE_ARGS="+strings.Join(args, " "))
	cmd.Env = append(cmd.Env, env...)
	return cmd
}

func freePort(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// startNode runs `example run` on a free port and waits until it is ready.
func startNode(t *testing.T, args ...string) *node {
	t.Helper()
	addr := freePort(t)
	cmd := command(t, t.TempDir(), nil, append([]string{"run", "--http", addr, "--tcp", "off"}, args...)...)
	n := &node{cmd: cmd, url: "http://" + addr, stderr: &lockedBuffer{}, done: make(chan struct{})}
	cmd.Stderr = n.stderr
	cmd.Stdout = io.Discard
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { n.err = cmd.Wait(); close(n.done) }()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		<-n.done
	})
	deadline := time.Now().Add(15 * time.Second)
	for {
		res, err := http.Get(n.url + "/readyz")
		if err == nil {
			res.Body.Close()
			if res.StatusCode == 200 {
				return n
			}
		}
		select {
		case <-n.done:
			t.Fatalf("node exited before it was ready: %v\n%s", n.err, n.stderr)
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("node not ready in time:\n%s", n.stderr)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func call(t *testing.T, method, u string, body io.Reader, ctype string) (int, map[string]any, http.Header) {
	t.Helper()
	req, err := http.NewRequest(method, u, body)
	if err != nil {
		t.Fatal(err)
	}
	if ctype != "" {
		req.Header.Set("Content-Type", ctype)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	raw, _ := io.ReadAll(res.Body)
	var out map[string]any
	if strings.HasPrefix(res.Header.Get("Content-Type"), "application/json") {
		if err := json.Unmarshal(raw, &out); err != nil {
			t.Fatalf("bad JSON %q: %v", raw, err)
		}
	} else {
		out = map[string]any{"raw": string(raw)}
	}
	return res.StatusCode, out, res.Header
}

func TestExampleServes(t *testing.T) {
	n := startNode(t, "--id", "example-1")
	tests := []struct {
		name, method, path, body, ctype string
		status                          int
		check                           func(map[string]any) bool
	}{
		{"status", "GET", "/api/status", "", "", 200, func(b map[string]any) bool {
			return b["id"] == "example-1" && b["version"] != nil && b["uptime"] != nil
		}},
		{"random", "GET", "/api/randomNumber", "", "", 200, func(b map[string]any) bool {
			n, ok := b["number"].(float64)
			return ok && n >= 0 && n < 1
		}},
		{"random via route", "GET", "/api/random", "", "", 200, func(b map[string]any) bool { return b["number"] != nil }},
		{"typed inputs", "GET", "/api/giveAge?name=ana&birthYear=1990", "", "", 200, func(b map[string]any) bool {
			return strings.HasPrefix(fmt.Sprint(b["result"]), "ana is aged")
		}},
		{"typed inputs via route", "GET", "/api/age/bob/2000", "", "", 200, func(b map[string]any) bool {
			return strings.HasPrefix(fmt.Sprint(b["result"]), "bob is aged")
		}},
		{"validation", "GET", "/api/giveAge?name=a%20b&birthYear=1800", "", "", 422, func(b map[string]any) bool {
			f := b["error"].(map[string]any)["fields"].(map[string]any)
			return f["name"] != nil && f["birthYear"] != nil
		}},
		{"newest version", "GET", "/api/greet?name=you&language=pt", "", "", 200, func(b map[string]any) bool {
			return b["greeting"] == "Olá, you"
		}},
		{"old version", "GET", "/api/greet?name=you&apiVersion=1", "", "", 200, func(b map[string]any) bool {
			return b["greeting"] == "Hello, you"
		}},
		{"private", "GET", "/api/sumNumbers?a=1&b=2", "", "", 403, func(b map[string]any) bool {
			return b["error"].(map[string]any)["code"] == "private_action"
		}},
		{"internal call", "POST", "/api/calculate", `{"a":1.5,"b":2}`, "application/json", 200, func(b map[string]any) bool {
			return b["sum"] == 3.5 && b["double"] == 7.0
		}},
		{"form post", "POST", "/api/calculate", url.Values{"a": {"1"}, "b": {"2"}}.Encode(), "application/x-www-form-urlencoded", 200,
			func(b map[string]any) bool { return b["sum"] == 3.0 }},
		{"unknown", "GET", "/api/nope", "", "", 404, func(b map[string]any) bool {
			return b["error"].(map[string]any)["code"] == "action_not_found"
		}},
		{"embedded index", "GET", "/", "", "", 200, func(b map[string]any) bool {
			return strings.Contains(fmt.Sprint(b["raw"]), "Stellar for Go")
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var body io.Reader
			if tc.body != "" {
				body = strings.NewReader(tc.body)
			}
			status, b, h := call(t, tc.method, n.url+tc.path, body, tc.ctype)
			if status != tc.status || !tc.check(b) {
				t.Fatalf("status %d (want %d), body %v", status, tc.status, b)
			}
			if strings.HasPrefix(tc.path, "/api") && h.Get("X-Served-By") != "example-1" && status < 400 {
				t.Errorf("global middleware did not run: %v", h)
			}
		})
	}
}

// TestSIGTERMDrains: a request in flight when SIGTERM arrives completes,
// new requests get 503 meanwhile, and the process exits 0.
func TestSIGTERMDrains(t *testing.T) {
	n := startNode(t)
	slow := make(chan int, 1)
	go func() {
		res, err := http.Get(n.url + "/api/sleep?ms=1500")
		if err != nil {
			slow <- -1
			return
		}
		res.Body.Close()
		slow <- res.StatusCode
	}()
	// Wait until the sleep call is in flight (status counts itself too).
	waitUntil(t, func() bool {
		_, b, _ := call(t, "GET", n.url+"/api/status", nil, "")
		h, _ := b["http"].(map[string]any)
		return h["inFlight"] == 2.0
	})
	if err := n.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	saw503 := false
	waitUntil(t, func() bool {
		res, err := http.Get(n.url + "/api/randomNumber")
		if err != nil {
			return true // listener closed: the drain is over
		}
		res.Body.Close()
		if res.StatusCode == 503 {
			saw503 = true
		}
		return saw503
	})
	if got := <-slow; got != 200 {
		t.Fatalf("in-flight request got %d", got)
	}
	if !saw503 {
		t.Error("no 503 seen while draining")
	}
	<-n.done
	if n.err != nil {
		t.Fatalf("exit: %v\n%s", n.err, n.stderr)
	}
	if !strings.Contains(n.stderr.String(), "node stopped") {
		t.Errorf("no stop line in logs:\n%s", n.stderr)
	}
}

func waitUntil(t *testing.T, cond func() bool) {
	t.Helper()
	eventually(t, 10*time.Second, 10*time.Millisecond, cond, func() string { return "condition not met before the deadline" })
}

// eventually polls cond every interval until it holds, failing the test
// with failure() once limit has passed.
func eventually(t *testing.T, limit, interval time.Duration, cond func() bool, failure func() string) {
	t.Helper()
	if !within(limit, interval, cond) {
		t.Fatal(failure())
	}
}

// within polls cond every interval until it holds or limit has passed,
// and reports whether it held: the one polling loop of this package's
// tests.
func within(limit, interval time.Duration, cond func() bool) bool {
	deadline := time.Now().Add(limit)
	for !cond() {
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(interval)
	}
	return true
}

// runCLI runs the example to completion and returns its exit code and
// output.
func runCLI(t *testing.T, dir string, env []string, args ...string) (int, string, string) {
	t.Helper()
	if dir == "" {
		dir = t.TempDir()
	}
	cmd := command(t, dir, env, args...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	done := make(chan error, 1)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { done <- cmd.Wait() }()
	select {
	case <-done:
	case <-ctx.Done():
		_ = cmd.Process.Kill()
		<-done
		t.Fatalf("%v did not exit:\n%s", args, stderr.String())
	}
	return cmd.ProcessState.ExitCode(), stdout.String(), stderr.String()
}

func TestCLIErrors(t *testing.T) {
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	badConfig := t.TempDir()
	if err := os.WriteFile(filepath.Join(badConfig, "stellar.toml"), []byte("[http]\nadr = \":1\"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		dir  string
		args []string
		want string
	}{
		{"port in use", "", []string{"run", "--http", busy.Addr().String(), "--tcp", "off"}, "address already in use"},
		{"bad address", "", []string{"run", "--http", "nowhere", "--tcp", "off"}, "http.addr"},
		{"bad redis url", "", []string{"run", "--redis", "ftp://host", "--tcp", "off"}, "redis"},
		{"unknown flag", "", []string{"run", "--bogus"}, "bogus"},
		{"unknown config key", badConfig, []string{"run"}, "http.adr"},
		{"unknown command", "", []string{"frobnicate"}, "unknown command"},
		{"missing config file", "", []string{"run", "--config", "/nonexistent/stellar.toml"}, "nonexistent"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			code, _, stderr := runCLI(t, tc.dir, nil, tc.args...)
			if code != 2 {
				t.Fatalf("exit %d, want 2; stderr:\n%s", code, stderr)
			}
			if !strings.Contains(stderr, tc.want) {
				t.Fatalf("stderr does not mention %q:\n%s", tc.want, stderr)
			}
			if strings.Contains(stderr, "goroutine ") || strings.Contains(stderr, "panic") {
				t.Fatalf("stack trace on stderr:\n%s", stderr)
			}
		})
	}
	t.Run("port in use is one line", func(t *testing.T) {
		_, _, stderr := runCLI(t, "", []string{"STELLAR_LOG_FORMAT=text"}, "run", "--http", busy.Addr().String(), "--tcp", "off")
		lines := 0
		sc := bufio.NewScanner(strings.NewReader(stderr))
		for sc.Scan() {
			// The command line names the program as it was run.
			if strings.HasPrefix(sc.Text(), "example:") {
				lines++
			}
		}
		if lines != 1 {
			t.Fatalf("want exactly one error line, got:\n%s", stderr)
		}
	})
}

func TestCLIConfigMasksSecrets(t *testing.T) {
	code, stdout, stderr := runCLI(t, "", []string{"STELLAR_SERVER_TOKEN=hunter2-token"},
		"config", "--redis", "redis://:pa55word@127.0.0.1:6379/0", "--id", "cfg-node")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	if strings.Contains(stdout, "hunter2-token") || strings.Contains(stdout, "pa55word") {
		t.Fatalf("secret printed:\n%s", stdout)
	}
	var cfg map[string]any
	if err := json.Unmarshal([]byte(stdout), &cfg); err != nil {
		t.Fatalf("config output is not JSON: %v\n%s", err, stdout)
	}
	if cfg["id"] != "cfg-node" {
		t.Fatalf("flag not applied: %v", cfg["id"])
	}
	if !strings.Contains(stdout, "127.0.0.1:6379") {
		t.Fatalf("redis host should remain visible:\n%s", stdout)
	}
}

func TestCLIVersionAndHelp(t *testing.T) {
	if code, out, _ := runCLI(t, "", nil, "version"); code != 0 || !strings.Contains(out, "stellar ") {
		t.Fatalf("version: %d %q", code, out)
	}
	if code, out, _ := runCLI(t, "", nil, "help"); code != 0 || !strings.Contains(out, "startCluster") {
		t.Fatalf("help: %d %q", code, out)
	}
	// Help goes to stdout.
	code, stdout, _ := runCLI(t, "", nil, "run", "--help")
	if code != 0 || !strings.Contains(stdout, "-http") || !strings.Contains(stdout, ":8080") || !strings.Contains(stdout, "STELLAR_REDIS_URL") {
		t.Fatalf("run --help: %d\n%s", code, stdout)
	}
	if code, _, _ := runCLI(t, "", nil); code != 2 {
		t.Fatalf("no command: exit %d", code)
	}
}
