//go:build unix

package listen

import (
	"net"
	"strconv"
	"sync"
	"syscall"
	"testing"
)

func TestParseFormat(t *testing.T) {
	pairs := []Pair{{FD: 3, Addr: ":8080"}, {FD: 4, Addr: "[::1]:5000"}}
	s := Format(pairs)
	if s != "3=:8080,4=[::1]:5000" {
		t.Fatalf("Format = %q", s)
	}
	got, err := Parse(s)
	if err != nil || len(got) != 2 || got[0] != pairs[0] || got[1] != pairs[1] {
		t.Fatalf("Parse = %v, %v", got, err)
	}
	for _, bad := range []string{"x=:1", "2=:1", ":8080", "3=:1,4=:1"} {
		if _, err := Parse(bad); err == nil {
			t.Errorf("Parse(%q) succeeded", bad)
		}
	}
	if got, err := Parse(""); err != nil || got != nil {
		t.Errorf("Parse(\"\") = %v, %v", got, err)
	}
}

// TestListenInherits passes a listener as a supervisor would, through
// the environment, and takes it over.
func TestListenInherits(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	f, err := ln.(*net.TCPListener).File()
	if err != nil {
		t.Fatal(err)
	}
	ln.Close() // f holds the socket
	defer f.Close()
	addr := ln.Addr().String()
	// The package owns the descriptor it is given, as a worker's would.
	fd, err := syscall.Dup(int(f.Fd()))
	if err != nil {
		t.Fatal(err)
	}
	t.Setenv(EnvFDs, strconv.Itoa(fd)+"="+addr)
	reload := func() { once, inherited, parseErr = sync.Once{}, nil, nil }
	reload() // read the environment again, as a new process would
	t.Cleanup(reload)

	got, err := Listen("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer got.Close()
	if !Shared(got) || got.Addr().String() != addr {
		t.Fatalf("Listen(%s) = %v shared=%v, want the inherited listener", addr, got.Addr(), Shared(got))
	}
	go func() {
		if c, err := net.Dial("tcp", addr); err == nil {
			c.Close()
		}
	}()
	c, err := got.Accept()
	if err != nil {
		t.Fatal(err)
	}
	c.Close()

	other, err := Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	if Shared(other) {
		t.Error("a listener bound by Listen itself is reported shared")
	}
}
