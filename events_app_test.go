package stellar_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/stellarfw/stellar-go"
	"github.com/stellarfw/stellar-go/action"
	"github.com/stellarfw/stellar-go/apierror"
	"github.com/stellarfw/stellar-go/config"
	"github.com/stellarfw/stellar-go/event"
	"github.com/stellarfw/stellar-go/internal/poll"
)

// seen records the built-in events a node fired, as "name detail".
type seen struct {
	mu  sync.Mutex
	got []string
}

func (s *seen) add(line string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.got = append(s.got, line)
}

func (s *seen) has(line string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Contains(s.got, line)
}

func (s *seen) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return fmt.Sprint(s.got)
}

// TestEventsOverTCP drives a real TCP connection and checks the events the
// node fires for it: open, an action, join, say, and on quit the leave of
// its room and the close.
func TestEventsOverTCP(t *testing.T) {
	app := connApp(t, stellar.Config{})
	s := &seen{}
	// Listeners may be added while the node runs.
	event.On(app.Events, event.ConnectionOpen, 0, func(_ context.Context, c *event.Connection) error {
		s.add("open " + c.Conn.ID + " " + c.Conn.Type)
		return nil
	})
	event.On(app.Events, event.ConnectionClose, 0, func(_ context.Context, c *event.Connection) error {
		s.add("close " + c.Conn.ID)
		return nil
	})
	event.On(app.Events, event.ActionAfter, 0, func(_ context.Context, a *event.Action) error {
		s.add(fmt.Sprintf("action %s %s %v err=%v", a.Name, a.ConnType, a.Params["text"], a.Err))
		return nil
	})
	event.On(app.Events, event.ChatJoin, 0, func(_ context.Context, m *event.ChatMember) error {
		s.add(fmt.Sprintf("join %s %s", m.Room, m.Conn.ID))
		return nil
	})
	event.On(app.Events, event.ChatSay, 0, func(_ context.Context, m *event.ChatMessage) error {
		s.add(fmt.Sprintf("say %s %s %v", m.Room, m.Conn.ID, m.Message))
		return nil
	})
	event.On(app.Events, event.ChatLeave, 0, func(_ context.Context, m *event.ChatMember) error {
		s.add(fmt.Sprintf("leave %s %s closing=%v", m.Room, m.Conn.ID, m.Closing))
		return nil
	})

	c := dialTCP(t, app.TCPAddr())
	id := c.id()
	// The welcome is queued before the event fires: wait for it.
	poll.Until(t, "the open event", 0, func() bool { return s.has("open " + id + " tcp") })

	c.send(`{"action":"echo","params":{"text":"hi"}}`)
	c.read()
	c.send(`roomAdd defaultRoom`)
	c.read()
	c.send(`say defaultRoom hello`)
	c.readUntil("the say reply", func(m msg) bool { return m["context"] == "response" })
	c.send(`quit`)
	c.read()

	want := []string{
		"action echo tcp hi err=<nil>",
		"join defaultRoom " + id,
		"say defaultRoom " + id + " hello",
		"leave defaultRoom " + id + " closing=true",
		"close " + id,
	}
	poll.Until(t, "the close event", 0, func() bool { return s.has("close " + id) })
	for _, w := range want {
		if !s.has(w) {
			t.Errorf("missing event %q; got %v", w, s)
		}
	}
}

// TestDefaultActionTimeout: general.action_timeout reaches the registry.
func TestDefaultActionTimeout(t *testing.T) {
	app := stellar.New(stellar.Config{General: config.General{ActionTimeout: 20 * time.Millisecond}})
	if err := app.Actions.Register(&action.Action{Name: "hang", Run: func(ctx context.Context, _ *action.Request) error {
		<-ctx.Done()
		return ctx.Err()
	}}); err != nil {
		t.Fatal(err)
	}
	_ = app.Config() // applies the configuration given to New
	_, err := app.Actions.Call(context.Background(), "hang", nil)
	var ae *apierror.Error
	if !errors.As(err, &ae) || ae.Code != apierror.CodeTimeout || ae.HTTPStatus() != http.StatusGatewayTimeout {
		t.Fatalf("err = %v, want a 504 timeout from the default", err)
	}
}
