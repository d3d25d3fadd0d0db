package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	redisb "github.com/stellarfw/stellar-go/backend/redis"
	"github.com/stellarfw/stellar-go/cluster"
	"github.com/stellarfw/stellar-go/internal/lifecycle"
	"github.com/stellarfw/stellar-go/internal/poll"
	"github.com/stellarfw/stellar-go/internal/redistest"
)

// clusterProc is one example process, a node of a cluster on Redis.
type clusterProc struct {
	id, addr string
	cmd      *exec.Cmd
	stderr   *lockedBuffer
	done     chan struct{}
}

// startClusterProc runs `example run --redis URL --token T --id ID` and
// waits until it is ready.
func startClusterProc(t *testing.T, redisURL, prefix, id, token string) *clusterProc {
	t.Helper()
	p := &clusterProc{id: id, addr: freePort(t), stderr: &lockedBuffer{}, done: make(chan struct{})}
	env := []string{"STELLAR_REDIS_PREFIX=" + prefix, "STELLAR_LOG_FORMAT=text",
		"STELLAR_CLUSTER_HEARTBEAT_INTERVAL=100ms", "STELLAR_CLUSTER_NODE_TTL=1s", "STELLAR_SHUTDOWN_TIMEOUT=5s"}
	p.cmd = command(t, t.TempDir(), env, "run", "--redis", redisURL, "--token", token, "--id", id, "--http", p.addr, "--tcp", "off")
	p.cmd.Stderr, p.cmd.Stdout = p.stderr, io.Discard
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
	return p
}

// waitReady polls /readyz until it answers want.
func (p *clusterProc) waitReady(t *testing.T, want int) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for {
		res, err := http.Get("http://" + p.addr + "/readyz")
		if err == nil {
			res.Body.Close()
			if res.StatusCode == want {
				return
			}
		}
		select {
		case <-p.done:
			t.Fatalf("%s exited:\n%s", p.id, p.stderr)
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: /readyz never answered %d:\n%s", p.id, want, p.stderr)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func (p *clusterProc) action(t *testing.T, method, name string, params url.Values) map[string]any {
	t.Helper()
	status, body, _ := call(t, method, "http://"+p.addr+"/api/"+name+"?"+params.Encode(), nil, "")
	if status != 200 {
		t.Fatalf("%s %s on %s: %d %v\n%s", method, name, p.id, status, body, p.stderr)
	}
	return body
}

// TestClusterProcesses runs three example processes on one Redis, plus
// this test as a fourth member, and checks the cluster end to end: calls
// to all, to one node and to a connection; remote and unknown-method
// errors that come back at once; timeouts and partial answers from a
// frozen node; pub/sub between processes; forged messages dropped and
// counted; a process with the wrong token kept out; Redis stopped and
// restarted; and the cluster status command.
func TestClusterProcesses(t *testing.T) {
	const token = "process-test-token"
	srv := redistest.StartOwn(t)
	prefix := redistest.Prefix(t)
	procs := []*clusterProc{
		startClusterProc(t, srv.URL(), prefix, "node-1", token),
		startClusterProc(t, srv.URL(), prefix, "node-2", token),
		startClusterProc(t, srv.URL(), prefix, "node-3", token),
	}

	// The test joins as a member of its own, with no example methods.
	b, err := redisb.Open(redisb.Config{URL: srv.URL(), Prefix: prefix, ReconnectBackoff: 20 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = b.Close() })
	me := cluster.New()
	cfg := cluster.Config{ID: "tester", Token: token, Version: "test", HeartbeatInterval: 100 * time.Millisecond, NodeTTL: time.Second}
	if err := me.Start(context.Background(), b.Cluster(), cfg, lifecycle.Key{}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = me.Stop(context.Background(), lifecycle.Key{}) })
	waitUntil(t, func() bool { return len(me.Members()) == 4 })
	ctx := context.Background()

	t.Run("DoToEveryNode", func(t *testing.T) {
		r, err := me.Do(ctx, "example.whoami", nil)
		if err != nil || !strings.HasPrefix(r.Node, "node-") {
			t.Fatalf("Do: %+v, %v", r, err)
		}
	})
	t.Run("ToNode", func(t *testing.T) {
		for _, p := range procs {
			r, err := me.Do(ctx, "example.whoami", nil, cluster.ToNode(p.id))
			var who map[string]any
			if err != nil || r.Decode(&who) != nil || who["id"] != p.id || int(who["pid"].(float64)) != p.cmd.Process.Pid {
				t.Fatalf("ToNode(%s): %v %v", p.id, who, err)
			}
		}
	})
	t.Run("ToConnectionNobodyOwns", func(t *testing.T) {
		start := time.Now()
		_, err := me.Do(ctx, "example.whoami", nil, cluster.ToConnection("no-such-connection"))
		if !errors.Is(err, cluster.ErrNoOwner) || time.Since(start) > 2*time.Second {
			t.Fatalf("ToConnection: %v after %s", err, time.Since(start))
		}
	})
	t.Run("RemoteErrorAndUnknownMethod", func(t *testing.T) {
		start := time.Now()
		_, err := me.Do(ctx, "api.log", map[string]string{"message": "x", "level": "shout"}, cluster.ToNode("node-2"))
		var re *cluster.RemoteError
		if !errors.As(err, &re) || re.Node != "node-2" || !strings.Contains(re.Message, "shout") {
			t.Fatalf("remote error: %v", err)
		}
		_, err = me.Do(ctx, "no.such.method", nil)
		if !errors.Is(err, cluster.ErrUnknownMethod) || time.Since(start) > 2*time.Second {
			t.Fatalf("unknown method: %v after %s", err, time.Since(start))
		}
	})
	t.Run("DoAllAndActions", func(t *testing.T) {
		replies, err := me.DoAll(ctx, "api.status", nil)
		if err != nil || len(replies) != 4 {
			t.Fatalf("DoAll: %+v, %v", replies, err)
		}
		body := procs[1].action(t, "GET", "clusterWho", nil)
		if nodes, _ := body["nodes"].([]any); len(nodes) != 3 {
			t.Fatalf("clusterWho on node-2: %v", body)
		}
	})
	t.Run("FrozenNodeTimesOut", func(t *testing.T) {
		if err := procs[2].cmd.Process.Signal(syscall.SIGSTOP); err != nil {
			t.Fatal(err)
		}
		defer procs[2].cmd.Process.Signal(syscall.SIGCONT)
		waitUntil(t, func() bool { return processState(procs[2].cmd.Process.Pid) == 'T' })
		tctx, cancel := context.WithTimeout(ctx, 300*time.Millisecond)
		defer cancel()
		_, err := me.Do(tctx, "example.whoami", nil, cluster.ToNode("node-3"))
		var te *cluster.TimeoutError
		if !errors.As(err, &te) || te.Method != "example.whoami" {
			t.Fatalf("frozen node: %v", err)
		}
		tctx, cancel = context.WithTimeout(ctx, 300*time.Millisecond)
		defer cancel()
		replies, err := me.DoAll(tctx, "example.whoami", nil)
		var pe *cluster.PartialError
		if !errors.As(err, &pe) || !slices.Equal(pe.Missing, []string{"node-3"}) || len(replies) != 3 {
			t.Fatalf("DoAll with a frozen node: %v, %+v", err, replies)
		}
	})
	t.Run("PubSub", func(t *testing.T) {
		procs[0].action(t, "POST", "clusterAnnounce", url.Values{"text": {"hello from node-1"}})
		for _, p := range procs {
			waitUntil(t, func() bool {
				body := p.action(t, "GET", "clusterAnnouncements", nil)
				list, _ := body["announcements"].([]any)
				for _, a := range list {
					if m, _ := a.(map[string]any); m["text"] == "hello from node-1" && m["from"] == "node-1" {
						return true
					}
				}
				return false
			})
		}
	})
	t.Run("ForgedMessagesDropped", func(t *testing.T) {
		tr := b.Cluster()
		now := time.Now()
		forged := [][]byte{
			cluster.SignMessage("guessed-token", "stellar.rpc.request", "tester", "f-1", now, json.RawMessage(`{"m":"api.stop","a":null,"d":0}`)),
			cluster.SignMessage(token, "example.announce", "tester", "f-2", now.Add(-time.Hour), json.RawMessage(`{"text":"stale"}`)),
			[]byte(`{"v":1,"type":"example.announce","payload":`),
		}
		for _, raw := range forged {
			if err := tr.Publish(ctx, "node:node-1", raw); err != nil {
				t.Fatal(err)
			}
		}
		waitUntil(t, func() bool {
			_, body, _ := call(t, "GET", "http://"+procs[0].addr+"/api/status", nil, "")
			cl, _ := body["cluster"].(map[string]any)
			d, _ := cl["dropped"].(map[string]any)
			return d["bad_signature"] == 1.0 && d["stale"] == 1.0 && d["malformed"] == 1.0
		})
		body := procs[0].action(t, "GET", "clusterAnnouncements", nil)
		if strings.Contains(string(mustJSON(t, body)), "stale") {
			t.Fatalf("a stale message reached the handler: %v", body)
		}
		procs[0].waitReady(t, 200) // the forged api.stop did nothing
	})
	t.Run("WrongTokenKeptOut", func(t *testing.T) {
		rogue := startClusterProc(t, srv.URL(), prefix, "rogue", "wrong-token")
		body := rogue.action(t, "GET", "clusterWho", nil)
		if nodes, _ := body["nodes"].([]any); len(nodes) != 1 {
			t.Fatalf("the rogue reached other nodes: %v", body)
		}
		nodes, err := me.Nodes(ctx)
		if err != nil || slices.ContainsFunc(nodes, func(n cluster.Node) bool { return n.ID == "rogue" }) {
			t.Fatalf("the rogue is listed: %v, %v", nodes, err)
		}
		rogue.action(t, "POST", "clusterAnnounce", url.Values{"text": {"from the rogue"}})
		rogue.action(t, "GET", "clusterAnnouncements", nil) // it hears itself...
		waitUntil(t, func() bool { return me.Dropped()[cluster.DropBadSignature] >= 1 })
		for _, p := range procs { // ...and nobody else does
			if strings.Contains(string(mustJSON(t, p.action(t, "GET", "clusterAnnouncements", nil))), "from the rogue") {
				t.Fatalf("%s handled the rogue's message", p.id)
			}
		}
	})
	t.Run("RedisRestart", func(t *testing.T) {
		srv.Stop(t)
		for _, p := range procs {
			p.waitReady(t, 503)
		}
		status, body, _ := call(t, "GET", "http://"+procs[0].addr+"/api/clusterWho", nil, "")
		if status == 200 {
			t.Fatalf("clusterWho during the outage: %d %v", status, body)
		}
		srv.Restart(t)
		for _, p := range procs {
			p.waitReady(t, 200)
		}
		waitUntil(t, func() bool {
			body := procs[0].action(t, "GET", "clusterWho", nil)
			nodes, _ := body["nodes"].([]any)
			return len(nodes) == 3
		})
	})
	t.Run("StatusCommand", func(t *testing.T) {
		type row struct {
			ID       string `json:"id"`
			PID      int    `json:"pid"`
			UptimeMs int64  `json:"uptimeMs"`
			Version  string `json:"version"`
		}
		var ids []string
		var rows []row
		// Redis came back empty in the step before: each node writes its
		// record again at its next heartbeat, so ask until all four are back.
		if !poll.Wait(0, func() bool {
			code, stdout, stderr := runCLI(t, "", []string{"STELLAR_REDIS_PREFIX=" + prefix},
				"cluster", "status", "--json", "--redis", srv.URL(), "--token", token)
			if code != 0 {
				t.Fatalf("exit %d: %s", code, stderr)
			}
			var out struct {
				Nodes []row `json:"nodes"`
			}
			if err := json.Unmarshal([]byte(stdout), &out); err != nil {
				t.Fatalf("%v: %s", err, stdout)
			}
			rows, ids = out.Nodes, nil
			for _, n := range out.Nodes {
				ids = append(ids, n.ID)
			}
			return slices.Equal(ids, []string{"node-1", "node-2", "node-3", "tester"})
		}) {
			t.Fatalf("cluster status lists %v", ids)
		}
		for _, n := range rows {
			if n.PID == 0 || n.UptimeMs <= 0 || n.Version == "" {
				t.Errorf("incomplete row %+v", n)
			}
		}
		code, stdout, _ := runCLI(t, "", []string{"STELLAR_REDIS_PREFIX=" + prefix}, "cluster", "status", "--redis", srv.URL(), "--token", token)
		if code != 0 || !strings.Contains(stdout, "UPTIME") || !strings.Contains(stdout, "node-2") {
			t.Fatalf("table: exit %d\n%s", code, stdout)
		}
	})
	t.Run("StopThroughTheCluster", func(t *testing.T) {
		r, err := me.Do(ctx, "api.stop", nil, cluster.ToNode("node-3"))
		if err != nil || r.Node != "node-3" {
			t.Fatalf("api.stop: %+v, %v", r, err)
		}
		select {
		case <-procs[2].done:
		case <-time.After(10 * time.Second):
			t.Fatalf("node-3 did not exit:\n%s", procs[2].stderr)
		}
		if procs[2].cmd.ProcessState.ExitCode() != 0 {
			t.Fatalf("node-3 exit code %d:\n%s", procs[2].cmd.ProcessState.ExitCode(), procs[2].stderr)
		}
		waitUntil(t, func() bool { return !slices.Contains(me.Members(), "node-3") })
		if !strings.Contains(procs[0].stderr.String(), "node-3 left the cluster") {
			t.Fatalf("node-1 did not log the leave:\n%s", procs[0].stderr)
		}
	})
}

// processState is the state letter of a process in /proc (T: stopped).
func processState(pid int) byte {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0
	}
	// pid (comm) S ...: the state follows the last ')'.
	i := bytes.LastIndexByte(b, ')')
	if i < 0 || i+2 >= len(b) {
		return 0
	}
	return b[i+2]
}

func mustJSON(t *testing.T, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestCLIRedisNeedsToken: run on Redis without a token fails at once with
// one clear line and exit status 2; so does cluster status.
func TestCLIRedisNeedsToken(t *testing.T) {
	srv := redistest.Shared(t)
	for _, args := range [][]string{
		{"run", "--redis", srv.URL(), "--http", "127.0.0.1:0", "--tcp", "off"},
		{"cluster", "status", "--redis", srv.URL()},
	} {
		code, _, stderr := runCLI(t, "", []string{"STELLAR_SERVER_TOKEN=", "STELLAR_LOG_FORMAT=text"}, args...)
		lines := strings.Split(strings.TrimSpace(stderr), "\n")
		if last := lines[len(lines)-1]; code != 2 || !strings.HasPrefix(last, "example: ") || !strings.Contains(last, "cluster.token is empty") {
			t.Fatalf("%v: exit %d, stderr:\n%s", args, code, stderr)
		}
	}
	code, _, stderr := runCLI(t, "", nil, "cluster", "status")
	if code != 2 || !strings.Contains(stderr, "no Redis configured") {
		t.Fatalf("cluster status without Redis: exit %d: %s", code, stderr)
	}
}

// TestCLIExitCodes: the tasks and cluster commands do not answer as if
// all were well when it is not: with no Redis configured they refuse to
// read a memory backend of their own (2), except tasks list, which needs
// none; Redis not answering is a failure (1); an empty cluster is an
// answer (0). A wrong token is in TestStartClusterSecrets, which has a
// cluster to be wrong about.
func TestCLIExitCodes(t *testing.T) {
	srv := redistest.Shared(t)
	dead := "redis://" + freePort(t) + "/0"
	noRedis := []string{"STELLAR_REDIS_URL="}
	const refusal = "example: no Redis configured: set --redis or STELLAR_REDIS_URL\n"
	tests := []struct {
		name   string
		env    []string
		args   []string
		code   int
		stdout string // a substring; "" for none at all
		stderr string // a substring
	}{
		{"tasks list needs no backend", noRedis, []string{"tasks", "list"}, 0, "recordRun", ""},
		{"tasks stats", noRedis, []string{"tasks", "stats"}, 2, "", refusal},
		{"tasks enqueue", noRedis, []string{"tasks", "enqueue", "recordRun"}, 2, "", refusal},
		{"tasks failed", noRedis, []string{"tasks", "failed"}, 2, "", refusal},
		{"tasks retry", noRedis, []string{"tasks", "retry", "x"}, 2, "", refusal},
		{"tasks remove", noRedis, []string{"tasks", "remove", "x"}, 2, "", refusal},
		{"tasks delayed", noRedis, []string{"tasks", "delayed", "--json"}, 2, "", refusal},
		{"cluster status", noRedis, []string{"cluster", "status", "--token", "t"}, 2, "", refusal},
		{"tasks stats, Redis down", nil, []string{"tasks", "stats", "--redis", dead}, 1, "", "connection refused"},
		{"cluster status, Redis down", nil, []string{"cluster", "status", "--redis", dead, "--token", "t"}, 1, "", "connection refused"},
		{"tasks stats, empty", []string{"STELLAR_REDIS_PREFIX=" + redistest.Prefix(t)}, []string{"tasks", "stats", "--redis", srv.URL()}, 0, "workers: 0 nodes", ""},
		{"cluster status, empty", []string{"STELLAR_REDIS_PREFIX=" + redistest.Prefix(t)}, []string{"cluster", "status", "--redis", srv.URL(), "--token", "t"}, 0, "ID", "no live nodes"},
		{"cluster status, missing token file", nil, []string{"cluster", "status", "--redis", srv.URL(), "--token-file", "/nonexistent/x.token"}, 2, "", "token file"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			// Text errors, to read them whole (on a pipe they are JSON lines).
			code, stdout, stderr := runCLI(t, "", append([]string{"STELLAR_SERVER_TOKEN=", "STELLAR_LOG_FORMAT=text"}, tc.env...), tc.args...)
			if code != tc.code || !strings.Contains(stderr, tc.stderr) {
				t.Fatalf("exit %d (want %d), stderr:\n%s", code, tc.code, stderr)
			}
			if (tc.stdout == "" && stdout != "") || !strings.Contains(stdout, tc.stdout) {
				t.Fatalf("stdout:\n%s\nwant %q", stdout, tc.stdout)
			}
		})
	}
}
