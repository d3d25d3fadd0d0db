package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/stellarfw/stellar-go"
	redisb "github.com/stellarfw/stellar-go/backend/redis"
	"github.com/stellarfw/stellar-go/internal/lifecycle"
	"github.com/stellarfw/stellar-go/internal/redistest"
	"github.com/stellarfw/stellar-go/task"
)

// A node of the fault test is this test binary run as a small Stellar app
// whose tasks record their runs outside Redis (see runRecorder).
const (
	// faultRecordsEnv names the directory the node records into; set,
	// the test binary runs faultNode instead of the example.
	faultRecordsEnv = "STELLAR_FAULT_RECORDS"
	// faultTickEnv is the period of the node's periodic task.
	faultTickEnv = "STELLAR_FAULT_TICK"
)

// The fault node's tasks: faultWork is enqueued by the test, faultTick is
// periodic. Both go to the default queue, so that the fires do not wait
// for the backlog to drain (the default queue comes first) but take their
// turn in it.
const (
	faultWorkTask = "faultWork"
	faultTickTask = "faultTick"
	// faultTickWork is how long a fire works: long enough that a fire is
	// often running when a fault strikes.
	faultTickWork = 50 * time.Millisecond
)

// faultNode runs the fault test's node: a Stellar app with faultWork and
// faultTick, on the command line the test gives it. It returns the exit
// status.
func faultNode(dir string, args []string) int {
	rec, err := openRunRecorder(dir)
	if err != nil {
		fmt.Fprintln(os.Stderr, "fault node:", err)
		return 2
	}
	defer rec.close()
	every, err := time.ParseDuration(os.Getenv(faultTickEnv))
	if err != nil || every <= 0 {
		every = 200 * time.Millisecond
	}
	app := stellar.New(stellar.Config{})
	if err := app.Tasks.Register(faultDefinitions(every, func(ctx context.Context, t *task.Task, work time.Duration) error {
		return recordedRun(ctx, rec, app.ID(), t, work)
	})...); err != nil {
		fmt.Fprintln(os.Stderr, "fault node:", err)
		return 2
	}
	return app.Main(args)
}

// faultDefinitions declares the fault test's tasks, run by run; the test
// registers them too (with a run that does nothing), to enqueue and stop
// them.
func faultDefinitions(tick time.Duration, run func(ctx context.Context, t *task.Task, work time.Duration) error) []*task.Definition {
	return []*task.Definition{
		{
			Name:        faultWorkTask,
			Description: "Works for sleep_ms, recording its start and completion",
			MaxAttempts: 5,
			Handler: task.HandlerFunc(func(ctx context.Context, t *task.Task) error {
				return run(ctx, t, time.Duration(t.Params.Int("sleep_ms"))*time.Millisecond)
			}),
		},
		{
			Name:        faultTickTask,
			Description: "Periodic: works for 50ms, recording its start and completion",
			Frequency:   tick,
			Handler: task.HandlerFunc(func(ctx context.Context, t *task.Task) error {
				return run(ctx, t, faultTickWork)
			}),
		},
	}
}

// recordedRun is a well-behaved handler: it records its start, works for
// d unless its context ends first, and records its completion only if the
// run was not cut off meanwhile (a run whose lease lapsed may be running
// elsewhere by now, so it must not complete). It asks Task.LeaseHeld, as
// docs/tasks.md advises a handler to do right before it commits: a
// process resumed after a freeze may reach this point before the timer
// that ends the context has fired, and LeaseHeld answers from the clock.
func recordedRun(ctx context.Context, rec *runRecorder, node string, t *task.Task, d time.Duration) error {
	if err := rec.record(evStart, node, t); err != nil {
		return err
	}
	timer := time.NewTimer(d)
	defer timer.Stop()
	select {
	case <-timer.C:
	case <-ctx.Done():
	}
	if err := cutOff(ctx, t); err != nil {
		_ = rec.record(evAbort, node, t)
		return err
	}
	return rec.record(evDone, node, t)
}

// cutOff returns why the run must not complete, or nil.
func cutOff(ctx context.Context, t *task.Task) error {
	if ctx.Err() != nil {
		return context.Cause(ctx)
	}
	if !t.LeaseHeld() {
		return task.ErrLeaseLost
	}
	if dl, ok := ctx.Deadline(); ok && !time.Now().Before(dl) {
		return context.DeadlineExceeded
	}
	return nil
}

// The events a run records.
const (
	evStart = "START"
	evDone  = "DONE"  // the handler is about to return nil
	evAbort = "ABORT" // the handler is about to return its context's error
)

// runRecorder appends a node's run records to a file of its own, outside
// the framework's Redis, so that the records survive whatever happens to
// Redis and count what handlers did rather than what the framework
// believes. Each record is one write(2) to a file opened with O_APPEND,
// followed by fsync, before the handler goes on: once write returns, the
// line is the kernel's and survives the process being killed or frozen
// (the faults these tests inject); the fsync makes a completion durable
// before the handler returns even if the machine went down. A second
// redis-server would do too, but a file needs no network and no process
// of its own that could fail.
type runRecorder struct {
	f *os.File
}

func openRunRecorder(dir string) (*runRecorder, error) {
	f, err := os.OpenFile(filepath.Join(dir, strconv.Itoa(os.Getpid())+".runs"), os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644)
	if err != nil {
		return nil, err
	}
	return &runRecorder{f: f}, nil
}

// record appends "EVENT name id attempt node pid fireMs unixNano".
func (r *runRecorder) record(ev, node string, t *task.Task) error {
	var fire int64
	if !t.FireAt.IsZero() {
		fire = t.FireAt.UnixMilli()
	}
	line := fmt.Sprintf("%s %s %s %d %s %d %d %d\n", ev, t.Name, t.ID, t.Attempt, node, os.Getpid(), fire, time.Now().UnixNano())
	if _, err := r.f.WriteString(line); err != nil {
		return err
	}
	return r.f.Sync()
}

func (r *runRecorder) close() { _ = r.f.Close() }

// runRecord is one line of a runRecorder.
type runRecord struct {
	ev, name, id string
	attempt      int
	node         string
	pid          int
	fire         int64
	at           time.Time
}

func (r runRecord) String() string {
	return fmt.Sprintf("%s attempt %d on %s (pid %d) at %s", r.ev, r.attempt, r.node, r.pid, r.at.Format("15:04:05.000"))
}

// runKey identifies one run: a task's attempt in one process.
type runKey struct {
	id      string
	attempt int
	pid     int
}

func (r runRecord) key() runKey { return runKey{r.id, r.attempt, r.pid} }

// runLog reads the records of every node from their directory, as they
// grow.
type runLog struct {
	t       *testing.T
	dir     string
	read    map[string]int64 // bytes consumed per file
	records []runRecord
}

func newRunLog(t *testing.T, dir string) *runLog {
	return &runLog{t: t, dir: dir, read: map[string]int64{}}
}

// update reads the records written since the last call.
func (l *runLog) update() {
	l.t.Helper()
	files, err := filepath.Glob(filepath.Join(l.dir, "*.runs"))
	if err != nil {
		l.t.Fatal(err)
	}
	sort.Strings(files)
	for _, name := range files {
		b, err := readFrom(name, l.read[name])
		if err != nil {
			l.t.Fatal(err)
		}
		// A line being written may be seen in part: leave it for later.
		end := bytes.LastIndexByte(b, '\n') + 1
		l.read[name] += int64(end)
		for _, line := range strings.Split(string(b[:end]), "\n") {
			if line == "" {
				continue
			}
			f := strings.Fields(line)
			if len(f) != 8 {
				l.t.Fatalf("%s: bad record %q", name, line)
			}
			r := runRecord{ev: f[0], name: f[1], id: f[2], node: f[4]}
			var ns int64
			var errs [4]error
			r.attempt, errs[0] = strconv.Atoi(f[3])
			r.pid, errs[1] = strconv.Atoi(f[5])
			r.fire, errs[2] = strconv.ParseInt(f[6], 10, 64)
			ns, errs[3] = strconv.ParseInt(f[7], 10, 64)
			if err := errors.Join(errs[:]...); err != nil {
				l.t.Fatalf("%s: bad record %q: %v", name, line, err)
			}
			r.at = time.Unix(0, ns)
			l.records = append(l.records, r)
		}
	}
}

// readFrom returns the contents of file name from offset on.
func readFrom(name string, offset int64) ([]byte, error) {
	f, err := os.Open(name)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	if _, err := f.Seek(offset, io.SeekStart); err != nil {
		return nil, err
	}
	return io.ReadAll(f)
}

// completed counts the ids of ids that completed at least once.
func (l *runLog) completed(ids map[string]bool) int {
	l.update()
	done := map[string]bool{}
	for _, r := range l.records {
		if r.ev == evDone && ids[r.id] {
			done[r.id] = true
		}
	}
	return len(done)
}

// unfinished returns the runs that recorded a start but no end yet.
func (l *runLog) unfinished() []runRecord {
	l.update()
	open := map[runKey]runRecord{}
	for _, r := range l.records {
		switch r.ev {
		case evStart:
			open[r.key()] = r
		case evDone, evAbort:
			delete(open, r.key())
		}
	}
	var out []runRecord
	for _, r := range open {
		out = append(out, r)
	}
	return out
}

// threadsStopped reports whether every thread of process pid is stopped
// (state T in /proc). A process that was sent SIGSTOP runs on until each
// of its threads has stopped: the process's own state letter, which is
// its first thread's, may say T while others still run.
func threadsStopped(t *testing.T, pid int) bool {
	t.Helper()
	stats, err := filepath.Glob(filepath.Join("/proc", strconv.Itoa(pid), "task", "*", "stat"))
	if err != nil {
		t.Fatal(err)
	}
	if len(stats) == 0 {
		return false
	}
	for _, name := range stats {
		b, err := os.ReadFile(name)
		if err != nil {
			return false // a thread that ended meanwhile: look again
		}
		// tid (comm) S ...: the state follows the last ')'.
		i := bytes.LastIndexByte(b, ')')
		if i < 0 || i+2 >= len(b) || b[i+2] != 'T' {
			return false
		}
	}
	return true
}

// faultWindow is when a fault was in force.
type faultWindow struct {
	name     string
	from, to time.Time
}

// faultBackend says where the Redis of a fault test is: the flags and
// environment that point a node at it, and the test's own configuration
// (its Prefix is set by the rig).
type faultBackend struct {
	args []string
	env  []string
	cfg  redisb.Config
}

// faultRig is the machinery of the fault tests: nodes that record their
// runs (see faultNode), the test's own enqueue-only manager and an
// inspector on the same Redis, and the records.
type faultRig struct {
	t         *testing.T
	started   time.Time
	tick      time.Duration
	nodes     []*taskNode
	mgr       *task.Manager
	inspector *task.Inspector
	runs      *runLog
	windows   []faultWindow
	backend   redisb.Config // the test's own, with the nodes' prefix

	mu  sync.Mutex
	ids map[string]bool // guarded by mu; every task the test enqueued
}

// startFaultRig starts n nodes on be's Redis, with a lease and a
// periodic task of period tick, and the test's manager.
func startFaultRig(t *testing.T, be faultBackend, n int, lease, tick time.Duration) *faultRig {
	t.Helper()
	r := &faultRig{t: t, started: time.Now(), tick: tick, ids: map[string]bool{}}
	prefix := redistest.Prefix(t)
	dir := t.TempDir()
	env := append([]string{
		faultRecordsEnv + "=" + dir,
		faultTickEnv + "=" + tick.String(),
		"STELLAR_REDIS_PREFIX=" + prefix,
		"STELLAR_TASKS_LEASE=" + lease.String(),
		"STELLAR_TASKS_POLL_INTERVAL=50ms",
		"STELLAR_TASKS_DRAIN_TIMEOUT=3s",
		"STELLAR_SHUTDOWN_TIMEOUT=10s",
		"STELLAR_LOG_LEVEL=warn",
		"STELLAR_LOG_FORMAT=text",
		"STELLAR_CLUSTER_HEARTBEAT_INTERVAL=200ms",
		"STELLAR_CLUSTER_NODE_TTL=1s",
	}, be.env...)
	r.nodes = make([]*taskNode, n)
	for i := range r.nodes {
		id := "node-" + strconv.Itoa(i+1)
		addr := freePort(t)
		args := append(append([]string{"run"}, be.args...), "--id", id, "--http", addr, "--tcp", "off", "--token", "test-token")
		r.nodes[i] = &taskNode{id: id, addr: addr, env: env, args: args}
		r.nodes[i].start(t)
	}
	t.Cleanup(func() {
		if t.Failed() {
			for _, n := range r.nodes {
				out := n.stderr.String()
				t.Logf("%s stderr (last 20000 bytes):\n%s", n.id, out[max(0, len(out)-20000):])
			}
		}
	})

	// The test enqueues and inspects through a manager of its own.
	cfg := be.cfg
	cfg.Prefix, cfg.ReconnectBackoff = prefix, 20*time.Millisecond
	r.backend = cfg
	b, err := redisb.Open(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = b.Close() })
	r.mgr = task.New()
	if err := r.mgr.Register(faultDefinitions(tick, func(context.Context, *task.Task, time.Duration) error { return nil })...); err != nil {
		t.Fatal(err)
	}
	// Enqueue only: the nodes under test run the workers, the mover and
	// the scheduler.
	if err := r.mgr.Start(context.Background(), b.Tasks(), task.Config{NodeID: "test", EnqueueOnly: true}, lifecycle.Key{}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = r.mgr.Stop(context.Background(), lifecycle.Key{}) })
	r.inspector = task.NewInspector(b.Tasks())
	r.runs = newRunLog(t, dir)
	return r
}

// enqueue enqueues n faultWork tasks, 16 at a time, each with opts(), and
// returns their ids.
func (r *faultRig) enqueue(n int, opts func() []task.Option) map[string]bool {
	t := r.t
	got := map[string]bool{}
	var next atomic.Int64
	var wg sync.WaitGroup
	for range 16 {
		wg.Go(func() {
			for next.Add(1) <= int64(n) {
				var o []task.Option
				if opts != nil {
					o = opts()
				}
				id, err := r.mgr.Enqueue(context.Background(), faultWorkTask, map[string]any{"sleep_ms": 1 + rand.IntN(20)}, o...)
				if err != nil {
					t.Error(err)
					return
				}
				r.mu.Lock()
				r.ids[id], got[id] = true, true
				r.mu.Unlock()
			}
		})
	}
	wg.Wait()
	if t.Failed() {
		t.FailNow()
	}
	return got
}

// enqueueDelayed enqueues n tasks due at random times within d.
func (r *faultRig) enqueueDelayed(n int, d time.Duration) {
	r.enqueue(n, func() []task.Option {
		return []task.Option{task.In(time.Duration(rand.Int64N(int64(d))))}
	})
}

// running returns every running task.
func (r *faultRig) running() []task.Info {
	r.t.Helper()
	in, err := r.inspector.WorkingOn(context.Background(), "")
	if err != nil {
		r.t.Fatal(err)
	}
	return in
}

// strike enqueues a batch of tasks and, once a tenth of it completed with
// the rest queued behind the running ones, injects a fault: while a
// periodic fire runs too, if one starts soon (a fire runs about half the
// time), on the process pid (0: anywhere). It returns the batch.
func (r *faultRig) strike(name string, batch, pid int, inject func()) map[string]bool {
	r.t.Helper()
	these := r.enqueue(batch, nil)
	eventually(r.t, 30*time.Second, 5*time.Millisecond, func() bool { return r.runs.completed(these) >= batch/10 },
		func() string { return fmt.Sprintf("%s: a tenth of the batch did not complete in time", name) })
	within(time.Second, time.Millisecond, func() bool {
		return slices.ContainsFunc(r.runs.unfinished(), func(rec runRecord) bool {
			return rec.name == faultTickTask && (pid == 0 || rec.pid == pid)
		})
	})
	inject()
	return these
}

// finish waits until every task completed, then stops the periodic task
// and waits until nothing is queued or running and every run that
// started has ended (a stale run included), so that no late completion
// is missed. It fails, but lets the test count, if that takes too long,
// and returns how many tasks ended in the failed list.
func (r *faultRig) finish() (failed int) {
	t := r.t
	t.Helper()
	ctx := context.Background()
	r.mu.Lock()
	ids := maps.Clone(r.ids)
	r.mu.Unlock()
	if !within(40*time.Second, 20*time.Millisecond, func() bool { return r.runs.completed(ids) == len(ids) }) {
		t.Errorf("not every task completed within 40s")
	}
	eventually(t, 10*time.Second, 20*time.Millisecond, func() bool { _, err := r.mgr.StopRecurrent(ctx, faultTickTask); return err == nil },
		func() string { return "StopRecurrent kept failing" })
	quiet := within(20*time.Second, 20*time.Millisecond, func() bool {
		s, err := r.inspector.Stats(ctx)
		if err != nil {
			return false
		}
		failed = 0
		for _, q := range s.Queues {
			failed += q.Failed
			if q.Pending+q.Delayed+q.Running > 0 {
				return false
			}
		}
		return len(r.runs.unfinished()) == 0
	})
	if !quiet {
		t.Errorf("tasks still queued or running 20s after the last fault, or runs never ended: %v", r.runs.unfinished())
	}
	return failed
}

// faultTally counts what the handlers did, per task id and per periodic
// fire time.
type faultTally struct {
	tasks, completions, lost    int
	duplicates, duplicateFires  int
	fires, maxAttempt, exempted int
	exemptLate                  int            // of the exempted, those the rules' late picks
	byCause                     map[string]int // duplicates and duplicate fires by cause
	examples                    []string
}

// faultRules tell a fault test's duplicates apart.
type faultRules struct {
	// exempt says the framework could not have prevented a completion
	// beyond the first.
	exempt func(runRecord) bool
	// late, if set, picks the exempt completions to count apart
	// (faultTally.exemptLate).
	late func(runRecord) bool
	// cause names the fault a duplicate's completions point at.
	cause func([]runRecord) string
}

// tally counts completions: a completion beyond the first is a duplicate
// unless the rules exempt it.
func (r *faultRig) tally(rules faultRules) faultTally {
	t := r.t
	done := map[string][]runRecord{}
	fireDone := map[int64][]runRecord{}
	tl := faultTally{byCause: map[string]int{}}
	for _, rec := range r.runs.records {
		tl.maxAttempt = max(tl.maxAttempt, rec.attempt)
		if rec.ev != evDone {
			continue
		}
		switch rec.name {
		case faultWorkTask:
			done[rec.id] = append(done[rec.id], rec)
			tl.completions++
		case faultTickTask:
			fireDone[rec.fire] = append(fireDone[rec.fire], rec)
		}
	}
	// extra returns the completions beyond the first that the framework
	// should have prevented, and those it could not.
	extra := func(rs []runRecord) (dup, exempted int) {
		if len(rs) < 2 {
			return 0, 0
		}
		late := 0
		for _, rec := range rs {
			if rules.exempt(rec) {
				exempted++
				if rules.late != nil && rules.late(rec) {
					late++
				}
			}
		}
		exempted = min(exempted, len(rs)-1)
		tl.exemptLate += min(late, exempted)
		return len(rs) - 1 - exempted, exempted
	}
	r.mu.Lock()
	ids := slices.Sorted(maps.Keys(r.ids))
	r.mu.Unlock()
	tl.tasks = len(ids)
	for _, id := range ids {
		rs := done[id]
		if len(rs) == 0 {
			tl.lost++
			if tl.lost <= 10 {
				t.Errorf("task %s never completed", id)
			}
			continue
		}
		dup, ex := extra(rs)
		tl.exempted += ex
		if dup > 0 {
			tl.duplicates++
			c := rules.cause(rs)
			tl.byCause[c]++
			if tl.byCause[c] <= 3 {
				tl.examples = append(tl.examples, fmt.Sprintf("task %s completed %d times [%s]: %v", id, len(rs), c, rs))
			}
		}
	}
	tl.fires = len(fireDone)
	for fire, rs := range fireDone {
		dup, ex := extra(rs)
		tl.exempted += ex
		if dup > 0 {
			tl.duplicateFires++
			c := rules.cause(rs)
			tl.byCause[c]++
			if tl.byCause[c] <= 3 {
				tl.examples = append(tl.examples, fmt.Sprintf("periodic fire %s completed %d times [%s]: %v",
					time.UnixMilli(fire).Format("15:04:05.000"), len(rs), c, rs))
			}
		}
	}
	return tl
}

// check fails the test for duplicates, lost tasks and failed tasks.
func (tl faultTally) check(t *testing.T, failed int) {
	t.Helper()
	if tl.duplicates > 0 {
		t.Errorf("%d of %d tasks completed more than once", tl.duplicates, tl.tasks)
	}
	if tl.duplicateFires > 0 {
		t.Errorf("%d of %d periodic fire times completed more than once", tl.duplicateFires, tl.fires)
	}
	for _, e := range tl.examples {
		t.Log(e)
	}
	if tl.lost > 0 {
		t.Errorf("%d of %d tasks never completed", tl.lost, tl.tasks)
	}
	if failed > 0 {
		t.Errorf("%d tasks ended in the failed list", failed)
	}
}

// causes lists the duplicates by fault window, then the others.
func (tl faultTally) causes(windows []faultWindow) string {
	var out []string
	for _, w := range windows {
		out = append(out, fmt.Sprintf("%s=%d", w.name, tl.byCause[w.name]))
	}
	out = append(out, fmt.Sprintf("other=%d", tl.byCause["other"]))
	return strings.Join(out, " ")
}

// inWindow names the fault window that one of rs completed in, or in the
// half second before (its acknowledgement on the way), or "other".
func inWindow(windows []faultWindow, rs []runRecord) string {
	for _, rec := range rs {
		for _, w := range windows {
			if !rec.at.Before(w.from.Add(-500*time.Millisecond)) && !rec.at.After(w.to) {
				return w.name
			}
		}
	}
	return "other"
}

// TestTasksSurviveRedisFaults runs three nodes on one redis-server that
// persists to an AOF (appendfsync always), under a steady load of short
// tasks and a periodic task with a 1s lease, and injects three faults:
// Redis shut down with SIGTERM and restarted 1s later, Redis killed with
// SIGKILL and restarted 1.5s later (same port, same AOF), and one node
// frozen with SIGSTOP for 2.5 leases, then resumed. Counting what the
// handlers did (their own records, outside Redis), per task id and not
// per attempt: every task completes, none completes twice, and no
// periodic fire time completes twice.
//
// The one duplicate the framework cannot prevent is a run that completed
// just before its node froze, whose acknowledgement had not reached Redis:
// to the cluster a frozen node is a dead one, so the task runs again.
// Those are told apart (completed before the node had stopped, and still
// leased to it once it had) and counted separately, as a SIGKILLed node's
// are in TestTasksSurviveKilledNodes. A node stops some time after the
// SIGSTOP is sent: one of its threads takes the signal and then stops the
// others, and until the scheduler runs that thread the others run on,
// for tens of milliseconds on a loaded machine (completions recorded 3ms,
// and a node's log line 35ms, after the signal was sent have been seen).
// So the freeze begins when every thread of the node is seen stopped,
// not when the signal was sent.
func TestTasksSurviveRedisFaults(t *testing.T) {
	const (
		lease   = time.Second
		tick    = 100 * time.Millisecond
		batch   = 1000 // tasks enqueued before each fault
		delayed = 300  // tasks due at random times across the run
	)
	srv := redistest.StartOwn(t, redistest.AOF())
	r := startFaultRig(t, faultBackend{args: []string{"--redis", srv.URL()}, cfg: redisb.Config{URL: srv.URL()}}, 3, lease, tick)
	r.enqueueDelayed(delayed, 10*time.Second)

	// Each fault strikes while a batch is being worked through.
	frozen := r.nodes[2]
	// stopAt: SIGSTOP sent; frozenAt: every thread of the node seen
	// stopped; resumeAt: SIGCONT sent.
	var stopAt, frozenAt, resumeAt time.Time
	heldAtFreeze := map[string]bool{}
	redisDown := func(name string, down func(testing.TB), outage time.Duration) func() {
		return func() {
			if n := len(r.running()); n == 0 {
				t.Fatalf("%s: no task running when Redis went down", name)
			}
			from := time.Now()
			down(t)
			time.Sleep(outage) // the outage itself, not a wait for something
			srv.Restart(t)
			r.windows = append(r.windows, faultWindow{name, from, time.Now()})
		}
	}
	r.strike("redis-sigterm", batch, 0, redisDown("redis-sigterm", srv.Terminate, time.Second))
	r.strike("redis-sigkill", batch, 0, redisDown("redis-sigkill", srv.Kill, 1500*time.Millisecond))
	r.strike("freeze", batch, frozen.cmd.Process.Pid, func() {
		if err := frozen.cmd.Process.Signal(syscall.SIGSTOP); err != nil {
			t.Fatal(err)
		}
		stopAt = time.Now()
		eventually(t, 5*time.Second, time.Millisecond, func() bool { return threadsStopped(t, frozen.cmd.Process.Pid) },
			func() string { return frozen.id + " did not stop" })
		frozenAt = time.Now()
		// Read once the node can no longer fetch or acknowledge.
		for _, in := range r.running() {
			if strings.HasPrefix(in.Worker, frozen.id+":") {
				heldAtFreeze[in.ID] = true
			}
		}
		if len(heldAtFreeze) == 0 {
			t.Fatalf("%s held no task when it froze", frozen.id)
		}
		// Its tasks are recovered and run again elsewhere meanwhile.
		eventually(t, 4*lease, 10*time.Millisecond, func() bool {
			for _, in := range r.running() {
				if heldAtFreeze[in.ID] && strings.HasPrefix(in.Worker, frozen.id+":") {
					return false
				}
			}
			return true
		}, func() string { return "the frozen node's tasks were not recovered within 4 leases" })
		time.Sleep(time.Until(stopAt.Add(5 * lease / 2))) // frozen for 2.5 leases in all
		if err := frozen.cmd.Process.Signal(syscall.SIGCONT); err != nil {
			t.Fatal(err)
		}
		resumeAt = time.Now()
		r.windows = append(r.windows, faultWindow{"freeze", stopAt, resumeAt})
	})

	failed := r.finish()
	elapsed := time.Since(r.started)

	frozenPID := frozen.cmd.Process.Pid
	// Exempt: completed before the node had stopped, still leased to it
	// once it had (its acknowledgement lost to the freeze). (A record of
	// the frozen node between frozenAt and resumeAt cannot exist: the node
	// was not running.)
	ackLostToFreeze := func(rec runRecord) bool {
		return rec.pid == frozenPID && rec.at.Before(frozenAt) && heldAtFreeze[rec.id]
	}
	// cause: a stale run completed after the freeze, or a run completed
	// in a fault's window.
	cause := func(rs []runRecord) string {
		for _, rec := range rs {
			if rec.pid == frozenPID && rec.at.After(resumeAt) {
				return "freeze"
			}
		}
		return inWindow(r.windows, rs)
	}
	// Counted apart: the exempt completions recorded after the SIGSTOP was
	// sent.
	afterSIGSTOP := func(rec runRecord) bool { return !rec.at.Before(stopAt) }
	tl := r.tally(faultRules{exempt: ackLostToFreeze, late: afterSIGSTOP, cause: cause})
	tl.check(t, failed)
	if len(tl.examples) > 0 {
		t.Logf("%s: SIGSTOP sent at %s, every thread stopped at %s, SIGCONT sent at %s", frozen.id,
			stopAt.Format("15:04:05.000"), frozenAt.Format("15:04:05.000"), resumeAt.Format("15:04:05.000"))
	}
	t.Logf("tasks=%d completions=%d duplicates=%d lost=%d periodic-fires=%d duplicate-fires=%d max-attempt=%d "+
		"(duplicates and duplicate fires by fault: %s; completed just before the freeze, ack lost, exempt: %d, "+
		"%d of them after the SIGSTOP was sent; held at freeze: %d; stopped %s after the SIGSTOP) elapsed=%s",
		tl.tasks, tl.completions, tl.duplicates, tl.lost, tl.fires, tl.duplicateFires, tl.maxAttempt,
		tl.causes(r.windows), tl.exempted, tl.exemptLate, len(heldAtFreeze),
		frozenAt.Sub(stopAt).Round(100*time.Microsecond), elapsed.Round(time.Millisecond))
}
