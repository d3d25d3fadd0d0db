package stellar_test

import (
	"bufio"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/stellarfw/stellar-go"
	"github.com/stellarfw/stellar-go/action"
	"github.com/stellarfw/stellar-go/chat"
	"github.com/stellarfw/stellar-go/config"
	"github.com/stellarfw/stellar-go/connection"
	"github.com/stellarfw/stellar-go/internal/poll"
	"github.com/stellarfw/stellar-go/internal/redistest"
)

// connApp starts a node with HTTP, TCP and WebSocket on free ports, the
// echo and wait actions, and cfg's other settings; it stops when t ends.
func connApp(t *testing.T, cfg stellar.Config) *stellar.App {
	t.Helper()
	if cfg.ID == "" {
		cfg.ID = "conn-node"
	}
	cfg.HTTP.Addr = "127.0.0.1:0"
	cfg.TCP.Addr = "127.0.0.1:0"
	cfg.Log.Format = "json"
	app := stellar.New(cfg, stellar.WithLogOutput(io.Discard))
	registerConnActions(t, app)
	if err := app.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := app.Shutdown(ctx); err != nil {
			t.Errorf("shutdown: %v", err)
		}
	})
	return app
}

// release lets the wait actions return.
var release = struct {
	sync.Mutex
	ch map[string]chan struct{}
}{ch: map[string]chan struct{}{}}

func gate(name string) chan struct{} {
	release.Lock()
	defer release.Unlock()
	if release.ch[name] == nil {
		release.ch[name] = make(chan struct{})
	}
	return release.ch[name]
}

func registerConnActions(t *testing.T, app *stellar.App) {
	t.Helper()
	err := app.Actions.Register(
		&action.Action{
			Name:   "echo",
			Inputs: map[string]action.Input{"text": {Required: true}},
			Run: func(ctx context.Context, r *action.Request) error {
				r.Response["echo"] = r.Params.String("text")
				r.Response["via"] = r.Conn.Type
				return nil
			},
		},
		&action.Action{
			Name:   "wait",
			Inputs: map[string]action.Input{"gate": {Required: true}},
			Run: func(ctx context.Context, r *action.Request) error {
				select {
				case <-gate(r.Params.String("gate")):
				case <-ctx.Done():
					return ctx.Err()
				}
				r.Response["gate"] = r.Params.String("gate")
				return nil
			},
		},
	)
	if err != nil {
		t.Fatal(err)
	}
}

type msg = map[string]any

// tcpClient is a test client of the TCP transport.
type tcpClient struct {
	t       *testing.T
	c       net.Conn
	r       *bufio.Reader
	welcome msg
}

func dialTCP(t *testing.T, addr net.Addr) *tcpClient {
	t.Helper()
	c, err := net.Dial("tcp", addr.String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	cl := &tcpClient{t: t, c: c, r: bufio.NewReader(c)}
	cl.welcome = cl.read()
	if cl.welcome["welcome"] == nil || cl.welcome["context"] != "api" {
		t.Fatalf("first message is not a welcome: %v", cl.welcome)
	}
	return cl
}

func (c *tcpClient) id() string { return c.welcome["id"].(string) }

func (c *tcpClient) send(line string) {
	c.t.Helper()
	if _, err := io.WriteString(c.c, line+"\n"); err != nil {
		c.t.Fatal(err)
	}
}

func (c *tcpClient) read() msg {
	c.t.Helper()
	m, err := c.tryRead()
	if err != nil {
		c.t.Fatalf("reading from the TCP server: %v", err)
	}
	return m
}

func (c *tcpClient) tryRead() (msg, error) {
	_ = c.c.SetReadDeadline(time.Now().Add(10 * time.Second))
	line, err := c.r.ReadBytes('\n')
	if err != nil {
		return nil, err
	}
	var m msg
	if err := json.Unmarshal(line, &m); err != nil {
		return nil, fmt.Errorf("not JSON: %q", line)
	}
	return m, nil
}

// readUntil reads until a message satisfies ok, failing after a deadline.
func (c *tcpClient) readUntil(what string, ok func(msg) bool) msg {
	c.t.Helper()
	for {
		m, err := c.tryRead()
		if err != nil {
			c.t.Fatalf("waiting for %s: %v", what, err)
		}
		if ok(m) {
			return m
		}
	}
}

// wsClient is a test client of the WebSocket transport.
type wsClient struct {
	t       *testing.T
	c       *websocket.Conn
	welcome msg
}

func dialWS(t *testing.T, app *stellar.App) *wsClient {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	c, _, err := websocket.Dial(ctx, "ws://"+app.HTTPAddr().String()+"/ws", nil)
	if err != nil {
		t.Fatal(err)
	}
	c.SetReadLimit(1 << 20)
	t.Cleanup(func() { _ = c.CloseNow() })
	cl := &wsClient{t: t, c: c}
	cl.welcome = cl.read()
	if cl.welcome["welcome"] == nil {
		t.Fatalf("first message is not a welcome: %v", cl.welcome)
	}
	return cl
}

func (c *wsClient) id() string { return c.welcome["id"].(string) }

func (c *wsClient) send(v any) {
	c.t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		c.t.Fatal(err)
	}
	c.sendRaw(b)
}

func (c *wsClient) sendRaw(b []byte) {
	c.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := c.c.Write(ctx, websocket.MessageText, b); err != nil {
		c.t.Fatal(err)
	}
}

func (c *wsClient) tryRead() (msg, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_, b, err := c.c.Read(ctx)
	if err != nil {
		return nil, err
	}
	var m msg
	return m, json.Unmarshal(b, &m)
}

func (c *wsClient) read() msg {
	c.t.Helper()
	m, err := c.tryRead()
	if err != nil {
		c.t.Fatalf("reading from the WebSocket server: %v", err)
	}
	return m
}

func (c *wsClient) readUntil(what string, ok func(msg) bool) msg {
	c.t.Helper()
	for {
		m, err := c.tryRead()
		if err != nil {
			c.t.Fatalf("waiting for %s: %v", what, err)
		}
		if ok(m) {
			return m
		}
	}
}

func reply(id int) func(msg) bool {
	return func(m msg) bool { return m["context"] == "response" && m["messageId"] == float64(id) }
}

func said(room string, message any) func(msg) bool {
	return func(m msg) bool { return m["context"] == "user" && m["room"] == room && m["message"] == message }
}

func errCode(m msg) string {
	e, _ := m["error"].(map[string]any)
	if e == nil {
		return ""
	}
	s, _ := e["code"].(string)
	return s
}

func TestTCPActionsAndVerbs(t *testing.T) {
	app := connApp(t, stellar.Config{})
	c := dialTCP(t, app.TCPAddr())
	if c.welcome["defaultRoom"] != "defaultRoom" || c.welcome["node"] != "conn-node" {
		t.Fatalf("welcome = %v", c.welcome)
	}

	c.send(`{"action":"echo","params":{"text":"hi"}}`)
	if m := c.read(); m["echo"] != "hi" || m["via"] != "tcp" || m["messageId"] != float64(1) || m["context"] != "response" {
		t.Fatalf("action reply = %v", m)
	}
	c.send(`paramAdd text=sticky`)
	if m := c.read(); m["status"] != "OK" || m["messageId"] != float64(2) {
		t.Fatalf("paramAdd reply = %v", m)
	}
	c.send(`echo`) // an action by name, with the connection's params
	if m := c.read(); m["echo"] != "sticky" {
		t.Fatalf("action with sticky params = %v", m)
	}
	c.send(`{"verb":"paramView","key":"text"}`)
	if m := c.read(); m["data"] != "sticky" {
		t.Fatalf("paramView = %v", m)
	}
	c.send(`paramsView`)
	if m := c.read(); m["data"].(map[string]any)["text"] != "sticky" {
		t.Fatalf("paramsView = %v", m)
	}
	c.send(`paramDelete text`)
	c.read()
	c.send(`paramView text`)
	if m := c.read(); errCode(m) != "param_not_found" {
		t.Fatalf("paramView of a deleted param = %v", m)
	}
	c.send(`paramAdd a=1`)
	c.read()
	c.send(`paramsDelete`)
	c.read()
	c.send(`paramsView`)
	if m := c.read(); len(m["data"].(map[string]any)) != 0 {
		t.Fatalf("paramsView after paramsDelete = %v", m)
	}

	// Rooms: join, view, say (heard by another client), leave.
	other := dialTCP(t, app.TCPAddr())
	other.send(`roomAdd lobby`)
	if m := other.read(); errCode(m) != "room_not_found" {
		t.Fatalf("roomAdd of a missing room = %v", m)
	}
	if err := app.Chat.Create(context.Background(), "lobby"); err != nil {
		t.Fatal(err)
	}
	if err := app.Chat.Create(context.Background(), "lobby"); !errors.Is(err, chat.ErrRoomExists) {
		t.Fatalf("second Create = %v", err)
	}
	other.send(`roomAdd lobby`)
	if m := other.read(); m["data"] != true {
		t.Fatalf("roomAdd = %v", m)
	}
	c.send(`say lobby hello`)
	if m := c.read(); errCode(m) != "not_in_room" {
		t.Fatalf("say outside the room = %v", m)
	}
	c.send(`{"verb":"roomAdd","room":"lobby"}`)
	c.read()
	c.send(`say lobby hello there`)
	m := other.readUntil("the message", said("lobby", "hello there"))
	if m["from"] != c.id() {
		t.Fatalf("message from %v, want %s", m["from"], c.id())
	}
	c.send(`roomView lobby`)
	view := c.readUntil("roomView", func(m msg) bool { return m["data"] != nil })
	data := view["data"].(map[string]any)
	if data["membersCount"] != float64(2) || data["members"].(map[string]any)[other.id()] == nil {
		t.Fatalf("roomView = %v", view)
	}
	c.send(`detailsView`)
	d := c.readUntil("detailsView", func(m msg) bool { return m["data"] != nil })["data"].(map[string]any)
	if d["id"] != c.id() || d["type"] != "tcp" || d["remoteIP"] != "127.0.0.1" || fmt.Sprint(d["rooms"]) != "[lobby]" {
		t.Fatalf("detailsView = %v", d)
	}
	c.send(`emit lobby moved {"x":1}`)
	ev := other.readUntil("the event", func(m msg) bool { return m["event"] == "moved" })
	if ev["data"].(map[string]any)["x"] != float64(1) {
		t.Fatalf("event = %v", ev)
	}
	c.send(`roomLeave lobby`)
	c.readUntil("roomLeave", func(m msg) bool { return m["data"] == true })
	c.send(`roomLeave lobby`)
	c.readUntil("second roomLeave", func(m msg) bool { return errCode(m) == "not_in_room" })

	// The server can push to rooms too.
	if err := app.Chat.Broadcast(context.Background(), nil, "lobby", "from the server"); err != nil {
		t.Fatal(err)
	}
	if m := other.readUntil("the server's message", said("lobby", "from the server")); m["from"] != "0" {
		t.Fatalf("server message = %v", m)
	}

	// The status action counts the connections by transport.
	_, status := getJSON(t, "http://"+app.HTTPAddr().String()+"/api/status")
	if conns, _ := status["connections"].(map[string]any); conns["tcp"] != float64(2) || conns["websocket"] != float64(0) {
		t.Fatalf("status connections = %v", status["connections"])
	}

	c.send(`quit`)
	c.readUntil("quit", func(m msg) bool { return m["status"] == "OK" })
	if _, err := c.tryRead(); !errors.Is(err, io.EOF) {
		t.Fatalf("after quit: %v, want EOF", err)
	}
	poll.Until(t, "the quitter to be gone", 0, func() bool { return app.Connections.Len(connection.TypeTCP) == 1 })
}

// TestTCPActionsInFlight: several actions run at once on one connection;
// the replies come as they finish, each with its messageId.
func TestTCPActionsInFlight(t *testing.T) {
	app := connApp(t, stellar.Config{TCP: config.TCP{MaxInFlight: 3}})
	c := dialTCP(t, app.TCPAddr())
	p := connection.NewID() // gates of this run's own
	c.send(`{"action":"wait","params":{"gate":"` + p + `-a"}}`)
	c.send(`{"action":"wait","params":{"gate":"` + p + `-b"}}`)
	c.send(`{"action":"wait","params":{"gate":"` + p + `-c"}}`)
	c.send(`{"action":"wait","params":{"gate":"` + p + `-d"}}`) // one too many
	if m := c.read(); errCode(m) != "too_many_requests" || m["messageId"] != float64(4) {
		t.Fatalf("fourth action = %v", m)
	}
	c.send(`detailsView`) // verbs still work meanwhile
	if m := c.read(); m["messageId"] != float64(5) {
		t.Fatalf("verb while actions run = %v", m)
	}
	close(gate(p + "-b"))
	if m := c.read(); m["gate"] != p+"-b" || m["messageId"] != float64(2) {
		t.Fatalf("first reply = %v", m)
	}
	close(gate(p + "-c"))
	close(gate(p + "-a"))
	got := map[float64]bool{}
	for range 2 {
		got[c.read()["messageId"].(float64)] = true
	}
	if !got[1] || !got[3] {
		t.Fatalf("replies = %v", got)
	}
}

func TestTCPBadInput(t *testing.T) {
	app := connApp(t, stellar.Config{TCP: config.TCP{MaxLineBytes: 1024}})
	c := dialTCP(t, app.TCPAddr())
	for _, tc := range []struct {
		line string
		code string
	}{
		{`{"action":`, "malformed_request"},
		{`{"verb":"dance"}`, "unknown_verb"},
		{`dance`, "unknown_verb"},
		{`{"action":"nope"}`, "action_not_found"},
		{`{"action":"echo"}`, "validation_failed"},
		{`{}`, "malformed_request"},
		{`{"action":"echo","verb":"say"}`, "malformed_request"},
		{`[1,2]`, "unknown_verb"},
		{`paramAdd novalue`, "malformed_request"},
		{"\x00\xff\xfe", "unknown_verb"},
	} {
		c.send(tc.line)
		if m := c.read(); errCode(m) != tc.code {
			t.Errorf("%q: reply %v, want %s", tc.line, m, tc.code)
		}
	}
	// The connection survived all of it.
	c.send(`{"action":"echo","params":{"text":"still here"}}`)
	if m := c.read(); m["echo"] != "still here" {
		t.Fatalf("after bad input: %v", m)
	}
	// A line over the limit: an error, then the connection closes.
	c.send(strings.Repeat("x", 2000))
	if m := c.read(); errCode(m) != "message_too_large" {
		t.Fatalf("oversize line: %v", m)
	}
	if _, err := c.tryRead(); err == nil {
		t.Fatal("the connection stayed open after an oversize line")
	}
	// A flood from one client does not stop the node serving others.
	flood := dialTCP(t, app.TCPAddr())
	var b strings.Builder
	for range 2000 {
		b.WriteString(`{"action":"echo","params":{"text":"f"}}` + "\n")
	}
	wrote := make(chan error, 1)
	go func() { _, err := io.WriteString(flood.c, b.String()); wrote <- err }()
	fresh := dialTCP(t, app.TCPAddr())
	fresh.send(`{"action":"echo","params":{"text":"served"}}`)
	if m := fresh.read(); m["echo"] != "served" {
		t.Fatalf("another client during a flood: %v", m)
	}
	// Every message of the flood got its reply: an echo, or
	// too_many_requests beyond the actions in flight; none was lost.
	counts := map[string]int{}
	for range 2000 {
		m := flood.read()
		if m["echo"] == "f" {
			counts["echo"]++
		} else {
			counts[errCode(m)]++
		}
	}
	if err := <-wrote; err != nil {
		t.Fatal(err)
	}
	if counts["echo"] == 0 || counts["echo"]+counts["too_many_requests"] != 2000 {
		t.Fatalf("flood replies = %v", counts)
	}
	if code, _ := getJSON(t, "http://"+app.HTTPAddr().String()+"/api/status"); code != http.StatusOK {
		t.Fatalf("HTTP status during a flood: %d", code)
	}
}

func TestTCPIdleTimeout(t *testing.T) {
	app := connApp(t, stellar.Config{TCP: config.TCP{IdleTimeout: 150 * time.Millisecond}})
	c := dialTCP(t, app.TCPAddr())
	if m := c.read(); errCode(m) != "timeout" {
		t.Fatalf("idle connection got %v", m)
	}
	if _, err := c.tryRead(); err == nil {
		t.Fatal("idle connection still open")
	}
}

func TestTCPTLS(t *testing.T) {
	dir := t.TempDir()
	certFile, keyFile := writeCert(t, dir)
	app := connApp(t, stellar.Config{TCP: config.TCP{TLSCert: certFile, TLSKey: keyFile}})
	pool := x509.NewCertPool()
	pem, err := os.ReadFile(certFile)
	if err != nil {
		t.Fatal(err)
	}
	pool.AppendCertsFromPEM(pem)
	conn, err := tls.Dial("tcp", app.TCPAddr().String(), &tls.Config{RootCAs: pool, ServerName: "127.0.0.1"})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	c := &tcpClient{t: t, c: conn, r: bufio.NewReader(conn)}
	if m := c.read(); m["welcome"] == nil {
		t.Fatalf("welcome over TLS = %v", m)
	}
	c.send(`{"action":"echo","params":{"text":"secret"}}`)
	if m := c.read(); m["echo"] != "secret" {
		t.Fatalf("action over TLS = %v", m)
	}
}

func writeCert(t *testing.T, dir string) (string, string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "stellar test"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, IsCA: true, BasicConstraintsValid: true,
		KeyUsage: x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kd, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	certFile, keyFile := filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	if err := os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kd}), 0o600); err != nil {
		t.Fatal(err)
	}
	return certFile, keyFile
}

func TestWebSocketActionsAndVerbs(t *testing.T) {
	app := connApp(t, stellar.Config{})
	c := dialWS(t, app)
	c.send(msg{"action": "echo", "params": msg{"text": "hi"}})
	if m := c.read(); m["echo"] != "hi" || m["via"] != "websocket" || m["messageId"] != float64(1) {
		t.Fatalf("action = %v", m)
	}
	c.send(msg{"verb": "roomAdd"}) // the default room
	if m := c.read(); m["data"] != true {
		t.Fatalf("roomAdd defaultRoom = %v", m)
	}
	other := dialWS(t, app)
	other.send(msg{"verb": "roomAdd", "room": "defaultRoom"})
	other.read()
	c.send(msg{"verb": "say", "message": msg{"any": "json"}})
	m := other.readUntil("the message", func(m msg) bool { return m["context"] == "user" })
	if m["from"] != c.id() || m["room"] != "defaultRoom" || m["message"].(map[string]any)["any"] != "json" {
		t.Fatalf("message = %v", m)
	}
	c.send(msg{"verb": "emit", "room": "defaultRoom", "event": "ping", "data": 7})
	if m := other.readUntil("the event", func(m msg) bool { return m["event"] == "ping" }); m["data"] != float64(7) {
		t.Fatalf("event = %v", m)
	}
	c.send(msg{"verb": "roomView", "room": "defaultRoom"})
	v := c.readUntil("roomView", reply(5))
	if v["data"].(map[string]any)["membersCount"] != float64(2) {
		t.Fatalf("roomView = %v", v)
	}
	c.send(msg{"verb": "detailsView"})
	d := c.readUntil("detailsView", reply(6))
	if d["data"].(map[string]any)["type"] != "websocket" {
		t.Fatalf("detailsView = %v", d)
	}
	c.send(msg{"verb": "roomLeave", "room": "defaultRoom"})
	c.readUntil("roomLeave", reply(7))

	// The browser client is served.
	res, err := http.Get("http://" + app.HTTPAddr().String() + "/stellar-client.js")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if res.StatusCode != 200 || !strings.Contains(string(body), "StellarClient") || !strings.HasPrefix(res.Header.Get("Content-Type"), "text/javascript") {
		t.Fatalf("client script: %d %s", res.StatusCode, res.Header.Get("Content-Type"))
	}
}

func TestWebSocketBadInput(t *testing.T) {
	app := connApp(t, stellar.Config{WebSocket: config.WebSocket{MaxFrameBytes: 1024, MaxInFlight: 2}})
	c := dialWS(t, app)
	for _, tc := range []struct {
		raw  string
		code string
	}{
		{`not json`, "malformed_request"},
		{`{"verb":"dance"}`, "unknown_verb"},
		{`{"action":"nope"}`, "action_not_found"},
		{`{"verb":"say","room":"defaultRoom","message":"x"}`, "not_in_room"},
		{`{"verb":"roomAdd","room":"nowhere"}`, "room_not_found"},
		{`{"verb":"emit"}`, "malformed_request"},
	} {
		c.sendRaw([]byte(tc.raw))
		if m := c.read(); errCode(m) != tc.code {
			t.Errorf("%q: reply %v, want %s", tc.raw, m, tc.code)
		}
	}
	// Flood: actions beyond the limit are refused, the connection stays.
	g := connection.NewID()
	c.send(msg{"action": "wait", "params": msg{"gate": g}})
	c.send(msg{"action": "wait", "params": msg{"gate": g}})
	c.send(msg{"action": "wait", "params": msg{"gate": g}})
	if m := c.read(); errCode(m) != "too_many_requests" {
		t.Fatalf("third action = %v", m)
	}
	close(gate(g))
	c.readUntil("a wait reply", func(m msg) bool { return m["gate"] == g })
	c.readUntil("a wait reply", func(m msg) bool { return m["gate"] == g })
	// An oversize frame: an error, then the connection closes with 1009.
	c.sendRaw([]byte(`{"verb":"say","message":"` + strings.Repeat("x", 2000) + `"}`))
	if m := c.read(); errCode(m) != "message_too_large" {
		t.Fatalf("oversize frame: %v", m)
	}
	_, err := c.tryRead()
	if websocket.CloseStatus(err) != websocket.StatusMessageTooBig {
		t.Fatalf("after an oversize frame: %v, want close 1009", err)
	}
	// Others are still served.
	d := dialWS(t, app)
	d.send(msg{"action": "echo", "params": msg{"text": "ok"}})
	if m := d.read(); m["echo"] != "ok" {
		t.Fatalf("another client: %v", m)
	}
}

func TestWebSocketOrigin(t *testing.T) {
	for _, tc := range []struct {
		name    string
		allowed []string
		origin  string
		ok      bool
	}{
		{"same origin", nil, "", true},
		{"foreign refused", nil, "http://evil.example", false},
		{"pattern allowed", []string{"*.example.com"}, "https://app.example.com", true},
		{"pattern refused", []string{"*.example.com"}, "https://example.org", false},
		{"any", []string{"*"}, "http://evil.example", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			app := connApp(t, stellar.Config{WebSocket: config.WebSocket{AllowedOrigins: tc.allowed}})
			h := http.Header{}
			origin := tc.origin
			if origin == "" {
				origin = "http://" + app.HTTPAddr().String()
			}
			h.Set("Origin", origin)
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			c, res, err := websocket.Dial(ctx, "ws://"+app.HTTPAddr().String()+"/ws", &websocket.DialOptions{HTTPHeader: h})
			if tc.ok != (err == nil) {
				t.Fatalf("dial with origin %s: %v", origin, err)
			}
			if err == nil {
				_ = c.CloseNow()
			} else if res == nil || res.StatusCode != http.StatusForbidden {
				t.Fatalf("refusal: %v", res)
			}
		})
	}
}

// TestWebSocketPing: a client that does not answer pings is dropped.
func TestWebSocketPing(t *testing.T) {
	app := connApp(t, stellar.Config{WebSocket: config.WebSocket{PingInterval: 250 * time.Millisecond}})
	c := dialWS(t, app)
	// A client that reads answers pings: it stays connected.
	done := make(chan struct{})
	go func() {
		defer close(done)
		_, _, _ = c.c.Read(context.Background())
	}()
	time.Sleep(750 * time.Millisecond) // several ping intervals, answered
	if app.Connections.Len(connection.TypeWebSocket) != 1 {
		t.Fatal("a client answering pings was dropped")
	}
	// A raw connection that never reads cannot answer: it is dropped.
	raw, err := net.Dial("tcp", app.HTTPAddr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	fmt.Fprintf(raw, "GET /ws HTTP/1.1\r\nHost: %s\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n", app.HTTPAddr())
	poll.Until(t, "the silent client to be registered", 0, func() bool { return app.Connections.Len(connection.TypeWebSocket) == 2 })
	poll.Until(t, "the silent client to be dropped", 0, func() bool { return app.Connections.Len(connection.TypeWebSocket) == 1 })
	_ = c.c.CloseNow()
	<-done
}

// TestChatMiddleware: say can change or stop a message, onSayReceive
// filters per receiver, join can refuse; connection middleware sees
// connections come and go.
func TestChatMiddleware(t *testing.T) {
	cfg := stellar.Config{ID: "mw-node", HTTP: config.HTTP{Addr: "127.0.0.1:0"}, TCP: config.TCP{Addr: "127.0.0.1:0"}}
	app := stellar.New(cfg, stellar.WithLogOutput(io.Discard))
	registerConnActions(t, app)
	var order []string
	var mu sync.Mutex
	note := func(s string) { mu.Lock(); order = append(order, s); mu.Unlock() }
	received := map[any]int{} // guarded by mu; message → receivers the receive middleware was asked about
	asked := func(m any) int { mu.Lock(); defer mu.Unlock(); return received[m] }
	err := app.Chat.Use(
		&stellar.ChatMiddleware{Name: "late", Priority: 200, Say: func(ctx context.Context, from *connection.Conn, m *chat.Message) error {
			note("late")
			if m.Message == "FORBIDDEN" { // early ran first
				return errors.New("that word is not allowed")
			}
			return nil
		}},
		&stellar.ChatMiddleware{Name: "early", Priority: 10, Say: func(ctx context.Context, from *connection.Conn, m *chat.Message) error {
			note("early")
			if s, ok := m.Message.(string); ok {
				m.Message = strings.ToUpper(s)
			}
			return nil
		}},
		&stellar.ChatMiddleware{Name: "receive", OnSayReceive: func(ctx context.Context, to *connection.Conn, m *chat.Message) error {
			mu.Lock()
			received[m.Message]++
			mu.Unlock()
			if _, deaf := to.Params()["deaf"]; deaf {
				return errors.New("deaf")
			}
			return nil
		}},
		&stellar.ChatMiddleware{Name: "bouncer", Join: func(ctx context.Context, c *connection.Conn, room string) error {
			if room == "vip" {
				return errors.New("members only")
			}
			return nil
		}},
	)
	if err != nil {
		t.Fatal(err)
	}
	var created, destroyed sync.WaitGroup
	created.Add(2)
	if err := app.Connections.Use(&stellar.ConnectionMiddleware{Name: "count",
		Create:  func(ctx context.Context, c *connection.Conn) error { created.Done(); return nil },
		Destroy: func(ctx context.Context, c *connection.Conn) { destroyed.Done() },
	}); err != nil {
		t.Fatal(err)
	}
	if err := app.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = app.Shutdown(context.Background()) }()
	if err := app.Chat.Create(context.Background(), "vip"); err != nil {
		t.Fatal(err)
	}
	a, b := dialTCP(t, app.TCPAddr()), dialTCP(t, app.TCPAddr())
	created.Wait()
	destroyed.Add(2)
	a.send(`roomAdd vip`)
	if m := a.read(); errCode(m) != "chat_refused" || !strings.Contains(fmt.Sprint(m["error"]), "members only") {
		t.Fatalf("refused join = %v", m)
	}
	a.send(`roomAdd defaultRoom`)
	a.read()
	b.send(`roomAdd defaultRoom`)
	b.read()
	a.send(`say defaultRoom forbidden`)
	a.readUntil("the refusal", func(m msg) bool { return errCode(m) == "chat_refused" })
	a.send(`say defaultRoom quiet`)
	b.readUntil("the changed message", said("defaultRoom", "QUIET"))
	mu.Lock()
	if strings.Join(order, ",") != "early,late,early,late" {
		t.Errorf("middleware order = %v", order)
	}
	mu.Unlock()
	b.send(`paramAdd deaf=1`)
	b.read()
	a.send(`say defaultRoom unheard`)
	a.send(`paramsView`) // a reply after the say: a saw its own message by then
	a.readUntil("own message", said("defaultRoom", "UNHEARD"))
	// a's copy says nothing of b's: the fan-out asks about each member
	// in turn. b stops being deaf only once it was asked about.
	poll.Until(t, "both members' copies of the unheard message decided", 0, func() bool { return asked("UNHEARD") == 2 })
	b.send(`paramDelete deaf`)
	b.read()
	a.send(`say defaultRoom heard`)
	if m := b.readUntil("a message", func(m msg) bool { return m["context"] == "user" }); m["message"] != "HEARD" {
		t.Fatalf("a deaf receiver got %v", m)
	}
	_ = a.c.Close()
	_ = b.c.Close()
	destroyed.Wait()
}

// TestChatAPI covers the Go API on one node: list, exists, status,
// destroy, and join and leave by id.
func TestChatAPI(t *testing.T) {
	app := connApp(t, stellar.Config{Chat: config.Chat{DefaultRoom: "hall"}})
	ctx := context.Background()
	if rooms, err := app.Chat.List(ctx); err != nil || fmt.Sprint(rooms) != "[hall]" {
		t.Fatalf("List = %v, %v", rooms, err)
	}
	c := dialTCP(t, app.TCPAddr())
	if ok, err := app.Chat.Join(ctx, c.id(), "hall"); err != nil || !ok {
		t.Fatalf("Join = %v, %v", ok, err)
	}
	if ok, _ := app.Chat.Join(ctx, c.id(), "hall"); ok {
		t.Fatal("second Join reported true")
	}
	st, err := app.Chat.Status(ctx, "hall")
	if err != nil || st.MembersCount != 1 || st.Members[c.id()].Node != "conn-node" {
		t.Fatalf("Status = %+v, %v", st, err)
	}
	if _, err := app.Chat.Join(ctx, "no-such-connection", "hall"); !errors.Is(err, chat.ErrNoConnection) {
		t.Fatalf("Join of an unknown connection = %v", err)
	}
	if _, err := app.Chat.Status(ctx, "nowhere"); !errors.Is(err, chat.ErrNoRoom) {
		t.Fatalf("Status of a missing room = %v", err)
	}
	if err := app.Chat.Destroy(ctx, "hall"); err != nil {
		t.Fatal(err)
	}
	if ok, _ := app.Chat.Exists(ctx, "hall"); ok {
		t.Fatal("destroyed room exists")
	}
	poll.Until(t, "the connection to forget the room", 0, func() bool {
		c.send(`detailsView`)
		d := c.readUntil("details", func(m msg) bool { return m["data"] != nil })
		return fmt.Sprint(d["data"].(map[string]any)["rooms"]) == "[]"
	})
}

// TestChatAcrossNodes: two nodes on one Redis. A TCP client on node A and
// a WebSocket client on node B chat in one room; node A joins B's client
// to a room through RPC; the members of a node that is gone are swept.
func TestChatAcrossNodes(t *testing.T) {
	srv := redistest.Shared(t)
	prefix := redistest.Prefix(t)
	node := func(id string) *stellar.App {
		return connApp(t, stellar.Config{ID: id, Redis: config.Redis{URL: srv.URL(), Prefix: prefix},
			Cluster: config.Cluster{Token: "chat-token", HeartbeatInterval: 50 * time.Millisecond, NodeTTL: 2 * time.Second}})
	}
	a, b := node("chat-a"), node("chat-b")
	ctx := context.Background()
	poll.Until(t, "the nodes to see each other", 0, func() bool { return len(a.Cluster.Members()) == 2 && len(b.Cluster.Members()) == 2 })
	if err := a.Chat.Create(ctx, "game"); err != nil {
		t.Fatal(err)
	}
	tc := dialTCP(t, a.TCPAddr())
	wc := dialWS(t, b)
	tc.send(`roomAdd game`)
	tc.read()
	// Node A joins B's WebSocket client: the join runs on B through RPC.
	if ok, err := a.Chat.Join(ctx, wc.id(), "game"); err != nil || !ok {
		t.Fatalf("join through RPC = %v, %v", ok, err)
	}
	st, err := a.Chat.Status(ctx, "game")
	if err != nil || st.MembersCount != 2 || st.Members[wc.id()].Node != "chat-b" {
		t.Fatalf("status = %+v, %v", st, err)
	}
	wc.send(msg{"verb": "detailsView"})
	d := wc.readUntil("details", func(m msg) bool { return m["data"] != nil })
	if fmt.Sprint(d["data"].(map[string]any)["rooms"]) != "[game]" {
		t.Fatalf("the WebSocket client does not know it joined: %v", d)
	}
	tc.send(`say game hello from tcp`)
	if m := wc.readUntil("the TCP message", said("game", "hello from tcp")); m["from"] != tc.id() {
		t.Fatalf("message = %v", m)
	}
	wc.send(msg{"verb": "say", "room": "game", "message": "hello from ws"})
	tc.readUntil("the WebSocket message", said("game", "hello from ws"))
	// Leave through RPC too.
	if ok, err := a.Chat.Leave(ctx, wc.id(), "game"); err != nil || !ok {
		t.Fatalf("leave through RPC = %v, %v", ok, err)
	}
	if _, err := a.Chat.Join(ctx, wc.id(), "no-room"); !errors.Is(err, chat.ErrNoRoom) {
		t.Fatalf("remote join of a missing room = %v", err)
	}
	// A member recorded by a node that is not live is swept.
	if _, err := a.Chat.Join(ctx, wc.id(), "game"); err != nil {
		t.Fatal(err)
	}
	if err := b.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	poll.Until(t, "B's member to leave the room", 0, func() bool {
		st, err := a.Chat.Status(ctx, "game")
		return err == nil && st.MembersCount == 1
	})
}

// TestWebSocketShutdown: a stopping node refuses new actions, lets those
// in flight answer, then closes WebSocket connections with 1001; TCP
// clients get a notice and their replies too.
func TestWebSocketShutdown(t *testing.T) {
	cfg := stellar.Config{ID: "stopping", HTTP: config.HTTP{Addr: "127.0.0.1:0"}, TCP: config.TCP{Addr: "127.0.0.1:0"}}
	app := stellar.New(cfg, stellar.WithLogOutput(io.Discard))
	registerConnActions(t, app)
	if err := app.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	c := dialWS(t, app)
	tc := dialTCP(t, app.TCPAddr())
	g := connection.NewID() // a gate of this run's own
	c.send(msg{"action": "wait", "params": msg{"gate": g}})
	tc.send(`{"action":"wait","params":{"gate":"` + g + `"}}`)
	// Verbs run in order: once detailsView answers, the action runs.
	c.send(msg{"verb": "detailsView"})
	if d := c.readUntil("details", reply(2)); d["data"].(map[string]any)["inFlight"] != float64(1) {
		t.Fatalf("details = %v", d)
	}
	tc.send(`detailsView`)
	if d := tc.readUntil("details", reply(2)); d["data"].(map[string]any)["inFlight"] != float64(1) {
		t.Fatalf("details = %v", d)
	}
	stopped := make(chan error, 1)
	go func() { stopped <- app.Shutdown(context.Background()) }()
	// The shutdown waits for the actions: the gate may open before or
	// after it reached the connections, and the replies must come either
	// way. A head start makes the waiting path the usual one.
	time.Sleep(50 * time.Millisecond)
	close(gate(g))
	if m := c.readUntil("the reply", reply(1)); m["gate"] != g {
		t.Fatalf("reply = %v", m)
	}
	_, err := c.tryRead()
	if websocket.CloseStatus(err) != websocket.StatusGoingAway {
		t.Fatalf("close: %v, want 1001", err)
	}
	tc.readUntil("the TCP reply", func(m msg) bool { return m["gate"] == g })
	if err := <-stopped; err != nil {
		t.Fatal(err)
	}
}

// TestConnectionRefused: connection middleware that refuses a connection
// sends its error and closes it, over TCP and WebSocket alike.
func TestConnectionRefused(t *testing.T) {
	cfg := stellar.Config{ID: "refusing", HTTP: config.HTTP{Addr: "127.0.0.1:0"}, TCP: config.TCP{Addr: "127.0.0.1:0"}}
	app := stellar.New(cfg, stellar.WithLogOutput(io.Discard))
	if err := app.Connections.Use(&stellar.ConnectionMiddleware{Name: "closed", Create: func(ctx context.Context, c *connection.Conn) error {
		return errors.New("closed for maintenance")
	}}); err != nil {
		t.Fatal(err)
	}
	if err := app.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = app.Shutdown(context.Background()) }()
	nc, err := net.Dial("tcp", app.TCPAddr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	c := &tcpClient{t: t, c: nc, r: bufio.NewReader(nc)}
	if m := c.read(); errCode(m) != "chat_refused" || !strings.Contains(fmt.Sprint(m["error"]), "maintenance") {
		t.Fatalf("refusal = %v", m)
	}
	if _, err := c.tryRead(); !errors.Is(err, io.EOF) {
		t.Fatalf("after the refusal: %v, want EOF", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	ws, _, err := websocket.Dial(ctx, "ws://"+app.HTTPAddr().String()+"/ws", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer ws.CloseNow()
	_, b, err := ws.Read(ctx)
	if err != nil || !strings.Contains(string(b), "maintenance") {
		t.Fatalf("WebSocket refusal = %s, %v", b, err)
	}
	if _, _, err := ws.Read(ctx); websocket.CloseStatus(err) != websocket.StatusPolicyViolation {
		t.Fatalf("after the refusal: %v, want close 1008", err)
	}
	if app.Connections.Len("") != 0 {
		t.Fatal("a refused connection was registered")
	}
}

// TestChatRedisRestart: when Redis restarts empty, the node creates its
// rooms and records its members again, and its clients keep chatting.
func TestChatRedisRestart(t *testing.T) {
	srv := redistest.StartOwn(t)
	app := connApp(t, stellar.Config{ID: "restart-node", Redis: config.Redis{URL: srv.URL(), Prefix: redistest.Prefix(t)},
		Cluster: config.Cluster{Token: "restart-token", HeartbeatInterval: 50 * time.Millisecond, NodeTTL: 2 * time.Second}})
	ctx := context.Background()
	if err := app.Chat.Create(ctx, "lobby"); err != nil {
		t.Fatal(err)
	}
	a, b := dialTCP(t, app.TCPAddr()), dialTCP(t, app.TCPAddr())
	for _, c := range []*tcpClient{a, b} {
		c.send(`roomAdd lobby`)
		c.readUntil("roomAdd", reply(1))
	}
	srv.Stop(t)
	srv.Restart(t)
	poll.Until(t, "the rooms and members to come back", 0, func() bool {
		st, err := app.Chat.Status(ctx, "lobby")
		ok, _ := app.Chat.Exists(ctx, "defaultRoom")
		return err == nil && st.MembersCount == 2 && ok && app.Cluster.Ready() == nil
	})
	// Pub/sub keeps nothing: a message said while the node resubscribes
	// is lost, so say again until one arrives.
	var line []byte
	var err error
	if !poll.Wait(0, func() bool {
		a.send(`say lobby still here`)
		_ = b.c.SetReadDeadline(time.Now().Add(300 * time.Millisecond))
		line, err = b.r.ReadBytes('\n')
		var m msg
		return err == nil && json.Unmarshal(line, &m) == nil && said("lobby", "still here")(m)
	}) {
		t.Fatalf("no message after the restart: %v %s", err, line)
	}
}
