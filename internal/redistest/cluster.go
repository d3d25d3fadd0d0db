package redistest

import (
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// The shape and timers of the Redis Cluster that StartCluster runs.
const (
	// ClusterMasters is how many masters share the slots.
	ClusterMasters = 3
	// ClusterReplicas is how many replicas each master has.
	ClusterReplicas = 1
	// ClusterNodeTimeout is the cluster-node-timeout of its servers: how
	// long a master may not answer before its replica takes over.
	ClusterNodeTimeout = time.Second
)

// manualFailoverRetry is how long Failover waits before it asks again: a
// manual failover that does not complete within 5s is abandoned.
const manualFailoverRetry = 6 * time.Second

// clusterSlots is the number of hash slots of a Redis Cluster.
const clusterSlots = 16384

// settleTimeout bounds how long a cluster or a sentinel set may take to
// form, to fail over, or to take a restarted server back.
const settleTimeout = 30 * time.Second

// ClusterSet is a Redis Cluster of ClusterMasters masters, each with
// ClusterReplicas replicas, every server a redis-server of its own on
// free loopback ports, with persistence off. A test may kill a master (its
// replica takes over after ClusterNodeTimeout), restart it (it comes back
// as a replica), fail over by hand and move slots between masters.
type ClusterSet struct {
	servers []*Server // masters first, in slot order, as started
	shared  bool      // the package's shared cluster: not one test's to change

	mu          sync.Mutex
	killedSlots map[*Server][]int // guarded by mu; the slots a killed master served
}

// StartCluster starts a Redis Cluster for t and waits until every slot is
// served and every replica in sync. It is stopped when t ends.
func StartCluster(t testing.TB) *ClusterSet {
	t.Helper()
	c, err := LaunchCluster()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return c
}

// LaunchCluster starts a Redis Cluster outside any test (for the
// benchmark programs under bench/). Close stops it.
func LaunchCluster() (*ClusterSet, error) {
	n := ClusterMasters * (1 + ClusterReplicas)
	opts := make([]options, n)
	for i := range opts {
		opts[i] = options{clusterNode: true, replicated: true}
	}
	servers, err := startAll(opts)
	if err != nil {
		return nil, err
	}
	c := &ClusterSet{servers: servers, killedSlots: map[*Server][]int{}}
	if err := c.form(); err != nil {
		c.Close()
		return nil, err
	}
	return c, nil
}

// startAll starts a server for each of opts at once, and stops them all
// if one fails.
func startAll(opts []options) ([]*Server, error) {
	servers := make([]*Server, len(opts))
	errs := make([]error, len(opts))
	var wg sync.WaitGroup
	for i, o := range opts {
		wg.Go(func() { servers[i], errs[i] = start(o) })
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		for _, s := range servers {
			if s != nil {
				s.close()
			}
		}
		return nil, err
	}
	return servers, nil
}

// form makes one cluster of the fresh servers: distinct config epochs, a
// MEET of every server, a third of the slots to each master, and each
// replica replicating its master; then it waits until that has settled.
func (c *ClusterSet) form() error {
	masters := c.servers[:ClusterMasters]
	for i, s := range c.servers {
		id, err := s.command("CLUSTER", "MYID")
		if err != nil {
			return err
		}
		s.nodeID = id
		if i < ClusterMasters {
			// Distinct epochs spare the cluster resolving collisions.
			if _, err := s.command("CLUSTER", "SET-CONFIG-EPOCH", strconv.Itoa(i+1)); err != nil {
				return err
			}
		}
	}
	first := c.servers[0]
	for _, s := range c.servers[1:] {
		if _, err := first.command("CLUSTER", "MEET", "127.0.0.1", strconv.Itoa(s.port), strconv.Itoa(s.busPort)); err != nil {
			return err
		}
	}
	for i, m := range masters {
		lo, hi := i*clusterSlots/ClusterMasters, (i+1)*clusterSlots/ClusterMasters-1
		if _, err := m.command("CLUSTER", "ADDSLOTSRANGE", strconv.Itoa(lo), strconv.Itoa(hi)); err != nil {
			return err
		}
	}
	// A replica can follow a master only once it knows it.
	for i, r := range c.servers[ClusterMasters:] {
		m := masters[i%ClusterMasters]
		err := waitFor(settleTimeout, func() error {
			_, err := r.command("CLUSTER", "REPLICATE", m.nodeID)
			if err != nil && strings.Contains(err.Error(), "Unknown node") {
				// A handshake that timed out on a busy machine is not
				// tried again by gossip: meet the master directly.
				_, _ = r.command("CLUSTER", "MEET", "127.0.0.1", strconv.Itoa(m.port), strconv.Itoa(m.busPort))
			}
			return err
		})
		if err != nil {
			return fmt.Errorf("redistest: %s cannot replicate %s: %w", r.Addr(), m.Addr(), err)
		}
	}
	return waitFor(settleTimeout, c.settled)
}

// waitFor calls check until it returns nil or timeout has passed, and
// returns its last error then.
func waitFor(timeout time.Duration, check func() error) error {
	deadline := time.Now().Add(timeout)
	for {
		err := check()
		if err == nil || time.Now().After(deadline) {
			return err
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// Close stops every server of a cluster that LaunchCluster started and
// removes their directories.
func (c *ClusterSet) Close() {
	var wg sync.WaitGroup
	for _, s := range c.servers {
		wg.Go(s.close)
	}
	wg.Wait()
}

// Servers returns every server of the cluster, in the order they were
// started (the first masters first), whatever their role now.
func (c *ClusterSet) Servers() []*Server { return slices.Clone(c.servers) }

// Addrs returns the host:port of every server, for a client's seeds.
func (c *ClusterSet) Addrs() []string {
	out := make([]string, len(c.servers))
	for i, s := range c.servers {
		out[i] = s.Addr()
	}
	return out
}

// clusterNode is one line of CLUSTER NODES.
type clusterNode struct {
	id, addr string
	flags    []string
	masterID string // "-" for a master
	slots    [][2]int
}

func (n clusterNode) has(flag string) bool { return slices.Contains(n.flags, flag) }

// parseNodes parses the reply of CLUSTER NODES.
func parseNodes(reply string) ([]clusterNode, error) {
	var out []clusterNode
	for line := range strings.SplitSeq(strings.TrimSpace(reply), "\n") {
		f := strings.Fields(line)
		if len(f) < 8 {
			return nil, fmt.Errorf("redistest: bad CLUSTER NODES line %q", line)
		}
		addr, _, _ := strings.Cut(f[1], "@")
		n := clusterNode{id: f[0], addr: addr, flags: strings.Split(f[2], ","), masterID: f[3]}
		for _, r := range f[8:] {
			if strings.HasPrefix(r, "[") { // a slot being moved: its owner says it
				continue
			}
			lo, hi, isRange := strings.Cut(r, "-")
			if !isRange {
				hi = lo
			}
			a, err1 := strconv.Atoi(lo)
			b, err2 := strconv.Atoi(hi)
			if err1 != nil || err2 != nil {
				return nil, fmt.Errorf("redistest: bad slots %q in CLUSTER NODES", r)
			}
			n.slots = append(n.slots, [2]int{a, b})
		}
		out = append(out, n)
	}
	return out, nil
}

// view is one server's picture of the cluster.
type view struct {
	nodes []clusterNode
	owner [clusterSlots]string // node id serving each slot; "" if none
}

func (s *Server) view() (*view, error) {
	reply, err := s.command("CLUSTER", "NODES")
	if err != nil {
		return nil, err
	}
	nodes, err := parseNodes(reply)
	if err != nil {
		return nil, err
	}
	v := &view{nodes: nodes}
	for _, n := range nodes {
		for _, r := range n.slots {
			for slot := r[0]; slot <= r[1]; slot++ {
				v.owner[slot] = n.id
			}
		}
	}
	return v, nil
}

func (v *view) node(id string) (clusterNode, bool) {
	for _, n := range v.nodes {
		if n.id == id {
			return n, true
		}
	}
	return clusterNode{}, false
}

// running reports whether the server's process runs.
func (s *Server) running() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.proc != nil
}

// live returns the servers whose process runs.
func (c *ClusterSet) live() []*Server {
	var out []*Server
	for _, s := range c.servers {
		if s.running() {
			out = append(out, s)
		}
	}
	return out
}

func (c *ClusterSet) byID(id string) *Server {
	for _, s := range c.servers {
		if s.nodeID == id {
			return s
		}
	}
	return nil
}

// settled returns nil once the cluster serves every slot: every running
// server says cluster_state:ok, knows every other running server as
// connected and not failing, and agrees with the others on who serves
// each slot, every slot is served by a running master, and every running
// replica is in sync with its master. Otherwise it says what is missing.
func (c *ClusterSet) settled() error {
	live := c.live()
	if len(live) == 0 {
		return errors.New("redistest: no server of the cluster runs")
	}
	var first *view
	for _, s := range live {
		info, err := s.command("CLUSTER", "INFO")
		if err != nil {
			return err
		}
		if !strings.Contains(info, "cluster_state:ok") {
			return fmt.Errorf("redistest: %s: cluster not ok", s.Addr())
		}
		v, err := s.view()
		if err != nil {
			return err
		}
		for _, o := range live {
			n, ok := v.node(o.nodeID)
			if !ok || n.has("fail") || n.has("fail?") || n.has("handshake") || n.has("noaddr") {
				return fmt.Errorf("redistest: %s does not see %s as up (%v)", s.Addr(), o.Addr(), n.flags)
			}
		}
		if first == nil {
			first = v
			for slot, id := range v.owner {
				m := c.byID(id)
				if m == nil || !m.running() {
					return fmt.Errorf("redistest: slot %d is served by no running server", slot)
				}
			}
			continue
		}
		if v.owner != first.owner {
			return fmt.Errorf("redistest: %s and %s disagree on who serves the slots", live[0].Addr(), s.Addr())
		}
	}
	for _, s := range live {
		info, err := s.command("INFO", "replication")
		if err != nil {
			return err
		}
		n, _ := first.node(s.nodeID)
		switch {
		case n.has("master") && !strings.Contains(info, "role:master"),
			n.has("slave") && !strings.Contains(info, "role:slave"):
			return fmt.Errorf("redistest: %s: its role is not yet what the cluster says (%v)", s.Addr(), n.flags)
		case n.has("slave") && !strings.Contains(info, "master_link_status:up"):
			return fmt.Errorf("redistest: replica %s not in sync", s.Addr())
		}
	}
	return nil
}

// currentView returns the picture of a running server, once the cluster
// has settled.
func (c *ClusterSet) currentView(t testing.TB) *view {
	t.Helper()
	if err := waitFor(settleTimeout, c.settled); err != nil {
		t.Fatalf("redistest: the cluster did not settle within %v: %v", settleTimeout, err)
	}
	v, err := c.live()[0].view()
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// Masters returns the masters that serve slots, lowest slot first, once
// the cluster has settled.
func (c *ClusterSet) Masters(t testing.TB) []*Server {
	t.Helper()
	v := c.currentView(t)
	var out []*Server
	for slot := 0; slot < clusterSlots; slot++ {
		if m := c.byID(v.owner[slot]); !slices.Contains(out, m) {
			out = append(out, m)
		}
	}
	return out
}

// Replicas returns the running replicas of master, once the cluster has
// settled.
func (c *ClusterSet) Replicas(t testing.TB, master *Server) []*Server {
	t.Helper()
	v := c.currentView(t)
	var out []*Server
	for _, n := range v.nodes {
		if n.masterID == master.nodeID && n.has("slave") {
			if s := c.byID(n.id); s != nil && s.running() {
				out = append(out, s)
			}
		}
	}
	return out
}

// Slot returns the hash slot of key, as the cluster computes it.
func (c *ClusterSet) Slot(t testing.TB, key string) int {
	t.Helper()
	for _, s := range c.live() {
		reply, err := s.command("CLUSTER", "KEYSLOT", key)
		if err != nil {
			continue
		}
		slot, err := strconv.Atoi(reply)
		if err != nil {
			t.Fatalf("redistest: CLUSTER KEYSLOT answered %q", reply)
		}
		return slot
	}
	t.Fatal("redistest: no server of the cluster answers")
	return 0
}

// MasterOf returns the master that serves key's slot, once the cluster has
// settled.
func (c *ClusterSet) MasterOf(t testing.TB, key string) *Server {
	t.Helper()
	slot := c.Slot(t, key)
	return c.byID(c.currentView(t).owner[slot])
}

// Kill kills server s of the cluster with SIGKILL, as a crash would, and
// waits until it is gone. If s is a master, its replica takes over after
// ClusterNodeTimeout: WaitFailover waits for that.
func (c *ClusterSet) Kill(t testing.TB, s *Server) {
	t.Helper()
	c.checkOwn(t, "Kill")
	v := c.currentView(t)
	var slots []int
	for slot, id := range v.owner {
		if id == s.nodeID {
			slots = append(slots, slot)
		}
	}
	c.mu.Lock()
	c.killedSlots[s] = slots
	c.mu.Unlock()
	s.Kill(t)
}

// WaitFailover waits until the slots that master old served when Kill
// killed it are served by another master (its replica) and the cluster
// has settled, and returns that master.
func (c *ClusterSet) WaitFailover(t testing.TB, old *Server) *Server {
	t.Helper()
	c.mu.Lock()
	slots := c.killedSlots[old]
	c.mu.Unlock()
	if len(slots) == 0 {
		t.Fatalf("redistest: WaitFailover(%s): not a master that Kill killed", old.Addr())
	}
	var promoted *Server
	err := waitFor(settleTimeout, func() error {
		if err := c.settled(); err != nil {
			return err
		}
		v, err := c.live()[0].view()
		if err != nil {
			return err
		}
		promoted = c.byID(v.owner[slots[0]])
		for _, slot := range slots {
			if id := v.owner[slot]; id == old.nodeID || id != promoted.nodeID {
				return fmt.Errorf("redistest: slot %d not yet taken over", slot)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatalf("redistest: no failover of %s within %v: %v", old.Addr(), settleTimeout, err)
	}
	return promoted
}

// Failover has replica take over its master's slots by hand (CLUSTER
// FAILOVER: the master stops writes until the replica has caught up, so
// nothing acknowledged is lost), and waits until it serves them and the
// old master replicates it.
func (c *ClusterSet) Failover(t testing.TB, replica *Server) {
	t.Helper()
	c.checkOwn(t, "Failover")
	v := c.currentView(t)
	n, ok := v.node(replica.nodeID)
	if !ok || !n.has("slave") {
		t.Fatalf("redistest: %s is not a replica", replica.Addr())
	}
	old := c.byID(n.masterID)
	// A manual failover that does not complete within 5s is abandoned
	// (the master writes again): ask again, as an operator would.
	var asked time.Time
	err := waitFor(settleTimeout, func() error {
		v, err := replica.view()
		if err != nil {
			return err
		}
		if me, _ := v.node(replica.nodeID); !me.has("master") {
			if time.Since(asked) > manualFailoverRetry {
				if _, err := replica.command("CLUSTER", "FAILOVER"); err != nil {
					return err
				}
				asked = time.Now()
			}
			return fmt.Errorf("redistest: %s has not taken over yet", replica.Addr())
		}
		if err := c.settled(); err != nil {
			return err
		}
		if o, _ := v.node(old.nodeID); old.running() && o.masterID != replica.nodeID {
			return fmt.Errorf("redistest: %s does not replicate %s yet", old.Addr(), replica.Addr())
		}
		return nil
	})
	if err != nil {
		t.Fatalf("redistest: manual failover to %s did not complete within %v: %v; its log: %s", replica.Addr(), settleTimeout, err, tail(replica.logFile()))
	}
}

// Restart starts a killed server of the cluster again, on its ports and
// with its cluster configuration, and waits until the cluster has taken
// it back: a master whose replica took over meanwhile comes back as that
// replica's replica, empty (persistence is off) until it has synced.
// Restart a killed master only after WaitFailover, or it comes back with
// its slots and none of their keys.
func (c *ClusterSet) Restart(t testing.TB, s *Server) {
	t.Helper()
	c.checkOwn(t, "Restart")
	s.Restart(t)
	if err := waitFor(settleTimeout, c.settled); err != nil {
		t.Fatalf("redistest: the cluster did not take %s back within %v: %v", s.Addr(), settleTimeout, err)
	}
}

// MigrateSlots moves the slots first to last (inclusive) and their keys
// from master from to master to, as an operator's resharding does, while
// clients keep using them: each slot is marked importing on to and
// migrating on from, its keys are moved with MIGRATE, and every master is
// told its new owner. It returns how many keys moved.
func (c *ClusterSet) MigrateSlots(t testing.TB, from, to *Server, first, last int) int {
	t.Helper()
	c.checkOwn(t, "MigrateSlots")
	if first < 0 || last >= clusterSlots || first > last {
		t.Fatalf("redistest: MigrateSlots(%d, %d): bad range", first, last)
	}
	moved := 0
	for slot := first; slot <= last; slot++ {
		n, err := c.migrateSlot(from, to, slot)
		if err != nil {
			t.Fatalf("redistest: moving slot %d from %s to %s: %v", slot, from.Addr(), to.Addr(), err)
		}
		moved += n
	}
	err := waitFor(settleTimeout, func() error {
		v, err := from.view()
		if err != nil {
			return err
		}
		for slot := first; slot <= last; slot++ {
			if v.owner[slot] != to.nodeID {
				return fmt.Errorf("redistest: slot %d not yet served by %s", slot, to.Addr())
			}
		}
		return c.settled()
	})
	if err != nil {
		t.Fatalf("redistest: slots %d-%d did not settle on %s within %v: %v", first, last, to.Addr(), settleTimeout, err)
	}
	return moved
}

// migrateSlot moves one slot, as in MigrateSlots.
func (c *ClusterSet) migrateSlot(from, to *Server, slot int) (int, error) {
	s := strconv.Itoa(slot)
	if _, err := to.command("CLUSTER", "SETSLOT", s, "IMPORTING", from.nodeID); err != nil {
		return 0, err
	}
	if _, err := from.command("CLUSTER", "SETSLOT", s, "MIGRATING", to.nodeID); err != nil {
		return 0, err
	}
	moved := 0
	for {
		// Keys created meanwhile go to the importing master (ASK), so
		// this ends once the keys there were at the start have moved.
		reply, err := from.command("CLUSTER", "GETKEYSINSLOT", s, "100")
		if err != nil {
			return moved, err
		}
		if reply == "" {
			break
		}
		keys := strings.Split(reply, "\n")
		args := append([]string{"MIGRATE", "127.0.0.1", strconv.Itoa(to.port), "", "0", "5000", "KEYS"}, keys...)
		if _, err := from.command(args...); err != nil {
			return moved, err
		}
		moved += len(keys)
	}
	// The new owner first, so that it never answers ASK-free commands for
	// a slot it does not know it owns; then the old one and the others.
	if _, err := to.command("CLUSTER", "SETSLOT", s, "NODE", to.nodeID); err != nil {
		return moved, err
	}
	if _, err := from.command("CLUSTER", "SETSLOT", s, "NODE", to.nodeID); err != nil {
		return moved, err
	}
	for _, m := range c.live() {
		if m == from || m == to {
			continue
		}
		v, err := m.view()
		if err != nil {
			return moved, err
		}
		if n, _ := v.node(m.nodeID); n.has("master") {
			if _, err := m.command("CLUSTER", "SETSLOT", s, "NODE", to.nodeID); err != nil {
				return moved, err
			}
		}
	}
	return moved, nil
}

func (c *ClusterSet) checkOwn(t testing.TB, what string) {
	t.Helper()
	if c.shared {
		t.Fatalf("redistest: %s needs a cluster of the test's own (StartCluster), not the shared one", what)
	}
}

var (
	sharedClusterOnce sync.Once
	sharedCluster     *ClusterSet // set once by sharedClusterOnce; closed by Main
	sharedClusterErr  error
)

// SharedCluster returns a cluster shared by the package's tests, started
// by the first test that asks and stopped when Main ends; without Main,
// StartCluster(t). Its servers may not be killed, restarted, failed over
// or resharded: tests keep apart with Prefix.
func SharedCluster(t testing.TB) *ClusterSet {
	t.Helper()
	sharedMu.Lock()
	inMain := mainRunning
	sharedMu.Unlock()
	if !inMain {
		return StartCluster(t)
	}
	sharedClusterOnce.Do(func() {
		c, err := LaunchCluster()
		if err != nil {
			sharedClusterErr = err
			return
		}
		c.shared = true
		for _, s := range c.servers {
			s.shared = true
		}
		sharedMu.Lock()
		sharedCluster = c
		sharedMu.Unlock()
	})
	if sharedClusterErr != nil {
		t.Fatal(sharedClusterErr)
	}
	return sharedCluster
}
