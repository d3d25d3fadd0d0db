package backendtest

import (
	"context"
	"encoding/json"
	"errors"
	"maps"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stellarfw/stellar-go/chat"
	"github.com/stellarfw/stellar-go/cluster"
	"github.com/stellarfw/stellar-go/connection"
	"github.com/stellarfw/stellar-go/internal/lifecycle"
	"github.com/stellarfw/stellar-go/internal/logging"
	"github.com/stellarfw/stellar-go/internal/poll"
)

// ChatBackend is what RunChat needs from a backend under test.
type ChatBackend struct {
	// NewNodes returns n nodes' chat stores and cluster transports, on the
	// same fresh, empty data and bus, as n nodes of one cluster would open
	// them, released when t ends. A backend that takes an injected clock
	// runs them on clock.Now when clock is not nil.
	NewNodes func(t *testing.T, n int, clock *Clock) []ChatNode
	// FakeClock says the backend honours the clock: the tests of
	// temporary rooms then advance it. Otherwise they use short real TTLs
	// and poll.
	FakeClock bool
}

// ChatNode is what one node opens on a backend for its chat.
type ChatNode struct {
	Store     chat.Store
	Transport cluster.Transport
}

// RunChat runs the chat conformance suite against a backend: the chat
// store, then the chat API of two nodes on the backend's store and
// cluster transport.
func RunChat(t *testing.T, b ChatBackend) {
	t.Helper()
	for _, tc := range []struct {
		name string
		fn   func(t *testing.T, a, b chat.Store)
	}{
		{"Rooms", testChatRooms},
		{"Membership", testChatMembership},
		{"MissingRoom", testChatMissingRoom},
		{"Destroy", testChatDestroy},
		{"NodeIndex", testChatNodeIndex},
		{"RemoveNodeManyRooms", testChatRemoveNodeManyRooms},
		{"OddNames", testChatOddNames},
	} {
		t.Run(tc.name, func(t *testing.T) {
			n := b.NewNodes(t, 2, nil)
			tc.fn(t, n[0].Store, n[1].Store)
		})
	}
	for _, tc := range []struct {
		name string
		fn   func(t *testing.T, e *chatEnv)
	}{
		{"TemporaryRoom", testChatTemporaryRoom},
		{"TemporaryRoomOfDeadNode", testChatTemporaryRoomOfDeadNode},
		{"PermanentRooms", testChatPermanentRooms},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := &chatEnv{}
			if b.FakeClock {
				e.clock = NewClock()
			}
			n := b.NewNodes(t, 2, e.clock)
			e.a, e.b = n[0].Store, n[1].Store
			tc.fn(t, e)
		})
	}
	for _, tc := range []struct {
		name string
		fn   func(t *testing.T, b ChatBackend)
	}{
		{"StartingRooms", testChatStartingRooms},
		{"DestroyTellsMembers", testChatDestroyTellsMembers},
		{"SendToAnyNode", testChatSendToAnyNode},
		{"DeadNodeSwept", testChatDeadNodeSwept},
		{"StaleMembersAtStart", testChatStaleMembersAtStart},
		{"CreateTemporary", testChatCreateTemporary},
	} {
		t.Run(tc.name, func(t *testing.T) { tc.fn(t, b) })
	}
}

// mustChat returns v, failing the test given to the func on err.
func mustChat[T any](v T, err error) func(t *testing.T) T {
	return func(t *testing.T) T {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
}

func testChatRooms(t *testing.T, a, b chat.Store) {
	ctx := context.Background()
	if rooms := mustChat(a.List(ctx))(t); len(rooms) != 0 {
		t.Fatalf("fresh store lists %v", rooms)
	}
	if !mustChat(a.Create(ctx, "lobby", 0))(t) {
		t.Fatal("Create of a new room reported false")
	}
	if mustChat(b.Create(ctx, "lobby", 0))(t) {
		t.Fatal("Create of an existing room, from another node, reported true")
	}
	mustChat(b.Create(ctx, "attic", 0))(t)
	if rooms := mustChat(a.List(ctx))(t); !slices.Equal(rooms, []string{"attic", "lobby"}) {
		t.Fatalf("List = %v", rooms)
	}
	if !mustChat(b.Exists(ctx, "lobby"))(t) || mustChat(b.Exists(ctx, "cellar"))(t) {
		t.Fatal("Exists is wrong")
	}
}

func testChatMembership(t *testing.T, a, b chat.Store) {
	ctx := context.Background()
	mustChat(a.Create(ctx, "lobby", 0))(t)
	at := time.UnixMilli(1_700_000_000_123).UTC()
	m1 := chat.Member{ID: "c1", Node: "n1", JoinedAt: at}
	m2 := chat.Member{ID: "c2", Node: "n2", JoinedAt: at}
	if !mustChat(a.Join(ctx, "lobby", m1))(t) || !mustChat(b.Join(ctx, "lobby", m2))(t) {
		t.Fatal("Join of new members reported false")
	}
	if mustChat(b.Join(ctx, "lobby", m1))(t) {
		t.Fatal("second Join reported true")
	}
	ms := mustChat(b.Members(ctx, "lobby"))(t)
	if len(ms) != 2 || ms[0].ID != "c1" || ms[1].ID != "c2" || ms[0].Node != "n1" || !ms[0].JoinedAt.Equal(at) {
		t.Fatalf("Members = %+v", ms)
	}
	if !mustChat(b.Leave(ctx, "lobby", "c1"))(t) {
		t.Fatal("Leave of a member reported false")
	}
	if mustChat(a.Leave(ctx, "lobby", "c1"))(t) {
		t.Fatal("Leave of a non-member reported true")
	}
	if ms := mustChat(a.Members(ctx, "lobby"))(t); len(ms) != 1 || ms[0].ID != "c2" {
		t.Fatalf("Members after leave = %+v", ms)
	}
}

func testChatMissingRoom(t *testing.T, a, _ chat.Store) {
	ctx := context.Background()
	if _, err := a.Join(ctx, "nowhere", chat.Member{ID: "c"}); !errors.Is(err, chat.ErrNoRoom) {
		t.Errorf("Join: %v, want ErrNoRoom", err)
	}
	if _, err := a.Leave(ctx, "nowhere", "c"); !errors.Is(err, chat.ErrNoRoom) {
		t.Errorf("Leave: %v, want ErrNoRoom", err)
	}
	if _, err := a.Members(ctx, "nowhere"); !errors.Is(err, chat.ErrNoRoom) {
		t.Errorf("Members: %v, want ErrNoRoom", err)
	}
	if err := a.Destroy(ctx, "nowhere"); err != nil {
		t.Errorf("Destroy of a missing room: %v", err)
	}
}

func testChatDestroy(t *testing.T, a, b chat.Store) {
	ctx := context.Background()
	mustChat(a.Create(ctx, "lobby", 0))(t)
	mustChat(a.Join(ctx, "lobby", chat.Member{ID: "c1", Node: "n1"}))(t)
	if err := b.Destroy(ctx, "lobby"); err != nil {
		t.Fatal(err)
	}
	if mustChat(a.Exists(ctx, "lobby"))(t) {
		t.Fatal("room exists after Destroy")
	}
	mustChat(a.Create(ctx, "lobby", 0))(t)
	if ms := mustChat(a.Members(ctx, "lobby"))(t); len(ms) != 0 {
		t.Fatalf("a re-created room kept members: %+v", ms)
	}
}

// testChatNodeIndex: the memberships are indexed by the node that
// recorded them, and Join, Leave, Destroy and RemoveNode keep the index
// and the counts right.
func testChatNodeIndex(t *testing.T, a, b chat.Store) {
	ctx := context.Background()
	if nodes := mustChat(a.Nodes(ctx))(t); len(nodes) != 0 {
		t.Fatalf("fresh store: Nodes = %v", nodes)
	}
	for _, r := range []string{"r1", "r2", "r3"} {
		mustChat(a.Create(ctx, r, 0))(t)
		mustChat(a.Join(ctx, r, chat.Member{ID: "alive-" + r, Node: "n1"}))(t)
		mustChat(b.Join(ctx, r, chat.Member{ID: "dead-" + r, Node: "n2"}))(t)
	}
	mustChat(b.Join(ctx, "r1", chat.Member{ID: "dead-r1", Node: "n2"}))(t) // a member already: counted once
	checkNodes(t, b, map[string]int{"n1": 3, "n2": 3})
	want := []chat.Membership{{Room: "r1", ID: "dead-r1"}, {Room: "r2", ID: "dead-r2"}, {Room: "r3", ID: "dead-r3"}}
	if got := mustChat(a.NodeMembers(ctx, "n2"))(t); !slices.Equal(got, want) {
		t.Fatalf("NodeMembers(n2) = %v, want %v", got, want)
	}
	if got := mustChat(a.NodeMembers(ctx, "nobody"))(t); len(got) != 0 {
		t.Fatalf("NodeMembers of a node without members = %v", got)
	}

	mustChat(a.Leave(ctx, "r2", "alive-r2"))(t)
	mustChat(a.Leave(ctx, "r2", "alive-r2"))(t) // not a member any more
	if err := b.Destroy(ctx, "r3"); err != nil {
		t.Fatal(err)
	}
	checkNodes(t, a, map[string]int{"n1": 1, "n2": 2})
	if got := mustChat(b.NodeMembers(ctx, "n1"))(t); !slices.Equal(got, []chat.Membership{{Room: "r1", ID: "alive-r1"}}) {
		t.Fatalf("NodeMembers(n1) after a leave and a destroy = %v", got)
	}

	if n := mustChat(a.RemoveNode(ctx, "n2"))(t); n != 2 {
		t.Fatalf("RemoveNode(n2) removed %d, want 2", n)
	}
	if n := mustChat(a.RemoveNode(ctx, "n2"))(t); n != 0 {
		t.Fatalf("RemoveNode of a node without members removed %d", n)
	}
	checkNodes(t, b, map[string]int{"n1": 1})
	if ms := mustChat(b.Members(ctx, "r1"))(t); len(ms) != 1 || ms[0].ID != "alive-r1" {
		t.Fatalf("r1 members after RemoveNode(n2) = %+v", ms)
	}
	if ms := mustChat(b.Members(ctx, "r2"))(t); len(ms) != 0 {
		t.Fatalf("r2 members after RemoveNode(n2) = %+v", ms)
	}
	// The rooms stay: only members go.
	if rooms := mustChat(a.List(ctx))(t); !slices.Equal(rooms, []string{"r1", "r2"}) {
		t.Fatalf("List after RemoveNode = %v", rooms)
	}
	// A node that joins again after its members were removed is indexed
	// again.
	mustChat(b.Join(ctx, "r2", chat.Member{ID: "back", Node: "n2"}))(t)
	checkNodes(t, a, map[string]int{"n1": 1, "n2": 1})
}

// testChatRemoveNodeManyRooms: a dead node's members in many rooms all go
// in one RemoveNode, more of them than a backend may take in one step,
// and nobody else's.
func testChatRemoveNodeManyRooms(t *testing.T, a, b chat.Store) {
	ctx := context.Background()
	const rooms = 600
	for i := range rooms {
		r := "room-" + strconv.Itoa(i)
		mustChat(a.Create(ctx, r, 0))(t)
		mustChat(b.Join(ctx, r, chat.Member{ID: "dead-" + strconv.Itoa(i), Node: "dead"}))(t)
		if i%2 == 0 {
			mustChat(a.Join(ctx, r, chat.Member{ID: "alive-" + strconv.Itoa(i), Node: "alive"}))(t)
		}
	}
	checkNodes(t, a, map[string]int{"dead": rooms, "alive": rooms / 2})
	if n := mustChat(a.RemoveNode(ctx, "dead"))(t); n != rooms {
		t.Fatalf("RemoveNode removed %d, want %d", n, rooms)
	}
	checkNodes(t, b, map[string]int{"alive": rooms / 2})
	for _, i := range []int{0, 1, rooms - 2, rooms - 1} {
		ms := mustChat(b.Members(ctx, "room-"+strconv.Itoa(i)))(t)
		if want := 1 - i%2; len(ms) != want || (want == 1 && ms[0].Node != "alive") {
			t.Fatalf("room-%d members after RemoveNode = %+v", i, ms)
		}
	}
	if got := mustChat(a.NodeMembers(ctx, "dead"))(t); len(got) != 0 {
		t.Fatalf("NodeMembers of the removed node = %d entries", len(got))
	}
}

// checkNodes fails t unless s.Nodes is want.
func checkNodes(t *testing.T, s chat.Store, want map[string]int) {
	t.Helper()
	if got := mustChat(s.Nodes(context.Background()))(t); !maps.Equal(got, want) {
		t.Fatalf("Nodes = %v, want %v", got, want)
	}
}

// chatEnv is a store test's view: two nodes' stores on the same data,
// and the fake clock when the backend honours one.
type chatEnv struct {
	clock *Clock // nil on real time
	a, b  chat.Store
}

// ttl is the TTL of the temporary rooms of a test: long on the fake
// clock, short on real time.
func (e *chatEnv) ttl() time.Duration {
	if e.clock != nil {
		return time.Minute
	}
	return 300 * time.Millisecond
}

// pass lets d go by: on the fake clock at once, on real time by waiting.
// It waits only to show that something does not happen in that time.
func (e *chatEnv) pass(d time.Duration) {
	if e.clock != nil {
		e.clock.Advance(d)
		return
	}
	time.Sleep(d)
}

// within runs check, a check that holds only before a temporary room's
// TTL has passed since start; on real time a slow machine may have let
// that time pass, and check's result then says nothing, so it is not
// reported.
func (e *chatEnv) within(t *testing.T, start time.Time, what string, check func() bool) {
	t.Helper()
	ok := check()
	if e.clock == nil && time.Since(start) >= e.ttl() {
		return
	}
	if !ok {
		t.Fatal(what)
	}
}

// gone waits until room has expired: on the fake clock, once the clock
// is past its TTL; on real time, within a deadline.
func (e *chatEnv) gone(t *testing.T, s chat.Store, room string) {
	t.Helper()
	ctx := context.Background()
	if e.clock != nil {
		e.clock.Advance(time.Millisecond)
		if mustChat(s.Exists(ctx, room))(t) {
			t.Fatalf("%s exists past its TTL", room)
		}
		return
	}
	poll.Until(t, room+" to expire", 0, func() bool { return !mustChat(s.Exists(ctx, room))(t) })
}

// testChatTemporaryRoom: a temporary room stays while it has members,
// goes once it has had none for its TTL (counted from its creation, or
// from when its last member left; a join stops the count), for every
// read at once; and its name can then make a new room.
func testChatTemporaryRoom(t *testing.T, e *chatEnv) {
	ctx := context.Background()
	ttl := e.ttl()

	// Empty from creation: it goes after its TTL, joined by nobody.
	start := time.Now()
	if !mustChat(e.a.Create(ctx, "brief", ttl))(t) {
		t.Fatal("Create of a temporary room reported false")
	}
	e.within(t, start, "a new temporary room does not exist", func() bool { return mustChat(e.b.Exists(ctx, "brief"))(t) })
	if e.clock != nil {
		e.clock.Advance(ttl - time.Millisecond)
		if !mustChat(e.b.Exists(ctx, "brief"))(t) {
			t.Fatal("the room went before its TTL")
		}
	}
	e.gone(t, e.b, "brief")
	if rooms := mustChat(e.a.List(ctx))(t); slices.Contains(rooms, "brief") {
		t.Fatalf("List after expiry = %v", rooms)
	}
	if _, err := e.a.Join(ctx, "brief", chat.Member{ID: "c", Node: "n1"}); !errors.Is(err, chat.ErrNoRoom) {
		t.Fatalf("Join of an expired room: %v, want ErrNoRoom", err)
	}
	if _, err := e.a.Members(ctx, "brief"); !errors.Is(err, chat.ErrNoRoom) {
		t.Fatalf("Members of an expired room: %v, want ErrNoRoom", err)
	}

	// With a member it stays past its TTL.
	mustChat(e.a.Create(ctx, "game", ttl))(t)
	mustChat(e.a.Join(ctx, "game", chat.Member{ID: "c1", Node: "n1"}))(t)
	e.pass(2 * ttl)
	if !mustChat(e.b.Exists(ctx, "game"))(t) {
		t.Fatal("a temporary room with a member went")
	}
	// The last member leaves: the count starts; a join stops it.
	start = time.Now()
	mustChat(e.b.Leave(ctx, "game", "c1"))(t)
	if e.clock != nil {
		e.clock.Advance(ttl - time.Millisecond)
	}
	rejoined := false
	e.within(t, start, "the room went before its TTL after its last member left", func() bool {
		ok, err := e.b.Join(ctx, "game", chat.Member{ID: "c2", Node: "n2"})
		rejoined = err == nil && ok
		return rejoined
	})
	if rejoined {
		e.pass(2 * ttl)
		if ms := mustChat(e.a.Members(ctx, "game"))(t); len(ms) != 1 || ms[0].ID != "c2" {
			t.Fatalf("a joined temporary room: members %+v", ms)
		}
		mustChat(e.a.Leave(ctx, "game", "c2"))(t)
		e.pass(ttl - time.Millisecond)
	}
	e.gone(t, e.a, "game")
	checkNodes(t, e.b, map[string]int{})

	// The name makes a new room, permanent this time.
	if !mustChat(e.b.Create(ctx, "game", 0))(t) {
		t.Fatal("Create over an expired room reported false")
	}
	e.pass(2 * ttl)
	if !mustChat(e.a.Exists(ctx, "game"))(t) {
		t.Fatal("a permanent room made over an expired one went")
	}
}

// testChatTemporaryRoomOfDeadNode: a temporary room that RemoveNode
// empties starts its count then, and Expire reclaims it.
func testChatTemporaryRoomOfDeadNode(t *testing.T, e *chatEnv) {
	ctx := context.Background()
	ttl := e.ttl()
	mustChat(e.a.Create(ctx, "match", ttl))(t)
	mustChat(e.a.Join(ctx, "match", chat.Member{ID: "c1", Node: "dead"}))(t)
	e.pass(2 * ttl)
	start := time.Now()
	if n := mustChat(e.b.RemoveNode(ctx, "dead"))(t); n != 1 {
		t.Fatalf("RemoveNode removed %d, want 1", n)
	}
	e.within(t, start, "the room went as soon as RemoveNode emptied it", func() bool { return mustChat(e.a.Exists(ctx, "match"))(t) })
	if e.clock != nil {
		e.clock.Advance(ttl)
		if n := mustChat(e.b.Expire(ctx))(t); n != 1 {
			t.Fatalf("Expire removed %d, want 1", n)
		}
	} else {
		total := 0
		poll.Until(t, "Expire to remove the room", 0, func() bool {
			total += mustChat(e.b.Expire(ctx))(t)
			return total == 1
		})
	}
	if n := mustChat(e.b.Expire(ctx))(t); n != 0 {
		t.Fatalf("a second Expire removed %d", n)
	}
	if mustChat(e.a.Exists(ctx, "match"))(t) {
		t.Fatal("the room exists after Expire")
	}
}

// testChatPermanentRooms: a permanent room, empty from creation or
// emptied, stays however long it is empty; a room that exists is left as
// it is by Create, temporary or not.
func testChatPermanentRooms(t *testing.T, e *chatEnv) {
	ctx := context.Background()
	ttl := e.ttl()
	mustChat(e.a.Create(ctx, "lobby", 0))(t)
	mustChat(e.a.Create(ctx, "hall", 0))(t)
	mustChat(e.a.Join(ctx, "hall", chat.Member{ID: "c1", Node: "n1"}))(t)
	mustChat(e.a.Leave(ctx, "hall", "c1"))(t)
	if mustChat(e.b.Create(ctx, "lobby", ttl))(t) {
		t.Fatal("Create of an existing room, temporary, reported true")
	}
	mustChat(e.a.Create(ctx, "brief", ttl))(t)
	if mustChat(e.b.Create(ctx, "brief", 0))(t) {
		t.Fatal("Create of an existing temporary room, permanent, reported true")
	}
	if e.clock != nil {
		e.clock.Advance(1000 * time.Hour)
	}
	e.gone(t, e.b, "brief") // a Create does not make a temporary room permanent
	if n := mustChat(e.b.Expire(ctx))(t); n != 0 {
		t.Fatalf("Expire removed %d rooms after the temporary one went", n)
	}
	if rooms := mustChat(e.b.List(ctx))(t); !slices.Equal(rooms, []string{"hall", "lobby"}) {
		t.Fatalf("List = %v, want the permanent rooms", rooms)
	}
}

func testChatOddNames(t *testing.T, a, b chat.Store) {
	ctx := context.Background()
	var want []chat.Membership
	for i, r := range []string{"a room", "{tag}", "ünïcode", "x:y*z?", `"quoted"`, "nul\x00in\x00it", "%z.*"} {
		id := "conn-" + strconv.Itoa(i)
		mustChat(a.Create(ctx, r, 0))(t)
		mustChat(a.Join(ctx, r, chat.Member{ID: id, Node: "n"}))(t)
		if ms := mustChat(b.Members(ctx, r))(t); len(ms) != 1 || ms[0].ID != id {
			t.Fatalf("%q members = %+v", r, ms)
		}
		want = append(want, chat.Membership{Room: r, ID: id})
	}
	slices.SortFunc(want, func(x, y chat.Membership) int { return strings.Compare(x.Room, y.Room) })
	if got := mustChat(b.NodeMembers(ctx, "n"))(t); !slices.Equal(got, want) {
		t.Fatalf("NodeMembers = %q, want %q", got, want)
	}
	if n := mustChat(b.RemoveNode(ctx, "n"))(t); n != len(want) {
		t.Fatalf("RemoveNode removed %d, want %d", n, len(want))
	}
	for _, m := range want {
		if ms := mustChat(a.Members(ctx, m.Room))(t); len(ms) != 0 {
			t.Fatalf("%q members after RemoveNode = %+v", m.Room, ms)
		}
	}
}

// chatNode is one node's chat running on a ChatNode.
type chatNode struct {
	id    string
	chat  *chat.Chat
	conns *connection.Registry
	cl    *cluster.Cluster
}

// startChats starts a cluster member and a chat on each node, named
// node-1 … node-n, with the starting rooms given for each (nil for
// none), and waits until every one sees them all.
func startChats(t *testing.T, nodes []ChatNode, starting ...[]string) []*chatNode {
	t.Helper()
	return startChatsWith(t, nodes, func(i int, cfg *chat.Config) {
		if i < len(starting) {
			cfg.StartingRooms = starting[i]
		}
	})
}

// startChatsWith is startChats with each node's chat configured by setup.
func startChatsWith(t *testing.T, nodes []ChatNode, setup func(i int, cfg *chat.Config)) []*chatNode {
	t.Helper()
	ctx := context.Background()
	trs := make([]cluster.Transport, len(nodes))
	regs := make([]*connection.Registry, len(nodes))
	chats := make([]*chat.Chat, len(nodes))
	for i, n := range nodes {
		trs[i] = n.Transport
	}
	cls := startNodes(t, trs, func(i int, c *cluster.Cluster, cfg *cluster.Config) {
		regs[i] = connection.NewRegistry()
		chats[i] = chat.New(regs[i], c)
		cfg.OwnsConnection = regs[i].Owns
		cfg.Logger = logging.Discard()
	})
	out := make([]*chatNode, len(nodes))
	for i, n := range nodes {
		cfg := chat.Config{NodeID: "node-" + strconv.Itoa(i+1), Logger: logging.Discard(), SweepInterval: 50 * time.Millisecond}
		setup(i, &cfg)
		if err := chats[i].Start(ctx, n.Store, cfg, lifecycle.Key{}); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = chats[i].Stop(ctx, lifecycle.Key{}) })
		out[i] = &chatNode{id: cfg.NodeID, chat: chats[i], conns: regs[i], cl: cls[i]}
	}
	return out
}

// connect adds a connection to n; what its client gets arrives on the
// channel as JSON.
func (n *chatNode) connect(t *testing.T) (*connection.Conn, chan []byte) {
	t.Helper()
	c := connection.New(connection.TypeWebSocket, "127.0.0.1", n.id)
	got := make(chan []byte, 16)
	c.SetSender(func(v any) error {
		b, err := json.Marshal(v)
		if err == nil {
			got <- b
		}
		return err
	})
	if err := n.conns.Add(context.Background(), c); err != nil {
		t.Fatal(err)
	}
	return c, got
}

func receiveJSON(t *testing.T, ch chan []byte) []byte {
	t.Helper()
	select {
	case b := <-ch:
		return b
	case <-time.After(poll.DefaultTimeout):
		t.Fatal("the client got nothing")
		return nil
	}
}

func testChatStartingRooms(t *testing.T, b ChatBackend) {
	ns := startChats(t, b.NewNodes(t, 2, nil), []string{"lobby", "games"}, []string{"lobby", "attic"})
	for _, n := range ns {
		rooms, err := n.chat.List(context.Background())
		if err != nil || !slices.Equal(rooms, []string{"attic", "defaultRoom", "games", "lobby"}) {
			t.Fatalf("%s lists %v, %v", n.id, rooms, err)
		}
	}
}

func testChatDestroyTellsMembers(t *testing.T, b ChatBackend) {
	ctx := context.Background()
	ns := startChats(t, b.NewNodes(t, 2, nil), []string{"games"})
	c1, got1 := ns[0].connect(t)
	c2, got2 := ns[1].connect(t)
	for _, c := range []*connection.Conn{c1, c2} {
		if _, err := ns[0].chat.Join(ctx, c.ID, "games"); err != nil {
			t.Fatal(err)
		}
	}
	if err := ns[1].chat.Destroy(ctx, "games"); err != nil {
		t.Fatal(err)
	}
	for i, got := range []chan []byte{got1, got2} {
		var m chat.Message
		if b := receiveJSON(t, got); json.Unmarshal(b, &m) != nil || m.Event != chat.EventDestroyed || m.Room != "games" || m.From != "0" {
			t.Fatalf("member %d got %s", i+1, b)
		}
	}
	poll.Until(t, "both members to be out of the room", 0, func() bool {
		return !c1.InRoom("games") && !c2.InRoom("games") && ns[0].chat.LocalMembers("games")+ns[1].chat.LocalMembers("games") == 0
	})
	if ok, err := ns[0].chat.Exists(ctx, "games"); err != nil || ok {
		t.Fatalf("Exists after Destroy = %v, %v", ok, err)
	}
}

func testChatSendToAnyNode(t *testing.T, b ChatBackend) {
	ctx := context.Background()
	ns := startChats(t, b.NewNodes(t, 2, nil))
	c1, got1 := ns[0].connect(t)
	c2, got2 := ns[1].connect(t)
	for _, tc := range []struct {
		conn *connection.Conn
		got  chan []byte
	}{{c1, got1}, {c2, got2}} {
		if err := ns[0].chat.Send(ctx, tc.conn.ID, map[string]any{"to": tc.conn.ID}); err != nil {
			t.Fatalf("Send to %s's connection: %v", tc.conn.NodeID, err)
		}
		if b, want := receiveJSON(t, tc.got), `{"to":"`+tc.conn.ID+`"}`; string(b) != want {
			t.Fatalf("%s's client got %s, want %s", tc.conn.NodeID, b, want)
		}
	}
	if err := ns[1].chat.Send(ctx, "conn-nobody", "x"); !errors.Is(err, chat.ErrNoConnection) || !errors.Is(err, cluster.ErrNoOwner) {
		t.Fatalf("Send to an unknown id = %v", err)
	}
}

// testChatDeadNodeSwept: the sweep removes, across many rooms, the
// members of a node that is not live and those recorded under a live
// node's id for connections it does not have; the live members stay.
func testChatDeadNodeSwept(t *testing.T, b ChatBackend) {
	ctx := context.Background()
	nodes := b.NewNodes(t, 2, nil)
	ns := startChats(t, nodes)
	st := nodes[0].Store
	c1, _ := ns[0].connect(t)
	c2, _ := ns[1].connect(t)
	const rooms = 50
	for i := range rooms {
		r := "room-" + strconv.Itoa(i)
		if err := ns[i%2].chat.Create(ctx, r); err != nil {
			t.Fatal(err)
		}
		for _, c := range []*connection.Conn{c1, c2} {
			if _, err := ns[0].chat.Join(ctx, c.ID, r); err != nil {
				t.Fatal(err)
			}
		}
		mustChat(st.Join(ctx, r, chat.Member{ID: "ghost-" + strconv.Itoa(i), Node: "node-dead"}))(t)
		mustChat(st.Join(ctx, r, chat.Member{ID: "stale-" + strconv.Itoa(i), Node: "node-1"}))(t)
	}
	want := map[string]int{"node-1": rooms, "node-2": rooms}
	var got map[string]int
	if !poll.Wait(0, func() bool {
		got = mustChat(st.Nodes(ctx))(t)
		return maps.Equal(got, want)
	}) {
		t.Fatalf("Nodes = %v, want %v: ghosts left", got, want)
	}
	for i := range rooms {
		ms := mustChat(st.Members(ctx, "room-"+strconv.Itoa(i)))(t)
		var ids []string
		for _, m := range ms {
			ids = append(ids, m.ID)
		}
		if len(ids) != 2 || !slices.Contains(ids, c1.ID) || !slices.Contains(ids, c2.ID) {
			t.Fatalf("room-%d members after the sweep = %+v", i, ms)
		}
	}
}

// testChatStaleMembersAtStart: members recorded under a node's id by an
// earlier run of it go when it starts, before any sweep; members of other
// nodes stay.
func testChatStaleMembersAtStart(t *testing.T, b ChatBackend) {
	ctx := context.Background()
	nodes := b.NewNodes(t, 2, nil)
	st := nodes[0].Store
	for _, r := range []string{"r1", "r2", "r3"} {
		mustChat(st.Create(ctx, r, 0))(t)
		mustChat(st.Join(ctx, r, chat.Member{ID: "old-" + r, Node: "node-1"}))(t)
		mustChat(st.Join(ctx, r, chat.Member{ID: "other-" + r, Node: "node-9"}))(t)
	}
	// Sweeps an hour apart: only the start can have removed them.
	startChatsWith(t, nodes, func(_ int, cfg *chat.Config) { cfg.SweepInterval = time.Hour })
	checkNodes(t, st, map[string]int{"node-9": 3})
	for _, r := range []string{"r1", "r2", "r3"} {
		if ms := mustChat(st.Members(ctx, r))(t); len(ms) != 1 || ms[0].ID != "other-"+r {
			t.Fatalf("%s members after the start = %+v", r, ms)
		}
	}
}

// testChatCreateTemporary: a room made with chat.Temporary goes once it
// has been empty for its TTL, on every node; the default room and rooms
// made without it stay.
func testChatCreateTemporary(t *testing.T, b ChatBackend) {
	ctx := context.Background()
	ns := startChats(t, b.NewNodes(t, 2, nil))
	for _, ttl := range []time.Duration{0, -time.Second} {
		if err := ns[0].chat.Create(ctx, "bad", chat.Temporary(ttl)); err == nil {
			t.Fatalf("Create with Temporary(%v) succeeded", ttl)
		}
	}
	if err := ns[0].chat.Create(ctx, "lobby"); err != nil {
		t.Fatal(err)
	}
	c, _ := ns[1].connect(t)
	const ttl = 200 * time.Millisecond
	start := time.Now()
	if err := ns[0].chat.Create(ctx, "match", chat.Temporary(ttl)); err != nil {
		t.Fatal(err)
	}
	// On a machine so slow that the TTL passed before the join, the room
	// may be gone already; it must be gone in the end either way.
	if _, err := ns[0].chat.Join(ctx, c.ID, "match"); err != nil && time.Since(start) < ttl {
		t.Fatal(err)
	} else if err == nil {
		time.Sleep(2 * ttl) // long enough to show that a room with a member stays
		if ok, err := ns[0].chat.Exists(ctx, "match"); err != nil || !ok {
			t.Fatalf("a temporary room with a member: Exists = %v, %v", ok, err)
		}
		if _, err := ns[1].chat.Leave(ctx, c.ID, "match"); err != nil {
			t.Fatal(err)
		}
	}
	for _, n := range ns {
		poll.Until(t, "the temporary room to go on "+n.id, 0, func() bool {
			ok, err := n.chat.Exists(ctx, "match")
			return err == nil && !ok
		})
	}
	rooms, err := ns[1].chat.List(ctx)
	if err != nil || !slices.Equal(rooms, []string{"defaultRoom", "lobby"}) {
		t.Fatalf("List = %v, %v; want the permanent rooms", rooms, err)
	}
}
