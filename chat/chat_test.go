package chat_test

import (
	"context"
	"encoding/json"
	"errors"
	"maps"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/stellarfw/stellar-go/backend/memory"
	"github.com/stellarfw/stellar-go/chat"
	"github.com/stellarfw/stellar-go/cluster"
	"github.com/stellarfw/stellar-go/connection"
	"github.com/stellarfw/stellar-go/internal/lifecycle"
	"github.com/stellarfw/stellar-go/internal/logging"
	"github.com/stellarfw/stellar-go/internal/poll"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// node is one node's chat on a shared memory backend.
type node struct {
	id    string
	chat  *chat.Chat
	conns *connection.Registry
	cl    *cluster.Cluster
}

func newNodes(t *testing.T, ids ...string) ([]*node, *memory.Backend) {
	t.Helper()
	b := memory.New(memory.Config{})
	t.Cleanup(func() { _ = b.Close() })
	var out []*node
	for _, id := range ids {
		out = append(out, startNode(t, b, chat.Config{NodeID: id, Logger: logging.Discard(), SweepInterval: 20 * time.Millisecond}))
	}
	for _, n := range out {
		poll.Until(t, n.id+" sees every node", 0, func() bool { return len(n.cl.Members()) == len(ids) })
	}
	return out, b
}

// startNode starts a node's cluster and chat on b, stopped when t ends.
func startNode(t *testing.T, b *memory.Backend, cfg chat.Config) *node {
	t.Helper()
	ctx := context.Background()
	cl := cluster.New()
	conns := connection.NewRegistry()
	ch := chat.New(conns, cl)
	if err := cl.Start(ctx, b.Cluster(), cluster.Config{ID: cfg.NodeID, Token: "t", Logger: logging.Discard(),
		HeartbeatInterval: 20 * time.Millisecond, OwnsConnection: conns.Owns}, lifecycle.Key{}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cl.Stop(ctx, lifecycle.Key{}) })
	if err := ch.Start(ctx, b.Chat(), cfg, lifecycle.Key{}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = ch.Stop(ctx, lifecycle.Key{}) })
	return &node{id: cfg.NodeID, chat: ch, conns: conns, cl: cl}
}

// connect adds a connection to n whose messages arrive on the channel,
// as JSON, as its client would read them.
func (n *node) connect(t *testing.T) (*connection.Conn, chan []byte) {
	t.Helper()
	c := connection.New(connection.TypeTCP, "127.0.0.1", n.id)
	got := make(chan []byte, 16)
	c.SetSender(func(v any) error {
		b, err := json.Marshal(v)
		if err != nil {
			return err
		}
		got <- b
		return nil
	})
	if err := n.conns.Add(context.Background(), c); err != nil {
		t.Fatal(err)
	}
	return c, got
}

// receiveRaw returns the next message a connection's client got.
func receiveRaw(t *testing.T, ch chan []byte) []byte {
	t.Helper()
	select {
	case b := <-ch:
		return b
	case <-time.After(poll.DefaultTimeout):
		t.Fatal("no message")
		return nil
	}
}

// receive returns the next room message a connection's client got.
func receive(t *testing.T, ch chan []byte) *chat.Message {
	t.Helper()
	var m chat.Message
	if b := receiveRaw(t, ch); json.Unmarshal(b, &m) != nil {
		t.Fatalf("not a room message: %s", b)
	}
	return &m
}

// nothing fails t if a client got a message.
func nothing(t *testing.T, ch chan []byte) {
	t.Helper()
	select {
	case b := <-ch:
		t.Fatalf("unexpected message %s", b)
	default:
	}
}

func TestJoinAndLeaveAcrossNodes(t *testing.T) {
	ns, _ := newNodes(t, "n1", "n2")
	ctx := context.Background()
	c2, _ := ns[1].connect(t)
	added, err := ns[0].chat.Join(ctx, c2.ID, "defaultRoom")
	if err != nil || !added {
		t.Fatalf("Join through n1 = %v, %v", added, err)
	}
	if !c2.InRoom("defaultRoom") || ns[1].chat.LocalMembers("defaultRoom") != 1 {
		t.Fatal("the owner did not record the join")
	}
	st, err := ns[0].chat.Status(ctx, "defaultRoom")
	if err != nil || st.MembersCount != 1 || st.Members[c2.ID].Node != "n2" {
		t.Fatalf("Status = %+v, %v", st, err)
	}
	if _, err := ns[0].chat.Join(ctx, c2.ID, "nowhere"); !errors.Is(err, chat.ErrNoRoom) {
		t.Fatalf("remote Join of a missing room = %v", err)
	}
	if _, err := ns[0].chat.Join(ctx, "nobody", "defaultRoom"); !errors.Is(err, chat.ErrNoConnection) {
		t.Fatalf("Join of an unknown connection = %v", err)
	}
	left, err := ns[0].chat.Leave(ctx, c2.ID, "defaultRoom")
	if err != nil || !left || c2.InRoom("defaultRoom") {
		t.Fatalf("Leave through n1 = %v, %v", left, err)
	}
	if err := ns[0].chat.Create(ctx, ""); !errors.Is(err, chat.ErrRoomName) {
		t.Fatalf("Create of an empty name = %v", err)
	}
}

func TestBroadcastReachesEveryNode(t *testing.T) {
	ns, _ := newNodes(t, "n1", "n2")
	ctx := context.Background()
	c1, got1 := ns[0].connect(t)
	c2, got2 := ns[1].connect(t)
	_, outside := ns[1].connect(t)
	for _, c := range []*connection.Conn{c1, c2} {
		if _, err := ns[0].chat.Join(ctx, c.ID, "defaultRoom"); err != nil {
			t.Fatal(err)
		}
	}
	if err := ns[0].chat.Broadcast(ctx, c1, "defaultRoom", "hi"); err != nil {
		t.Fatal(err)
	}
	for _, ch := range []chan []byte{got1, got2} {
		if m := receive(t, ch); m.Message != "hi" || m.From != c1.ID || m.Room != "defaultRoom" || m.Context != "user" {
			t.Fatalf("message = %+v", m)
		}
	}
	if err := ns[1].chat.Emit(ctx, "defaultRoom", "moved", map[string]any{"x": 1}, nil); err != nil {
		t.Fatal(err)
	}
	if m := receive(t, got1); m.Event != "moved" || m.From != "0" || m.Data.(map[string]any)["x"] != 1.0 {
		t.Fatalf("event = %+v", m)
	}
	receive(t, got2)
	nothing(t, outside)
	if err := ns[0].chat.Broadcast(ctx, c1, "elsewhere", "x"); !errors.Is(err, chat.ErrNotMember) {
		t.Fatalf("Broadcast outside the room = %v", err)
	}
	if err := ns[0].chat.Broadcast(ctx, nil, "elsewhere", "x"); !errors.Is(err, chat.ErrNoRoom) {
		t.Fatalf("server Broadcast to a missing room = %v", err)
	}
}

func TestMiddleware(t *testing.T) {
	ns, _ := newNodes(t, "n1")
	n := ns[0]
	ctx := context.Background()
	if err := n.chat.Use(
		&chat.Middleware{Name: "second", Priority: 20, Say: func(ctx context.Context, from *connection.Conn, m *chat.Message) error {
			m.Message = m.Message.(string) + "-second"
			return nil
		}},
		&chat.Middleware{Name: "first", Priority: 10, Say: func(ctx context.Context, from *connection.Conn, m *chat.Message) error {
			if m.Message == "panic" {
				panic("boom")
			}
			m.Message = m.Message.(string) + "-first"
			return nil
		}},
	); err != nil {
		t.Fatal(err)
	}
	if err := n.chat.Use(&chat.Middleware{Name: "first", Join: func(context.Context, *connection.Conn, string) error { return nil }}); err == nil {
		t.Fatal("a duplicate name was accepted")
	}
	if err := n.chat.Use(&chat.Middleware{Name: "empty"}); err == nil {
		t.Fatal("middleware without a hook was accepted")
	}
	c, got := n.connect(t)
	if _, err := n.chat.JoinConn(ctx, c, "defaultRoom"); err != nil {
		t.Fatal(err)
	}
	if err := n.chat.Broadcast(ctx, c, "defaultRoom", "m"); err != nil {
		t.Fatal(err)
	}
	if m := receive(t, got); m.Message != "m-first-second" {
		t.Fatalf("message = %v", m.Message)
	}
	if err := n.chat.Broadcast(ctx, c, "defaultRoom", "panic"); err == nil || err.Error() != "chat: middleware first panicked: boom" {
		t.Fatalf("panicking middleware = %v", err)
	}
}

// TestSweep: members of nodes that are not live, and this node's members
// whose connection is gone, are removed; live ones stay.
func TestSweep(t *testing.T) {
	ns, backend := newNodes(t, "n1", "n2")
	ctx := context.Background()
	c1, _ := ns[0].connect(t)
	c2, _ := ns[1].connect(t)
	for _, c := range []*connection.Conn{c1, c2} {
		if _, err := ns[0].chat.Join(ctx, c.ID, "defaultRoom"); err != nil {
			t.Fatal(err)
		}
	}
	// A ghost of a dead node and a ghost of n1's own past.
	st := backend.Chat()
	for _, m := range []chat.Member{{ID: "ghost", Node: "dead"}, {ID: "old", Node: "n1"}} {
		if _, err := st.Join(ctx, "defaultRoom", m); err != nil {
			t.Fatal(err)
		}
	}
	var s chat.Status
	if !poll.Wait(0, func() bool {
		var err error
		s, err = ns[1].chat.Status(ctx, "defaultRoom")
		if err != nil {
			t.Fatal(err)
		}
		return s.MembersCount == 2 && s.Members[c1.ID].ID != "" && s.Members[c2.ID].ID != ""
	}) {
		t.Fatalf("members = %+v", s.Members)
	}
}

// TestRestoreAfterDataLoss: when the backend loses the rooms (Redis
// restarted empty), the next sweep creates the default room again and
// records this node's rooms and members.
func TestRestoreAfterDataLoss(t *testing.T) {
	ns, backend := newNodes(t, "n1")
	ctx := context.Background()
	c, _ := ns[0].connect(t)
	if err := ns[0].chat.Create(ctx, "games"); err != nil {
		t.Fatal(err)
	}
	for _, r := range []string{"defaultRoom", "games"} {
		if _, err := ns[0].chat.Join(ctx, c.ID, r); err != nil {
			t.Fatal(err)
		}
	}
	st := backend.Chat()
	for _, r := range []string{"defaultRoom", "games"} {
		if err := st.Destroy(ctx, r); err != nil {
			t.Fatal(err)
		}
	}
	var (
		s, d      chat.Status
		err, err2 error
	)
	if !poll.Wait(0, func() bool {
		s, err = ns[0].chat.Status(ctx, "games")
		d, err2 = ns[0].chat.Status(ctx, "defaultRoom")
		return err == nil && err2 == nil && s.MembersCount == 1 && d.MembersCount == 1
	}) {
		t.Fatalf("not restored: %+v %v / %+v %v", s, err, d, err2)
	}
}

// TestStartingRooms: Start creates the default room and the starting
// rooms, each once, keeps a room that exists with its members, refuses a
// bad name, and creates them all again when the backend lost its data.
func TestStartingRooms(t *testing.T) {
	ctx := context.Background()
	b := memory.New(memory.Config{})
	t.Cleanup(func() { _ = b.Close() })
	st := b.Chat()
	if _, err := st.Create(ctx, "games", 0); err != nil {
		t.Fatal(err)
	}
	if _, err := st.Join(ctx, "games", chat.Member{ID: "c9", Node: "n9"}); err != nil {
		t.Fatal(err)
	}

	bad := chat.New(connection.NewRegistry(), cluster.New())
	if err := bad.Start(ctx, st, chat.Config{NodeID: "n0", StartingRooms: []string{"lobby", ""}}, lifecycle.Key{}); !errors.Is(err, chat.ErrRoomName) {
		t.Fatalf("Start with an empty starting room = %v", err)
	}

	// A sweep an hour away: this test sweeps by hand.
	n := startNode(t, b, chat.Config{NodeID: "n1", Logger: logging.Discard(), SweepInterval: time.Hour,
		DefaultRoom: "hall", StartingRooms: []string{"lobby", "games", "lobby"}})
	if got := n.chat.StartingRooms(); !slices.Equal(got, []string{"hall", "lobby", "games"}) {
		t.Fatalf("StartingRooms = %v", got)
	}
	rooms, err := n.chat.List(ctx)
	if err != nil || !slices.Equal(rooms, []string{"games", "hall", "lobby"}) {
		t.Fatalf("List = %v, %v", rooms, err)
	}
	if s, err := n.chat.Status(ctx, "games"); err != nil || s.MembersCount != 1 {
		t.Fatalf("an existing starting room lost its members: %+v, %v", s, err)
	}

	// The backend loses everything (a Redis restarted empty).
	for _, r := range rooms {
		if err := st.Destroy(ctx, r); err != nil {
			t.Fatal(err)
		}
	}
	poll.Until(t, "the node to see itself listed", 0, func() bool { return len(n.cl.Members()) == 1 })
	if _, err := n.chat.Sweep(ctx); err != nil {
		t.Fatal(err)
	}
	if rooms, err := n.chat.List(ctx); err != nil || !slices.Equal(rooms, []string{"games", "hall", "lobby"}) {
		t.Fatalf("List after the backend lost its data = %v, %v", rooms, err)
	}

	// Without StartingRooms the default room is the only one.
	b2 := memory.New(memory.Config{})
	t.Cleanup(func() { _ = b2.Close() })
	n2 := startNode(t, b2, chat.Config{NodeID: "n2", Logger: logging.Discard(), SweepInterval: time.Hour})
	if rooms, err := n2.chat.List(ctx); err != nil || !slices.Equal(rooms, []string{chat.DefaultRoomName}) {
		t.Fatalf("List with no starting rooms = %v, %v", rooms, err)
	}
}

// TestDestroyTellsMembers: every member of a destroyed room, on the node
// that destroyed it and on another, gets the destroyed event and is then
// out of the room; OnSayReceive middleware does not hold the event back,
// and members of other rooms hear nothing.
func TestDestroyTellsMembers(t *testing.T) {
	ns, _ := newNodes(t, "n1", "n2")
	ctx := context.Background()
	for _, n := range ns {
		if err := n.chat.Use(&chat.Middleware{Name: "deaf", OnSayReceive: func(context.Context, *connection.Conn, *chat.Message) error {
			return errors.New("hears nothing")
		}}); err != nil {
			t.Fatal(err)
		}
	}
	if err := ns[0].chat.Create(ctx, "games"); err != nil {
		t.Fatal(err)
	}
	c1, got1 := ns[0].connect(t)
	c2, got2 := ns[1].connect(t)
	c3, got3 := ns[1].connect(t)
	for _, c := range []*connection.Conn{c1, c2} {
		for _, r := range []string{"games", "defaultRoom"} {
			if _, err := ns[0].chat.Join(ctx, c.ID, r); err != nil {
				t.Fatal(err)
			}
		}
	}
	if _, err := ns[0].chat.Join(ctx, c3.ID, "defaultRoom"); err != nil {
		t.Fatal(err)
	}

	before := time.Now().UnixMilli()
	if err := ns[0].chat.Destroy(ctx, "games"); err != nil {
		t.Fatal(err)
	}
	for i, tc := range []struct {
		conn *connection.Conn
		got  chan []byte
		node *node
	}{{c1, got1, ns[0]}, {c2, got2, ns[1]}} {
		m := receive(t, tc.got)
		if m.Context != chat.ContextUser || m.Room != "games" || m.From != "0" || m.Event != chat.EventDestroyed || m.SentAt < before {
			t.Fatalf("member %d got %+v", i+1, m)
		}
		poll.Until(t, "the member to be out of the room", 0, func() bool {
			return !tc.conn.InRoom("games") && tc.node.chat.LocalMembers("games") == 0
		})
		if !tc.conn.InRoom("defaultRoom") || tc.node.chat.LocalMembers("defaultRoom") == 0 {
			t.Fatalf("member %d left the rooms that were not destroyed", i+1)
		}
	}
	if ok, err := ns[1].chat.Exists(ctx, "games"); err != nil || ok {
		t.Fatalf("Exists after Destroy = %v, %v", ok, err)
	}
	// The room made again starts empty: the members of the old one are
	// not in it, and hear nothing said there.
	if err := ns[1].chat.Create(ctx, "games"); err != nil {
		t.Fatal(err)
	}
	if s, err := ns[1].chat.Status(ctx, "games"); err != nil || s.MembersCount != 0 {
		t.Fatalf("the room made again has members: %+v, %v", s, err)
	}
	if err := ns[0].chat.Broadcast(ctx, c1, "games", "x"); !errors.Is(err, chat.ErrNotMember) {
		t.Fatalf("a former member says something in the room made again: %v", err)
	}
	nothing(t, got3)
}

// TestSend: Send reaches a connection on this node and on another with the
// same JSON, and fails clearly for an id no node owns and for a connection
// that cannot receive messages.
func TestSend(t *testing.T) {
	ns, _ := newNodes(t, "n1", "n2")
	ctx := context.Background()
	c1, got1 := ns[0].connect(t)
	c2, got2 := ns[1].connect(t)
	msg := map[string]any{"context": "api", "note": "hello", "n": 1}
	want, _ := json.Marshal(msg)
	for _, tc := range []struct {
		name string
		conn *connection.Conn
		got  chan []byte
	}{{"local", c1, got1}, {"remote", c2, got2}} {
		t.Run(tc.name, func(t *testing.T) {
			if err := ns[0].chat.Send(ctx, tc.conn.ID, msg); err != nil {
				t.Fatal(err)
			}
			if b := receiveRaw(t, tc.got); string(b) != string(want) {
				t.Fatalf("the client got %s, want %s", b, want)
			}
		})
	}
	nothing(t, got1)

	err := ns[0].chat.Send(ctx, "nobody", msg)
	if !errors.Is(err, chat.ErrNoConnection) || !errors.Is(err, cluster.ErrNoOwner) || !strings.Contains(err.Error(), `"nobody"`) {
		t.Fatalf("Send to an unknown id = %v", err)
	}

	// A connection that cannot be pushed to, on the other node.
	web := connection.New(connection.TypeWeb, "127.0.0.1", "n2")
	if err := ns[1].conns.Add(ctx, web); err != nil {
		t.Fatal(err)
	}
	if err := ns[0].chat.Send(ctx, web.ID, msg); !errors.Is(err, connection.ErrNoSender) {
		t.Fatalf("remote Send to a connection without a sender = %v", err)
	}
	if err := ns[1].chat.Send(ctx, web.ID, msg); !errors.Is(err, connection.ErrNoSender) {
		t.Fatalf("local Send to a connection without a sender = %v", err)
	}
	if err := ns[0].chat.Send(ctx, c2.ID, make(chan int)); err == nil {
		t.Fatal("a message that is not JSON was sent to another node")
	}
	nothing(t, got2)
}

// countingStore counts the calls made to a Store, by method.
type countingStore struct {
	chat.Store
	mu    sync.Mutex
	calls map[string]int // guarded by mu
}

func (s *countingStore) count(method string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.calls[method]++
}

// take returns the calls counted since the last take.
func (s *countingStore) take() map[string]int {
	s.mu.Lock()
	defer s.mu.Unlock()
	c := s.calls
	s.calls = make(map[string]int)
	return c
}

func (s *countingStore) Create(ctx context.Context, room string, ttl time.Duration) (bool, error) {
	s.count("Create")
	return s.Store.Create(ctx, room, ttl)
}

func (s *countingStore) Destroy(ctx context.Context, room string) error {
	s.count("Destroy")
	return s.Store.Destroy(ctx, room)
}

func (s *countingStore) Join(ctx context.Context, room string, m chat.Member) (bool, error) {
	s.count("Join")
	return s.Store.Join(ctx, room, m)
}

func (s *countingStore) Exists(ctx context.Context, room string) (bool, error) {
	s.count("Exists")
	return s.Store.Exists(ctx, room)
}

func (s *countingStore) List(ctx context.Context) ([]string, error) {
	s.count("List")
	return s.Store.List(ctx)
}

func (s *countingStore) Leave(ctx context.Context, room, id string) (bool, error) {
	s.count("Leave")
	return s.Store.Leave(ctx, room, id)
}

func (s *countingStore) Members(ctx context.Context, room string) ([]chat.Member, error) {
	s.count("Members")
	return s.Store.Members(ctx, room)
}

func (s *countingStore) Nodes(ctx context.Context) (map[string]int, error) {
	s.count("Nodes")
	return s.Store.Nodes(ctx)
}

func (s *countingStore) NodeMembers(ctx context.Context, node string) ([]chat.Membership, error) {
	s.count("NodeMembers")
	return s.Store.NodeMembers(ctx, node)
}

func (s *countingStore) RemoveNode(ctx context.Context, node string) (int, error) {
	s.count("RemoveNode")
	return s.Store.RemoveNode(ctx, node)
}

func (s *countingStore) Expire(ctx context.Context) (int, error) {
	s.count("Expire")
	return s.Store.Expire(ctx)
}

// TestSweepCostIndependentOfRooms: a sweep makes the same store calls
// with 1 room or 2,000, members or not; a dead node's members in every
// room go with one RemoveNode; this node's own members are read only
// when the store records more of them than the node knows.
func TestSweepCostIndependentOfRooms(t *testing.T) {
	ctx := context.Background()
	sweep := func(t *testing.T, n *node) {
		t.Helper()
		if _, err := n.chat.Sweep(ctx); err != nil {
			t.Fatal(err)
		}
	}
	idle := map[string]int{"Create": 1, "Nodes": 1, "Expire": 1} // the default room, the nodes with members, the rooms whose time is up
	for _, rooms := range []int{1, 2000} {
		t.Run(strconv.Itoa(rooms), func(t *testing.T) {
			b := memory.New(memory.Config{})
			t.Cleanup(func() { _ = b.Close() })
			st := &countingStore{Store: b.Chat(), calls: make(map[string]int)}
			n := startCountedNode(t, b, st)
			c, _ := n.connect(t)
			for i := range rooms {
				r := "room-" + strconv.Itoa(i)
				if err := n.chat.Create(ctx, r); err != nil {
					t.Fatal(err)
				}
				if _, err := n.chat.Join(ctx, c.ID, r); err != nil {
					t.Fatal(err)
				}
			}
			poll.Until(t, "the node to see itself listed", 0, func() bool { return len(n.cl.Members()) == 1 })
			st.take()
			for range 3 {
				sweep(t, n)
				if got := st.take(); !maps.Equal(got, idle) {
					t.Fatalf("an idle sweep called %v, want %v", got, idle)
				}
			}

			// A dead node with a member in every room: gone at the second
			// sweep, in one call.
			for i := range rooms {
				if _, err := b.Chat().Join(ctx, "room-"+strconv.Itoa(i), chat.Member{ID: "ghost-" + strconv.Itoa(i), Node: "dead"}); err != nil {
					t.Fatal(err)
				}
			}
			sweep(t, n)
			if got := st.take(); !maps.Equal(got, idle) {
				t.Fatalf("the first sweep that saw the dead node called %v, want %v", got, idle)
			}
			sweep(t, n)
			if got, want := st.take(), map[string]int{"Create": 1, "Nodes": 1, "RemoveNode": 1, "Expire": 1}; !maps.Equal(got, want) {
				t.Fatalf("the sweep that removed the dead node's members called %v, want %v", got, want)
			}
			if s, err := n.chat.Status(ctx, "room-0"); err != nil || s.MembersCount != 1 {
				t.Fatalf("room-0 after the sweep: %+v, %v", s, err)
			}

			// A member recorded under this node's id that it does not
			// have: one read of its own members, one leave.
			if _, err := b.Chat().Join(ctx, "room-0", chat.Member{ID: "stale", Node: "n1"}); err != nil {
				t.Fatal(err)
			}
			st.take()
			sweep(t, n)
			if got, want := st.take(), map[string]int{"Create": 1, "Nodes": 1, "NodeMembers": 1, "Leave": 1, "Expire": 1}; !maps.Equal(got, want) {
				t.Fatalf("the sweep that removed a stale member called %v, want %v", got, want)
			}
			sweep(t, n)
			if got := st.take(); !maps.Equal(got, idle) {
				t.Fatalf("the next sweep called %v, want %v", got, idle)
			}
		})
	}
}

// startCountedNode starts a node n1 whose chat runs on st, sweeping only
// when the test asks.
func startCountedNode(t *testing.T, b *memory.Backend, st chat.Store) *node {
	t.Helper()
	ctx := context.Background()
	cl := cluster.New()
	conns := connection.NewRegistry()
	ch := chat.New(conns, cl)
	if err := cl.Start(ctx, b.Cluster(), cluster.Config{ID: "n1", Token: "t", Logger: logging.Discard(),
		HeartbeatInterval: 20 * time.Millisecond, OwnsConnection: conns.Owns}, lifecycle.Key{}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cl.Stop(ctx, lifecycle.Key{}) })
	if err := ch.Start(ctx, st, chat.Config{NodeID: "n1", Logger: logging.Discard(), SweepInterval: time.Hour}, lifecycle.Key{}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = ch.Stop(ctx, lifecycle.Key{}) })
	return &node{id: "n1", chat: ch, conns: conns, cl: cl}
}
