package main

import (
	"context"
	"io"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	redisb "github.com/stellarfw/stellar-go/backend/redis"
	"github.com/stellarfw/stellar-go/cluster"
	"github.com/stellarfw/stellar-go/internal/poll"
	"github.com/stellarfw/stellar-go/internal/redistest"
)

// restartBound is how soon a node killed with SIGKILL must be ready again
// under its id: generous for a loaded two-core machine, well under the
// node TTL the node used to wait out (5s by default, 10s below).
const restartBound = 3 * time.Second

// runProc starts `example run` with env and args, without waiting.
func runProc(t *testing.T, id, addr string, env []string, args ...string) *clusterProc {
	t.Helper()
	p := &clusterProc{id: id, addr: addr, stderr: &lockedBuffer{}, done: make(chan struct{})}
	p.cmd = command(t, t.TempDir(), env, append([]string{"run", "--id", id, "--http", addr, "--tcp", "off"}, args...)...)
	p.cmd.Stderr, p.cmd.Stdout = p.stderr, io.Discard
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { _ = p.cmd.Wait(); close(p.done) }()
	t.Cleanup(func() {
		_ = p.cmd.Process.Kill()
		<-p.done
	})
	return p
}

// memberPID is the pid in id's membership record, 0 when none is live.
func memberPID(t *testing.T, tr cluster.Transport, token, id string) int {
	t.Helper()
	nodes, err := cluster.ReadNodes(context.Background(), tr, []byte(token))
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range nodes {
		if n.ID == id {
			return n.PID
		}
	}
	return 0
}

// TestCrashRestartSameID: a node killed with SIGKILL and started again at
// once under its id (as systemd or Kubernetes would) takes its id over
// from the dead process and is ready within restartBound, although its
// record would count for 10s more. A second node started with that id
// while it runs is refused: exit status 2, one clear line.
func TestCrashRestartSameID(t *testing.T) {
	const token = "restart-test-token"
	srv := redistest.Shared(t)
	prefix := redistest.Prefix(t)
	env := []string{"STELLAR_REDIS_PREFIX=" + prefix, "STELLAR_LOG_FORMAT=text",
		"STELLAR_CLUSTER_HEARTBEAT_INTERVAL=1s", "STELLAR_CLUSTER_NODE_TTL=10s", "STELLAR_SHUTDOWN_TIMEOUT=5s"}
	args := []string{"--redis", srv.URL(), "--token", token}
	b, err := redisb.Open(redisb.Config{URL: srv.URL(), Prefix: prefix})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = b.Close() })
	tr := b.Cluster()

	addr := freePort(t)
	first := runProc(t, "phoenix", addr, env, args...)
	first.waitReady(t, 200)
	if got := memberPID(t, tr, token, "phoenix"); got != first.cmd.Process.Pid {
		t.Fatalf("phoenix's record names pid %d, want %d", got, first.cmd.Process.Pid)
	}
	if err := first.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	<-first.done

	start := time.Now()
	again := runProc(t, "phoenix", addr, env, args...)
	again.waitReady(t, 200)
	took := time.Since(start)
	t.Logf("SIGKILLed node ready again under its id in %s (bound %s)", took.Round(time.Millisecond), restartBound)
	if took > restartBound {
		t.Errorf("the restarted node was ready after %s, want within %s:\n%s", took, restartBound, again.stderr)
	}
	if !strings.Contains(again.stderr.String(), "took this node's id over") {
		t.Errorf("the restarted node did not log the takeover:\n%s", again.stderr)
	}
	if got := memberPID(t, tr, token, "phoenix"); got != again.cmd.Process.Pid {
		t.Fatalf("phoenix's record names pid %d, want the restarted %d", got, again.cmd.Process.Pid)
	}

	// A second live node with that id is refused, at once and once.
	start = time.Now()
	code, _, stderr := runCLI(t, "", env, append([]string{"run", "--id", "phoenix", "--http", freePort(t), "--tcp", "off"}, args...)...)
	refusedIn := time.Since(start)
	var lines []string
	for _, l := range strings.Split(stderr, "\n") {
		if strings.Contains(l, "already live") {
			lines = append(lines, l)
		}
	}
	if code != 2 || len(lines) != 1 || !strings.HasPrefix(lines[0], "example: ") ||
		!strings.Contains(lines[0], "pid "+strconv.Itoa(again.cmd.Process.Pid)+" runs on this machine") || !strings.Contains(lines[0], "--id") {
		t.Fatalf("a live duplicate: exit %d, %d lines about it, want exit 2 and one line naming pid %d:\n%s",
			code, len(lines), again.cmd.Process.Pid, stderr)
	}
	t.Logf("live duplicate refused in %s: %s", refusedIn.Round(time.Millisecond), lines[0])
	again.waitReady(t, 200)
	if got := memberPID(t, tr, token, "phoenix"); got != again.cmd.Process.Pid {
		t.Fatalf("after the refusal phoenix's record names pid %d, want %d", got, again.cmd.Process.Pid)
	}
}

// TestStartClusterCrashRestart: under startCluster, a worker killed with
// SIGKILL is replaced under its name and ready within restartBound (at the
// default timers, where waiting out its record took about 5s), and
// nothing is refused or logged about a held name.
func TestStartClusterCrashRestart(t *testing.T) {
	srv := redistest.Shared(t)
	env := []string{"STELLAR_REDIS_PREFIX=" + redistest.Prefix(t), "STELLAR_LOG_FORMAT=text", "STELLAR_SHUTDOWN_TIMEOUT=5s"}
	sup := startSupervisor(t, env, "--workers", "2", "--redis", srv.URL(), "--http", freePort(t), "--tcp", "off")
	sup.waitFor(t, "two workers ready", 30*time.Second, func() bool { return len(sup.workers()) == 2 })
	for round := range 2 {
		victim := sup.workers()["stellar-worker-1"]
		if err := syscall.Kill(victim, syscall.SIGKILL); err != nil {
			t.Fatal(err)
		}
		start := time.Now()
		var pid int
		if !poll.Wait(30*time.Second, func() bool {
			pid = sup.workers()["stellar-worker-1"]
			return pid != 0 && pid != victim
		}) {
			t.Fatalf("stellar-worker-1 not replaced:\n%s", sup.stderr)
		}
		took := time.Since(start)
		t.Logf("round %d: SIGKILLed worker replaced and ready in %s (bound %s)", round+1, took.Round(time.Millisecond), restartBound)
		if took > restartBound {
			t.Errorf("round %d: the replacement was ready after %s, want within %s", round+1, took, restartBound)
		}
	}
	log := sup.stderr.String()
	for _, bad := range []string{"already live", "name held", "worker failed to start"} {
		if strings.Contains(log, bad) {
			t.Errorf("the supervisor's log says %q:\n%s", bad, log)
		}
	}
	if n := strings.Count(log, "took this node's id over"); n != 2 {
		t.Errorf("%d takeovers logged, want 2:\n%s", n, log)
	}
}
