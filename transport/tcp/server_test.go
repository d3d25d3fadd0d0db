package tcp

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/stellarfw/stellar-go/action"
	"github.com/stellarfw/stellar-go/apierror"
	"github.com/stellarfw/stellar-go/internal/limit"
	"github.com/stellarfw/stellar-go/internal/logging/logtest"
	"github.com/stellarfw/stellar-go/internal/poll"
	"github.com/stellarfw/stellar-go/internal/session/sessiontest"
)

// startServer serves cfg (on a free loopback port) with the actions,
// logging to logger (nothing when nil); it is shut down when t ends.
func startServer(t *testing.T, cfg Config, logger *slog.Logger, actions ...*action.Action) *Server {
	t.Helper()
	cfg.Addr = "127.0.0.1:0"
	actions = append(actions, &action.Action{Name: "ping", Run: func(ctx context.Context, r *action.Request) error {
		r.Response["pong"] = true
		return nil
	}})
	s := New(Options{Config: cfg, Session: sessiontest.Options(t, logger, actions...), Logger: logger})
	if err := s.Listen(); err != nil {
		t.Fatal(err)
	}
	errc := make(chan error, 1)
	go func() { errc <- s.Serve() }()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := s.Shutdown(ctx); err != nil {
			t.Errorf("shutdown: %v", err)
		}
		if err := <-errc; err != nil {
			t.Errorf("serve: %v", err)
		}
	})
	return s
}

type client struct {
	t  *testing.T
	c  net.Conn
	br *bufio.Reader
}

// dial connects to s from the loopback address from (127.0.0.1 when
// empty) and returns the client with the first line the server sent.
func dial(t *testing.T, s *Server, from string) (*client, map[string]any) {
	t.Helper()
	d := net.Dialer{Timeout: 5 * time.Second}
	if from != "" {
		d.LocalAddr = &net.TCPAddr{IP: net.ParseIP(from)}
	}
	c, err := d.Dial("tcp", s.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	cl := &client{t: t, c: c, br: bufio.NewReader(c)}
	return cl, cl.read()
}

func (c *client) send(line string) {
	c.t.Helper()
	if _, err := io.WriteString(c.c, line+"\n"); err != nil {
		c.t.Fatal(err)
	}
}

func (c *client) read() map[string]any {
	c.t.Helper()
	_ = c.c.SetReadDeadline(time.Now().Add(5 * time.Second))
	line, err := c.br.ReadBytes('\n')
	if err != nil {
		c.t.Fatalf("read: %v", err)
	}
	var m map[string]any
	if err := json.Unmarshal(line, &m); err != nil {
		c.t.Fatalf("not JSON: %q", line)
	}
	return m
}

// closed reports whether the server closed the connection.
func (c *client) closed() bool {
	_ = c.c.SetReadDeadline(time.Now().Add(5 * time.Second))
	_, err := c.br.ReadByte()
	return errors.Is(err, io.EOF)
}

func errorOf(m map[string]any) (code, message string) {
	e, _ := m["error"].(map[string]any)
	code, _ = e["code"].(string)
	message, _ = e["message"].(string)
	return code, message
}

// pings checks that c is served.
func (c *client) pings() {
	c.t.Helper()
	c.send(`{"action":"ping"}`)
	if m := c.read(); m["pong"] != true {
		c.t.Fatalf("ping: %v", m)
	}
}

// TestConnectionLimits: past max_connections_per_ip from one address, or
// max_connections in all, a new connection gets one error line and is
// closed; the connections already open and other addresses are served,
// and a slot is free again once a connection closes.
func TestConnectionLimits(t *testing.T) {
	s := startServer(t, Config{MaxConnections: 3, MaxConnectionsPerIP: 2}, nil)
	a1, w := dial(t, s, "127.0.0.1")
	if w["welcome"] == nil {
		t.Fatalf("first connection: %v", w)
	}
	dial(t, s, "127.0.0.1")

	over, m := dial(t, s, "127.0.0.1")
	if code, msg := errorOf(m); code != apierror.CodeIPConnectionLimit || !strings.Contains(msg, "tcp.max_connections_per_ip") {
		t.Fatalf("third from one address: %v", m)
	}
	if !over.closed() {
		t.Fatal("the refused connection was left open")
	}

	b1, w := dial(t, s, "127.0.0.2")
	if w["welcome"] == nil {
		t.Fatalf("another address: %v", w)
	}
	full, m := dial(t, s, "127.0.0.3")
	if code, msg := errorOf(m); code != apierror.CodeConnectionLimit || !strings.Contains(msg, "tcp.max_connections") {
		t.Fatalf("past the node's limit: %v", m)
	}
	if !full.closed() {
		t.Fatal("the refused connection was left open")
	}
	a1.pings()
	b1.pings()

	_ = a1.c.Close()
	poll.Until(t, "the closed connection's slot to be free", 0, func() bool { return s.gate.Open() == 2 })
	if _, w := dial(t, s, "127.0.0.1"); w["welcome"] == nil {
		t.Fatalf("after a close: %v", w)
	}
	if got := s.Refused(); got[limit.ConnectionsPerIP] != 1 || got[limit.Connections] != 1 {
		t.Fatalf("refusals = %v", got)
	}
}

// TestParamLimitsOverTCP: past max_params, or max_params_bytes, paramAdd
// gets param_limit; the connection is kept, and another connection has
// its own allowance.
func TestParamLimitsOverTCP(t *testing.T) {
	s := startServer(t, Config{MaxParams: 2, MaxParamsBytes: 1000}, nil)
	c, _ := dial(t, s, "")
	c.send(`paramAdd a=1`)
	c.send(`{"verb":"paramAdd","key":"b","value":{"x":[1,2,3]}}`)
	c.send(`paramAdd c=1`)
	for i, want := range []string{"", "", apierror.CodeParamLimit} {
		if code, _ := errorOf(c.read()); code != want {
			t.Fatalf("paramAdd %d: code %q, want %q", i+1, code, want)
		}
	}
	c.send(fmt.Sprintf(`{"verb":"paramAdd","key":"a","value":%q}`, strings.Repeat("v", 1000)))
	if code, msg := errorOf(c.read()); code != apierror.CodeParamLimit || !strings.Contains(msg, "tcp.max_params_bytes") {
		t.Fatalf("too many bytes: %s %s", code, msg)
	}
	c.send(`{"verb":"detailsView"}`)
	d := c.read()
	if params := d["data"].(map[string]any)["params"].(map[string]any); len(params) != 2 || params["a"] != "1" {
		t.Fatalf("params after the refusals: %v", params)
	}
	c.pings()
	other, _ := dial(t, s, "")
	other.send(`paramAdd c=1`)
	if code, _ := errorOf(other.read()); code != "" {
		t.Fatalf("another connection: %s", code)
	}
	if got := s.Refused(); got[limit.Params] != 1 || got[limit.ParamsBytes] != 1 {
		t.Fatalf("refusals = %v", got)
	}
}

// TestInternalErrorFrame: an action's unexpected failure reaches a TCP
// client as internal_error with a request id, never its text; the log
// has it once, at ERROR, under that id.
func TestInternalErrorFrame(t *testing.T) {
	rec := &logtest.Recorder{}
	s := startServer(t, Config{}, rec.Logger(), &action.Action{Name: "leaky", Run: func(ctx context.Context, r *action.Request) error {
		return errors.New("redis: unavailable: save: dial tcp 127.0.0.1:6420: connect: connection refused")
	}})
	c, _ := dial(t, s, "")
	c.send(`{"action":"leaky"}`)
	m := c.read()
	e, _ := m["error"].(map[string]any)
	id, _ := e["requestId"].(string)
	if e["code"] != apierror.CodeInternal || e["message"] != apierror.InternalMessage || id == "" || m["messageId"] != float64(1) {
		t.Fatalf("reply = %v", m)
	}
	if b, _ := json.Marshal(m); strings.Contains(string(b), "6420") {
		t.Fatalf("the cause reached the client: %s", b)
	}
	errs := rec.AtLeast(slog.LevelError)
	if len(errs) != 1 || errs[0].Str("request_id") != id || !strings.Contains(errs[0].Str("error"), "6420") || errs[0].Str("conn") != "tcp" {
		t.Fatalf("ERROR lines = %v, want one under %s", errs, id)
	}
	c.pings()
}

// TestClientGoneIs499: a TCP client that disconnects while its action
// runs is a debug line with status 499, and no ERROR.
func TestClientGoneIs499(t *testing.T) {
	rec := &logtest.Recorder{}
	started := make(chan struct{})
	s := startServer(t, Config{}, rec.Logger(), &action.Action{Name: "slow", Run: func(ctx context.Context, r *action.Request) error {
		close(started)
		<-ctx.Done()
		return ctx.Err()
	}})
	c, _ := dial(t, s, "")
	c.send(`{"action":"slow"}`)
	<-started
	_ = c.c.Close()
	poll.Until(t, "the 499 line", 0, func() bool { return len(rec.Find("action canceled: the caller went away")) == 1 })
	l := rec.Find("action canceled: the caller went away")[0]
	if l.Str("level") != "DEBUG" || l.Str("status") != "499" || l.Str("conn") != "tcp" {
		t.Errorf("line = %v", l)
	}
	if errs := rec.AtLeast(slog.LevelWarn); len(errs) != 0 {
		t.Errorf("a client going away logged %v", errs)
	}
}

// TestRefusedLineTooLong: a line over max_line_bytes is counted.
func TestRefusedLineTooLong(t *testing.T) {
	s := startServer(t, Config{MaxLineBytes: 100}, nil)
	c, _ := dial(t, s, "")
	c.send(strings.Repeat("x", 200))
	if code, _ := errorOf(c.read()); code != apierror.CodeMessageTooLarge {
		t.Fatalf("code %q", code)
	}
	if got := s.Refused()[limit.MessageSize]; got != 1 {
		t.Fatalf("message_size refusals = %d", got)
	}
}

// TestIdleConnectionOneGoroutine: an idle connection has one goroutine,
// its reader: no writer waits while nothing is to be written, and no
// goroutine watches for the shutdown or the session's end.
func TestIdleConnectionOneGoroutine(t *testing.T) {
	s := startServer(t, Config{}, nil)
	const n = 5
	for range n {
		c, _ := dial(t, s, "")
		c.pings()
	}
	poll.Until(t, "one goroutine per connection", 0, func() bool {
		return sessiontest.Goroutines("tcp.(*Server).serveConn") == n && sessiontest.Writers() == 0 &&
			sessiontest.Goroutines("tcp.(*Server).readLoop") == n
	})
}

// TestStuckClient: a client in a room that reads nothing neither holds
// up the room's other members nor the chat fan-out: when its queue is
// full it is disconnected (counted as limit.Queue), while the others go
// on.
func TestStuckClient(t *testing.T) {
	s := startServer(t, Config{MaxQueuedMessages: 8}, nil)
	stuck, _ := dial(t, s, "")
	stuck.send(`{"verb":"roomAdd","room":"defaultRoom"}`)
	if m := stuck.read(); m["status"] != "OK" {
		t.Fatalf("roomAdd: %v", m)
	}
	other, _ := dial(t, s, "")
	other.send(`{"verb":"roomAdd","room":"defaultRoom"}`)
	if m := other.read(); m["status"] != "OK" {
		t.Fatalf("roomAdd: %v", m)
	}
	say := `{"verb":"say","room":"defaultRoom","message":"` + strings.Repeat("s", 32<<10) + `"}`
	for i := 0; s.Refused()[limit.Queue] == 0; i++ {
		if i == 5000 {
			t.Fatal("the stuck client was never disconnected")
		}
		other.send(say)
		for range 2 { // the reply and the room message, in either order
			other.read()
		}
	}
	poll.Until(t, "the stuck client to be disconnected", 0, func() bool { return s.Len() == 1 })
	other.pings()
	poll.Until(t, "the writer goroutine to exit", 0, func() bool { return sessiontest.Writers() == 0 })
}

// TestShutdownNotice: on shutdown an idle client gets the shutdown
// notice, then the server closes the connection.
func TestShutdownNotice(t *testing.T) {
	s := startServer(t, Config{}, nil)
	c, _ := dial(t, s, "")
	c.pings()
	done := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		done <- s.Shutdown(ctx)
	}()
	if m := c.read(); m["event"] != "shutdown" {
		t.Fatalf("on shutdown: %v", m)
	}
	if !c.closed() {
		t.Fatal("the connection was left open")
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}
