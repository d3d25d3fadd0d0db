package ws

import (
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/stellarfw/stellar-go/action"
	"github.com/stellarfw/stellar-go/apierror"
	"github.com/stellarfw/stellar-go/internal/limit"
	"github.com/stellarfw/stellar-go/internal/poll"
	"github.com/stellarfw/stellar-go/internal/session/sessiontest"
)

// startServer serves the WebSocket endpoint with cfg on a test HTTP
// server; both are shut down when t ends.
func startServer(t *testing.T, cfg Config) (*Server, string) {
	t.Helper()
	ping := &action.Action{Name: "ping", Run: func(ctx context.Context, r *action.Request) error {
		r.Response["pong"] = true
		return nil
	}}
	s := New(Options{Config: cfg, Session: sessiontest.Options(t, nil, ping)})
	hs := httptest.NewServer(s)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := s.Shutdown(ctx); err != nil {
			t.Errorf("shutdown: %v", err)
		}
		hs.Close()
	})
	return s, "ws" + strings.TrimPrefix(hs.URL, "http")
}

type client struct {
	t *testing.T
	c *websocket.Conn
}

// dial opens a WebSocket from the loopback address from; on a refused
// upgrade it returns the response instead.
func dial(t *testing.T, url, from string) (*client, *http.Response) {
	t.Helper()
	d := &net.Dialer{Timeout: 5 * time.Second, LocalAddr: &net.TCPAddr{IP: net.ParseIP(from)}}
	hc := &http.Client{Transport: &http.Transport{DialContext: d.DialContext}}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	c, resp, err := websocket.Dial(ctx, url, &websocket.DialOptions{HTTPClient: hc})
	if err != nil {
		if resp == nil {
			t.Fatalf("dial: %v", err)
		}
		return nil, resp
	}
	t.Cleanup(func() { _ = c.CloseNow() })
	cl := &client{t: t, c: c}
	if m := cl.read(); m["welcome"] == nil {
		t.Fatalf("first message: %v", m)
	}
	return cl, resp
}

func (c *client) send(v string) {
	c.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := c.c.Write(ctx, websocket.MessageText, []byte(v)); err != nil {
		c.t.Fatal(err)
	}
}

func (c *client) read() map[string]any {
	c.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_, b, err := c.c.Read(ctx)
	if err != nil {
		c.t.Fatalf("read: %v", err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		c.t.Fatalf("not JSON: %q", b)
	}
	return m
}

func (c *client) pings() {
	c.t.Helper()
	c.send(`{"action":"ping"}`)
	if m := c.read(); m["pong"] != true {
		c.t.Fatalf("ping: %v", m)
	}
}

// refusal decodes the JSON error of a refused upgrade.
func refusal(t *testing.T, resp *http.Response) (status int, code, message string) {
	t.Helper()
	b, _ := io.ReadAll(resp.Body)
	if !strings.HasPrefix(resp.Header.Get("Content-Type"), "application/json") {
		t.Fatalf("refusal is %q: %s", resp.Header.Get("Content-Type"), b)
	}
	var body apierror.Body
	if err := json.Unmarshal(b, &body); err != nil {
		t.Fatalf("refusal body %q: %v", b, err)
	}
	return resp.StatusCode, body.Error.Code, body.Error.Message
}

// TestConnectionLimits: past max_connections_per_ip from one address the
// upgrade is refused with 429 ip_connection_limit, past max_connections
// with 503 connection_limit, both with a JSON body; the open connections
// and other addresses are served, and a closed connection frees its slot.
func TestConnectionLimits(t *testing.T) {
	s, url := startServer(t, Config{MaxConnections: 3, MaxConnectionsPerIP: 2})
	a1, _ := dial(t, url, "127.0.0.1")
	dial(t, url, "127.0.0.1")

	c, resp := dial(t, url, "127.0.0.1")
	if c != nil {
		t.Fatal("third connection from one address accepted")
	}
	if st, code, msg := refusal(t, resp); st != http.StatusTooManyRequests || code != apierror.CodeIPConnectionLimit ||
		!strings.Contains(msg, "websocket.max_connections_per_ip") {
		t.Fatalf("per-address refusal: %d %s %s", st, code, msg)
	}

	b1, _ := dial(t, url, "127.0.0.2")
	c, resp = dial(t, url, "127.0.0.3")
	if c != nil {
		t.Fatal("connection past the node's limit accepted")
	}
	if st, code, _ := refusal(t, resp); st != http.StatusServiceUnavailable || code != apierror.CodeConnectionLimit ||
		resp.Header.Get("Retry-After") == "" {
		t.Fatalf("node refusal: %d %s, Retry-After %q", st, code, resp.Header.Get("Retry-After"))
	}
	a1.pings()
	b1.pings()

	_ = a1.c.Close(websocket.StatusNormalClosure, "")
	poll.Until(t, "the closed connection's slot to be free", 0, func() bool { return s.gate.Open() == 2 })
	if c, resp := dial(t, url, "127.0.0.1"); c == nil {
		t.Fatalf("after a close: %d", resp.StatusCode)
	}
	if got := s.Refused(); got[limit.ConnectionsPerIP] != 1 || got[limit.Connections] != 1 {
		t.Fatalf("refusals = %v", got)
	}
}

// TestParamLimitsOverWebSocket: past max_params paramAdd gets
// param_limit, naming the websocket key; the connection is kept.
func TestParamLimitsOverWebSocket(t *testing.T) {
	s, url := startServer(t, Config{MaxParams: 1})
	c, _ := dial(t, url, "127.0.0.1")
	c.send(`{"verb":"paramAdd","key":"a","value":1}`)
	if m := c.read(); m["status"] != "OK" {
		t.Fatalf("first param: %v", m)
	}
	c.send(`{"verb":"paramAdd","key":"b","value":1}`)
	m := c.read()
	e, _ := m["error"].(map[string]any)
	if e["code"] != apierror.CodeParamLimit || !strings.Contains(e["message"].(string), "websocket.max_params") {
		t.Fatalf("second param: %v", m)
	}
	c.pings()
	if got := s.Refused()[limit.Params]; got != 1 {
		t.Fatalf("params refusals = %d", got)
	}
}

// TestMessagesLargerThanBuffers: messages far larger than a connection's
// read and write buffers (connBufferSize) go both ways whole, several in
// a row.
func TestMessagesLargerThanBuffers(t *testing.T) {
	_, url := startServer(t, Config{})
	c, _ := dial(t, url, "127.0.0.1")
	for _, n := range []int{connBufferSize - 40, connBufferSize, 3 * connBufferSize, 20 * connBufferSize} {
		big := strings.Repeat("x", n)
		c.send(`{"verb":"paramAdd","key":"big","value":"` + big + `"}`)
		if m := c.read(); m["status"] != "OK" {
			t.Fatalf("paramAdd of %d bytes: %v", n, m)
		}
		c.send(`{"verb":"paramView","key":"big"}`)
		m := c.read()
		b, _ := json.Marshal(m)
		if !strings.Contains(string(b), `"`+big+`"`) {
			t.Fatalf("paramView of %d bytes: %.200s", n, b)
		}
		c.pings()
	}
}

// TestFingerprintCookie: a connection whose upgrade carries a well-formed
// fingerprint cookie has its value as fingerprint; without the cookie,
// or with a malformed one, its fingerprint is its id (detailsView).
func TestFingerprintCookie(t *testing.T) {
	_, url := startServer(t, Config{FingerprintCookie: "sessionID"})
	const fp = "0123456789abcdef0123456789abcdef"
	for _, tc := range []struct {
		name, cookie string
		want         func(id string) string
	}{
		{"cookie", "sessionID=" + fp, func(string) string { return fp }},
		{"none", "", func(id string) string { return id }},
		{"malformed", "sessionID=<script>", func(id string) string { return id }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := http.Header{}
			if tc.cookie != "" {
				h.Set("Cookie", tc.cookie)
			}
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			c, _, err := websocket.Dial(ctx, url, &websocket.DialOptions{HTTPHeader: h})
			if err != nil {
				t.Fatal(err)
			}
			defer c.CloseNow()
			cl := &client{t: t, c: c}
			welcome := cl.read()
			id, _ := welcome["id"].(string)
			cl.send(`{"verb":"detailsView"}`)
			d, _ := cl.read()["data"].(map[string]any)
			if id == "" || d["id"] != id || d["fingerprint"] != tc.want(id) {
				t.Fatalf("welcome %v, detailsView %v: want fingerprint %q", welcome, d, tc.want(id))
			}
		})
	}
}

// TestIdleConnectionOneGoroutine: an idle connection has one goroutine,
// its reader: no writer waits while nothing is to be written, and the
// pings run from a timer.
func TestIdleConnectionOneGoroutine(t *testing.T) {
	_, url := startServer(t, Config{PingInterval: time.Hour})
	const n = 5
	for range n {
		c, _ := dial(t, url, "127.0.0.1")
		c.pings()
	}
	poll.Until(t, "one goroutine per connection", 0, func() bool {
		return sessiontest.Goroutines("ws.(*Server).serve") == n && sessiontest.Writers() == 0
	})
}

// TestStuckClient: a client in a room that reads nothing neither holds
// up the room's other members nor the chat fan-out: its messages wait
// in its queue behind the write its socket does not take, a writer
// goroutine of its own waits for it, and when the queue is full it is
// disconnected (counted as limit.Queue), while the others go on.
func TestStuckClient(t *testing.T) {
	s, url := startServer(t, Config{MaxQueuedMessages: 8})
	stuck, _ := dial(t, url, "127.0.0.1")
	stuck.send(`{"verb":"roomAdd","room":"defaultRoom"}`)
	if m := stuck.read(); m["status"] != "OK" {
		t.Fatalf("roomAdd: %v", m)
	}
	other, _ := dial(t, url, "127.0.0.1")
	other.send(`{"verb":"roomAdd","room":"defaultRoom"}`)
	if m := other.read(); m["status"] != "OK" {
		t.Fatalf("roomAdd: %v", m)
	}
	// From here stuck reads nothing. Each say reaches both members; once
	// stuck's socket buffers are full, its messages queue, and the
	// queue overflows.
	say := `{"verb":"say","room":"defaultRoom","message":"` + strings.Repeat("s", 24<<10) + `"}`
	sawWriter := false
	for i := 0; s.Refused()[limit.Queue] == 0; i++ {
		if i == 5000 {
			t.Fatal("the stuck client was never disconnected")
		}
		other.send(say)
		for range 2 { // the reply and the room message, in either order
			other.read()
		}
		sawWriter = sawWriter || sessiontest.Writers() > 0
	}
	if !sawWriter {
		t.Error("no writer goroutine waited for the stuck client")
	}
	poll.Until(t, "the stuck client to be disconnected", 0, func() bool { return s.Len() == 1 })
	other.pings()
	other.send(`{"verb":"say","room":"defaultRoom","message":"still here"}`)
	for range 2 {
		if m := other.read(); m["error"] != nil {
			t.Fatalf("after the stuck client went: %v", m)
		}
	}
	poll.Until(t, "the writer goroutine to exit", 0, func() bool { return sessiontest.Writers() == 0 })
}

// TestPingsRepeat: the server pings a client every PingInterval, from a
// timer armed again after each answered ping, and stops when the
// connection closes.
func TestPingsRepeat(t *testing.T) {
	s, url := startServer(t, Config{PingInterval: 20 * time.Millisecond})
	var pings atomic.Int32
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, _, err := websocket.Dial(ctx, url, &websocket.DialOptions{OnPingReceived: func(context.Context, []byte) bool {
		pings.Add(1)
		return true
	}})
	if err != nil {
		t.Fatal(err)
	}
	read := make(chan struct{})
	go func() { // the reader answers the pings
		defer close(read)
		for {
			if _, _, err := c.Read(ctx); err != nil {
				return
			}
		}
	}()
	poll.Until(t, "three pings", 0, func() bool { return pings.Load() >= 3 })
	_ = c.Close(websocket.StatusNormalClosure, "")
	<-read
	poll.Until(t, "the connection to close", 0, func() bool { return s.Len() == 0 })
	poll.Until(t, "no ping in flight", 0, func() bool { return sessiontest.Goroutines("ws.(*Server).startPings.func1") == 0 })
}
