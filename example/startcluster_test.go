package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptrace"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	redisb "github.com/stellarfw/stellar-go/backend/redis"
	"github.com/stellarfw/stellar-go/cache"
	"github.com/stellarfw/stellar-go/internal/lifecycle"
	"github.com/stellarfw/stellar-go/internal/redistest"
	"github.com/stellarfw/stellar-go/task"
)

// supervisorProc is `example startCluster` running as a process.
type supervisorProc struct {
	cmd    *exec.Cmd
	dir    string
	url    string
	stderr *lockedBuffer
	done   chan struct{}
}

func startSupervisor(t *testing.T, env []string, args ...string) *supervisorProc {
	t.Helper()
	dir := t.TempDir()
	s := &supervisorProc{dir: dir, stderr: &lockedBuffer{}, done: make(chan struct{})}
	s.cmd = command(t, dir, env, append([]string{"startCluster"}, args...)...)
	s.cmd.Stderr, s.cmd.Stdout = s.stderr, io.Discard
	// The workers share the supervisor's stderr; do not wait for them
	// forever if one were left behind (the test fails on that anyway).
	s.cmd.WaitDelay = 5 * time.Second
	if err := s.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { _ = s.cmd.Wait(); close(s.done) }()
	t.Cleanup(func() {
		select {
		case <-s.done:
			return
		default:
		}
		_ = s.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-s.done:
		case <-time.After(15 * time.Second):
			_ = s.cmd.Process.Kill()
			<-s.done
		}
	})
	return s
}

var (
	workerLine = regexp.MustCompile(`msg="(worker [a-z ]+)".* worker=(\S+)(?: pid=(\d+))?`)
	pidAttr    = regexp.MustCompile(` pid=(\d+)`)
)

// workers returns the workers the supervisor reported ready and not since
// stopped, with their pids.
func (s *supervisorProc) workers() map[string]int {
	ready := map[string]int{}
	for _, line := range strings.Split(s.stderr.String(), "\n") {
		if !strings.Contains(line, "node=supervisor") {
			continue
		}
		m := workerLine.FindStringSubmatch(line)
		if m == nil {
			continue
		}
		switch m[1] {
		case "worker ready":
			if p := pidAttr.FindStringSubmatch(line); p != nil {
				ready[m[2]], _ = strconv.Atoi(p[1])
			}
		case "worker stopped", "worker exited unexpectedly", "worker removed", "worker stopped for the rolling restart":
			delete(ready, m[2])
		}
	}
	return ready
}

// everPIDs lists every worker pid the supervisor reported.
func (s *supervisorProc) everPIDs() []int {
	var pids []int
	for _, line := range strings.Split(s.stderr.String(), "\n") {
		if strings.Contains(line, `msg="worker started"`) {
			if p := pidAttr.FindStringSubmatch(line); p != nil {
				pid, _ := strconv.Atoi(p[1])
				pids = append(pids, pid)
			}
		}
	}
	return pids
}

func (s *supervisorProc) count(msg string) int {
	return strings.Count(s.stderr.String(), `msg="`+msg+`"`)
}

func (s *supervisorProc) signal(t *testing.T, sig syscall.Signal) {
	t.Helper()
	if err := s.cmd.Process.Signal(sig); err != nil {
		t.Fatal(err)
	}
}

// waitFor polls cond until it holds, failing the test at the deadline.
func (s *supervisorProc) waitFor(t *testing.T, what string, limit time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(limit)
	for !cond() {
		select {
		case <-s.done:
			t.Fatalf("%s: the supervisor exited (%v):\n%s", what, s.cmd.ProcessState, s.stderr)
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %s:\n%s", what, limit, s.stderr)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// processAlive reports whether pid runs; a zombie, dead but not yet
// reaped by whoever inherited it, does not count.
func processAlive(pid int) bool {
	if err := syscall.Kill(pid, 0); err != nil && !errors.Is(err, syscall.EPERM) {
		return false
	}
	stat, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return !errors.Is(err, os.ErrNotExist)
	}
	// pid (comm) state …: the state follows the last ')'.
	rest := string(stat[strings.LastIndexByte(string(stat), ')')+1:])
	return !strings.HasPrefix(strings.TrimSpace(rest), "Z")
}

// spread sends n requests, each on a new connection, and counts the
// workers that answered.
func spread(t *testing.T, url string, n int) map[string]int {
	t.Helper()
	client := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
	seen := map[string]int{}
	for range n {
		res, err := client.Get(url + "/api/randomNumber")
		if err != nil {
			t.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, res.Body)
		res.Body.Close()
		if res.StatusCode != http.StatusOK {
			t.Fatalf("randomNumber: %s", res.Status)
		}
		seen[res.Header.Get("X-Served-By")]++
	}
	return seen
}

// tcpWelcome connects to the TCP port and returns the node that welcomes
// the connection.
func tcpWelcome(t *testing.T, addr string) string {
	t.Helper()
	nc, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	tc := &lineConn{c: nc, r: bufio.NewReader(nc)}
	welcome := tc.next(t, func(m map[string]any) bool { return m["welcome"] != nil })
	node, _ := welcome["node"].(string)
	return node
}

// taskRuns reads the completions the example's recordRun task records,
// per task id.
type taskRuns struct {
	t    *testing.T
	c    *cache.Cache
	done map[string][]exampleRun
}

func (r *taskRuns) collect() {
	for {
		raw, err := r.c.Pop(context.Background(), RunsList)
		if err != nil {
			return
		}
		var line string
		if err := json.Unmarshal(raw, &line); err != nil {
			r.t.Fatal(err)
		}
		id, run := parseExampleRun(r.t, line)
		r.done[id] = append(r.done[id], run)
	}
}

func (r *taskRuns) allRan(ids []string) bool {
	r.collect()
	for _, id := range ids {
		if len(completions(r.done[id])) == 0 {
			return false
		}
	}
	return true
}

// TestStartCluster runs `startCluster --workers 2` on a real Redis and
// drives it with signals: the workers start with sequential names and
// share the HTTP port; a SIGKILLed worker comes back under its name with
// no task lost; SIGTTIN and SIGTTOU change the count; SIGUSR2 rolls every
// worker under continuous HTTP load and task enqueueing with no failed
// request and no task lost or run twice; SIGHUP refuses a broken config
// file and rolls the workers onto a good one; SIGTERM stops everything
// with exit status 0 and no process left behind.
func TestStartCluster(t *testing.T) {
	srv := redistest.Start(t)
	prefix := redistest.Prefix(t)
	httpAddr, tcpAddr := freePort(t), freePort(t)
	env := []string{
		"STELLAR_REDIS_PREFIX=" + prefix,
		"STELLAR_LOG_FORMAT=text",
		"STELLAR_CLUSTER_HEARTBEAT_INTERVAL=100ms",
		"STELLAR_CLUSTER_NODE_TTL=1s",
		"STELLAR_SHUTDOWN_TIMEOUT=5s",
		"STELLAR_TASKS_LEASE=1s",
		"STELLAR_TASKS_POLL_INTERVAL=50ms",
		"STELLAR_TASKS_DRAIN_TIMEOUT=3s",
		"STELLAR_SUPERVISOR_RESTART_BACKOFF=50ms",
	}
	sup := startSupervisor(t, env, "--workers", "2", "--redis", srv.URL(), "--http", httpAddr, "--tcp", tcpAddr)
	sup.url = "http://" + httpAddr

	// Two workers with the sequential names, sharing the port.
	sup.waitFor(t, "two workers ready", 30*time.Second, func() bool { return len(sup.workers()) == 2 })
	first := sup.workers()
	if _, ok := first["stellar-worker-1"]; !ok {
		t.Fatalf("workers = %v, want stellar-worker-1 and -2", first)
	}
	if _, ok := first["stellar-worker-2"]; !ok {
		t.Fatalf("workers = %v, want stellar-worker-1 and -2", first)
	}
	if !strings.Contains(sup.stderr.String(), "generated one for this supervisor's workers") {
		t.Errorf("no log line about the generated token:\n%s", sup.stderr)
	}
	pidFile, err := os.ReadFile(filepath.Join(sup.dir, "stellar-cluster.pid"))
	if err != nil || strings.TrimSpace(string(pidFile)) != strconv.Itoa(sup.cmd.Process.Pid) {
		t.Errorf("pid file = %q, %v; want %d", pidFile, err, sup.cmd.Process.Pid)
	}
	seen := map[string]int{}
	sup.waitFor(t, "requests spread over both workers", 20*time.Second, func() bool {
		for name, n := range spread(t, sup.url, 20) {
			seen[name] += n
		}
		return seen["stellar-worker-1"] > 0 && seen["stellar-worker-2"] > 0
	})
	t.Logf("requests served: %v", seen)
	tcpSeen := map[string]bool{}
	sup.waitFor(t, "TCP connections spread over both workers", 20*time.Second, func() bool {
		tcpSeen[tcpWelcome(t, tcpAddr)] = true
		return tcpSeen["stellar-worker-1"] && tcpSeen["stellar-worker-2"]
	})

	b, err := redisb.Open(redisb.Config{URL: srv.URL(), Prefix: prefix})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = b.Close() })
	ctx := context.Background()
	mgr := task.New()
	if err := mgr.Register(&task.Definition{Name: "recordRun", MaxAttempts: 5,
		Handler: task.HandlerFunc(func(context.Context, *task.Task) error { return nil })}); err != nil {
		t.Fatal(err)
	}
	// Enqueue only: the nodes under test run the workers, the mover and
	// the scheduler.
	if err := mgr.Start(ctx, b.Tasks(), task.Config{NodeID: "test", EnqueueOnly: true}, lifecycle.Key{}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = mgr.Stop(context.Background(), lifecycle.Key{}) })
	inspector := task.NewInspector(b.Tasks())
	runs := &taskRuns{t: t, c: cache.New(b.Cache(), cache.Config{NodeID: "test"}), done: map[string][]exampleRun{}}
	enqueue := func(sleepMs int) string {
		id, err := mgr.Enqueue(ctx, "recordRun", map[string]any{"sleep_ms": sleepMs})
		if err != nil {
			t.Fatal(err)
		}
		return id
	}

	// SIGKILL a worker mid-run: it comes back under its name, and the
	// tasks it held run again.
	var killIDs []string
	for range 300 {
		killIDs = append(killIDs, enqueue(50))
	}
	sup.waitFor(t, "tasks running", 10*time.Second, func() bool { runs.collect(); return len(runs.done) >= 20 })
	victim := first["stellar-worker-1"]
	workers, err := inspector.Workers(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var victimWorker string
	for _, w := range workers {
		if w.Node == "stellar-worker-1" {
			victimWorker = w.ID
		}
	}
	if victimWorker == "" {
		t.Fatalf("stellar-worker-1 runs no task workers: %+v", workers)
	}
	if err := syscall.Kill(victim, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	// What the dead worker still held once it was gone, before its leases
	// lapsed: a task it completed but had not yet acknowledged is among
	// them, and rightly runs again.
	sup.waitFor(t, "stellar-worker-1 gone", 10*time.Second, func() bool { return !processAlive(victim) })
	atDeath, err := inspector.WorkingOn(ctx, victimWorker)
	if err != nil {
		t.Fatal(err)
	}
	heldAtDeath := map[string]bool{}
	for _, in := range atDeath {
		heldAtDeath[in.ID] = true
	}
	sup.waitFor(t, "stellar-worker-1 replaced", 30*time.Second, func() bool {
		pid, ok := sup.workers()["stellar-worker-1"]
		return ok && pid != victim
	})
	sup.waitFor(t, "every task ran after the kill", 30*time.Second, func() bool { return runs.allRan(killIDs) })
	// Count completions per task id once nothing can complete any more.
	sup.waitFor(t, "the queues are empty and no task runs", 30*time.Second, func() bool { return tasksIdle(ctx, inspector) })
	runs.collect()
	killedAfterDone := 0
	for _, id := range killIDs {
		done := completions(runs.done[id])
		extra, exempt := extraCompletions(done, heldAtDeath[id], "stellar-worker-1")
		if exempt {
			killedAfterDone++
		}
		if extra > 0 {
			t.Errorf("task %s completed %d times: %v", id, len(done), done)
		}
	}
	t.Logf("SIGKILL: %d tasks, held by the killed worker: %d, completed by it before it could acknowledge: %d", len(killIDs), len(heldAtDeath), killedAfterDone)

	// SIGTTIN adds stellar-worker-3; SIGTTOU removes it gracefully.
	sup.signal(t, syscall.SIGTTIN)
	sup.waitFor(t, "three workers", 30*time.Second, func() bool { return len(sup.workers()) == 3 })
	third, ok := sup.workers()["stellar-worker-3"]
	if !ok {
		t.Fatalf("after SIGTTIN: workers = %v", sup.workers())
	}
	sup.signal(t, syscall.SIGTTOU)
	sup.waitFor(t, "back to two workers", 30*time.Second, func() bool {
		w := sup.workers()
		_, has3 := w["stellar-worker-3"]
		return len(w) == 2 && !has3 && sup.count("worker removed") == 1 && !processAlive(third)
	})

	// SIGUSR2 under load (GETs and POSTs, which clients do not retry):
	// every worker restarted, nothing failed, no task lost or run twice.
	before := sup.workers()
	var ok200, failed atomic.Int64
	var failMu sync.Mutex
	var failures []string
	stop := make(chan struct{})
	var wg sync.WaitGroup
	client := &http.Client{Timeout: 10 * time.Second}
	for range 4 {
		wg.Go(func() {
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				var info []string
				trace := &httptrace.ClientTrace{GotConn: func(ci httptrace.GotConnInfo) {
					info = append(info, fmt.Sprintf("conn(reused=%v idle=%v %s)", ci.Reused, ci.WasIdle, ci.Conn.LocalAddr()))
				}}
				// POST half the time: a client does not retry those.
				method := "GET"
				if i%2 == 1 {
					method = "POST"
				}
				var body io.Reader
				if method == "POST" {
					body = strings.NewReader("{}")
				}
				req, _ := http.NewRequestWithContext(httptrace.WithClientTrace(context.Background(), trace), method, sup.url+"/api/randomNumber", body)
				if method == "POST" {
					req.Header.Set("Content-Type", "application/json")
				}
				res, err := client.Do(req)
				if err != nil {
					err = fmt.Errorf("%w %v", err, info)
				}
				if err == nil {
					_, _ = io.Copy(io.Discard, res.Body)
					res.Body.Close()
					if res.StatusCode == http.StatusOK {
						ok200.Add(1)
						continue
					}
					err = fmt.Errorf("status %s", res.Status)
				}
				failed.Add(1)
				failMu.Lock()
				failures = append(failures, time.Now().UTC().Format("15:04:05.000")+" "+err.Error())
				failMu.Unlock()
			}
		})
	}
	var rollIDs []string
	var idsMu sync.Mutex
	wg.Go(func() {
		for {
			select {
			case <-stop:
				return
			case <-time.After(5 * time.Millisecond):
			}
			id, err := mgr.Enqueue(ctx, "recordRun", map[string]any{"sleep_ms": 20})
			if err != nil {
				t.Error(err)
				return
			}
			idsMu.Lock()
			rollIDs = append(rollIDs, id)
			idsMu.Unlock()
		}
	})
	rolled := sup.count("rolling restart finished")
	sup.signal(t, syscall.SIGUSR2)
	sup.waitFor(t, "rolling restart finished", 60*time.Second, func() bool { return sup.count("rolling restart finished") > rolled })
	time.Sleep(200 * time.Millisecond) // keep the load on the new workers for a moment
	close(stop)
	wg.Wait()
	after := sup.workers()
	if len(after) != 2 {
		t.Errorf("after the roll: workers = %v", after)
	}
	for name, pid := range after {
		if before[name] == pid {
			t.Errorf("%s was not restarted (pid %d)", name, pid)
		}
	}
	if n := failed.Load(); n > 0 {
		t.Errorf("%d of %d requests failed during the rolling restart: %v", n, n+ok200.Load(), failures[:min(len(failures), 10)])
	}
	sup.waitFor(t, "every task enqueued during the roll ran", 30*time.Second, func() bool { return runs.allRan(rollIDs) })
	// A duplicate could only still land from a task that is pending,
	// delayed or running: wait until none is, then count.
	sup.waitFor(t, "the queues are empty and no task runs", 30*time.Second, func() bool { return tasksIdle(ctx, inspector) })
	runs.collect()
	for _, id := range rollIDs {
		if done := completions(runs.done[id]); len(done) != 1 {
			t.Errorf("task %s completed %d times (%v) across a graceful roll", id, len(done), done)
		}
	}
	t.Logf("rolling restart: %d requests ok, %d failed; %d tasks enqueued, each ran once", ok200.Load(), failed.Load(), len(rollIDs))

	// SIGHUP rereads the configuration: a broken file restarts nothing; a
	// good one rolls the workers onto it.
	cfgFile := filepath.Join(sup.dir, "stellar.toml")
	if err := os.WriteFile(cfgFile, []byte("[general]\napi_version = 42\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	sup.signal(t, syscall.SIGHUP)
	sup.waitFor(t, "a broken configuration refused", 20*time.Second, func() bool {
		return sup.count("reload failed: the workers keep running on the previous configuration") == 1
	})
	if err := os.WriteFile(cfgFile, []byte("[general]\napi_version = \"9.9.9\"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	rolled = sup.count("rolling restart finished")
	sup.signal(t, syscall.SIGHUP)
	sup.waitFor(t, "reloaded and rolled", 60*time.Second, func() bool { return sup.count("rolling restart finished") > rolled })
	if sup.count("configuration reloaded") != 1 {
		t.Errorf("configuration reloaded %d times, want 1", sup.count("configuration reloaded"))
	}
	for range 10 {
		_, body, _ := call(t, "GET", sup.url+"/api/randomNumber", nil, "")
		if info, _ := body["serverInformation"].(map[string]any); info["apiVersion"] != "9.9.9" {
			t.Fatalf("after SIGHUP: serverInformation = %v, want apiVersion 9.9.9", info)
		}
	}

	// SIGTERM: every worker stops gracefully, exit status 0, nothing left.
	pids := sup.everPIDs()
	sup.signal(t, syscall.SIGTERM)
	select {
	case <-sup.done:
	case <-time.After(30 * time.Second):
		t.Fatalf("the supervisor did not stop:\n%s", sup.stderr)
	}
	if code := sup.cmd.ProcessState.ExitCode(); code != 0 {
		t.Errorf("exit status %d, want 0:\n%s", code, sup.stderr)
	}
	for _, pid := range pids {
		if processAlive(pid) {
			t.Errorf("worker process %d is still running", pid)
			_ = syscall.Kill(pid, syscall.SIGKILL)
		}
	}
	if _, err := os.Stat(filepath.Join(sup.dir, "stellar-cluster.pid")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("pid file left behind: %v", err)
	}
	if t.Failed() {
		t.Logf("supervisor and workers:\n%s", sup.stderr)
	}
}

// tasksIdle reports whether no task is pending, delayed or running.
func tasksIdle(ctx context.Context, inspector *task.Inspector) bool {
	st, err := inspector.Stats(ctx)
	if err != nil {
		return false
	}
	for _, q := range st.Queues {
		if q.Pending+q.Delayed+q.Running > 0 {
			return false
		}
	}
	return true
}

// TestStartClusterSupervisorKilled: workers do not outlive a supervisor
// killed with SIGKILL; they stop gracefully.
func TestStartClusterSupervisorKilled(t *testing.T) {
	srv := redistest.Start(t)
	env := []string{"STELLAR_REDIS_PREFIX=" + redistest.Prefix(t), "STELLAR_LOG_FORMAT=text",
		"STELLAR_CLUSTER_HEARTBEAT_INTERVAL=100ms", "STELLAR_CLUSTER_NODE_TTL=1s", "STELLAR_SHUTDOWN_TIMEOUT=5s"}
	sup := startSupervisor(t, env, "--workers", "2", "--redis", srv.URL(), "--http", freePort(t), "--tcp", "off")
	sup.waitFor(t, "two workers ready", 30*time.Second, func() bool { return len(sup.workers()) == 2 })
	pids := sup.everPIDs()
	sup.signal(t, syscall.SIGKILL)
	<-sup.done
	deadline := time.Now().Add(15 * time.Second)
	for _, pid := range pids {
		for processAlive(pid) {
			if time.Now().After(deadline) {
				_ = syscall.Kill(pid, syscall.SIGKILL)
				t.Fatalf("worker %d outlived its supervisor:\n%s", pid, sup.stderr)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	if n := sup.count("node stopped"); n != 2 {
		t.Errorf("%d workers logged a graceful stop, want 2:\n%s", n, sup.stderr)
	}
}

// TestStartClusterSecrets: with the Redis password in --redis and no
// token, no worker's command line holds the password or the generated
// token (any user can read those); the supervisor warns once that its
// own does; the token is in a mode-0600 file beside the pid file, which
// cluster status run there reads to reach the workers; a wrong token is
// an authentication error, not an empty cluster; the file goes when the
// supervisor stops.
func TestStartClusterSecrets(t *testing.T) {
	const password = "pr0cess-list-s3cret"
	srv := redistest.StartOwn(t, redistest.Password(password))
	if !strings.Contains(srv.URL(), password) {
		t.Fatalf("URL %q does not carry the password", srv.URL())
	}
	prefix := redistest.Prefix(t)
	env := []string{"STELLAR_REDIS_PREFIX=" + prefix, "STELLAR_LOG_FORMAT=text", "STELLAR_SERVER_TOKEN=",
		"STELLAR_CLUSTER_HEARTBEAT_INTERVAL=100ms", "STELLAR_CLUSTER_NODE_TTL=1s", "STELLAR_SHUTDOWN_TIMEOUT=5s"}
	httpAddr := freePort(t)
	sup := startSupervisor(t, env, "--workers", "2", "--redis", srv.URL(), "--http", httpAddr, "--tcp", "off")
	sup.waitFor(t, "two workers ready", 30*time.Second, func() bool { return len(sup.workers()) == 2 })

	tokenFile := filepath.Join(sup.dir, "stellar-cluster.token")
	st, err := os.Stat(tokenFile)
	if err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("token file: %v, %v; want mode 0600", st, err)
	}
	raw, err := os.ReadFile(tokenFile)
	token := strings.TrimSpace(string(raw))
	if err != nil || len(token) < 32 {
		t.Fatalf("token file holds %q, %v", raw, err)
	}
	if !strings.Contains(sup.stderr.String(), "token_file="+tokenFile) {
		t.Errorf("the supervisor does not say where the token is:\n%s", sup.stderr)
	}
	for name, pid := range sup.workers() {
		cmdline, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/cmdline")
		if err != nil {
			t.Fatal(err)
		}
		args := strings.ReplaceAll(string(cmdline), "\x00", " ")
		if !strings.Contains(args, " run ") || !strings.Contains(args, name) {
			t.Fatalf("%s (pid %d) runs %q: not the worker", name, pid, args)
		}
		if strings.Contains(args, password) || strings.Contains(args, token) {
			t.Errorf("%s's command line holds a secret: %q", name, args)
		}
	}
	const warning = `msg="a secret is on the command line`
	if n := strings.Count(sup.stderr.String(), warning); n != 1 || !strings.Contains(sup.stderr.String(), "STELLAR_REDIS_URL") {
		t.Errorf("%d warnings about the password on the command line, want 1 from the supervisor:\n%s", n, sup.stderr)
	}

	// The cluster works, and cluster status reaches it through the file.
	if seen := spread(t, "http://"+httpAddr, 4); len(seen) == 0 {
		t.Fatal("no worker answered")
	}
	statusEnv := []string{"STELLAR_REDIS_PREFIX=" + prefix, "STELLAR_REDIS_URL=" + srv.URL(), "STELLAR_SERVER_TOKEN="}
	code, stdout, stderr := runCLI(t, sup.dir, statusEnv, "cluster", "status", "--json")
	var out struct {
		Nodes []struct {
			ID string `json:"id"`
		} `json:"nodes"`
	}
	if code != 0 || json.Unmarshal([]byte(stdout), &out) != nil || len(out.Nodes) != 2 ||
		out.Nodes[0].ID != "stellar-worker-1" || out.Nodes[1].ID != "stellar-worker-2" {
		t.Fatalf("cluster status with the token file: exit %d\n%s\n%s", code, stdout, stderr)
	}
	// A wrong token is told apart from an empty cluster.
	code, stdout, stderr = runCLI(t, sup.dir, statusEnv, "cluster", "status", "--token", "not-the-token")
	if code != 2 || stdout != "" || !strings.Contains(stderr, "the token does not match the cluster's: 2 membership records, none signed with this token") ||
		!strings.Contains(stderr, "--token") || strings.Contains(stderr, "no live nodes") {
		t.Errorf("cluster status with a wrong token: exit %d\nstdout: %s\nstderr: %s", code, stdout, stderr)
	}
	// So is a token file that is not this cluster's.
	stale := filepath.Join(t.TempDir(), "stale.token")
	if err := os.WriteFile(stale, []byte("stale\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	code, _, stderr = runCLI(t, sup.dir, statusEnv, "cluster", "status", "--token-file", stale)
	if code != 2 || !strings.Contains(stderr, "does not match") || !strings.Contains(stderr, stale) {
		t.Errorf("cluster status with a stale token file: exit %d: %s", code, stderr)
	}

	sup.signal(t, syscall.SIGTERM)
	select {
	case <-sup.done:
	case <-time.After(30 * time.Second):
		t.Fatalf("the supervisor did not stop:\n%s", sup.stderr)
	}
	if code := sup.cmd.ProcessState.ExitCode(); code != 0 {
		t.Errorf("exit status %d, want 0:\n%s", code, sup.stderr)
	}
	if _, err := os.Stat(tokenFile); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("token file left behind: %v", err)
	}
}

// TestStartClusterNeedsRedis: with no Redis answering, startCluster says
// so at once, and how to fix it.
func TestStartClusterNeedsRedis(t *testing.T) {
	dead := "redis://" + freePort(t) + "/0"
	start := time.Now()
	code, _, stderr := runCLI(t, t.TempDir(), nil, "startCluster", "--workers", "1", "--redis", dead, "--http", freePort(t), "--tcp", "off")
	if code != 2 {
		t.Errorf("exit status %d, want 2", code)
	}
	for _, want := range []string{"needs Redis", "--redis", "redis-server"} {
		if !strings.Contains(stderr, want) {
			t.Errorf("stderr does not say %q:\n%s", want, stderr)
		}
	}
	if d := time.Since(start); d > 10*time.Second {
		t.Errorf("took %s to give up", d)
	}
}
