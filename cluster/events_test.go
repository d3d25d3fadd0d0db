package cluster_test

import (
	"context"
	"fmt"
	"os"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/stellarfw/stellar-go/backend/memory"
	"github.com/stellarfw/stellar-go/cluster"
	"github.com/stellarfw/stellar-go/event"
	"github.com/stellarfw/stellar-go/internal/poll"
)

// nodeEvents records the membership events of a bus as "joined ID" and
// "left ID", with their payloads.
type nodeEvents struct {
	mu  sync.Mutex
	got []string              // guarded by mu
	by  map[string]event.Node // guarded by mu; the last payload per id
}

func newNodeEvents(b *event.Bus) *nodeEvents {
	r := &nodeEvents{by: map[string]event.Node{}}
	for what, ev := range map[string]event.Event[event.Node]{"joined": event.NodeJoined, "left": event.NodeLeft} {
		event.On(b, ev, 0, func(_ context.Context, n *event.Node) error {
			r.mu.Lock()
			defer r.mu.Unlock()
			r.got = append(r.got, what+" "+n.ID)
			r.by[n.ID] = *n
			return nil
		})
	}
	return r
}

func (r *nodeEvents) list() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.got)
}

func (r *nodeEvents) payload(id string) event.Node {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.by[id]
}

// TestNodeEvents: two nodes on one backend. Each fires node.joined once
// for the other (the first on the second's join, the second for the node
// it finds live), the first fires node.left once when the second stops,
// and a record that lapses without a leave joins and leaves once too.
func TestNodeEvents(t *testing.T) {
	b := memory.New(memory.Config{})
	defer b.Close()
	ctx := context.Background()
	token := cluster.RandomToken()
	const every = 20 * time.Millisecond
	start := func(id string) (*cluster.Cluster, *nodeEvents) {
		t.Helper()
		bus := event.NewBus()
		rec := newNodeEvents(bus)
		c := cluster.New()
		if err := c.Start(ctx, b.Cluster(), cluster.Config{ID: id, Token: token, HeartbeatInterval: every, Events: bus}); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = c.Stop(ctx) })
		return c, rec
	}
	waitFor := func(rec *nodeEvents, want ...string) {
		t.Helper()
		poll.Until(t, fmt.Sprintf("events %v", want), 0, func() bool { return slices.Equal(rec.list(), want) })
	}
	host, _ := os.Hostname()

	_, recA := start("a")
	b2, recB := start("b")
	waitFor(recA, "joined b")
	waitFor(recB, "joined a")
	if p := recA.payload("b"); p != (event.Node{ID: "b", Host: host, PID: os.Getpid()}) {
		t.Errorf("node.joined payload = %+v", p)
	}

	if err := b2.Stop(ctx); err != nil {
		t.Fatal(err)
	}
	waitFor(recA, "joined b", "left b")

	// A node that dies leaves no leave message: its record lapses.
	now := time.Now()
	ghost := cluster.SignRecord(token, cluster.Node{ID: "ghost", Instance: "x", Host: "elsewhere", PID: 42,
		StartedAt: now, WrittenAt: now, ExpiresAt: now.Add(300 * time.Millisecond)})
	if err := b.Cluster().Join(ctx, "ghost", ghost, 300*time.Millisecond); err != nil {
		t.Fatal(err)
	}
	waitFor(recA, "joined b", "left b", "joined ghost", "left ghost")
	if p := recA.payload("ghost"); p != (event.Node{ID: "ghost", Host: "elsewhere", PID: 42}) {
		t.Errorf("node.left payload of a lapsed record = %+v", p)
	}
	// Many heartbeats later, nothing fired again: each join and each
	// leave fired once.
	time.Sleep(10 * every) // the span being checked
	if got, want := recA.list(), []string{"joined b", "left b", "joined ghost", "left ghost"}; !slices.Equal(got, want) {
		t.Errorf("events of a = %v, want %v", got, want)
	}
	if got := recB.list(); !slices.Equal(got, []string{"joined a"}) {
		t.Errorf("events of b = %v", got)
	}
}
