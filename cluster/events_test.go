package cluster_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/stellarfw/stellar-go/backend/memory"
	"github.com/stellarfw/stellar-go/cluster"
	"github.com/stellarfw/stellar-go/event"
	"github.com/stellarfw/stellar-go/internal/lifecycle"
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
		if err := c.Start(ctx, b.Cluster(), cluster.Config{ID: id, Token: token, HeartbeatInterval: every, Events: bus}, lifecycle.Key{}); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = c.Stop(ctx, lifecycle.Key{}) })
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

	if err := b2.Stop(ctx, lifecycle.Key{}); err != nil {
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

// TestCallEvents: cluster.call fires on the calling node once per Do or
// DoAll, with the method, the duration and the error (a timeout unwraps
// to ErrTimeout), and the node counts the messages it published.
func TestCallEvents(t *testing.T) {
	b := memory.New(memory.Config{})
	defer b.Close()
	ctx := context.Background()
	bus := event.NewBus()
	var mu sync.Mutex
	var got []event.Call
	event.On(bus, event.ClusterCall, 0, func(_ context.Context, p *event.Call) error {
		mu.Lock()
		defer mu.Unlock()
		got = append(got, *p)
		return nil
	})
	c := cluster.New()
	c.HandleFunc("ping", func(context.Context, *cluster.Call) (any, error) { return "pong", nil })
	c.HandleFunc("slow", func(ctx context.Context, _ *cluster.Call) (any, error) { <-ctx.Done(); return nil, ctx.Err() })
	if err := c.Start(ctx, b.Cluster(), cluster.Config{ID: "a", Token: cluster.RandomToken(), Events: bus}, lifecycle.Key{}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Stop(ctx, lifecycle.Key{}) })
	published := c.Published()
	if _, err := c.Do(ctx, "ping", nil); err != nil {
		t.Fatal(err)
	}
	if _, err := c.DoAll(ctx, "ping", nil); err != nil {
		t.Fatal(err)
	}
	tctx, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
	defer cancel()
	if _, err := c.Do(tctx, "slow", nil); err == nil {
		t.Fatal("the slow call answered")
	}
	mu.Lock()
	defer mu.Unlock()
	if len(got) != 3 {
		t.Fatalf("cluster.call fired %d times: %+v", len(got), got)
	}
	if p := got[0]; p.Method != "ping" || p.All || p.Err != nil || p.Duration <= 0 {
		t.Errorf("Do's event = %+v", p)
	}
	if p := got[1]; p.Method != "ping" || !p.All || p.Err != nil {
		t.Errorf("DoAll's event = %+v", p)
	}
	if p := got[2]; p.Method != "slow" || !errors.Is(p.Err, cluster.ErrTimeout) || p.Duration < 50*time.Millisecond {
		t.Errorf("the timed-out call's event = %+v", p)
	}
	// Two calls and two replies at least, besides the heartbeats.
	if n := c.Published(); n < published+4 {
		t.Errorf("published %d messages during the calls", n-published)
	}
}

// TestMessagePublished: Publish fires cluster.published on the
// publishing node, with the type and payload, once the message is out;
// a refused type fires nothing.
func TestMessagePublished(t *testing.T) {
	b := memory.New(memory.Config{})
	defer b.Close()
	ctx := context.Background()
	bus := event.NewBus()
	var got []event.Message
	event.On(bus, event.MessagePublished, 0, func(_ context.Context, m *event.Message) error {
		got = append(got, *m)
		return nil
	})
	c := cluster.New()
	if err := c.Start(ctx, b.Cluster(), cluster.Config{ID: "a", Token: cluster.RandomToken(), Events: bus}, lifecycle.Key{}); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = c.Stop(ctx, lifecycle.Key{}) }()
	if err := c.Publish(ctx, "greeting", map[string]string{"text": "hi"}); err != nil {
		t.Fatal(err)
	}
	if err := c.Publish(ctx, "stellar.reserved", 1); err == nil {
		t.Fatal("a reserved type was published")
	}
	if len(got) != 1 || got[0].Type != "greeting" || got[0].From != "a" || string(got[0].Payload) != `{"text":"hi"}` {
		t.Fatalf("events = %+v", got)
	}
}
