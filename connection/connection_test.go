package connection

import (
	"slices"
	"sync"
	"testing"
)

func TestNewIDsAreUnique(t *testing.T) {
	seen := map[string]bool{}
	for range 1000 {
		id := NewID()
		if len(id) != 32 || seen[id] {
			t.Fatalf("bad or repeated id %q", id)
		}
		seen[id] = true
	}
}

func TestParamsAndRooms(t *testing.T) {
	c := New(TypeTCP, "10.0.0.1", "node-1")
	if c.Type != TypeTCP || c.NodeID != "node-1" || c.Fingerprint != c.ID || c.ConnectedAt.IsZero() {
		t.Fatalf("conn = %+v", c)
	}
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c.SetParam("k", i)
			c.AddRoom("lobby")
			c.CountMessage()
			_ = c.Params()
			_ = c.Rooms()
		}()
	}
	wg.Wait()
	if c.Messages() != 8 {
		t.Fatalf("messages = %d", c.Messages())
	}
	if !slices.Equal(c.Rooms(), []string{"lobby"}) {
		t.Fatalf("rooms = %v", c.Rooms())
	}
	p := c.Params()
	p["other"] = 1 // a copy: must not change the connection
	if _, ok := c.Params()["other"]; ok {
		t.Fatal("Params returned the live map")
	}
	c.DeleteParam("k")
	if len(c.Params()) != 0 {
		t.Fatalf("params after delete = %v", c.Params())
	}
	c.SetParam("a", 1)
	c.ClearParams()
	c.RemoveRoom("lobby")
	if len(c.Params()) != 0 || len(c.Rooms()) != 0 {
		t.Fatalf("after clear: %v %v", c.Params(), c.Rooms())
	}
}

func TestRemoteIP(t *testing.T) {
	for addr, want := range map[string]string{
		"203.0.113.7:51234": "203.0.113.7",
		"[::1]:8080":        "::1",
		"@":                 "@", // a unix socket's peer has no port
	} {
		if got := RemoteIP(addr); got != want {
			t.Errorf("RemoteIP(%q) = %q, want %q", addr, got, want)
		}
	}
}
