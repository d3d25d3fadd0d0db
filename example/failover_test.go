package main

import (
	"context"
	"fmt"
	"io"
	"maps"
	"math/rand/v2"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stellarfw/stellar-go"
	redisb "github.com/stellarfw/stellar-go/backend/redis"
	"github.com/stellarfw/stellar-go/cluster"
	"github.com/stellarfw/stellar-go/internal/lifecycle"
	"github.com/stellarfw/stellar-go/internal/redistest"
	"github.com/stellarfw/stellar-go/task"
)

// Bounds of the failover tests: after a replica took over, the queue
// resumes and every node is ready again within these.
const (
	// stallSlack is how much longer than the failover itself (from the
	// fault to the new master serving) the queue may go without a
	// completion.
	stallSlack = 3 * time.Second
	// readyWithin is how soon after the failover every node's /readyz
	// answers 200 again.
	readyWithin = 5 * time.Second
	// readyProbes is how many more probes of each node's /readyz, once it
	// answered 200, must all answer 200; and how many more RPC calls to
	// each node, once one was answered, must all be answered.
	readyProbes = 20
)

// failoverRig is a faultRig whose test is also a member of the nodes'
// cluster, to call them by RPC.
type failoverRig struct {
	*faultRig
	me *cluster.Cluster
}

// startFailoverRig starts a faultRig of n nodes and joins their cluster
// as a member with no methods of its own.
func startFailoverRig(t *testing.T, be faultBackend, n int, lease, tick time.Duration) *failoverRig {
	t.Helper()
	r := &failoverRig{faultRig: startFaultRig(t, be, n, lease, tick)}
	b, err := redisb.Open(r.backend)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = b.Close() })
	r.me = cluster.New()
	cfg := cluster.Config{ID: "tester", Token: "test-token", Version: "test", HeartbeatInterval: 200 * time.Millisecond, NodeTTL: time.Second}
	if err := r.me.Start(context.Background(), b.Cluster(), cfg, lifecycle.Key{}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = r.me.Stop(context.Background(), lifecycle.Key{}) })
	eventually(t, 10*time.Second, 10*time.Millisecond, func() bool { return len(r.me.Members()) == n+1 },
		func() string { return fmt.Sprintf("the test sees %d members, want %d", len(r.me.Members()), n+1) })
	return r
}

// failover is what one fault of a failover test measured.
type failover struct {
	window     faultWindow
	batch      map[string]bool // the tasks queued when it struck
	readyAfter time.Duration   // from the new master serving to every node ready
	notReady   []string        // probes after that which did not answer 200
	rpcAfter   time.Duration   // from the new master serving to every node answering RPC
	rpcFailed  []string        // calls after that which failed
	stall      time.Duration   // the longest time without a completion
}

// failover injects a fault by running fail, which returns once a replica
// serves in the master's place, then measures how soon every node is
// ready again and whether it stays so.
func (r *failoverRig) failover(name string, batch int, fail func()) *failover {
	r.t.Helper()
	f := &failover{}
	f.batch = r.strike(name, batch, 0, func() {
		from := time.Now()
		fail()
		f.window = faultWindow{name, from, time.Now()}
		r.windows = append(r.windows, f.window)
	})
	var wg sync.WaitGroup
	wg.Go(func() { f.readyAfter, f.notReady = r.readyAgain() })
	wg.Go(func() { f.rpcAfter, f.rpcFailed = r.rpcAgain(f.window.to) })
	wg.Wait()
	return f
}

// rpcAgain waits until every node answers an RPC call (api.status) from
// the test's member and then keeps answering: readyProbes more calls per
// node, 20ms apart, all answered; a failed one starts the wait again. It
// returns how long after since the run of answered calls began, and the
// failed calls of the last run if none was clean within 3*readyWithin.
// (Right after a failover the nodes' records have expired on the new
// master until each heartbeats again, so a first answer is not yet
// health.)
func (r *failoverRig) rpcAgain(since time.Time) (time.Duration, []string) {
	call := func(n *taskNode) string {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		if _, err := r.me.Do(ctx, stellar.MethodStatus, nil, cluster.ToNode(n.id)); err != nil {
			return err.Error()
		}
		return ""
	}
	giveUp := time.Now().Add(3 * readyWithin)
	for {
		var waited []string // the last error of each node that did not answer at once
		for _, n := range r.nodes {
			lastErr, tries := "", 0
			within(time.Until(giveUp), 10*time.Millisecond, func() bool {
				tries++
				e := call(n)
				if e != "" {
					lastErr = e
				}
				return e == ""
			})
			if tries > 1 {
				waited = append(waited, fmt.Sprintf("%s: %d tries until %s, the last failed one: %s", n.id, tries, time.Now().Format("15:04:05.000"), lastErr))
			}
		}
		took := time.Since(since)
		if took > readyWithin {
			r.t.Logf("RPC answered again only %s after the failover: %s", took.Round(time.Millisecond), strings.Join(waited, "; "))
		}
		var (
			mu  sync.Mutex
			bad []string
			wg  sync.WaitGroup
		)
		for _, n := range r.nodes {
			wg.Go(func() {
				for i := range readyProbes {
					if e := call(n); e != "" {
						mu.Lock()
						bad = append(bad, fmt.Sprintf("%s call %d: %s", n.id, i+1, e))
						mu.Unlock()
					}
					time.Sleep(20 * time.Millisecond) // calls spread over a moment, not a wait for something
				}
			})
		}
		wg.Wait()
		if len(bad) == 0 || time.Now().After(giveUp) {
			return took, bad
		}
	}
}

// readyAgain waits until every node's /readyz answers 200 and then
// probes each node readyProbes more times, 20ms apart; a probe that does
// not answer 200 starts the wait again. It returns how long after it was
// called the clean run of probes began, and the failed probes of the last
// run if none was clean within 3*readyWithin. (A node starved of CPU for
// a moment on a loaded machine can miss a cluster heartbeat and report
// itself not ready; what counts is that the nodes are, and stay, ready
// soon after the failover.)
func (r *faultRig) readyAgain() (time.Duration, []string) {
	client := &http.Client{Timeout: 2 * time.Second}
	probe := func(n *taskNode) string {
		res, err := client.Get("http://" + n.addr + "/readyz")
		if err != nil {
			return err.Error()
		}
		defer res.Body.Close()
		if res.StatusCode != http.StatusOK {
			body, _ := io.ReadAll(io.LimitReader(res.Body, 300))
			return res.Status + " " + strings.TrimSpace(string(body))
		}
		return ""
	}
	start := time.Now()
	giveUp := start.Add(3 * readyWithin)
	for {
		for _, n := range r.nodes {
			within(time.Until(giveUp), 10*time.Millisecond, func() bool { return probe(n) == "" })
		}
		took := time.Since(start)
		var bad []string
		for i := range readyProbes {
			for _, n := range r.nodes {
				if p := probe(n); p != "" {
					bad = append(bad, fmt.Sprintf("%s probe %d: %s", n.id, i+1, p))
				}
			}
			time.Sleep(20 * time.Millisecond) // probes spread over a moment, not a wait for something
		}
		if len(bad) == 0 || time.Now().After(giveUp) {
			return took, bad
		}
		r.t.Logf("/readyz: %d of %d probes failed after the nodes answered 200, %s after the failover; probing again: %s",
			len(bad), readyProbes*len(r.nodes), time.Since(start).Round(time.Millisecond), strings.Join(bad[:min(len(bad), 3)], "; "))
	}
}

// enqueueWhile enqueues faultWork tasks from 8 goroutines from before
// move starts, once some went in, until a moment after it returned, and
// returns the ids of those that went in and the errors of those that did
// not.
func (r *faultRig) enqueueWhile(move func()) (map[string]bool, []string) {
	var (
		mu   sync.Mutex
		ids  = map[string]bool{}
		errs []string
		wg   sync.WaitGroup
	)
	stop := make(chan struct{})
	for range 8 {
		wg.Go(func() {
			for {
				select {
				case <-stop:
					return
				default:
				}
				id, err := r.mgr.Enqueue(context.Background(), faultWorkTask, map[string]any{"sleep_ms": 1 + rand.IntN(20)})
				mu.Lock()
				if err != nil {
					errs = append(errs, err.Error())
				} else {
					ids[id] = true
				}
				mu.Unlock()
				if err == nil {
					r.mu.Lock()
					r.ids[id] = true
					r.mu.Unlock()
				}
			}
		})
	}
	within(5*time.Second, time.Millisecond, func() bool {
		mu.Lock()
		defer mu.Unlock()
		return len(ids)+len(errs) >= 50
	})
	move()
	time.Sleep(200 * time.Millisecond) // enqueues on the new owner too, not a wait for something
	close(stop)
	wg.Wait()
	return ids, errs
}

// stallOf returns the longest time without any completion from the last
// one before f struck until every task of its batch had completed: while
// the batch was queued, a gap is the queue standing still.
func (r *faultRig) stallOf(f *failover) time.Duration {
	var times []time.Time
	end := time.Time{}
	first := map[string]time.Time{}
	for _, rec := range r.runs.records {
		if rec.ev != evDone || rec.name != faultWorkTask {
			continue
		}
		times = append(times, rec.at)
		if f.batch[rec.id] {
			if at, ok := first[rec.id]; !ok || rec.at.Before(at) {
				first[rec.id] = rec.at
			}
		}
	}
	for _, at := range first {
		if at.After(end) {
			end = at
		}
	}
	slices.SortFunc(times, func(a, b time.Time) int { return a.Compare(b) })
	var longest time.Duration
	prev := time.Time{}
	for _, at := range times {
		if at.After(end) {
			break
		}
		if !at.Before(f.window.from) && !prev.IsZero() {
			longest = max(longest, at.Sub(prev))
		}
		prev = at
	}
	return longest
}

// checkFailovers fails the test for a stall longer than the failover plus
// stallSlack, or nodes not ready soon enough or not staying so, and
// describes each failover for the summary.
func (r *failoverRig) checkFailovers(fs []*failover) string {
	t := r.t
	var out []string
	for _, f := range fs {
		took := f.window.to.Sub(f.window.from)
		f.stall = r.stallOf(f)
		if f.stall > took+stallSlack {
			t.Errorf("%s: the queue stood still for %s; the failover took %s", f.window.name, f.stall.Round(time.Millisecond), took.Round(time.Millisecond))
		}
		if f.readyAfter > readyWithin {
			t.Errorf("%s: the nodes were ready again only %s after the failover, want within %s", f.window.name, f.readyAfter.Round(time.Millisecond), readyWithin)
		}
		if f.rpcAfter > readyWithin {
			t.Errorf("%s: the nodes answered RPC again only %s after the failover, want within %s", f.window.name, f.rpcAfter.Round(time.Millisecond), readyWithin)
		}
		if len(f.rpcFailed) > 0 {
			t.Errorf("%s: RPC never stayed healthy: %d of %d calls after the nodes answered again failed: %s",
				f.window.name, len(f.rpcFailed), readyProbes*len(r.nodes), strings.Join(f.rpcFailed[:min(len(f.rpcFailed), 5)], "; "))
		}
		if len(f.notReady) > 0 {
			t.Errorf("%s: %d of %d /readyz probes after the nodes were ready again failed: %s",
				f.window.name, len(f.notReady), readyProbes*len(r.nodes), strings.Join(f.notReady[:min(len(f.notReady), 5)], "; "))
		}
		out = append(out, fmt.Sprintf("%s at %s: failover %s, longest stall %s, ready %s after, %d failed probes, RPC %s after, %d failed calls",
			f.window.name, f.window.from.Format("15:04:05.000"), took.Round(time.Millisecond), f.stall.Round(time.Millisecond),
			f.readyAfter.Round(time.Millisecond), len(f.notReady), f.rpcAfter.Round(time.Millisecond), len(f.rpcFailed)))
	}
	return strings.Join(out, "; ")
}

// failoverTally counts the completions of a failover test, where no
// duplicate is exempt: no node is killed or frozen.
func (r *faultRig) failoverTally(failed int) faultTally {
	tl := r.tally(faultRules{
		exempt: func(runRecord) bool { return false },
		cause:  func(rs []runRecord) string { return inWindow(r.windows, rs) },
	})
	tl.check(r.t, failed)
	if tl.duplicates > 0 {
		// Every record of the first tasks completed twice, starts too.
		dones := map[string]int{}
		for _, rec := range r.runs.records {
			if rec.ev == evDone && rec.name == faultWorkTask {
				dones[rec.id]++
			}
		}
		shown := 0
		for id, n := range dones {
			if n < 2 || shown == 3 {
				continue
			}
			shown++
			var all []string
			for _, rec := range r.runs.records {
				if rec.id == id {
					all = append(all, rec.String())
				}
			}
			r.t.Logf("task %s, every record: %s", id, strings.Join(all, "; "))
		}
	}
	return tl
}

// queueKey is a key in the slot of partition 0 of the default queue (its
// hash tag, {q:default}). The queue's other partitions spread over every
// master (docs/scaling.md), so failing this master over fails over about
// a third of them, partition 0, which holds the periodic task, among
// them; the slot move moves the slots of all of them.
const queueKey = "{q:default}"

// TestTasksSurviveClusterFailovers runs three nodes on a Redis Cluster of
// three masters, each with a replica, given every server as a seed, under
// a steady load of short tasks and a periodic task with a 1s lease, and
// fails the master serving the queue over twice: killed with SIGKILL (its
// replica takes over after the cluster-node-timeout, 1s), and, once it
// came back as a replica, by hand (CLUSTER FAILOVER). Counting what the
// handlers did, per task id: every task completes, none twice, no
// periodic fire time twice; the queue stands still no longer than the
// failover plus stallSlack; and every node is ready again, and answers
// RPC, within readyWithin after it, and stays so, while the killed master
// is still dead. Then the slots of every partition of the queue that
// master serves move to another master while its tasks run and more are
// enqueued: the same assertions, and no enqueue fails.
func TestTasksSurviveClusterFailovers(t *testing.T) {
	const (
		lease   = time.Second
		tick    = 100 * time.Millisecond
		batch   = 2000 // tasks enqueued before each fault
		delayed = 300  // tasks due at random times across the run
	)
	c := redistest.StartCluster(t)
	r := startFailoverRig(t, faultBackend{
		env: []string{"STELLAR_REDIS_CLUSTER_ADDRS=" + strings.Join(c.Addrs(), ",")},
		cfg: redisb.Config{ClusterAddrs: c.Addrs()},
	}, 3, lease, tick)
	r.enqueueDelayed(delayed, 10*time.Second)

	m := c.MasterOf(t, queueKey)
	killed := r.failover("master-sigkill", batch, func() {
		c.Kill(t, m)
		c.WaitFailover(t, m)
	})
	c.Restart(t, m) // back as the promoted replica's replica
	manual := r.failover("manual-failover", batch, func() { c.Failover(t, m) })
	if got := c.MasterOf(t, queueKey); got != m {
		t.Fatalf("the queue's master is %s after the manual failover, want %s", got.Addr(), m.Addr())
	}
	// Resharding under load: the slots of every partition of the queue
	// that m serves move to another master while its tasks run and more
	// are enqueued, none of which may fail.
	var to *redistest.Server
	for _, o := range c.Masters(t) {
		if o != m {
			to = o
			break
		}
	}
	var slots, parts []int
	for p := range task.DefaultClusterPartitions {
		key := "{" + redisb.PartitionTag(task.DefaultQueue, p) + "}"
		if c.MasterOf(t, key) == m {
			parts = append(parts, p)
			slots = append(slots, c.Slot(t, key))
		}
	}
	slices.Sort(slots)
	slots = slices.Compact(slots)
	if len(parts) < 2 {
		t.Fatalf("master %s serves partitions %v of the queue, want several", m.Addr(), parts)
	}
	var (
		keysMoved   int
		moveTook    time.Duration
		during      map[string]bool
		enqueueErrs []string
	)
	reshard := r.failover("reshard", batch, func() {
		during, enqueueErrs = r.enqueueWhile(func() {
			from := time.Now()
			for _, slot := range slots {
				keysMoved += c.MigrateSlots(t, m, to, slot, slot)
			}
			moveTook = time.Since(from)
		})
	})
	// The stall is measured until the tasks enqueued during the move
	// completed too.
	maps.Copy(reshard.batch, during)
	enqueuedDuring := len(during)
	for _, p := range parts {
		if got := c.MasterOf(t, "{"+redisb.PartitionTag(task.DefaultQueue, p)+"}"); got != to {
			t.Fatalf("partition %d's master is %s after its slot moved, want %s", p, got.Addr(), to.Addr())
		}
	}
	if len(enqueueErrs) > 0 {
		t.Errorf("%d of %d enqueues during the slot move failed: %s", len(enqueueErrs), enqueuedDuring+len(enqueueErrs),
			strings.Join(enqueueErrs[:min(len(enqueueErrs), 5)], "; "))
	}

	failed := r.finish()
	elapsed := time.Since(r.started)
	tl := r.failoverTally(failed)
	figures := r.checkFailovers([]*failover{killed, manual, reshard})
	t.Logf("reshard: partitions %v (slots %v) moved with %d keys in %s while %d tasks were enqueued",
		parts, slots, keysMoved, moveTook.Round(time.Millisecond), enqueuedDuring)
	t.Logf("tasks=%d completions=%d duplicates=%d lost=%d periodic-fires=%d duplicate-fires=%d max-attempt=%d "+
		"(duplicates and duplicate fires by fault: %s) %s elapsed=%s",
		tl.tasks, tl.completions, tl.duplicates, tl.lost, tl.fires, tl.duplicateFires, tl.maxAttempt,
		tl.causes(r.windows), figures, elapsed.Round(time.Millisecond))
}

// TestTasksSurviveSentinelFailovers runs three nodes on a master with two
// replicas under three sentinels (quorum 2, down after 1s), under the
// same load, and kills the master with SIGKILL twice: the sentinels
// promote a replica; the killed master comes back as a replica before
// the second kill. The same assertions as on the cluster.
func TestTasksSurviveSentinelFailovers(t *testing.T) {
	const (
		lease   = time.Second
		tick    = 100 * time.Millisecond
		batch   = 2000
		delayed = 300
	)
	s := redistest.StartSentinelSet(t)
	t.Cleanup(func() {
		if t.Failed() {
			// What the sentinels did: their events ("#" lines).
			for _, sn := range s.Sentinels() {
				var events []string
				for line := range strings.SplitSeq(sn.Log(), "\n") {
					if strings.Contains(line, " # ") {
						events = append(events, line)
					}
				}
				t.Logf("sentinel %s events:\n%s", sn.Addr(), strings.Join(events, "\n"))
			}
		}
	})
	r := startFailoverRig(t, faultBackend{
		env: []string{
			"STELLAR_REDIS_SENTINEL_MASTER=" + redistest.SentinelName,
			"STELLAR_REDIS_SENTINEL_ADDRS=" + strings.Join(s.Addrs(), ","),
		},
		cfg: redisb.Config{SentinelMaster: redistest.SentinelName, SentinelAddrs: s.Addrs()},
	}, 3, lease, tick)
	r.enqueueDelayed(delayed, 10*time.Second)

	var fs []*failover
	for i := range 2 {
		m := s.Master(t)
		fs = append(fs, r.failover(fmt.Sprintf("master-sigkill-%d", i+1), batch, func() {
			m.Kill(t)
			s.WaitFailover(t, m)
		}))
		if i == 0 {
			s.Restart(t, m) // back as a replica, before the second kill
		}
	}

	failed := r.finish()
	elapsed := time.Since(r.started)
	tl := r.failoverTally(failed)
	figures := r.checkFailovers(fs)
	t.Logf("tasks=%d completions=%d duplicates=%d lost=%d periodic-fires=%d duplicate-fires=%d max-attempt=%d "+
		"(duplicates and duplicate fires by fault: %s) %s elapsed=%s",
		tl.tasks, tl.completions, tl.duplicates, tl.lost, tl.fires, tl.duplicateFires, tl.maxAttempt,
		tl.causes(r.windows), figures, elapsed.Round(time.Millisecond))
}
