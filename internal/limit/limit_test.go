package limit

import (
	"errors"
	"sync"
	"testing"
)

func TestConns(t *testing.T) {
	c := NewConns(5, 2)
	for _, tc := range []struct {
		remote string
		want   error
	}{
		{"192.0.2.1", nil},
		{"192.0.2.1", nil},
		{"192.0.2.1", ErrAddrFull},
		{"::ffff:192.0.2.1", ErrAddrFull}, // the same address, mapped
		{"2001:db8::1", nil},
		{"2001:db8::2", nil},          // the same /64
		{"2001:db8::3", ErrAddrFull},  // the /64 is full
		{"2001:db8:0:1::1", nil},      // another /64
		{"fe80::1%eth0", ErrNodeFull}, // the node is full
	} {
		if err := c.Acquire(tc.remote); !errors.Is(err, tc.want) {
			t.Fatalf("Acquire(%s) = %v, want %v", tc.remote, err, tc.want)
		}
	}
	if c.Open() != 5 {
		t.Fatalf("Open = %d, want 5", c.Open())
	}
	c.Release("2001:db8::1")
	if err := c.Acquire("2001:db8::9"); err != nil {
		t.Fatalf("after a release in the /64: %v", err)
	}
	c.Release("192.0.2.1")
	c.Release("192.0.2.1")
	c.Release("2001:db8::2")
	c.Release("2001:db8::9")
	c.Release("2001:db8:0:1::1")
	if c.Open() != 0 || len(c.byAddr) != 0 {
		t.Fatalf("after releasing all: open %d, addresses %v", c.Open(), c.byAddr)
	}
	// Remote addresses that are not IPs count by their text.
	for i, want := range []error{nil, nil, ErrAddrFull} {
		if err := c.Acquire("@"); !errors.Is(err, want) {
			t.Fatalf("non-IP remote, connection %d: %v, want %v", i+1, err, want)
		}
	}
	c.Release("@")
	c.Release("@")
	if len(c.other) != 0 {
		t.Fatalf("non-IP remotes left: %v", c.other)
	}
}

func TestConnsConcurrent(t *testing.T) {
	c := NewConns(100, 1000)
	var wg sync.WaitGroup
	var mu sync.Mutex
	got := 0
	for range 300 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if c.Acquire("192.0.2.7") == nil {
				mu.Lock()
				got++
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if got != 100 || c.Open() != 100 {
		t.Fatalf("%d acquired, %d open; want 100", got, c.Open())
	}
}

func TestBytes(t *testing.T) {
	b := NewBytes(100)
	if !b.Acquire(60) || !b.Acquire(40) || b.Acquire(1) {
		t.Fatal("budget of 100 not kept")
	}
	if b.Used() != 100 || b.Max() != 100 {
		t.Fatalf("used %d of %d", b.Used(), b.Max())
	}
	b.Release(40)
	if b.Acquire(41) || !b.Acquire(40) {
		t.Fatal("released bytes not reusable exactly")
	}
	var wg sync.WaitGroup
	b.Release(100)
	for range 50 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if b.Acquire(3) {
				b.Release(3)
			}
		}()
	}
	wg.Wait()
	if b.Used() != 0 {
		t.Fatalf("used %d after concurrent acquire and release", b.Used())
	}
}

func TestRefusals(t *testing.T) {
	r := NewRefusals(Connections, Params)
	r.Add(Params)
	r.Add(Params)
	r.Add(Queue)
	got := r.Snapshot()
	if got[Connections] != 0 || got[Params] != 2 || got[Queue] != 1 || len(got) != 3 {
		t.Fatalf("Snapshot = %v", got)
	}
	if _, ok := got[Connections]; !ok {
		t.Fatal("a reason at zero is not reported")
	}
	var nilR *Refusals
	nilR.Add(Params) // counts nothing, does not panic
	if len(nilR.Snapshot()) != 0 {
		t.Fatal("nil Refusals counted")
	}
}
