package backendtest

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/stellarfw/stellar-go/chat"
)

// ChatBackend is what RunChat needs from a backend under test.
type ChatBackend struct {
	// NewStores returns n stores on the same fresh, empty data, as n nodes
	// of one cluster would open them, released when t ends.
	NewStores func(t *testing.T, n int) []chat.Store
}

// RunChat runs the chat store conformance suite against a backend.
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
			s := b.NewStores(t, 2)
			tc.fn(t, s[0], s[1])
		})
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
