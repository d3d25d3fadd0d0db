package redistest

import (
	"bufio"
	"errors"
	"net"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"
)

func TestMain(m *testing.M) { Main(m) }

func TestStopRestart(t *testing.T) {
	s := StartOwn(t)
	addr := s.Addr()
	if err := ping(addr); err != nil {
		t.Fatalf("fresh server: %v", err)
	}
	if !strings.HasPrefix(s.URL(), "redis://127.0.0.1:") {
		t.Errorf("URL = %q", s.URL())
	}
	s.Stop(t)
	if err := ping(addr); err == nil {
		t.Fatal("stopped server still answers")
	}
	s.Stop(t) // stopping twice is fine
	s.Restart(t)
	if s.Addr() != addr {
		t.Fatalf("restarted on %s, want the same address %s", s.Addr(), addr)
	}
	if err := ping(addr); err != nil {
		t.Fatalf("restarted server: %v", err)
	}
}

func TestSocket(t *testing.T) {
	s := StartOwn(t)
	u := s.SocketURL(t)
	path := strings.TrimSuffix(strings.TrimPrefix(u, "unix://"), "?db=0")
	c, err := net.DialTimeout("unix", path, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(2 * time.Second))
	if _, err := c.Write([]byte("PING\r\n")); err != nil {
		t.Fatal(err)
	}
	line, err := bufio.NewReader(c).ReadString('\n')
	if err != nil || line != "+PONG\r\n" {
		t.Fatalf("PING over the socket = %q, %v", line, err)
	}
}

func TestShared(t *testing.T) {
	s := Shared(t)
	if err := ping(s.Addr()); err != nil {
		t.Fatal(err)
	}
	if again := Shared(t); again.URL() != s.URL() {
		t.Errorf("Shared returned %s, then %s", s.URL(), again.URL())
	}
}

func TestPrefixUnique(t *testing.T) {
	a, b := Prefix(t), Prefix(t)
	if a == b {
		t.Fatalf("Prefix returned %q twice", a)
	}
	if !strings.HasPrefix(a, "test:TestPrefixUnique:") || strings.ContainsAny(a, "{} *") {
		t.Errorf("Prefix = %q", a)
	}
}

func TestPassword(t *testing.T) {
	s := StartOwn(t, Password("s3cret"))
	if _, err := command(s.Addr(), "", "SET", "k", "v"); err == nil || !strings.Contains(err.Error(), "NOAUTH") {
		t.Fatalf("SET without the password: %v, want NOAUTH", err)
	}
	if _, err := command(s.Addr(), "s3cret", "SET", "k", "v"); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(s.URL(), ":s3cret@") {
		t.Errorf("URL %q does not carry the password", s.URL())
	}
}

func TestCluster(t *testing.T) {
	s := StartOwn(t, Cluster())
	info, err := command(s.Addr(), "", "CLUSTER", "INFO")
	if err != nil || !strings.Contains(info, "cluster_state:ok") {
		t.Fatalf("CLUSTER INFO = %q, %v", info, err)
	}
	// Keys of different slots in one command are refused, as in a cluster.
	if _, err := command(s.Addr(), "", "MSET", "a", "1", "b", "2"); err == nil || !strings.Contains(err.Error(), "CROSSSLOT") {
		t.Fatalf("MSET across slots: %v, want CROSSSLOT", err)
	}
	s.Restart(t)
	info, err = command(s.Addr(), "", "CLUSTER", "INFO")
	if err != nil || !strings.Contains(info, "cluster_state:ok") {
		t.Fatalf("after restart, CLUSTER INFO = %q, %v", info, err)
	}
}

func TestSentinel(t *testing.T) {
	m := StartOwn(t)
	s := StartSentinel(t, m)
	if _, err := command(s.Addr(), "", "SENTINEL", "CKQUORUM", SentinelName); err != nil {
		t.Fatalf("sentinel does not monitor %s: %v", SentinelName, err)
	}
}

func TestTLS(t *testing.T) {
	s := StartOwn(t, TLS())
	if !strings.HasPrefix(s.URL(), "rediss://127.0.0.1:") {
		t.Errorf("URL = %q", s.URL())
	}
	if err := ping(s.Addr()); err == nil {
		t.Fatal("a TLS server answered a plain-text PING")
	}
	if reply, err := dialCommand(s.Addr(), "", s.TLSConfig(), "PING"); err != nil || reply != "PONG" {
		t.Fatalf("PING over TLS = %q, %v", reply, err)
	}
}

// TestServerDiesWithTest runs a test binary that starts a server and
// crashes before any cleanup: the server must not outlive it.
func TestServerDiesWithTest(t *testing.T) {
	if os.Getenv("REDISTEST_CRASH") != "" {
		s := StartOwn(t)
		_, _ = os.Stdout.WriteString(s.Addr() + " " + s.dir + "\n")
		os.Exit(3) // no cleanup runs
	}
	cmd := exec.Command(os.Args[0], "-test.run", "^TestServerDiesWithTest$")
	// The child starts no shared server: EnvURL is set, and never dialled.
	cmd.Env = append(os.Environ(), "REDISTEST_CRASH=1", EnvURL+"=redis://unused")
	out, _ := cmd.Output()
	addr, dir, ok := strings.Cut(strings.TrimSpace(string(out)), " ")
	if !ok {
		t.Fatalf("child printed %q", out)
	}
	t.Cleanup(func() { _ = os.RemoveAll(dir) })
	deadline := time.Now().Add(10 * time.Second)
	for ping(addr) == nil {
		if time.Now().After(deadline) {
			t.Fatalf("the server at %s outlived its test process", addr)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestAOFSurvivesRestart writes to a server with AOF, takes it down with
// SIGKILL or SIGTERM and restarts it: every acknowledged write is there,
// on the same address.
func TestAOFSurvivesRestart(t *testing.T) {
	for _, tc := range []struct {
		name string
		down func(*Server, testing.TB)
	}{
		{"SIGKILL", (*Server).Kill},
		{"SIGTERM", (*Server).Terminate},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := StartOwn(t, AOF())
			addr := s.Addr()
			if got, err := command(addr, "", "CONFIG", "GET", "appendfsync"); err != nil || got != "appendfsync\nalways" {
				t.Fatalf("CONFIG GET appendfsync = %q, %v", got, err)
			}
			if _, err := command(addr, "", "SET", "k", "v"); err != nil {
				t.Fatal(err)
			}
			if n, err := command(addr, "", "RPUSH", "l", "a", "b", "c"); err != nil || n != "3" {
				t.Fatalf("RPUSH = %q, %v", n, err)
			}
			// Enough keys that loading them takes a moment: Restart must
			// not return before they are all there.
			if _, err := command(addr, "", "EVAL", "for i = 1, 100000 do redis.call('SET', 'bulk:' .. i, i) end return 1", "0"); err != nil {
				t.Fatal(err)
			}
			tc.down(s, t)
			if err := ping(addr); err == nil {
				t.Fatal("the server still answers after going down")
			}
			tc.down(s, t) // taking a stopped server down does nothing
			s.Restart(t)
			if s.Addr() != addr {
				t.Fatalf("restarted on %s, want %s", s.Addr(), addr)
			}
			if got, err := command(addr, "", "DBSIZE"); err != nil || got != "100002" {
				t.Fatalf("DBSIZE right after Restart = %q, %v; want 100002", got, err)
			}
			if got, err := command(addr, "", "GET", "k"); err != nil || got != "v" {
				t.Fatalf("GET k = %q, %v", got, err)
			}
			if got, err := command(addr, "", "LRANGE", "l", "0", "-1"); err != nil || got != "a\nb\nc" {
				t.Fatalf("LRANGE l = %q, %v", got, err)
			}
			// And again after a second restart, with a write in between.
			if _, err := command(addr, "", "SET", "k", "w"); err != nil {
				t.Fatal(err)
			}
			s.Kill(t)
			s.Restart(t)
			if got, err := command(addr, "", "GET", "k"); err != nil || got != "w" {
				t.Fatalf("after a second restart, GET k = %q, %v", got, err)
			}
		})
	}
}

// TestNoPersistenceByDefault: without AOF a restarted server is empty.
func TestNoPersistenceByDefault(t *testing.T) {
	s := StartOwn(t)
	if _, err := command(s.Addr(), "", "SET", "k", "v"); err != nil {
		t.Fatal(err)
	}
	s.Terminate(t)
	s.Restart(t)
	if got, err := command(s.Addr(), "", "GET", "k"); !errors.Is(err, errNil) {
		t.Fatalf("GET k after a restart = %q, %v; want nil", got, err)
	}
}

func TestCommandCalls(t *testing.T) {
	s := StartOwn(t, Password("pw"))
	before, err := s.CommandCalls()
	if err != nil {
		t.Fatal(err)
	}
	for range 3 {
		if _, err := s.command("SET", "k", "v"); err != nil {
			t.Fatal(err)
		}
	}
	after, err := s.CommandCalls()
	if err != nil {
		t.Fatal(err)
	}
	if got := after["set"] - before["set"]; got != 3 {
		t.Fatalf("set calls went from %d to %d, want 3 more", before["set"], after["set"])
	}
	if after["info"] <= before["info"] {
		t.Fatalf("info calls = %d then %d", before["info"], after["info"])
	}
}
