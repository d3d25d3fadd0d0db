package stellartest

import (
	"context"
	"encoding/json"
	"fmt"
	"reflect"
	"slices"
	"sync"
	"time"

	"github.com/stellarfw/stellar-go"
	"github.com/stellarfw/stellar-go/apierror"
	"github.com/stellarfw/stellar-go/input"
	"github.com/stellarfw/stellar-go/internal/poll"
	"github.com/stellarfw/stellar-go/internal/session"
)

// replyTimeout bounds the wait for the reply to one message.
const replyTimeout = 15 * time.Second

// Client is a persistent connection to the app, as a TCP or WebSocket
// client has, in-process: it speaks their protocol (one JSON message in,
// replies and pushes out), so that the connection middleware, the verbs
// (roomAdd, say, paramAdd, …), the chat middleware and the connection's
// params all apply. Its methods wait for the reply to what they send;
// the messages pushed to it (chat messages, Chat.Send) are in Messages.
// It closes when the test ends, or with Close.
type Client struct {
	app *App
	s   *session.Session

	sendMu sync.Mutex // one message at a time, so that its id is known

	mu       sync.Mutex
	welcome  map[string]any           // guarded by mu
	replies  map[int64]map[string]any // guarded by mu; by messageId, until taken
	messages []map[string]any         // guarded by mu; pushes, in order
	got      chan struct{}            // guarded by mu; closed and replaced on each message

	closeOnce sync.Once
}

// Connect opens a connection of type connType (WebSocket or TCP): the
// connection middleware runs (an error from it fails the test; see
// TryConnect) and the welcome message arrives.
func (a *App) Connect(connType string) *Client {
	a.tb.Helper()
	c, err := a.TryConnect(connType)
	if err != nil {
		a.tb.Fatalf("stellartest: connect: %v", err)
	}
	return c
}

// TryConnect is Connect that returns the connection middleware's
// refusal, a *stellar.Error, instead of failing the test.
func (a *App) TryConnect(connType string) (*Client, error) {
	if connType != WebSocket && connType != TCP {
		return nil, fmt.Errorf("stellartest: Connect(%q): a persistent connection is %q or %q", connType, WebSocket, TCP)
	}
	cfg := a.Config()
	inFlight := cfg.TCP.MaxInFlight
	if connType == WebSocket {
		inFlight = cfg.WebSocket.MaxInFlight
	}
	c := &Client{app: a, replies: map[int64]map[string]any{}, got: make(chan struct{})}
	s := session.New(&session.Options{
		NodeID: a.ID(), Actions: a.Actions, Chat: a.Chat, Conns: a.Connections,
		Logger: a.Logger(), Events: a.Events, MaxInFlight: inFlight,
	}, connType, "192.0.2.1:1234", (*clientSink)(c))
	c.s = s
	if err := s.Open(a.tb.Context()); err != nil {
		// The refusal was written to the client: it is its first message.
		return nil, apierror.From(err)
	}
	a.tb.Cleanup(c.Close)
	if !poll.Wait(replyTimeout, func() bool { return c.Welcome() != nil }) {
		c.Close()
		return nil, fmt.Errorf("stellartest: no welcome message within %s", replyTimeout)
	}
	return c, nil
}

// clientSink is the client's end of the session: it takes each message
// as written, replies by messageId, the rest as pushes.
type clientSink Client

func (k *clientSink) Send(b []byte) error {
	c := (*Client)(k)
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		return nil // the session sends JSON objects only
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	id, isReply := m["messageId"].(float64)
	switch {
	case c.welcome == nil && m["welcome"] != nil:
		c.welcome = m
	case isReply && m["context"] == "response":
		c.replies[int64(id)] = m
	default:
		c.messages = append(c.messages, m)
	}
	close(c.got)
	c.got = make(chan struct{})
	return nil
}

// Flush has nothing to do: Send kept nothing.
func (k *clientSink) Flush() error { return nil }

// ID is the connection's id, for App.Chat.Join and App.Chat.Send from
// the server side.
func (c *Client) ID() string { return c.s.Conn.ID }

// Conn is the connection, as actions and middleware see it.
func (c *Client) Conn() *stellar.Conn { return c.s.Conn }

// Welcome is the welcome message the connection got on opening; nil
// before it arrived.
func (c *Client) Welcome() map[string]any {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.welcome
}

// Send sends one message, as the client would write it (a verb, or
// {"action": …, "params": …}), and returns its reply; a reply that
// carries an error returns it as a *stellar.Error.
func (c *Client) Send(msg map[string]any) (map[string]any, error) {
	raw, err := json.Marshal(msg)
	if err != nil {
		return nil, fmt.Errorf("stellartest: the message does not encode: %w", err)
	}
	c.sendMu.Lock()
	c.s.Handle(raw)
	id := c.s.Conn.Messages()
	c.sendMu.Unlock()
	reply, ok := c.waitReply(id)
	if !ok {
		return nil, fmt.Errorf("stellartest: no reply to message %d within %s", id, replyTimeout)
	}
	if e, ok := reply["error"].(map[string]any); ok {
		return reply, replyError(e)
	}
	return reply, nil
}

// waitReply waits for the reply to message id and takes it.
func (c *Client) waitReply(id int64) (map[string]any, bool) {
	deadline := time.NewTimer(replyTimeout)
	defer deadline.Stop()
	for {
		c.mu.Lock()
		r, ok := c.replies[id]
		delete(c.replies, id)
		got := c.got
		c.mu.Unlock()
		if ok {
			return r, true
		}
		select {
		case <-got:
		case <-deadline.C:
			return nil, false
		}
	}
}

// replyError is the *stellar.Error of a reply's error object.
func replyError(e map[string]any) error {
	ae := &apierror.Error{} // the status does not travel: the code says what failed
	ae.Code, _ = e["code"].(string)
	ae.Message, _ = e["message"].(string)
	if f, ok := e["fields"].(map[string]any); ok {
		ae.Fields = map[string]string{}
		for k, v := range f {
			ae.Fields[k] = fmt.Sprint(v)
		}
	}
	return ae
}

// verb sends a verb and returns its data.
func (c *Client) verb(msg map[string]any) (any, error) {
	reply, err := c.Send(msg)
	if err != nil {
		return nil, err
	}
	return reply["data"], nil
}

// RoomAdd joins room (roomAdd).
func (c *Client) RoomAdd(room string) error {
	_, err := c.verb(map[string]any{"verb": session.VerbRoomAdd, "room": room})
	return err
}

// RoomLeave leaves room (roomLeave).
func (c *Client) RoomLeave(room string) error {
	_, err := c.verb(map[string]any{"verb": session.VerbRoomLeave, "room": room})
	return err
}

// RoomView returns the members of room, which the connection is in
// (roomView).
func (c *Client) RoomView(room string) (stellar.ChatStatus, error) {
	var st stellar.ChatStatus
	data, err := c.verb(map[string]any{"verb": session.VerbRoomView, "room": room})
	if err != nil {
		return st, err
	}
	return st, remarshal(data, &st)
}

// Say says message in room (say): every member gets it, this client too.
func (c *Client) Say(room string, message any) error {
	_, err := c.verb(map[string]any{"verb": session.VerbSay, "room": room, "message": message})
	return err
}

// Emit emits the event with data in room (emit).
func (c *Client) Emit(room, event string, data any) error {
	_, err := c.verb(map[string]any{"verb": session.VerbEmit, "room": room, "event": event, "data": data})
	return err
}

// ParamAdd sets a param of the connection (paramAdd): every action it
// runs from now on gets it.
func (c *Client) ParamAdd(key string, value any) error {
	_, err := c.verb(map[string]any{"verb": session.VerbParamAdd, "key": key, "value": value})
	return err
}

// Details describes the connection (detailsView).
func (c *Client) Details() (map[string]any, error) {
	data, err := c.verb(map[string]any{"verb": session.VerbDetailsView})
	m, _ := data.(map[string]any)
	return m, err
}

// Messages lists what was pushed to the client (chat messages and
// emits, App.Chat.Send), in order: not the replies to what it sent.
func (c *Client) Messages() []map[string]any {
	c.mu.Lock()
	defer c.mu.Unlock()
	return slices.Clone(c.messages)
}

// WaitMessage waits for a pushed message that match accepts, and
// returns the first; it fails the test after 15 seconds.
func (c *Client) WaitMessage(what string, match func(m map[string]any) bool) map[string]any {
	c.app.tb.Helper()
	var found map[string]any
	c.app.Eventually(what, func() bool {
		for _, m := range c.Messages() {
			if match(m) {
				found = m
				return true
			}
		}
		return false
	})
	return found
}

// Close closes the connection, as a client hanging up does: it leaves
// its rooms and the connection middleware's Destroy runs. Safe to call
// more than once; the test's end calls it.
func (c *Client) Close() {
	c.closeOnce.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), replyTimeout)
		defer cancel()
		c.s.Close(ctx)
	})
}

// RunOn runs the action name over the connection c, as its client
// would, with params (a map, or a typed action's In; the connection's
// params from ParamAdd apply under them), and returns its output as an
// Out, decoded from the reply. The error is the *stellar.Error of the
// reply.
func RunOn[Out any](c *Client, name string, params any) (Out, error) {
	var out Out
	p, err := paramsMap(params)
	if err != nil {
		return out, err
	}
	reply, err := c.Send(map[string]any{"action": name, "params": p})
	if err != nil {
		return out, err
	}
	delete(reply, "context")
	delete(reply, "messageId")
	return out, remarshal(reply, &out)
}

// paramsMap turns params (a map, or a struct whose fields are inputs, as
// a typed action's In) into the JSON object a client sends.
func paramsMap(params any) (map[string]any, error) {
	switch p := params.(type) {
	case nil:
		return nil, nil
	case map[string]any:
		return p, nil
	case stellar.Params:
		return p, nil
	}
	t := reflect.TypeOf(params)
	if t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	st, err := input.StructOf(t)
	if err != nil {
		return nil, fmt.Errorf("stellartest: params: %w", err)
	}
	return st.Params(params)
}

// remarshal converts v to out through JSON.
func remarshal(v, out any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	return json.Unmarshal(b, out)
}
