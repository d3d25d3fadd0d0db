package chat_test

import (
	"context"
	"fmt"

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
