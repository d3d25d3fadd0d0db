package redistest

import (
	"bufio"
	"net"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stellarfw/stellar-go/internal/poll"
)

// do sends one command to the cluster through s, following MOVED and ASK
// redirections and retrying TRYAGAIN and CLUSTERDOWN for up to 10s, as a
// cluster client would.
func do(s *Server, args ...string) (string, error) {
	addr, asking := s.Addr(), false
	deadline := time.Now().Add(10 * time.Second)
	for {
		var reply string
		var err error
		if asking {
			reply, err = pipeline(addr, []string{"ASKING"}, args)
		} else {
			reply, err = command(addr, "", args...)
		}
		asking = false
		if err == nil || time.Now().After(deadline) {
			return reply, err
		}
		msg := err.Error()
		_, redirect, _ := strings.Cut(msg, ": MOVED ")
		if redirect == "" {
			if _, redirect, _ = strings.Cut(msg, ": ASK "); redirect != "" {
				asking = true
			}
		}
		switch {
		case redirect != "":
			_, addr, _ = strings.Cut(redirect, " ")
		case strings.Contains(msg, ": TRYAGAIN"), strings.Contains(msg, ": CLUSTERDOWN"):
			time.Sleep(10 * time.Millisecond)
		default:
			return reply, err
		}
	}
}

// pipeline sends two commands on one connection and returns the reply of
// the second.
func pipeline(addr string, first, second []string) (string, error) {
	c, err := net.DialTimeout("tcp", addr, time.Second)
	if err != nil {
		return "", err
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(2 * time.Second))
	r := bufio.NewReader(c)
	if _, err := roundTrip(c, r, first...); err != nil {
		return "", err
	}
	return roundTrip(c, r, second...)
}

func TestClusterSetShape(t *testing.T) {
	t.Parallel()
	started := time.Now()
	c := StartCluster(t)
	t.Logf("cluster of %d servers started in %s", len(c.Servers()), time.Since(started).Round(time.Millisecond))
	masters := c.Masters(t)
	if len(masters) != ClusterMasters {
		t.Fatalf("%d masters, want %d", len(masters), ClusterMasters)
	}
	seen := map[*Server]bool{}
	for _, m := range masters {
		seen[m] = true
		replicas := c.Replicas(t, m)
		if len(replicas) != ClusterReplicas {
			t.Fatalf("master %s has %d replicas, want %d", m.Addr(), len(replicas), ClusterReplicas)
		}
		for _, r := range replicas {
			seen[r] = true
			if info, err := r.command("INFO", "replication"); err != nil || !strings.Contains(info, "master_port:"+strconv.Itoa(m.port)+"\r") {
				t.Fatalf("replica %s: INFO replication = %q, %v; want it to replicate %s", r.Addr(), info, err, m.Addr())
			}
		}
	}
	if len(seen) != len(c.Servers()) || len(c.Addrs()) != ClusterMasters*(1+ClusterReplicas) {
		t.Fatalf("masters and replicas cover %d of %d servers", len(seen), len(c.Servers()))
	}
	for _, s := range c.Servers() {
		info, err := s.command("CLUSTER", "INFO")
		if err != nil || !strings.Contains(info, "cluster_state:ok") || !strings.Contains(info, "cluster_slots_ok:16384") ||
			!strings.Contains(info, "cluster_known_nodes:6") {
			t.Fatalf("%s: CLUSTER INFO = %q, %v", s.Addr(), info, err)
		}
	}
	// Keys spread over every master, and each is answered by MasterOf.
	owners := map[*Server]bool{}
	for i := range 30 {
		k := "key" + strconv.Itoa(i)
		m := c.MasterOf(t, k)
		owners[m] = true
		if _, err := command(m.Addr(), "", "SET", k, "v"); err != nil {
			t.Fatalf("SET %s on its master %s: %v", k, m.Addr(), err)
		}
	}
	if len(owners) != ClusterMasters {
		t.Errorf("30 keys landed on %d masters, want %d", len(owners), ClusterMasters)
	}
	// A command for another master's slot is redirected, as in a cluster.
	k := "key0"
	for _, m := range masters {
		if m != c.MasterOf(t, k) {
			if _, err := command(m.Addr(), "", "GET", k); err == nil || !strings.Contains(err.Error(), "MOVED") {
				t.Fatalf("GET %s on %s: %v, want MOVED", k, m.Addr(), err)
			}
			break
		}
	}
}

// TestClusterSetKillFailover kills a master: its replica takes over with
// the keys written before; the killed master comes back as the new
// master's replica, and a manual failover gives it its slots back.
func TestClusterSetKillFailover(t *testing.T) {
	t.Parallel()
	c := StartCluster(t)
	const key = "survivor"
	m := c.MasterOf(t, key)
	replicas := c.Replicas(t, m)
	if _, err := command(m.Addr(), "", "SET", key, "before"); err != nil {
		t.Fatal(err)
	}
	// A write reaches the replica before it is acknowledged: no loss.
	if n, err := command(m.Addr(), "", "WAIT", "1", "2000"); err != nil || n != "1" {
		t.Fatalf("WAIT = %q, %v", n, err)
	}
	killedAt := time.Now()
	c.Kill(t, m)
	if err := ping(m.Addr()); err == nil {
		t.Fatal("the killed master still answers")
	}
	promoted := c.WaitFailover(t, m)
	t.Logf("failover after SIGKILL took %s", time.Since(killedAt).Round(time.Millisecond))
	if !slices.Contains(replicas, promoted) {
		t.Fatalf("%s took over, not %s's replica %s", promoted.Addr(), m.Addr(), replicas[0].Addr())
	}
	if got := c.MasterOf(t, key); got != promoted {
		t.Fatalf("MasterOf(%s) = %s, want %s", key, got.Addr(), promoted.Addr())
	}
	if got, err := command(promoted.Addr(), "", "GET", key); err != nil || got != "before" {
		t.Fatalf("GET %s on the promoted replica = %q, %v", key, got, err)
	}
	masters := c.Masters(t)
	if len(masters) != ClusterMasters || slices.Contains(masters, m) {
		t.Fatalf("masters after the failover: %v", addrs(masters))
	}

	c.Restart(t, m)
	if r := c.Replicas(t, promoted); !slices.Equal(r, []*Server{m}) {
		t.Fatalf("replicas of %s after the restart: %v, want %s", promoted.Addr(), addrs(r), m.Addr())
	}
	if _, err := command(promoted.Addr(), "", "SET", key, "after"); err != nil {
		t.Fatal(err)
	}
	// A replica answers reads of its slots after READONLY.
	if got, err := pipeline(m.Addr(), []string{"READONLY"}, []string{"GET", key}); err != nil || (got != "after" && got != "before") {
		t.Fatalf("GET %s on the restarted replica = %q, %v", key, got, err)
	}

	c.Failover(t, m)
	if got := c.MasterOf(t, key); got != m {
		t.Fatalf("after CLUSTER FAILOVER, MasterOf(%s) = %s, want %s", key, got.Addr(), m.Addr())
	}
	if r := c.Replicas(t, m); !slices.Equal(r, []*Server{promoted}) {
		t.Fatalf("replicas of %s after the manual failover: %v, want %s", m.Addr(), addrs(r), promoted.Addr())
	}
	// A manual failover loses no acknowledged write.
	if got, err := command(m.Addr(), "", "GET", key); err != nil || got != "after" {
		t.Fatalf("GET %s after the manual failover = %q, %v", key, got, err)
	}
}

// TestClusterSetMigrateSlots moves a slot between masters while writers
// keep adding keys to it: every acknowledged write is on the new owner.
func TestClusterSetMigrateSlots(t *testing.T) {
	t.Parallel()
	c := StartCluster(t)
	masters := c.Masters(t)
	keys := make([]string, 400)
	for i := range keys {
		keys[i] = "{moving}" + strconv.Itoa(i)
	}
	slot := c.Slot(t, keys[0])
	from := c.MasterOf(t, keys[0])
	to := masters[0]
	if to == from {
		to = masters[1]
	}
	for _, k := range keys[:200] {
		if _, err := command(from.Addr(), "", "SET", k, "old"); err != nil {
			t.Fatal(err)
		}
	}
	// Writers overwrite the old keys and add new ones until the move is
	// over, through any server.
	var stop atomic.Bool
	var wg sync.WaitGroup
	acked := make([]atomic.Int64, len(keys))
	var errs atomic.Int64
	for w := range 4 {
		wg.Go(func() {
			for i := w; !stop.Load(); i = (i + 4) % len(keys) {
				if _, err := do(c.Servers()[i%len(c.Servers())], "INCR", keys[i]+":n"); err != nil {
					errs.Add(1)
					t.Errorf("INCR %s: %v", keys[i], err)
					return
				}
				acked[i].Add(1)
			}
		})
	}
	// Let the writers start before the move.
	poll.Until(t, "the writers to start", 0, func() bool {
		var n int64
		for i := range acked {
			n += acked[i].Load()
		}
		return n > 100
	})
	moved := c.MigrateSlots(t, from, to, slot, slot)
	stop.Store(true)
	wg.Wait()
	if errs.Load() > 0 {
		t.FailNow()
	}
	if moved < 200 {
		t.Errorf("MigrateSlots moved %d keys, want at least the 200 written before", moved)
	}
	if got := c.MasterOf(t, keys[0]); got != to {
		t.Fatalf("slot %d served by %s after the move, want %s", slot, got.Addr(), to.Addr())
	}
	for _, k := range keys[:200] {
		if got, err := command(to.Addr(), "", "GET", k); err != nil || got != "old" {
			t.Fatalf("GET %s on the new owner = %q, %v", k, got, err)
		}
	}
	for i, k := range keys {
		want := acked[i].Load()
		if want == 0 {
			continue
		}
		got, err := command(to.Addr(), "", "GET", k+":n")
		if err != nil || got != strconv.FormatInt(want, 10) {
			t.Fatalf("GET %s:n on the new owner = %q, %v; want %d acknowledged INCRs", k, got, err, want)
		}
	}
	if n, err := command(from.Addr(), "", "CLUSTER", "COUNTKEYSINSLOT", strconv.Itoa(slot)); err != nil || n != "0" {
		t.Fatalf("old owner still holds %s keys of slot %d (%v)", n, slot, err)
	}
}

func TestSharedCluster(t *testing.T) {
	c := SharedCluster(t)
	if again := SharedCluster(t); again != c {
		t.Fatal("SharedCluster returned two clusters")
	}
	if !c.shared || !c.Servers()[0].shared {
		t.Fatal("the shared cluster is not marked shared")
	}
	if err := c.settled(); err != nil {
		t.Fatal(err)
	}
}

func addrs(servers []*Server) []string {
	out := make([]string, len(servers))
	for i, s := range servers {
		out[i] = s.Addr()
	}
	return out
}
