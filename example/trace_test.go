package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stellarfw/stellar-go/internal/logging/logtest"
	"github.com/stellarfw/stellar-go/internal/poll"
	"github.com/stellarfw/stellar-go/internal/redistest"
)

// startTraceProc runs an example node on Redis with JSON logs at debug,
// and env on top, and waits until it is ready.
func startTraceProc(t *testing.T, redisURL, prefix, id, token string, env ...string) (*clusterProc, *logtest.Recorder) {
	t.Helper()
	logs := &logtest.Recorder{}
	p := &clusterProc{id: id, addr: freePort(t), stderr: &lockedBuffer{}, done: make(chan struct{})}
	env = append([]string{"STELLAR_REDIS_PREFIX=" + prefix, "STELLAR_LOG_FORMAT=json", "STELLAR_LOG_LEVEL=debug",
		"STELLAR_CLUSTER_HEARTBEAT_INTERVAL=100ms", "STELLAR_CLUSTER_NODE_TTL=1s", "STELLAR_SHUTDOWN_TIMEOUT=5s"}, env...)
	p.cmd = command(t, t.TempDir(), env, "run", "--redis", redisURL, "--token", token, "--id", id, "--http", p.addr, "--tcp", "off")
	p.cmd.Stderr, p.cmd.Stdout = io.MultiWriter(p.stderr, logs), io.Discard
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { _ = p.cmd.Wait(); close(p.done) }()
	t.Cleanup(func() {
		_ = p.cmd.Process.Signal(syscall.SIGCONT)
		_ = p.cmd.Process.Kill()
		<-p.done
	})
	p.waitReady(t, 200)
	return p, logs
}

// findLine waits for a line of logs with msg and attribute key = value.
func findLine(t *testing.T, logs *logtest.Recorder, what, msg, key, value string) logtest.Line {
	t.Helper()
	var found logtest.Line
	poll.Until(t, what, 15*time.Second, func() bool {
		for _, l := range logs.Lines() {
			if l.Str("msg") == msg && l.Str(key) == value {
				found = l
				return true
			}
		}
		return false
	})
	return found
}

// TestTraceAcrossProcesses: two example processes on one Redis. A request
// to node-1 with a traceparent enqueues a task that only node-2 runs (node-1
// has no workers): the task's log line on node-2 carries the request's
// trace id. A request to node-1 that calls every node makes node-2's
// handler log under that request's trace id too. Node-1's request line
// carries the trace id, the status, the duration in ms and the
// X-Request-Id it answered with.
func TestTraceAcrossProcesses(t *testing.T) {
	const token = "trace-test-token"
	srv := redistest.StartOwn(t)
	prefix := redistest.Prefix(t)
	n1, logs1 := startTraceProc(t, srv.URL(), prefix, "node-1", token, "STELLAR_TASKS_WORKERS=0")
	_, logs2 := startTraceProc(t, srv.URL(), prefix, "node-2", token)

	send := func(path, traceparent string) *http.Response {
		t.Helper()
		req, err := http.NewRequest(http.MethodPost, "http://"+n1.addr+path, nil)
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Traceparent", traceparent)
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(res.Body)
		res.Body.Close()
		if res.StatusCode != http.StatusOK {
			t.Fatalf("%s: %d %s", path, res.StatusCode, body)
		}
		return res
	}

	// A task enqueued by a request runs on the other node in its trace.
	const taskTrace = "0af7651916cd43dd8448eb211c80319c"
	res := send("/api/signup?name=alice", "00-"+taskTrace+"-b7ad6b7169203331-01")
	line := findLine(t, logs1, "node-1's request line", "request", "request_id", res.Header.Get("X-Request-Id"))
	for k, v := range map[string]string{"trace_id": taskTrace, "status": "200", "action": "signup", "method": "POST", "path": "/api/signup"} {
		if line.Str(k) != v {
			t.Errorf("request line %s = %q, want %q: %v", k, line.Str(k), v, line)
		}
	}
	if _, ok := line["duration_ms"].(float64); !ok {
		t.Errorf("request line without duration_ms: %v", line)
	}
	ran := findLine(t, logs2, "the task's line on node-2", "welcome sent", "trace_id", taskTrace)
	if ran.Str("node") != "node-2" || ran.Str("name") != "alice" {
		t.Errorf("task line %v", ran)
	}
	for _, l := range logs1.Lines() {
		if l.Str("msg") == "welcome sent" {
			t.Fatalf("node-1, without workers, ran the task: %v", l)
		}
	}

	// A cluster call made by a request runs its handler on node-2 in the
	// request's trace.
	const rpcTrace = "4bf92f3577b34da6a3ce929d0e0e4736"
	send("/api/clusterWho", "00-"+rpcTrace+"-00f067aa0ba902b7-01")
	asked := findLine(t, logs2, "node-2's handler line", "whoami asked", "trace_id", rpcTrace)
	if asked.Str("node") != "node-2" || asked.Str("by") != "node-1" {
		t.Errorf("handler line %v", asked)
	}

	// Every line either process wrote is JSON.
	for _, out := range []string{n1.stderr.String()} {
		for _, l := range strings.Split(strings.TrimSpace(out), "\n") {
			if !strings.HasPrefix(l, "{") {
				t.Errorf("a line that is not JSON: %q", l)
			}
		}
	}
}

// TestCLIErrorsJSON: when the logs are JSON (log.format json, or auto on
// a pipe), the command's own error is a JSON line too, at ERROR: every
// line of stderr parses.
func TestCLIErrorsJSON(t *testing.T) {
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	for _, env := range [][]string{{"STELLAR_LOG_FORMAT=json"}, {"STELLAR_LOG_FORMAT=auto"}} {
		t.Run(env[0], func(t *testing.T) {
			code, _, stderr := runCLI(t, "", env, "run", "--http", busy.Addr().String(), "--tcp", "off", "--id", "cli-node")
			if code != 2 {
				t.Fatalf("exit %d: %s", code, stderr)
			}
			found := false
			for _, l := range strings.Split(strings.TrimSpace(stderr), "\n") {
				var line map[string]any
				if err := json.Unmarshal([]byte(l), &line); err != nil {
					t.Fatalf("a line that is not JSON: %q", l)
				}
				if line["level"] == "ERROR" && strings.Contains(fmt.Sprint(line["msg"]), "address already in use") &&
					line["node"] == "cli-node" && line["program"] == "example" {
					found = true
				}
			}
			if !found {
				t.Fatalf("no JSON error line:\n%s", stderr)
			}
			// The operator commands' own errors too (here: no Redis to
			// inspect).
			for _, cmd := range [][]string{{"tasks", "stats"}, {"cluster", "status"}} {
				code, _, stderr := runCLI(t, "", append(env, "STELLAR_ID=cli-node"), cmd...)
				if code != 2 {
					t.Fatalf("%v: exit %d: %s", cmd, code, stderr)
				}
				var line map[string]any
				if err := json.Unmarshal([]byte(strings.TrimSpace(stderr)), &line); err != nil || line["level"] != "ERROR" ||
					!strings.Contains(fmt.Sprint(line["msg"]), "Redis") || line["node"] != "cli-node" {
					t.Fatalf("%v: stderr is not one JSON error line: %q", cmd, stderr)
				}
			}
			// A usage error found before the configuration is read is
			// text: the log format is not known yet.
			code, _, stderr = runCLI(t, "", env, "tasks", "stats", "--no-such-flag")
			if code != 2 || !strings.HasPrefix(stderr, "example tasks stats: flag provided but not defined") {
				t.Fatalf("unknown flag: exit %d, stderr %q", code, stderr)
			}
		})
	}
}
