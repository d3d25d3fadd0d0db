package ws

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/stellarfw/stellar-go/action"
	"github.com/stellarfw/stellar-go/backend/memory"
	"github.com/stellarfw/stellar-go/chat"
	"github.com/stellarfw/stellar-go/cluster"
	"github.com/stellarfw/stellar-go/connection"
	"github.com/stellarfw/stellar-go/internal/lifecycle"
	"github.com/stellarfw/stellar-go/internal/logging"
	"github.com/stellarfw/stellar-go/internal/session"
	"github.com/stellarfw/stellar-go/internal/session/sessiontest"
)

// harness is one node's chat and actions on the memory backend, without
// listeners: what the WebSocket handler hands each message to.
func harness(tb testing.TB) *session.Options {
	tb.Helper()
	ctx := context.Background()
	b := memory.New(memory.Config{})
	cl := cluster.New()
	conns := connection.NewRegistry()
	ch := chat.New(conns, cl)
	if err := cl.Start(ctx, b.Cluster(), cluster.Config{ID: "fuzz", Token: "t", Logger: logging.Discard(), OwnsConnection: conns.Owns}, lifecycle.Key{}); err != nil {
		tb.Fatal(err)
	}
	if err := ch.Start(ctx, b.Chat(), chat.Config{NodeID: "fuzz", Logger: logging.Discard()}, lifecycle.Key{}); err != nil {
		tb.Fatal(err)
	}
	actions := action.NewRegistry(logging.Discard(), "fuzz")
	if err := actions.Register(&action.Action{Name: "echo", Run: func(ctx context.Context, r *action.Request) error {
		r.Response["params"] = r.Params
		return nil
	}}); err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() {
		_ = ch.Stop(ctx, lifecycle.Key{})
		_ = cl.Stop(ctx, lifecycle.Key{})
		_ = b.Close()
	})
	return &session.Options{NodeID: "fuzz", Actions: actions, Chat: ch, Conns: conns, Logger: logging.Discard(), MaxInFlight: 4, QueueSize: 1024}
}

// FuzzHandleMessage: any frame gets exactly one reply (valid JSON with a
// context and the frame's messageId) or, for a valid say or emit, the
// reply and the room message; the handler never panics and the session
// stays usable.
func FuzzHandleMessage(f *testing.F) {
	for _, s := range []string{
		`{"action":"echo","params":{"a":1}}`, `{"verb":"roomAdd","room":"defaultRoom"}`,
		`{"verb":"say","room":"defaultRoom","message":[1,"two",{"3":null}]}`, `{"verb":"emit","event":"e","data":{}}`,
		`{"verb":"paramAdd","key":"k","value":{"deep":[[[]]]}}`, `{"verb":"roomView"}`, `{"verb":"quit"}`,
		`{"verb":"detailsView"}`, `{"action":""}`, `not json`, `{"verb":"roomLeave","room":""}`, "",
	} {
		f.Add([]byte(s))
	}
	opts := harness(f)
	f.Fuzz(func(t *testing.T, frame []byte) {
		s, k := sessiontest.New(t, opts, connection.TypeWebSocket, "127.0.0.1")
		if err := s.Open(context.Background()); err != nil {
			t.Fatal(err)
		}
		defer s.Close(context.Background())
		<-k.Out // welcome
		s.Handle(frame)
		deadline := time.After(5 * time.Second)
		for {
			select {
			case b := <-k.Out:
				var m map[string]any
				if err := json.Unmarshal(b, &m); err != nil {
					t.Fatalf("reply is not JSON: %q", b)
				}
				if m["context"] == "user" {
					continue // the room message of a say or emit
				}
				if m["context"] != "response" || m["messageId"] != float64(1) {
					t.Fatalf("reply to %q = %v", frame, m)
				}
				return
			case <-deadline:
				t.Fatalf("no reply to %q", frame)
			}
		}
	})
}
