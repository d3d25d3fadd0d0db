package redistest

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// The shape of the set-up that StartSentinelSet runs.
const (
	// SentinelReplicas is how many replicas the master has.
	SentinelReplicas = 2
	// Sentinels is how many sentinels watch it.
	Sentinels = 3
	// SentinelQuorum is how many sentinels must find the master down.
	SentinelQuorum = 2
)

// SentinelDownAfter is the sentinels' down-after-milliseconds: how long
// the master may not answer before they fail it over. A sentinel pings
// every second at most, and after a failover its first ping of the new
// master leaves a second after it: at 1s it finds the new master down
// before the reply can arrive, and, under load, fails it over as well. At
// 2s, on 2 cores at a load of 11, one failover test run in ten still saw
// a sentinel find the master promoted 2.2s before down and promote the
// other replica: two masters took writes for a second.
const SentinelDownAfter = 3 * time.Second

// sentinelFailoverTimeout is the sentinels' failover-timeout: long enough
// that a promotion seen late under load does not abandon the failover,
// short enough that a failed election is tried again (after twice this)
// within settleTimeout.
const sentinelFailoverTimeout = 5 * time.Second

// SentinelSet is a master with SentinelReplicas replicas, watched by
// Sentinels sentinels under SentinelName with quorum SentinelQuorum, each
// a process of its own on free loopback ports, with persistence off. The
// sentinels find a master down after SentinelDownAfter and promote a
// replica.
type SentinelSet struct {
	servers   []*Server // the first master first, then its replicas
	sentinels []*Server
}

// StartSentinelSet starts a Sentinel set-up for t and waits until every
// sentinel knows the master, its replicas and the other sentinels. It is
// stopped when t ends.
func StartSentinelSet(t testing.TB) *SentinelSet {
	t.Helper()
	s, err := LaunchSentinelSet()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	return s
}

// LaunchSentinelSet starts a Sentinel set-up outside any test. Close
// stops it.
func LaunchSentinelSet() (*SentinelSet, error) {
	master, err := start(options{replicated: true})
	if err != nil {
		return nil, err
	}
	s := &SentinelSet{servers: []*Server{master}}
	opts := make([]options, SentinelReplicas)
	for i := range opts {
		opts[i] = options{replicated: true, replicaOf: master.Addr()}
	}
	replicas, err := startAll(opts)
	if err != nil {
		s.Close()
		return nil, err
	}
	s.servers = append(s.servers, replicas...)
	opts = make([]options, Sentinels)
	for i := range opts {
		opts[i] = options{sentinel: master, quorum: SentinelQuorum, fast: true}
	}
	if s.sentinels, err = startAll(opts); err != nil {
		s.Close()
		return nil, err
	}
	if err := waitFor(settleTimeout, s.settled); err != nil {
		s.Close()
		return nil, fmt.Errorf("redistest: the sentinel set-up did not settle within %v: %w", settleTimeout, err)
	}
	return s, nil
}

// Close stops every process of a set-up that LaunchSentinelSet started.
func (s *SentinelSet) Close() {
	var wg sync.WaitGroup
	for _, srv := range append(slices.Clone(s.servers), s.sentinels...) {
		wg.Go(srv.close)
	}
	wg.Wait()
}

// Addrs returns the host:port of every sentinel, for a client.
func (s *SentinelSet) Addrs() []string {
	out := make([]string, len(s.sentinels))
	for i, sn := range s.sentinels {
		out[i] = sn.Addr()
	}
	return out
}

// Servers returns the master and the replicas in the order they were
// started (the first master first), whatever their role now.
func (s *SentinelSet) Servers() []*Server { return slices.Clone(s.servers) }

// Sentinels returns the sentinels.
func (s *SentinelSet) Sentinels() []*Server { return slices.Clone(s.sentinels) }

// master returns the server every sentinel names as the master, or an
// error if they do not agree or name no server of the set.
func (s *SentinelSet) master() (*Server, error) {
	var addr string
	for _, sn := range s.sentinels {
		reply, err := sn.command("SENTINEL", "GET-MASTER-ADDR-BY-NAME", SentinelName)
		if err != nil {
			return nil, err
		}
		a := strings.Replace(reply, "\n", ":", 1)
		if addr != "" && a != addr {
			return nil, fmt.Errorf("redistest: sentinels name %s and %s as the master", addr, a)
		}
		addr = a
	}
	for _, srv := range s.servers {
		if srv.Addr() == addr {
			return srv, nil
		}
	}
	return nil, fmt.Errorf("redistest: the sentinels name %s, no server of the set", addr)
}

// settled returns nil once every sentinel names the same running master,
// finds it up with no failover in progress, knows every other running
// server as its replica and every other sentinel, and every running
// replica is in sync with it. Otherwise it says what is missing.
func (s *SentinelSet) settled() error {
	m, err := s.master()
	if err != nil {
		return err
	}
	if !m.running() {
		return fmt.Errorf("redistest: the sentinels still name %s, which is down", m.Addr())
	}
	info, err := m.command("INFO", "replication")
	if err != nil {
		return err
	}
	if !strings.Contains(info, "role:master") {
		return fmt.Errorf("redistest: %s is not a master yet", m.Addr())
	}
	var replicas []string
	for _, srv := range s.servers {
		if srv == m || !srv.running() {
			continue
		}
		replicas = append(replicas, srv.Addr())
		info, err := srv.command("INFO", "replication")
		if err != nil {
			return err
		}
		if !strings.Contains(info, "role:slave") || !strings.Contains(info, "master_port:"+strconv.Itoa(m.port)+"\r") ||
			!strings.Contains(info, "master_link_status:up") {
			return fmt.Errorf("redistest: %s is not in sync with %s yet", srv.Addr(), m.Addr())
		}
	}
	for _, sn := range s.sentinels {
		reply, err := sn.command("SENTINEL", "MASTER", SentinelName)
		if err != nil {
			return err
		}
		if f := fields(reply)[0]["flags"]; f != "master" {
			return fmt.Errorf("redistest: sentinel %s finds the master %s", sn.Addr(), f)
		}
		reply, err = sn.command("SENTINEL", "REPLICAS", SentinelName)
		if err != nil {
			return err
		}
		known := map[string]string{}
		for _, r := range fields(reply) {
			known[r["ip"]+":"+r["port"]] = r["flags"]
		}
		for _, r := range replicas {
			if known[r] != "slave" {
				return fmt.Errorf("redistest: sentinel %s does not know replica %s as up (%q)", sn.Addr(), r, known[r])
			}
		}
		reply, err = sn.command("SENTINEL", "CKQUORUM", SentinelName)
		if err != nil {
			return err
		}
		if !strings.HasPrefix(reply, "OK "+strconv.Itoa(len(s.sentinels))+" usable") {
			return fmt.Errorf("redistest: sentinel %s: %s", sn.Addr(), reply)
		}
	}
	return nil
}

// fields splits the reply of SENTINEL MASTER or REPLICAS (field, value,
// field, value… one per line, each record starting with "name") into
// records.
func fields(reply string) []map[string]string {
	out := []map[string]string{{}}
	lines := strings.Split(reply, "\n")
	for i := 0; i+1 < len(lines); i += 2 {
		if lines[i] == "name" && len(out[len(out)-1]) > 0 {
			out = append(out, map[string]string{})
		}
		out[len(out)-1][lines[i]] = lines[i+1]
	}
	return out
}

// Master returns the master, once the set-up has settled.
func (s *SentinelSet) Master(t testing.TB) *Server {
	t.Helper()
	if err := waitFor(settleTimeout, s.settled); err != nil {
		t.Fatalf("redistest: the sentinel set-up did not settle within %v: %v", settleTimeout, err)
	}
	m, err := s.master()
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// Replicas returns the running replicas, once the set-up has settled.
func (s *SentinelSet) Replicas(t testing.TB) []*Server {
	t.Helper()
	m := s.Master(t)
	var out []*Server
	for _, srv := range s.servers {
		if srv != m && srv.running() {
			out = append(out, srv)
		}
	}
	return out
}

// WaitFailover waits until the sentinels have promoted a replica in the
// place of old (killed, or failed over) and the set-up has settled, and
// returns the new master.
func (s *SentinelSet) WaitFailover(t testing.TB, old *Server) *Server {
	t.Helper()
	var m *Server
	err := waitFor(settleTimeout, func() error {
		var err error
		if m, err = s.master(); err != nil {
			return err
		}
		if m == old {
			return fmt.Errorf("redistest: the sentinels still name %s", old.Addr())
		}
		return s.settled()
	})
	if err != nil {
		t.Fatalf("redistest: no failover of %s within %v: %v", old.Addr(), settleTimeout, err)
	}
	return m
}

// Failover has the sentinels promote a replica now (SENTINEL FAILOVER),
// and waits until the old master replicates the new one, which it
// returns. Clients that ask the sentinels move; those still connected to
// the old master can write to it until it follows the new one.
func (s *SentinelSet) Failover(t testing.TB) *Server {
	t.Helper()
	old := s.Master(t)
	// A sentinel refuses while a failover it started earlier is still in
	// its quiet period: ask again.
	err := waitFor(settleTimeout, func() error {
		_, err := s.sentinels[0].command("SENTINEL", "FAILOVER", SentinelName)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	// The sentinels tell the old master to follow the new one only when
	// they next read its INFO, up to 10s later: tell it now, as they will.
	var m *Server
	err = waitFor(settleTimeout, func() error {
		if m, err = s.master(); err != nil {
			return err
		}
		if m == old {
			return fmt.Errorf("redistest: the sentinels still name %s", old.Addr())
		}
		_, err := old.command("REPLICAOF", "127.0.0.1", strconv.Itoa(m.port))
		return err
	})
	if err != nil {
		t.Fatalf("redistest: SENTINEL FAILOVER did not promote a replica within %v: %v", settleTimeout, err)
	}
	return s.WaitFailover(t, old)
}

// Restart starts a killed server again, on its port, as a replica of the
// current master (a killed master comes back as one: persistence is off,
// so it syncs from the master), and waits until it is in sync and every
// sentinel knows it.
func (s *SentinelSet) Restart(t testing.TB, srv *Server) {
	t.Helper()
	if srv.running() {
		t.Fatalf("redistest: Restart(%s): it runs; Kill it first", srv.Addr())
	}
	m, err := s.master()
	if err != nil {
		t.Fatal(err)
	}
	if m == srv {
		t.Fatalf("redistest: Restart(%s): the sentinels still name it the master; WaitFailover first", srv.Addr())
	}
	srv.mu.Lock()
	srv.opts.replicaOf = m.Addr()
	srv.mu.Unlock()
	srv.Restart(t)
	if err := waitFor(settleTimeout, s.settled); err != nil {
		t.Fatalf("redistest: the sentinels did not take %s back within %v: %v", srv.Addr(), settleTimeout, err)
	}
}
