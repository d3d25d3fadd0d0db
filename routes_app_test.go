package stellar_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/cookiejar"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/stellarfw/stellar-go"
	"github.com/stellarfw/stellar-go/action"
	"github.com/stellarfw/stellar-go/config"
	httpt "github.com/stellarfw/stellar-go/transport/http"
)

// routesApp is a node on free ports with an echo action.
func routesApp(t *testing.T, cfg stellar.Config) *stellar.App {
	t.Helper()
	cfg.HTTP.Addr = "127.0.0.1:0"
	cfg.TCP.Addr = "off"
	app := stellar.New(cfg, stellar.WithLogOutput(io.Discard))
	if err := app.Actions.Register(&action.Action{Name: "echo", Run: func(ctx context.Context, r *action.Request) error {
		for k, v := range r.Params {
			r.Response[k] = v
		}
		r.Response["route"] = r.Route
		return nil
	}}); err != nil {
		t.Fatal(err)
	}
	return app
}

// TestMount: a handler mounted under a prefix gets every method on the
// prefix and below it, with the prefix taken off its path, next to the
// node's routes and actions.
func TestMount(t *testing.T) {
	app := routesApp(t, stellar.Config{})
	app.Mount("/legacy/", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, r.Method+" "+r.URL.Path)
	}))
	if err := app.Routes.Get("/files/*path", "echo"); err != nil {
		t.Fatal(err)
	}
	startApp(t, app)
	base := "http://" + app.HTTPAddr().String()
	for _, tc := range []struct{ method, path, want string }{
		{"GET", "/legacy", "GET /"},
		{"GET", "/legacy/", "GET /"},
		{"POST", "/legacy/a/b", "POST /a/b"},
		{"DELETE", "/legacy/x?y=1", "DELETE /x"},
	} {
		req, _ := http.NewRequest(tc.method, base+tc.path, nil)
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(res.Body)
		res.Body.Close()
		if res.StatusCode != 200 || string(b) != tc.want {
			t.Errorf("%s %s = %d %q, want %q", tc.method, tc.path, res.StatusCode, b, tc.want)
		}
	}
	if code, body := get(t, base+"/legacyX"); code != 404 {
		t.Errorf("a path that only starts like the prefix: %d %s", code, body)
	}
	if code, body := get(t, base+"/api/files/a/b.txt"); code != 200 || !strings.Contains(body, `"path":"a/b.txt"`) {
		t.Errorf("a wildcard route beside the mount: %d %s", code, body)
	}

	for _, prefix := range []string{"", "/", "legacy", "/a/{x}"} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("Mount(%q) did not panic", prefix)
				}
			}()
			routesApp(t, stellar.Config{}).Mount(prefix, http.NotFoundHandler())
		}()
	}
	a := routesApp(t, stellar.Config{})
	a.Mount("/api", http.NotFoundHandler())
	if err := a.Start(context.Background()); err == nil || !strings.Contains(err.Error(), "collides") {
		_ = a.Shutdown(context.Background())
		t.Errorf("a mount over the action path started: %v", err)
	}
}

// TestRouteCollisionRefused: a config route that a program route makes
// unreachable stops Start with ErrRouteCollides (run and config refuse it
// too: TestRouteCollisionExits).
func TestRouteCollisionRefused(t *testing.T) {
	cfg := stellar.Config{}
	cfg.HTTP.Routes = []config.Route{{Method: "get", Path: "/users/me", Action: "echo"}}
	app := routesApp(t, cfg)
	if err := app.Routes.Get("/users/:id", "echo"); err != nil {
		t.Fatal(err)
	}
	if err := app.Start(context.Background()); !errors.Is(err, httpt.ErrRouteCollides) {
		_ = app.Shutdown(context.Background())
		t.Fatalf("Start = %v, want ErrRouteCollides", err)
	}

}

// TestRequesterIdentityOnNode: through a whole node configured by its
// config keys, a cookie jar keeps one fingerprint, a trusted proxy's
// X-Forwarded-For is the remoteIP, and the configured headers are on
// every response of the listener, the user's own handlers included.
func TestRequesterIdentityOnNode(t *testing.T) {
	cfg := stellar.Config{}
	cfg.HTTP.TrustedProxies = []string{"127.0.0.1"}
	cfg.HTTP.Headers = map[string]string{"X-Frame-Options": "DENY"}
	cfg.HTTP.Fingerprint.Cookie = "fp"
	app := routesApp(t, cfg)
	app.Mount("/mine", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, r.RemoteAddr)
	}))
	startApp(t, app)
	base := "http://" + app.HTTPAddr().String()

	jar, err := cookiejar.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	client := &http.Client{Jar: jar}
	var fingerprints []string
	for range 3 {
		req, _ := http.NewRequest(http.MethodGet, base+"/api/echo", nil)
		req.Header.Set("X-Forwarded-For", "198.51.100.4")
		res, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		var body struct {
			RI struct {
				Fingerprint string `json:"fingerprint"`
				RemoteIP    string `json:"remoteIP"`
			} `json:"requesterInformation"`
		}
		err = json.NewDecoder(res.Body).Decode(&body)
		res.Body.Close()
		if err != nil {
			t.Fatal(err)
		}
		if body.RI.RemoteIP != "198.51.100.4" {
			t.Errorf("remoteIP = %q", body.RI.RemoteIP)
		}
		fingerprints = append(fingerprints, body.RI.Fingerprint)
	}
	if fingerprints[0] == "" || fingerprints[0] != fingerprints[1] || fingerprints[1] != fingerprints[2] {
		t.Errorf("fingerprints across one cookie jar: %q", fingerprints)
	}
	// A WebSocket opened by the same browser (the same cookie jar) has the
	// same fingerprint, as Stellar's do.
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	ws, _, err := websocket.Dial(ctx, "ws://"+app.HTTPAddr().String()+"/ws", &websocket.DialOptions{HTTPClient: client})
	if err != nil {
		t.Fatal(err)
	}
	defer ws.CloseNow()
	if err := ws.Write(ctx, websocket.MessageText, []byte(`{"verb":"detailsView"}`)); err != nil {
		t.Fatal(err)
	}
	for {
		_, b, err := ws.Read(ctx)
		if err != nil {
			t.Fatalf("no detailsView reply: %v", err)
		}
		var m struct {
			Data struct {
				Fingerprint string `json:"fingerprint"`
			} `json:"data"`
		}
		if json.Unmarshal(b, &m) == nil && m.Data.Fingerprint != "" {
			if m.Data.Fingerprint != fingerprints[0] {
				t.Errorf("the WebSocket's fingerprint is %q, the HTTP requests' %q", m.Data.Fingerprint, fingerprints[0])
			}
			break
		}
	}
	for _, path := range []string{"/healthz", "/mine/x", "/metrics"} {
		req, _ := http.NewRequest(http.MethodGet, base+path, nil)
		req.Header.Set("X-Forwarded-For", "198.51.100.4")
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(res.Body)
		res.Body.Close()
		if res.Header.Get("X-Frame-Options") != "DENY" {
			t.Errorf("%s: no configured header: %v", path, res.Header)
		}
		if path == "/mine/x" && string(b) != "198.51.100.4" {
			t.Errorf("the mounted handler sees RemoteAddr %q, want the client's", b)
		}
	}
}

// TestWebSocketPerIPBehindTrustedProxy: behind a trusted proxy, the
// WebSocket per-address limit counts the clients' addresses from
// X-Forwarded-For, not the proxy's.
func TestWebSocketPerIPBehindTrustedProxy(t *testing.T) {
	cfg := stellar.Config{}
	cfg.WebSocket.MaxConnectionsPerIP = 1
	cfg.HTTP.TrustedProxies = []string{"127.0.0.1", "::1"}
	app := connApp(t, cfg)
	dial := func(client string) (*websocket.Conn, *http.Response, error) {
		h := http.Header{}
		h.Set("X-Forwarded-For", client)
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		return websocket.Dial(ctx, "ws://"+app.HTTPAddr().String()+"/ws", &websocket.DialOptions{HTTPHeader: h})
	}
	for _, client := range []string{"198.51.100.1", "198.51.100.2"} {
		c, _, err := dial(client)
		if err != nil {
			t.Fatalf("client %s: %v", client, err)
		}
		t.Cleanup(func() { _ = c.CloseNow() })
	}
	c, res, err := dial("198.51.100.1")
	if err == nil {
		_ = c.CloseNow()
		t.Fatal("a second connection from 198.51.100.1 was accepted")
	}
	if res == nil || res.StatusCode != http.StatusTooManyRequests {
		t.Fatalf("refusal: %v %v", res, err)
	}
}
