package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"net/http"
	"os/exec"
	"slices"
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

// taskNode is one example process of a cluster on Redis.
type taskNode struct {
	id, addr string
	args     []string
	env      []string
	cmd      *exec.Cmd
	stderr   *lockedBuffer
	done     chan struct{}
}

func (n *taskNode) start(t *testing.T) {
	t.Helper()
	// A node restarted under the same id waits until the cluster has
	// forgotten its previous life (cluster.node_ttl).
	eventually(t, 20*time.Second, 100*time.Millisecond, func() bool { return n.tryStart(t) },
		func() string { return fmt.Sprintf("%s could not start:\n%s", n.id, n.stderr) })
}

// tryStart starts the node and waits until it is ready; it reports false
// if the node exited first.
func (n *taskNode) tryStart(t *testing.T) bool {
	t.Helper()
	n.cmd = command(t, t.TempDir(), n.env, n.args...)
	n.stderr = &lockedBuffer{}
	n.done = make(chan struct{})
	n.cmd.Stderr, n.cmd.Stdout = n.stderr, io.Discard
	if err := n.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	cmd, done := n.cmd, n.done
	go func() { _ = cmd.Wait(); close(done) }()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		<-done
	})
	deadline := time.Now().Add(15 * time.Second)
	for {
		res, err := http.Get("http://" + n.addr + "/readyz")
		if err == nil {
			res.Body.Close()
			if res.StatusCode == http.StatusOK {
				return true
			}
		}
		select {
		case <-done:
			return false
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s not ready in time:\n%s", n.id, n.stderr)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func (n *taskNode) wait(t *testing.T, d time.Duration) {
	t.Helper()
	select {
	case <-n.done:
	case <-time.After(d):
		t.Fatalf("%s did not exit within %s:\n%s", n.id, d, n.stderr)
	}
}

// TestTasksSurviveKilledNodes runs three example nodes on one Redis,
// enqueues thousands of tasks, SIGKILLs one node mid-run (and restarts
// it) and SIGTERMs another: every task runs, none twice except as a later
// attempt of a task whose node was killed, and the periodic heartbeat runs
// once per period across the cluster.
func TestTasksSurviveKilledNodes(t *testing.T) {
	const (
		tasks     = 5000
		lease     = time.Second
		heartbeat = time.Second
	)
	srv := redistest.StartOwn(t)
	prefix := redistest.Prefix(t)
	env := []string{
		"STELLAR_REDIS_PREFIX=" + prefix,
		"STELLAR_TASKS_LEASE=" + lease.String(),
		"STELLAR_TASKS_POLL_INTERVAL=50ms",
		"STELLAR_TASKS_DRAIN_TIMEOUT=3s",
		"STELLAR_SHUTDOWN_TIMEOUT=10s",
		"STELLAR_LOG_LEVEL=warn",
		"STELLAR_LOG_FORMAT=text",
		"STELLAR_CLUSTER_HEARTBEAT_INTERVAL=200ms",
		"STELLAR_CLUSTER_NODE_TTL=1s",
		"EXAMPLE_HEARTBEAT=" + heartbeat.String(),
	}
	nodes := make([]*taskNode, 3)
	for i := range nodes {
		id := "node-" + strconv.Itoa(i+1)
		addr := freePort(t)
		nodes[i] = &taskNode{id: id, addr: addr, env: env,
			args: []string{"run", "--redis", srv.URL(), "--id", id, "--http", addr, "--tcp", "off", "--token", "test-token"}}
	}
	started := time.Now()
	for _, n := range nodes {
		n.start(t)
	}

	// The test is a node of its own that only enqueues and inspects.
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
	c := cache.New(b.Cache(), cache.Config{NodeID: "test"})
	runs := func() int {
		n, err := c.ListLength(ctx, RunsList)
		if err != nil {
			t.Fatal(err)
		}
		return n
	}

	ids := make([]string, tasks)
	var wg sync.WaitGroup
	var next atomic.Int64
	for range 16 {
		wg.Go(func() {
			for i := int(next.Add(1) - 1); i < tasks; i = int(next.Add(1) - 1) {
				id, err := mgr.Enqueue(ctx, "recordRun", map[string]any{"sleep_ms": 15})
				if err != nil {
					t.Error(err)
					return
				}
				ids[i] = id
			}
		})
	}
	wg.Wait()
	if t.Failed() {
		t.FailNow()
	}
	t.Logf("enqueued %d tasks in %s", tasks, time.Since(started).Round(time.Millisecond))

	poll := func(what string, limit time.Duration, cond func() bool) {
		t.Helper()
		eventually(t, limit, 10*time.Millisecond, cond,
			func() string { return fmt.Sprintf("%s: not before the deadline (%d runs recorded)", what, runs()) })
	}

	// SIGKILL node-1 mid-run; its running tasks are recovered once their
	// leases lapse.
	poll("a fifth of the tasks ran", 30*time.Second, func() bool { return runs() >= tasks/5 })
	killed := nodes[0]
	held, err := inspector.WorkingOn(ctx, "")
	if err != nil {
		t.Fatal(err)
	}
	if err := killed.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	killedAt := time.Now()
	killed.wait(t, 5*time.Second)
	inFlight := 0
	for _, in := range held {
		if strings.HasPrefix(in.Worker, killed.id+":") {
			inFlight++
		}
	}
	// What the dead node still held once it was gone, before its leases
	// lapsed: a task it completed but had not yet acknowledged is among
	// them, and rightly runs again.
	heldAtDeath := map[string]bool{}
	atDeath, err := inspector.WorkingOn(ctx, "")
	if err != nil {
		t.Fatal(err)
	}
	for _, in := range atDeath {
		if strings.HasPrefix(in.Worker, killed.id+":") {
			heldAtDeath[in.ID] = true
		}
	}
	// Recovery: no task left running under the dead worker.
	poll("tasks of the killed node recovered", 4*lease, func() bool {
		running, err := inspector.WorkingOn(ctx, "")
		if err != nil {
			t.Fatal(err)
		}
		for _, in := range running {
			for _, h := range held {
				if h.Worker == in.Worker && strings.HasPrefix(in.Worker, killed.id+":") {
					return false
				}
			}
		}
		return true
	})
	recovery := time.Since(killedAt)
	killed.start(t) // the same node comes back

	// SIGTERM node-2: it stops fetching, finishes or hands back its tasks.
	poll("half of the tasks ran", 30*time.Second, func() bool { return runs() >= tasks/2 })
	termed := nodes[1]
	if err := termed.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	termed.wait(t, 15*time.Second)
	if code := termed.cmd.ProcessState.ExitCode(); code != 0 {
		t.Errorf("SIGTERMed node exited with %d:\n%s", code, termed.stderr)
	}

	poll("every task ran", 40*time.Second, func() bool { return runs() >= tasks })
	// Let late duplicates, if any, land before counting.
	poll("queues drained", 10*time.Second, func() bool {
		s, err := inspector.Stats(ctx)
		if err != nil {
			t.Fatal(err)
		}
		for _, q := range s.Queues {
			if q.Queue == task.DefaultQueue && (q.Pending > 0 || q.Running > 0 || q.Delayed > 0) {
				return false
			}
		}
		return true
	})
	elapsed := time.Since(started)

	// recordRun records its run just before it returns: each record is a
	// completion. Count them per task id, whatever the attempt numbers.
	completed := map[string][]exampleRun{}
	for {
		raw, err := c.Pop(ctx, RunsList)
		if err != nil {
			break
		}
		var line string
		if err := json.Unmarshal(raw, &line); err != nil {
			t.Fatal(err)
		}
		id, r := parseExampleRun(t, line)
		completed[id] = append(completed[id], r)
	}
	lost, dup, later, killedAfterDone := 0, 0, 0, 0
	for _, id := range ids {
		rs := completions(completed[id])
		if slices.ContainsFunc(rs, func(r exampleRun) bool { return r.attempt > 1 }) {
			later++
		}
		if len(rs) == 0 {
			lost++
			continue
		}
		extra, exempt := extraCompletions(rs, heldAtDeath[id], killed.id)
		if exempt {
			killedAfterDone++
		}
		if extra > 0 {
			dup++
			t.Errorf("task %s completed %d times: %v", id, len(rs), rs)
		}
	}
	if lost > 0 {
		t.Errorf("%d of %d tasks never ran", lost, tasks)
	}

	// The heartbeat: once per period across the cluster, never twice, and
	// no period skipped while nodes were killed, stopped and restarted.
	poppedAt := time.Now()
	fires := map[int64]int{}
	hb := 0
	for {
		raw, err := c.Pop(ctx, HeartbeatsList)
		if err != nil {
			break
		}
		var fire string
		_ = json.Unmarshal(raw, &fire)
		ms, err := strconv.ParseInt(fire, 10, 64)
		if err != nil {
			t.Fatalf("heartbeat recorded %q, not a time", raw)
		}
		fires[ms]++
		hb++
	}
	if hb == 0 {
		t.Fatal("the heartbeat never ran")
	}
	first, last := int64(math.MaxInt64), int64(0)
	for fire, n := range fires {
		if n > 1 {
			t.Errorf("heartbeat of fire time %d ran %d times", fire, n)
		}
		first, last = min(first, fire), max(last, fire)
	}
	period := heartbeat.Milliseconds()
	for fire := first; fire <= last; fire += period {
		if fires[fire] == 0 {
			t.Errorf("no heartbeat for the period at %s", time.UnixMilli(fire).UTC().Format(time.RFC3339Nano))
		}
	}
	// Counted from the first fire (nodes take a moment to start, more
	// under -race), one per period up to when the lists were read, ±1.
	periods := int((poppedAt.UnixMilli()-first)/period) + 1
	if hb < periods-1 || hb > periods+1 {
		t.Errorf("heartbeat ran %d times over %d periods, want one per period ±1", hb, periods)
	}
	if startup := time.UnixMilli(first).Sub(started); startup > 10*heartbeat {
		t.Errorf("first heartbeat only %s after the nodes were started", startup)
	}
	// The operator's view, through the command line, agrees.
	code, out, errOut := runCLI(t, "", env, "tasks", "stats", "--json", "--redis", srv.URL())
	var st task.Stats
	if code != 0 || json.Unmarshal([]byte(out), &st) != nil {
		t.Fatalf("tasks stats: %d %s %s", code, out, errOut)
	}
	for _, q := range st.Queues {
		if q.Queue == task.DefaultQueue && (q.Processed < tasks || q.Pending != 0 || q.Failed != 0) {
			t.Errorf("tasks stats: %+v", q)
		}
	}
	if st.Workers != 2 {
		t.Errorf("tasks stats: %d live workers, want 2 (one node was stopped)", st.Workers)
	}
	t.Logf("tasks=%d lost=%d duplicated=%d completed-then-killed-before-ack=%d ran-as-later-attempt=%d in-flight-at-kill=%d recovery=%s (lease %s) elapsed=%s heartbeats=%d/%d periods",
		tasks, lost, dup, killedAfterDone, later, inFlight, recovery.Round(time.Millisecond), lease, elapsed.Round(time.Millisecond), hb, periods)
	if t.Failed() {
		for _, n := range nodes {
			t.Logf("%s stderr:\n%s", n.id, n.stderr)
		}
	}
}

// exampleRun is one completion recorded by the example's recordRun task.
type exampleRun struct {
	attempt int
	node    string
	failed  bool // the run said its record may have landed but it failed
}

// completions returns the runs of rs that completed: their records, less
// those that a "failed" record of the same run withdraws (either order).
func completions(rs []exampleRun) []exampleRun {
	var out []exampleRun
	withdrawn := map[exampleRun]int{}
	for _, r := range rs {
		if r.failed {
			r.failed = false
			withdrawn[r]++
		}
	}
	for _, r := range rs {
		if r.failed {
			continue
		}
		if withdrawn[r] > 0 {
			withdrawn[r]--
			continue
		}
		out = append(out, r)
	}
	return out
}

func (r exampleRun) String() string { return fmt.Sprintf("attempt %d on %s", r.attempt, r.node) }

// parseExampleRun parses a record of recordRun: "id attempt node", or
// "id attempt node failed" for a run that withdraws its record.
func parseExampleRun(t *testing.T, line string) (string, exampleRun) {
	t.Helper()
	f := strings.Fields(line)
	if len(f) != 3 && (len(f) != 4 || f[3] != "failed") {
		t.Fatalf("bad run record %q", line)
	}
	a, err := strconv.Atoi(f[1])
	if err != nil {
		t.Fatalf("bad run record %q: %v", line, err)
	}
	return f[0], exampleRun{attempt: a, node: f[2], failed: len(f) == 4}
}

// extraCompletions returns how many completions of a task beyond the
// first the framework should have prevented. One it cannot prevent is
// exempt: a task that deadNode completed and was killed before it could
// acknowledge (heldByDead: the task was still leased to the dead node
// once the node was gone) runs again as a later attempt.
func extraCompletions(rs []exampleRun, heldByDead bool, deadNode string) (extra int, exempt bool) {
	if len(rs) < 2 {
		return 0, false
	}
	last := slices.MaxFunc(rs, func(a, b exampleRun) int { return a.attempt - b.attempt }).attempt
	exempt = heldByDead && slices.ContainsFunc(rs, func(r exampleRun) bool { return r.node == deadNode && r.attempt < last })
	extra = len(rs) - 1
	if exempt {
		extra--
	}
	return extra, exempt
}

// TestTasksHandedBackOnSIGTERM: a node stopped while its tasks run past
// the drain timeout hands them back; another node runs them, and none is
// lost or recorded twice.
func TestTasksHandedBackOnSIGTERM(t *testing.T) {
	srv := redistest.StartOwn(t)
	prefix := redistest.Prefix(t)
	env := []string{
		"STELLAR_REDIS_PREFIX=" + prefix,
		"STELLAR_TASKS_LEASE=2s",
		"STELLAR_TASKS_POLL_INTERVAL=50ms",
		"STELLAR_TASKS_DRAIN_TIMEOUT=300ms",
		"STELLAR_TASKS_WORKERS=5",
		"STELLAR_LOG_LEVEL=warn",
		"STELLAR_CLUSTER_HEARTBEAT_INTERVAL=200ms",
		"STELLAR_CLUSTER_NODE_TTL=1s",
	}
	nodes := make([]*taskNode, 2)
	for i := range nodes {
		id := "node-" + strconv.Itoa(i+1)
		addr := freePort(t)
		nodes[i] = &taskNode{id: id, addr: addr, env: env,
			args: []string{"run", "--redis", srv.URL(), "--id", id, "--http", addr, "--tcp", "off", "--token", "test-token"}}
		nodes[i].start(t)
	}
	b, err := redisb.Open(redisb.Config{URL: srv.URL(), Prefix: prefix})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = b.Close() })
	ctx := context.Background()
	mgr := task.New()
	_ = mgr.Register(&task.Definition{Name: "recordRun", MaxAttempts: 5,
		Handler: task.HandlerFunc(func(context.Context, *task.Task) error { return nil })})
	// Enqueue only: the nodes under test run the workers, the mover and
	// the scheduler.
	if err := mgr.Start(ctx, b.Tasks(), task.Config{NodeID: "test", EnqueueOnly: true}, lifecycle.Key{}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = mgr.Stop(context.Background(), lifecycle.Key{}) })
	inspector := task.NewInspector(b.Tasks())
	const n = 10 // as many as both nodes' workers
	ids := map[string]bool{}
	for range n {
		id, err := mgr.Enqueue(ctx, "recordRun", map[string]any{"sleep_ms": 1500})
		if err != nil {
			t.Fatal(err)
		}
		ids[id] = true
	}
	var running []task.Info
	eventually(t, 10*time.Second, 10*time.Millisecond, func() bool {
		var err error
		if running, err = inspector.WorkingOn(ctx, ""); err != nil {
			t.Fatal(err)
		}
		return len(running) == n
	}, func() string { return fmt.Sprintf("%d of %d tasks running", len(running), n) })
	stopped := time.Now()
	if err := nodes[0].cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	nodes[0].wait(t, 10*time.Second)
	if code := nodes[0].cmd.ProcessState.ExitCode(); code != 0 {
		t.Errorf("stopped node exited with %d:\n%s", code, nodes[0].stderr)
	}
	c := cache.New(b.Cache(), cache.Config{NodeID: "test"})
	var got int
	eventually(t, 20*time.Second, 20*time.Millisecond, func() bool {
		var err error
		if got, err = c.ListLength(ctx, RunsList); err != nil {
			t.Fatal(err)
		}
		return got >= n
	}, func() string { return fmt.Sprintf("%d of %d tasks ran", got, n) })
	recorded := map[string][]exampleRun{}
	for {
		raw, err := c.Pop(ctx, RunsList)
		if err != nil {
			break
		}
		var line string
		_ = json.Unmarshal(raw, &line)
		id, r := parseExampleRun(t, line)
		recorded[id] = append(recorded[id], r)
	}
	handedBack := 0
	for id := range ids {
		runs := completions(recorded[id])
		if len(runs) != 1 {
			t.Errorf("task %s completed %v, want once", id, runs)
		}
		for _, r := range runs {
			if r.attempt != 1 {
				handedBack++
				if r.node != nodes[1].id {
					t.Errorf("handed-back task %s ran on %s", id, r.node)
				}
			}
		}
	}
	if handedBack == 0 {
		t.Error("no task was handed back")
	}
	t.Logf("tasks=%d handed-back=%d all done %s after SIGTERM", n, handedBack, time.Since(stopped).Round(time.Millisecond))
}

// TestCompletionsWithdrawn: a "failed" record withdraws the record of the
// same run, in either order, and nothing else.
func TestCompletionsWithdrawn(t *testing.T) {
	a1, a2 := exampleRun{attempt: 1, node: "n-1"}, exampleRun{attempt: 2, node: "n-2"}
	f1 := exampleRun{attempt: 1, node: "n-1", failed: true}
	for _, tc := range []struct {
		in, want []exampleRun
	}{
		{[]exampleRun{a1, f1, a2}, []exampleRun{a2}},
		{[]exampleRun{f1, a1, a2}, []exampleRun{a2}},
		{[]exampleRun{a1, a2}, []exampleRun{a1, a2}},
		{[]exampleRun{a1, a1, f1}, []exampleRun{a1}},
	} {
		if got := completions(tc.in); !slices.Equal(got, tc.want) {
			t.Errorf("completions(%v) = %v, want %v", tc.in, got, tc.want)
		}
	}
}
