package chat_test

import (
	"context"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/stellarfw/stellar-go/backend/memory"
	"github.com/stellarfw/stellar-go/chat"
	"github.com/stellarfw/stellar-go/cluster"
	"github.com/stellarfw/stellar-go/connection"
	"github.com/stellarfw/stellar-go/internal/logging"
)

// A node's chat on the memory backend: a connection joins a room, and a
// message said there comes back to it, changed by middleware. In an app
// all of this is wired by stellar.New: use app.Chat.
func Example() {
	ctx := context.Background()
	b := memory.New(memory.Config{})
	defer b.Close()
	cl := cluster.New()
	conns := connection.NewRegistry()
	rooms := chat.New(conns, cl)
	_ = cl.Start(ctx, b.Cluster(), cluster.Config{ID: "node-1", Token: "secret", Logger: logging.Discard(), OwnsConnection: conns.Owns})
	defer cl.Stop(ctx)
	_ = rooms.Use(&chat.Middleware{
		Name: "shout",
		Say: func(ctx context.Context, from *connection.Conn, m *chat.Message) error {
			m.Message = fmt.Sprint(m.Message, "!")
			return nil
		},
	})
	_ = rooms.Start(ctx, b.Chat(), chat.Config{NodeID: "node-1", Logger: logging.Discard()})
	defer rooms.Stop(ctx)

	c := connection.New(connection.TypeWebSocket, "127.0.0.1", "node-1")
	got := make(chan *chat.Message, 1)
	c.SetSender(func(v any) error { got <- v.(*chat.Message); return nil })
	_ = conns.Add(ctx, c)

	_ = rooms.Create(ctx, "lobby")
	joined, _ := rooms.Join(ctx, c.ID, "lobby")
	_ = rooms.Broadcast(ctx, c, "lobby", "hello")
	m := <-got
	st, _ := rooms.Status(ctx, "lobby")
	list, _ := rooms.List(ctx)
	fmt.Println(joined, m.Room, m.Message, st.MembersCount, list)
	// Output: true lobby hello! 1 [defaultRoom lobby]
}

// A room made with Temporary goes once it has had no members for its TTL;
// other rooms stay. The memory backend's clock is a fake one here, so
// that the example need not wait.
func ExampleTemporary() {
	ctx := context.Background()
	var clock atomic.Int64 // Unix nanoseconds; the backend reads it from its own goroutines
	clock.Store(time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC).UnixNano())
	b := memory.New(memory.Config{Now: func() time.Time { return time.Unix(0, clock.Load()) }})
	defer b.Close()
	cl := cluster.New()
	conns := connection.NewRegistry()
	rooms := chat.New(conns, cl)
	_ = cl.Start(ctx, b.Cluster(), cluster.Config{ID: "node-1", Token: "secret", Logger: logging.Discard(), OwnsConnection: conns.Owns})
	defer cl.Stop(ctx)
	_ = rooms.Start(ctx, b.Chat(), chat.Config{NodeID: "node-1", Logger: logging.Discard()})
	defer rooms.Stop(ctx)

	_ = rooms.Create(ctx, "lobby")
	_ = rooms.Create(ctx, "match-42", chat.Temporary(10*time.Minute))
	before, _ := rooms.List(ctx)
	clock.Add(int64(10 * time.Minute)) // nobody joined
	after, _ := rooms.List(ctx)
	fmt.Println(before, after)
	// Output: [defaultRoom lobby match-42] [defaultRoom lobby]
}
