package redis_test

import (
	"context"
	"maps"
	"strconv"
	"testing"
	"time"

	"github.com/redis/rueidis"

	"github.com/stellarfw/stellar-go/backend/redis"
	"github.com/stellarfw/stellar-go/chat"
	"github.com/stellarfw/stellar-go/cluster"
	"github.com/stellarfw/stellar-go/connection"
	"github.com/stellarfw/stellar-go/internal/backendtest"
	"github.com/stellarfw/stellar-go/internal/lifecycle"
	"github.com/stellarfw/stellar-go/internal/logging"
	"github.com/stellarfw/stellar-go/internal/redistest"
)

func TestChatConformance(t *testing.T) {
	backendtest.RunChat(t, backendtest.ChatBackend{NewNodes: func(t *testing.T, n int, _ *backendtest.Clock) []backendtest.ChatNode {
		srv := redistest.Shared(t)
		prefix := redistest.Prefix(t)
		out := make([]backendtest.ChatNode, n)
		for i := range out {
			b := open(t, redis.Config{URL: srv.URL(), Prefix: prefix})
			out[i] = backendtest.ChatNode{Store: b.Chat(), Transport: b.Cluster()}
		}
		t.Cleanup(func() {
			ctx := context.Background()
			rooms, _ := out[0].Store.List(ctx)
			for _, r := range rooms {
				_ = out[0].Store.Destroy(ctx, r)
			}
		})
		return out
	}})
}

// background are the commands the backend sends on its own, whatever the
// chat does: the pub/sub probe, and the test's own INFO.
var background = map[string]bool{"publish": true, "ping": true, "info": true}

// TestChatSweepCommands: an idle sweep sends Redis the same commands, and
// as many, with 1 room as with 1,000 rooms that each have a member; a
// node that died with a member in every room costs a few more commands
// per room it was in, once.
func TestChatSweepCommands(t *testing.T) {
	srv := redistest.StartOwn(t)
	ctx := context.Background()
	const sweeps = 5
	delta := func(t *testing.T, fn func()) map[string]int64 {
		t.Helper()
		before, err := srv.CommandCalls()
		if err != nil {
			t.Fatal(err)
		}
		fn()
		after, err := srv.CommandCalls()
		if err != nil {
			t.Fatal(err)
		}
		out := make(map[string]int64)
		for cmd, n := range after {
			if d := n - before[cmd]; d != 0 && !background[cmd] {
				out[cmd] = d
			}
		}
		return out
	}
	perSweep := func(t *testing.T, rooms int) map[string]int64 {
		t.Helper()
		b := open(t, redis.Config{URL: srv.URL(), Prefix: redistest.Prefix(t)})
		ch, conns := startIdleChat(t, b)
		c := connection.New(connection.TypeTCP, "127.0.0.1", "n1")
		if err := conns.Add(ctx, c); err != nil {
			t.Fatal(err)
		}
		for i := range rooms {
			r := "room-" + strconv.Itoa(i)
			if err := ch.Create(ctx, r); err != nil {
				t.Fatal(err)
			}
			if _, err := ch.JoinConn(ctx, c, r); err != nil {
				t.Fatal(err)
			}
		}
		// One sweep first, which loads the scripts (EVAL once, EVALSHA
		// after).
		if _, err := ch.Sweep(ctx); err != nil {
			t.Fatal(err)
		}
		calls := delta(t, func() {
			for range sweeps {
				if _, err := ch.Sweep(ctx); err != nil {
					t.Fatal(err)
				}
			}
		})
		for cmd, n := range calls {
			if n%sweeps != 0 {
				t.Fatalf("%s ran %d times in %d sweeps", cmd, n, sweeps)
			}
			calls[cmd] = n / sweeps
		}

		// A node that died with a member in every room.
		st := b.Chat()
		for i := range rooms {
			if _, err := st.Join(ctx, "room-"+strconv.Itoa(i), chat.Member{ID: "ghost-" + strconv.Itoa(i), Node: "dead"}); err != nil {
				t.Fatal(err)
			}
		}
		removed := 0
		dead := delta(t, func() {
			for range 2 {
				n, err := ch.Sweep(ctx)
				if err != nil {
					t.Fatal(err)
				}
				removed += n
			}
		})
		if removed != rooms {
			t.Fatalf("the sweeps removed %d members of the dead node, want %d", removed, rooms)
		}
		t.Logf("%d rooms: per idle sweep %v; two sweeps removing a dead node's %d members: %v", rooms, calls, rooms, dead)
		return calls
	}
	one := perSweep(t, 1)
	many := perSweep(t, 1000)
	if !maps.Equal(one, many) {
		t.Fatalf("commands per idle sweep: %v with 1 room, %v with 1,000", one, many)
	}
	total := int64(0)
	for _, n := range one {
		total += n
	}
	if total == 0 || total > 20 {
		t.Fatalf("an idle sweep ran %d commands (%v)", total, one)
	}
}

// startIdleChat starts a node n1's cluster and chat on b with timers an
// hour long: nothing runs unless the test calls it.
func startIdleChat(t *testing.T, b *redis.Backend) (*chat.Chat, *connection.Registry) {
	t.Helper()
	ctx := context.Background()
	cl := cluster.New()
	conns := connection.NewRegistry()
	ch := chat.New(conns, cl)
	if err := cl.Start(ctx, b.Cluster(), cluster.Config{ID: "n1", Token: "t", Logger: logging.Discard(),
		HeartbeatInterval: time.Hour, OwnsConnection: conns.Owns}, lifecycle.Key{}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cl.Stop(ctx, lifecycle.Key{}) })
	if err := ch.Start(ctx, b.Chat(), chat.Config{NodeID: "n1", Logger: logging.Discard(), SweepInterval: time.Hour}, lifecycle.Key{}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = ch.Stop(ctx, lifecycle.Key{}) })
	return ch, conns
}

// TestChatNodesListForgetsEmptyNodes: a node leaves the list of nodes
// with its last membership, whether its members left, their room was
// destroyed or RemoveNode removed them, so that the list does not grow
// with every node id ever seen; and a node that joins again is listed.
func TestChatNodesListForgetsEmptyNodes(t *testing.T) {
	srv := redistest.Shared(t)
	prefix := redistest.Prefix(t)
	b := open(t, redis.Config{URL: srv.URL(), Prefix: prefix})
	st := b.Chat()
	ctx := context.Background()
	raw, err := rueidis.NewClient(rueidis.ClientOption{InitAddress: []string{srv.Addr()}, DisableCache: true})
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	listed := func() int64 {
		t.Helper()
		n, err := raw.Do(ctx, raw.B().Hlen().Key(prefix+"chat:{chat}:nodes").Build()).AsInt64()
		if err != nil {
			t.Fatal(err)
		}
		return n
	}
	for _, r := range []string{"r1", "r2"} {
		if _, err := st.Create(ctx, r, 0); err != nil {
			t.Fatal(err)
		}
	}
	for _, m := range []struct{ room, id, node string }{
		{"r1", "a", "leaves"}, {"r2", "b", "leaves"}, {"r1", "c", "destroyed"}, {"r2", "d", "dead"},
	} {
		if _, err := st.Join(ctx, m.room, chat.Member{ID: m.id, Node: m.node}); err != nil {
			t.Fatal(err)
		}
	}
	if n := listed(); n != 3 {
		t.Fatalf("%d nodes listed, want 3", n)
	}
	for _, m := range []struct{ room, id string }{{"r1", "a"}, {"r2", "b"}} {
		if _, err := st.Leave(ctx, m.room, m.id); err != nil {
			t.Fatal(err)
		}
	}
	if err := st.Destroy(ctx, "r1"); err != nil {
		t.Fatal(err)
	}
	if _, err := st.RemoveNode(ctx, "dead"); err != nil {
		t.Fatal(err)
	}
	if n := listed(); n != 0 {
		t.Fatalf("%d nodes listed after every membership went, want 0", n)
	}
	if _, err := st.Join(ctx, "r2", chat.Member{ID: "e", Node: "leaves"}); err != nil {
		t.Fatal(err)
	}
	if nodes, err := st.Nodes(ctx); err != nil || !maps.Equal(nodes, map[string]int{"leaves": 1}) {
		t.Fatalf("Nodes = %v, %v", nodes, err)
	}
}
