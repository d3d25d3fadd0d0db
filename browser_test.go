package stellar_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/fstest"
	"time"

	"github.com/coder/websocket"

	"github.com/stellarfw/stellar-go"
	"github.com/stellarfw/stellar-go/config"
	"github.com/stellarfw/stellar-go/internal/redistest"
)

// browserPage loads the client from the node that serves it, calls an
// action over HTTP (no socket yet) and over WebSocket, joins a room, and
// writes what it received into #result.
const browserPage = `<!doctype html>
<html><head><meta charset="utf-8"><title>stellar client test</title></head>
<body><pre id="result"></pre>
<script src="/stellar-client.js"></script>
<script>
(async () => {
  const out = document.getElementById('result')
  try {
    const client = new StellarClient()
    const events = []
    client.on('welcome', () => events.push('welcome'))
    client.on('connected', () => events.push('connected'))
    const overHTTP = await client.action('echo', { text: 'over http' })
    await client.connect()
    const overWS = await client.action('echo', { text: 'over ws' })
    await client.roomAdd('browser')
    const said = new Promise(resolve => client.to('browser').on('say', m => resolve(m)))
    const ignored = []
    client.to('elsewhere').on('say', m => ignored.push(m))
    window.__joined = client.id
    const m = await said
    const view = await client.roomView('browser')
    const first = client.id
    // Drop the socket: the client reconnects with backoff, as a new
    // connection, and joins its rooms again.
    client.minBackoff = 50
    const back = new Promise(resolve => client.on('reconnect', resolve))
    client._ws.close()
    await back
    const again = await client.roomView('browser')
    out.textContent = JSON.stringify({ http: overHTTP.via, ws: overWS.via, echo: overWS.echo,
      message: m.message, from: m.from, room: m.room, id: first, members: view.membersCount,
      ignored: ignored.length, events: events, newID: client.id !== first,
      rejoined: again.members[client.id] !== undefined, oldGone: again.members[first] === undefined })
  } catch (e) {
    out.textContent = JSON.stringify({ error: String((e && (e.message || e.code)) || e) })
  }
})()
</script></body></html>`

func findChromium() string {
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome", "google-chrome-stable"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	return ""
}

// TestBrowserClient: headless Chromium loads /stellar-client.js from node
// A, calls an action (over HTTP, then over WebSocket), joins a room, and
// receives a message that a TCP client on node B says in it; when its
// socket drops it reconnects and joins the room again.
func TestBrowserClient(t *testing.T) {
	bin := findChromium()
	if bin == "" {
		t.Fatal("chromium is not installed: ./test.sh installs it (apt-get install -y chromium), or put chromium on PATH")
	}
	srv := redistest.Shared(t)
	prefix := redistest.Prefix(t)
	node := func(id string, public fstest.MapFS) *stellar.App {
		cfg := stellar.Config{ID: id, HTTP: config.HTTP{Addr: "127.0.0.1:0"}, TCP: config.TCP{Addr: "127.0.0.1:0"},
			Redis:   config.Redis{URL: srv.URL(), Prefix: prefix},
			Cluster: config.Cluster{Token: "browser-token", HeartbeatInterval: 50 * time.Millisecond, NodeTTL: 3 * time.Second}}
		cfg.Log.Format = "json"
		app := stellar.New(cfg, stellar.WithLogOutput(io.Discard))
		registerConnActions(t, app)
		if public != nil {
			app.Public = public
		}
		if err := app.Start(context.Background()); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = app.Shutdown(context.Background()) })
		return app
	}
	a := node("browser-a", fstest.MapFS{"client-test.html": {Data: []byte(browserPage)}})
	b := node("browser-b", nil)
	if err := a.Chat.Create(context.Background(), "browser"); err != nil {
		t.Fatal(err)
	}

	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	start := time.Now()
	page := openChromium(ctx, t, bin)
	t.Logf("chromium up after %s", time.Since(start))
	if err := page.call(ctx, "Page.navigate", map[string]any{"url": "http://" + a.HTTPAddr().String() + "/client-test.html"}, nil); err != nil {
		t.Fatal(err)
	}
	var id string
	page.poll(ctx, t, "the page joins the room", "window.__joined || ''", func(v string) bool { id = v; return v != "" })

	t.Logf("joined after %s", time.Since(start))
	tc := dialTCP(t, b.TCPAddr())
	tc.send(`roomAdd browser`)
	tc.readUntil("roomAdd", reply(1))
	tc.send(`say browser hello from tcp on node b`)

	var res map[string]any
	page.poll(ctx, t, "the page's result", "document.getElementById('result').textContent", func(v string) bool {
		return v != "" && json.Unmarshal([]byte(v), &res) == nil
	})
	if res["error"] != nil {
		t.Fatalf("the page failed: %v", res["error"])
	}
	want := map[string]any{"http": "web", "ws": "websocket", "echo": "over ws", "message": "hello from tcp on node b",
		"from": tc.id(), "room": "browser", "id": id, "members": float64(2), "ignored": float64(0)}
	for k, v := range want {
		if res[k] != v {
			t.Errorf("%s = %v, want %v (result %v)", k, res[k], v, res)
		}
	}
	for _, k := range []string{"newID", "rejoined", "oldGone"} {
		if res[k] != true {
			t.Errorf("after reconnecting, %s = %v (result %v)", k, res[k], res)
		}
	}
	if fmt.Sprint(res["events"]) != "[welcome connected welcome connected]" { // and again after reconnecting
		t.Errorf("events = %v", res["events"])
	}
}

// cdpPage is a page of a headless Chromium, driven through the DevTools
// protocol over its WebSocket.
type cdpPage struct {
	c    *websocket.Conn
	next atomic.Int64

	mu      sync.Mutex
	waiting map[int64]chan cdpReply
	done    chan struct{}
}

type cdpReply struct {
	Result json.RawMessage `json:"result"`
	Error  *struct {
		Message string `json:"message"`
	} `json:"error"`
}

func openChromium(ctx context.Context, t *testing.T, bin string) *cdpPage {
	t.Helper()
	dir := t.TempDir()
	cmd := exec.Command(bin, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
		"--disable-background-networking", "--disable-component-update", "--disable-sync", "--disable-dev-shm-usage",
		"--remote-debugging-port=0", "--user-data-dir="+filepath.Join(dir, "profile"), "about:blank")
	stderr := &syncBuffer{}
	cmd.Stderr, cmd.Stdout = stderr, io.Discard
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan struct{})
	go func() { _ = cmd.Wait(); close(exited) }()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		<-exited
	})
	// Chromium writes its port and browser path once it listens.
	var port string
	for port == "" {
		if b, err := os.ReadFile(filepath.Join(dir, "profile", "DevToolsActivePort")); err == nil {
			if lines := strings.Split(string(b), "\n"); len(lines) >= 2 && lines[0] != "" {
				port = strings.TrimSpace(lines[0])
				break
			}
		}
		select {
		case <-exited:
			t.Fatalf("chromium exited:\n%s", stderr)
		case <-ctx.Done():
			t.Fatalf("chromium did not open its debugging port:\n%s", stderr)
		case <-time.After(50 * time.Millisecond):
		}
	}
	var targets []struct {
		Type string `json:"type"`
		URL  string `json:"webSocketDebuggerUrl"`
	}
	for {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+net.JoinHostPort("127.0.0.1", port)+"/json/list", nil)
		res, err := http.DefaultClient.Do(req)
		if err == nil {
			err = json.NewDecoder(res.Body).Decode(&targets)
			res.Body.Close()
		}
		if err == nil && len(targets) > 0 {
			break
		}
		select {
		case <-ctx.Done():
			t.Fatalf("no page target: %v\n%s", err, stderr)
		case <-time.After(50 * time.Millisecond):
		}
	}
	var wsURL string
	for _, tg := range targets {
		if tg.Type == "page" {
			wsURL = tg.URL
		}
	}
	c, _, err := websocket.Dial(ctx, wsURL, nil)
	if err != nil {
		t.Fatal(err)
	}
	c.SetReadLimit(16 << 20)
	p := &cdpPage{c: c, waiting: map[int64]chan cdpReply{}, done: make(chan struct{})}
	go p.readLoop()
	t.Cleanup(func() {
		_ = c.CloseNow()
		<-p.done
		http.DefaultClient.CloseIdleConnections()
	})
	return p
}

func (p *cdpPage) readLoop() {
	defer close(p.done)
	for {
		_, raw, err := p.c.Read(context.Background())
		if err != nil {
			return
		}
		var m struct {
			ID int64 `json:"id"`
			cdpReply
		}
		if json.Unmarshal(raw, &m) != nil || m.ID == 0 {
			continue // an event
		}
		p.mu.Lock()
		ch := p.waiting[m.ID]
		delete(p.waiting, m.ID)
		p.mu.Unlock()
		if ch != nil {
			ch <- m.cdpReply
		}
	}
}

func (p *cdpPage) call(ctx context.Context, method string, params any, out any) error {
	id := p.next.Add(1)
	ch := make(chan cdpReply, 1)
	p.mu.Lock()
	p.waiting[id] = ch
	p.mu.Unlock()
	b, _ := json.Marshal(map[string]any{"id": id, "method": method, "params": params})
	if err := p.c.Write(ctx, websocket.MessageText, b); err != nil {
		return err
	}
	select {
	case r := <-ch:
		if r.Error != nil {
			return fmt.Errorf("%s: %s", method, r.Error.Message)
		}
		if out != nil {
			return json.Unmarshal(r.Result, out)
		}
		return nil
	case <-p.done:
		return errors.New("the DevTools connection closed")
	case <-ctx.Done():
		return ctx.Err()
	}
}

// poll evaluates expr (a string expression) in the page until ok accepts
// its value.
func (p *cdpPage) poll(ctx context.Context, t *testing.T, what, expr string, ok func(string) bool) {
	t.Helper()
	var last string
	for {
		var r struct {
			Result struct {
				Value any `json:"value"`
			} `json:"result"`
		}
		err := p.call(ctx, "Runtime.evaluate", map[string]any{"expression": expr, "returnByValue": true}, &r)
		if err == nil {
			last, _ = r.Result.Value.(string)
			if ok(last) {
				return
			}
		}
		select {
		case <-ctx.Done():
			t.Fatalf("waiting for %s: %v (last value %q)", what, ctx.Err(), last)
		case <-time.After(50 * time.Millisecond):
		}
	}
}
