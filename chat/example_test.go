package chat_test

import (
	"context"
	"fmt"
	"log/slog"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stellarfw/stellar-go"

	"github.com/stellarfw/stellar-go/backend/memory"
	"github.com/stellarfw/stellar-go/chat"
	"github.com/stellarfw/stellar-go/cluster"
	"github.com/stellarfw/stellar-go/connection"
	"github.com/stellarfw/stellar-go/internal/lifecycle"
	"github.com/stellarfw/stellar-go/internal/logging"
)

// A node's chat: a connection joins a room, and a message said there
// comes back to it, changed by middleware.
func Example() {
	cfg := stellar.Config{}
	cfg.HTTP.Addr, cfg.TCP.Addr = "off", "off"
	cfg.ID = "node-1"
	app := stellar.New(cfg, stellar.WithLogger(slog.New(slog.DiscardHandler)))
	_ = app.Chat.Use(&chat.Middleware{
		Name: "shout",
		Say: func(ctx context.Context, from *connection.Conn, m *chat.Message) error {
			m.Message = fmt.Sprint(m.Message, "!")
			return nil
		},
	})
	ctx := context.Background()
	if err := app.Start(ctx); err != nil { // the node starts chat
		panic(err)
	}
	defer app.Shutdown(ctx)

	c := connection.New(connection.TypeWebSocket, "127.0.0.1", "node-1")
	got := make(chan *chat.Message, 1)
	c.SetSender(func(v any) error { got <- v.(*chat.Message); return nil })
	_ = app.Connections.Add(ctx, c)

	rooms := app.Chat
	_ = rooms.Create(ctx, "lobby")
	joined, _ := rooms.Join(ctx, c.ID, "lobby")
	_ = rooms.Broadcast(ctx, c, "lobby", "hello")
	m := <-got
	st, _ := rooms.Status(ctx, "lobby")
	list, _ := rooms.List(ctx)
	fmt.Println(joined, m.Room, m.Message, st.MembersCount, list)
	// Output: true lobby hello! 1 [defaultRoom lobby]
}

// TestTemporary: a room made with Temporary goes once it has had no
// members for its TTL; other rooms stay. The memory backend's clock is a
// fake one here, so that the test need not wait.
func TestTemporary(t *testing.T) {
	ctx := context.Background()
	var clock atomic.Int64 // Unix nanoseconds; the backend reads it from its own goroutines
	clock.Store(time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC).UnixNano())
	b := memory.New(memory.Config{Now: func() time.Time { return time.Unix(0, clock.Load()) }})
	defer b.Close()
	cl := cluster.New()
	conns := connection.NewRegistry()
	rooms := chat.New(conns, cl)
	_ = cl.Start(ctx, b.Cluster(), cluster.Config{ID: "node-1", Token: "secret", Logger: logging.Discard(), OwnsConnection: conns.Owns}, lifecycle.Key{})
	defer cl.Stop(ctx, lifecycle.Key{})
	_ = rooms.Start(ctx, b.Chat(), chat.Config{NodeID: "node-1", Logger: logging.Discard()}, lifecycle.Key{})
	defer rooms.Stop(ctx, lifecycle.Key{})

	_ = rooms.Create(ctx, "lobby")
	_ = rooms.Create(ctx, "match-42", chat.Temporary(10*time.Minute))
	before, _ := rooms.List(ctx)
	clock.Add(int64(10 * time.Minute)) // nobody joined
	after, _ := rooms.List(ctx)
	if fmt.Sprint(before, after) != "[defaultRoom lobby match-42] [defaultRoom lobby]" {
		t.Fatalf("rooms before and after the TTL: %v %v", before, after)
	}
}
