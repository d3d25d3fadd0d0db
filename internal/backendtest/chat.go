package backendtest

import (
	"context"
	"encoding/json"
	"errors"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/stellarfw/stellar-go/chat"
	"github.com/stellarfw/stellar-go/cluster"
	"github.com/stellarfw/stellar-go/connection"
	"github.com/stellarfw/stellar-go/internal/logging"
	"github.com/stellarfw/stellar-go/internal/poll"
)

// ChatBackend is what RunChat needs from a backend under test.
type ChatBackend struct {
	// NewNodes returns n nodes' chat stores and cluster transports, on the
	// same fresh, empty data and bus, as n nodes of one cluster would open
	// them, released when t ends.
	NewNodes func(t *testing.T, n int) []ChatNode
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
		{"Sweep", testChatSweep},
		{"OddNames", testChatOddNames},
	} {
		t.Run(tc.name, func(t *testing.T) {
			n := b.NewNodes(t, 2)
			tc.fn(t, n[0].Store, n[1].Store)
		})
	}
	for _, tc := range []struct {
		name string
		fn   func(t *testing.T, b ChatBackend)
	}{
		{"StartingRooms", testChatStartingRooms},
		{"DestroyTellsMembers", testChatDestroyTellsMembers},
		{"SendToAnyNode", testChatSendToAnyNode},
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
	if !mustChat(a.Create(ctx, "lobby"))(t) {
		t.Fatal("Create of a new room reported false")
	}
	if mustChat(b.Create(ctx, "lobby"))(t) {
		t.Fatal("Create of an existing room, from another node, reported true")
	}
	mustChat(b.Create(ctx, "attic"))(t)
	if rooms := mustChat(a.List(ctx))(t); !slices.Equal(rooms, []string{"attic", "lobby"}) {
		t.Fatalf("List = %v", rooms)
	}
	if !mustChat(b.Exists(ctx, "lobby"))(t) || mustChat(b.Exists(ctx, "cellar"))(t) {
		t.Fatal("Exists is wrong")
	}
}

func testChatMembership(t *testing.T, a, b chat.Store) {
	ctx := context.Background()
	mustChat(a.Create(ctx, "lobby"))(t)
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
	mustChat(a.Create(ctx, "lobby"))(t)
	mustChat(a.Join(ctx, "lobby", chat.Member{ID: "c1", Node: "n1"}))(t)
	if err := b.Destroy(ctx, "lobby"); err != nil {
		t.Fatal(err)
	}
	if mustChat(a.Exists(ctx, "lobby"))(t) {
		t.Fatal("room exists after Destroy")
	}
	mustChat(a.Create(ctx, "lobby"))(t)
	if ms := mustChat(a.Members(ctx, "lobby"))(t); len(ms) != 0 {
		t.Fatalf("a re-created room kept members: %+v", ms)
	}
}

func testChatSweep(t *testing.T, a, b chat.Store) {
	ctx := context.Background()
	for _, r := range []string{"r1", "r2"} {
		mustChat(a.Create(ctx, r))(t)
		mustChat(a.Join(ctx, r, chat.Member{ID: "alive-" + r, Node: "n1"}))(t)
		mustChat(b.Join(ctx, r, chat.Member{ID: "dead-" + r, Node: "n2"}))(t)
	}
	n := mustChat(a.Sweep(ctx, func(m chat.Member) bool { return m.Node == "n2" }))(t)
	if n != 2 {
		t.Fatalf("Sweep removed %d, want 2", n)
	}
	for _, r := range []string{"r1", "r2"} {
		if ms := mustChat(b.Members(ctx, r))(t); len(ms) != 1 || ms[0].Node != "n1" {
			t.Fatalf("%s members after sweep = %+v", r, ms)
		}
	}
}

func testChatOddNames(t *testing.T, a, b chat.Store) {
	ctx := context.Background()
	for _, r := range []string{"a room", "{tag}", "ünïcode", "x:y*z?", `"quoted"`} {
		mustChat(a.Create(ctx, r))(t)
		mustChat(a.Join(ctx, r, chat.Member{ID: r, Node: "n"}))(t)
		if ms := mustChat(b.Members(ctx, r))(t); len(ms) != 1 || ms[0].ID != r {
			t.Fatalf("%q members = %+v", r, ms)
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
		if i < len(starting) {
			cfg.StartingRooms = starting[i]
		}
		if err := chats[i].Start(ctx, n.Store, cfg); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = chats[i].Stop(ctx) })
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
	ns := startChats(t, b.NewNodes(t, 2), []string{"lobby", "games"}, []string{"lobby", "attic"})
	for _, n := range ns {
		rooms, err := n.chat.List(context.Background())
		if err != nil || !slices.Equal(rooms, []string{"attic", "defaultRoom", "games", "lobby"}) {
			t.Fatalf("%s lists %v, %v", n.id, rooms, err)
		}
	}
}

func testChatDestroyTellsMembers(t *testing.T, b ChatBackend) {
	ctx := context.Background()
	ns := startChats(t, b.NewNodes(t, 2), []string{"games"})
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
	ns := startChats(t, b.NewNodes(t, 2))
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
