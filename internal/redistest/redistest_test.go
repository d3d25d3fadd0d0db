package redistest

import (
	"bufio"
	"net"
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
