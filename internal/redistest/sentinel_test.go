package redistest

import (
	"slices"
	"strings"
	"testing"
	"time"
)

// TestSentinelSet kills the master: the sentinels promote a replica that
// has the keys written before; the killed master comes back as a replica,
// and a failover by hand promotes another.
func TestSentinelSet(t *testing.T) {
	t.Parallel()
	started := time.Now()
	s := StartSentinelSet(t)
	t.Logf("sentinel set-up started in %s", time.Since(started).Round(time.Millisecond))
	m := s.Master(t)
	if m != s.Servers()[0] {
		t.Fatalf("master %s, want the first server %s", m.Addr(), s.Servers()[0].Addr())
	}
	if r := s.Replicas(t); len(r) != SentinelReplicas || slices.Contains(r, m) {
		t.Fatalf("replicas %v", addrs(r))
	}
	if len(s.Addrs()) != Sentinels || len(s.Sentinels()) != Sentinels {
		t.Fatalf("%d sentinel addresses, want %d", len(s.Addrs()), Sentinels)
	}
	for _, sn := range s.Sentinels() {
		reply, err := sn.command("SENTINEL", "CKQUORUM", SentinelName)
		if err != nil || !strings.HasPrefix(reply, "OK 3 usable") {
			t.Fatalf("sentinel %s: CKQUORUM = %q, %v", sn.Addr(), reply, err)
		}
	}
	if _, err := command(m.Addr(), "", "SET", "k", "before"); err != nil {
		t.Fatal(err)
	}
	if n, err := command(m.Addr(), "", "WAIT", "2", "2000"); err != nil || n != "2" {
		t.Fatalf("WAIT = %q, %v", n, err)
	}

	killedAt := time.Now()
	m.Kill(t)
	promoted := s.WaitFailover(t, m)
	t.Logf("failover after SIGKILL took %s", time.Since(killedAt).Round(time.Millisecond))
	if promoted == m || !slices.Contains(s.Servers(), promoted) {
		t.Fatalf("promoted %s", promoted.Addr())
	}
	if got, err := command(promoted.Addr(), "", "GET", "k"); err != nil || got != "before" {
		t.Fatalf("GET k on the promoted replica = %q, %v", got, err)
	}
	if r := s.Replicas(t); len(r) != SentinelReplicas-1 {
		t.Fatalf("replicas while the old master is down: %v", addrs(r))
	}
	if _, err := command(promoted.Addr(), "", "SET", "k", "after"); err != nil {
		t.Fatal(err)
	}

	s.Restart(t, m)
	if got := s.Master(t); got != promoted {
		t.Fatalf("master after the restart %s, want %s", got.Addr(), promoted.Addr())
	}
	if r := s.Replicas(t); len(r) != SentinelReplicas || !slices.Contains(r, m) {
		t.Fatalf("replicas after the restart: %v, want %s among them", addrs(r), m.Addr())
	}
	if got, err := command(m.Addr(), "", "GET", "k"); err != nil || got != "after" {
		t.Fatalf("GET k on the restarted replica = %q, %v", got, err)
	}

	again := s.Failover(t)
	if again == promoted {
		t.Fatalf("SENTINEL FAILOVER kept %s", promoted.Addr())
	}
	if got, err := command(again.Addr(), "", "GET", "k"); err != nil || got != "after" {
		t.Fatalf("GET k after the manual failover = %q, %v", got, err)
	}
	if r := s.Replicas(t); len(r) != SentinelReplicas || !slices.Contains(r, promoted) {
		t.Fatalf("replicas after the manual failover: %v, want %s among them", addrs(r), promoted.Addr())
	}
}
