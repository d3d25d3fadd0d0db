package http

import (
	"bufio"
	"bytes"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func requester(t *testing.T, r response) map[string]any {
	t.Helper()
	ri, ok := r.body["requesterInformation"].(map[string]any)
	if !ok {
		t.Fatalf("no requesterInformation: %s", r.raw)
	}
	return ri
}

// TestFingerprintCookie: over a real listener, a client with a cookie
// jar keeps one fingerprint across requests, set once by a Set-Cookie
// with the documented defaults, while each request has its own id;
// another jar gets another fingerprint, and a malformed cookie is
// replaced; static files set no cookie.
func TestFingerprintCookie(t *testing.T) {
	cfg := testConfig()
	cfg.PublicDir = t.TempDir()
	s := startServer(t, cfg)
	jar, err := cookiejar.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	client := &http.Client{Jar: jar}

	first := sendWith(t, client, s.url+"/api/echo", nil)
	ri := requester(t, first)
	fp, _ := ri["fingerprint"].(string)
	if fp == "" || fp != ri["id"] {
		t.Fatalf("first request: fingerprint %q, id %v: a new fingerprint is the request's id", fp, ri["id"])
	}
	sc := first.header.Values("Set-Cookie")
	if len(sc) != 1 || sc[0] != "sessionID="+fp+"; Path=/; Max-Age=3600; HttpOnly; SameSite=Lax" {
		t.Fatalf("Set-Cookie = %q", sc)
	}
	for range 3 {
		r := sendWith(t, client, s.url+"/api/echo", nil)
		ri := requester(t, r)
		if ri["fingerprint"] != fp || ri["id"] == fp {
			t.Fatalf("later request: fingerprint %v id %v, want fingerprint %s and an id of its own", ri["fingerprint"], ri["id"], fp)
		}
		if v := r.header.Values("Set-Cookie"); len(v) != 0 {
			t.Fatalf("the cookie is set again: %q", v)
		}
	}
	if err := os.WriteFile(filepath.Join(s.cfg.PublicDir, "f.txt"), []byte("f"), 0o600); err != nil {
		t.Fatal(err)
	}
	if r := sendWith(t, http.DefaultClient, s.url+"/f.txt", nil); r.status != 200 || len(r.header.Values("Set-Cookie")) != 0 {
		t.Errorf("a static file: %d, Set-Cookie %q", r.status, r.header.Values("Set-Cookie"))
	}
	other, _ := cookiejar.New(nil)
	if ri := requester(t, sendWith(t, &http.Client{Jar: other}, s.url+"/api/echo", nil)); ri["fingerprint"] == fp {
		t.Fatal("another cookie jar has the same fingerprint")
	}
	for _, bad := range []string{"<b>hi</b>", "short", strings.Repeat("a", 65)} {
		r := sendWith(t, http.DefaultClient, s.url+"/api/echo", map[string]string{"Cookie": "sessionID=" + bad})
		if ri := requester(t, r); ri["fingerprint"] == bad || len(r.header.Values("Set-Cookie")) != 1 {
			t.Errorf("malformed cookie %q: fingerprint %v, Set-Cookie %q", bad, ri["fingerprint"], r.header.Values("Set-Cookie"))
		}
	}
}

// TestFingerprintSettings: the cookie's name, lifetime and attributes
// follow the configuration; "off" sets none.
func TestFingerprintSettings(t *testing.T) {
	for _, tc := range []struct {
		name  string
		fp    Fingerprint
		https bool // the request comes through a trusted proxy saying https
		want  string
	}{
		{"auto over http", Fingerprint{}, false, "sessionID={id}; Path=/; Max-Age=3600; HttpOnly; SameSite=Lax"},
		{"auto over https", Fingerprint{}, true, "sessionID={id}; Path=/; Max-Age=3600; HttpOnly; Secure; SameSite=Lax"},
		{"never", Fingerprint{Secure: "never"}, true, "sessionID={id}; Path=/; Max-Age=3600; HttpOnly; SameSite=Lax"},
		{"custom", Fingerprint{Cookie: "fp", MaxAge: 24 * time.Hour, Secure: "always", SameSite: "strict", ScriptReadable: true},
			false, "fp={id}; Path=/; Max-Age=86400; Secure; SameSite=Strict"},
		{"same site none", Fingerprint{SameSite: "none", Secure: "never"}, false, "sessionID={id}; Path=/; Max-Age=3600; HttpOnly; Secure; SameSite=None"},
		{"off", Fingerprint{Cookie: "off"}, false, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := testConfig()
			cfg.Fingerprint = tc.fp
			cfg.TrustedProxies = []string{"127.0.0.0/8"}
			s := startServer(t, cfg)
			hdr := map[string]string{}
			if tc.https {
				hdr["X-Forwarded-Proto"] = "https"
			}
			r := sendWith(t, http.DefaultClient, s.url+"/api/echo", hdr)
			ri := requester(t, r)
			id, _ := ri["id"].(string)
			want := strings.ReplaceAll(tc.want, "{id}", id)
			if got := strings.Join(r.header.Values("Set-Cookie"), "\n"); got != want {
				t.Errorf("Set-Cookie = %q, want %q", got, want)
			}
			if ri["fingerprint"] != id {
				t.Errorf("fingerprint %v, want the id %s", ri["fingerprint"], id)
			}
		})
	}
	for _, fp := range []Fingerprint{{Cookie: "bad name"}, {Secure: "sometimes"}, {SameSite: "loose"}, {MaxAge: -time.Second}} {
		cfg := testConfig()
		cfg.Fingerprint = fp
		srv := New(Options{Config: cfg, Actions: startServer(t, testConfig()).reg})
		if err := srv.Listen(); err == nil {
			_ = srv.Close()
			t.Errorf("Listen with fingerprint settings %+v succeeded", fp)
		}
	}
}

// TestTrustedProxies: X-Forwarded-For and X-Forwarded-Proto are believed
// only from a trusted peer, for remoteIP, for the scheme the cookie's
// Secure follows and in the logs; from any other peer they are ignored.
func TestTrustedProxies(t *testing.T) {
	for _, tc := range []struct {
		name    string
		trusted []string
		xff     string
		wantIP  string
		secure  bool
	}{
		{"trusted", []string{"127.0.0.1"}, "203.0.113.9", "203.0.113.9", true},
		{"trusted prefix, chain", []string{"127.0.0.0/8", "10.0.0.0/8"}, "198.51.100.1, 203.0.113.9, 10.1.2.3", "203.0.113.9", true},
		{"untrusted", []string{"10.0.0.0/8"}, "203.0.113.9", "127.0.0.1", false},
		{"none trusted", nil, "203.0.113.9", "127.0.0.1", false},
		{"trusted, malformed entry", []string{"127.0.0.1"}, "203.0.113.9, <script>", "127.0.0.1", true},
		{"trusted, with a port", []string{"::1", "127.0.0.1"}, "[2001:db8::7]:443", "2001:db8::7", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var logs bytes.Buffer
			cfg := testConfig()
			cfg.TrustedProxies = tc.trusted
			s := startServer(t, cfg, func(o *Options) {
				o.Logger = slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
			})
			hdr := map[string]string{"X-Forwarded-For": tc.xff, "X-Forwarded-Proto": "https"}
			r := sendWith(t, http.DefaultClient, s.url+"/api/echo", hdr)
			if ip := requester(t, r)["remoteIP"]; ip != tc.wantIP {
				t.Errorf("remoteIP = %v, want %s", ip, tc.wantIP)
			}
			if got := strings.Contains(r.header.Get("Set-Cookie"), "Secure"); got != tc.secure {
				t.Errorf("cookie Secure = %v, want %v (https believed)", got, tc.secure)
			}
			req, _ := http.NewRequest(http.MethodPost, s.url+"/api/echo", strings.NewReader("{bad json"))
			req.Header.Set("Content-Type", "application/json")
			req.Header.Set("X-Forwarded-For", tc.xff)
			if r := send(t, req); r.status != 400 {
				t.Fatalf("bad JSON: %d", r.status)
			}
			if !strings.Contains(logs.String(), "remote="+tc.wantIP+" ") {
				t.Errorf("the log does not name %s:\n%s", tc.wantIP, logs.String())
			}
			// The request line sits inside the proxy handler: it names the
			// client too.
			lines := 0
			for _, line := range strings.Split(logs.String(), "\n") {
				if strings.Contains(line, "msg=request ") {
					lines++
					if !strings.Contains(line, "remote="+tc.wantIP+" ") {
						t.Errorf("request line does not name %s: %s", tc.wantIP, line)
					}
				}
			}
			if lines == 0 {
				t.Errorf("no request line:\n%s", logs.String())
			}
		})
	}
	cfg := testConfig()
	cfg.TrustedProxies = []string{"10.0.0.0/33"}
	srv := New(Options{Config: cfg, Actions: startServer(t, testConfig()).reg})
	if err := srv.Listen(); err == nil || !strings.Contains(err.Error(), "10.0.0.0/33") {
		_ = srv.Close()
		t.Errorf("a malformed trusted proxy: %v", err)
	}
}

func TestClientAddr(t *testing.T) {
	trusted := func(list ...string) func(netip.Addr) bool {
		p, err := parseProxies(list)
		if err != nil {
			t.Fatal(err)
		}
		s := &Server{proxies: p}
		return s.trusted
	}
	peer := netip.MustParseAddr("10.0.0.1")
	for _, tc := range []struct {
		lines []string
		trust []string
		want  string
		ok    bool
	}{
		{[]string{"1.1.1.1"}, []string{"10.0.0.0/8"}, "1.1.1.1", true},
		{[]string{"1.1.1.1, 10.0.0.2"}, []string{"10.0.0.0/8"}, "1.1.1.1", true},
		{[]string{"1.1.1.1", "10.0.0.2"}, []string{"10.0.0.0/8"}, "1.1.1.1", true},
		{[]string{"6.6.6.6, 1.1.1.1"}, []string{"10.0.0.0/8"}, "1.1.1.1", true}, // a forged entry beyond the client
		{[]string{"10.0.0.3, 10.0.0.2"}, []string{"10.0.0.0/8"}, "10.0.0.3", true},
		{[]string{"garbage"}, []string{"10.0.0.0/8"}, "10.0.0.1", false},
		{[]string{""}, []string{"10.0.0.0/8"}, "10.0.0.1", false},
		{[]string{"::ffff:1.1.1.1"}, []string{"10.0.0.0/8"}, "1.1.1.1", true},
		{[]string{"fe80::1%eth0"}, []string{"10.0.0.0/8"}, "10.0.0.1", false},
	} {
		got, ok := clientAddr(tc.lines, peer, trusted(tc.trust...))
		if got.String() != tc.want || ok != tc.ok {
			t.Errorf("clientAddr(%q) = %s %v, want %s %v", tc.lines, got, ok, tc.want, tc.ok)
		}
	}
}

// TestResponseHeaders: the configured headers are on every response of
// the listener, actions, errors, files and health alike, and an action
// can override one; malformed ones fail Listen.
func TestResponseHeaders(t *testing.T) {
	cfg := testConfig()
	cfg.Headers = map[string]string{"x-frame-options": "DENY", "X-Custom": "from config"}
	cfg.PublicDir = t.TempDir()
	s := startServer(t, cfg)
	for _, path := range []string{"/api/echo", "/api/nosuch", "/healthz", "/nofile"} {
		r := get(t, s.url+path)
		if r.header.Get("X-Frame-Options") != "DENY" || r.header.Get("X-Custom") != "from config" {
			t.Errorf("%s: headers %v", path, r.header)
		}
	}
	if r := get(t, s.url+"/api/created"); r.header.Get("X-Custom") != "yes" || len(r.header.Values("X-Custom")) != 1 {
		t.Errorf("the action's header should win: %v", r.header.Values("X-Custom"))
	}
	for _, h := range []map[string]string{{"Bad Name": "x"}, {"X-Ok": "a\r\nSet-Cookie: x=1"}, {"": "x"}} {
		cfg := testConfig()
		cfg.Headers = h
		srv := New(Options{Config: cfg, Actions: s.reg})
		if err := srv.Listen(); err == nil {
			_ = srv.Close()
			t.Errorf("Listen with headers %q succeeded", h)
		}
	}
}

// TestNoCORSByDefault: without http.cors.allow_origins no CORS header is
// sent, not even to a request with an Origin, and a preflight is not
// answered as one.
func TestNoCORSByDefault(t *testing.T) {
	s := startServer(t, testConfig())
	r := sendWith(t, http.DefaultClient, s.url+"/api/echo", map[string]string{"Origin": "https://app.example"})
	for k := range r.header {
		if strings.HasPrefix(k, "Access-Control-") {
			t.Errorf("CORS header %s: %v", k, r.header[k])
		}
	}
	req, _ := http.NewRequest(http.MethodOptions, s.url+"/api/echo", nil)
	req.Header.Set("Origin", "https://app.example")
	req.Header.Set("Access-Control-Request-Method", "POST")
	if r := send(t, req); r.status == 204 || r.header.Get("Access-Control-Allow-Origin") != "" {
		t.Errorf("preflight answered: %d %v", r.status, r.header)
	}
}

func sendWith(t *testing.T, c *http.Client, url string, hdr map[string]string) response {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	old := http.DefaultClient
	defer func() { http.DefaultClient = old }()
	http.DefaultClient = c
	return send(t, req)
}

// TestCORSAnyOrigin: allow_origins ["*"] answers any origin with *, as
// Stellar does by default.
func TestCORSAnyOrigin(t *testing.T) {
	cfg := testConfig()
	cfg.CORS.AllowOrigins = []string{"*"}
	s := startServer(t, cfg)
	r := sendWith(t, http.DefaultClient, s.url+"/api/echo", map[string]string{"Origin": "https://anywhere.example"})
	if r.header.Get("Access-Control-Allow-Origin") != "*" {
		t.Errorf("Access-Control-Allow-Origin = %q", r.header.Get("Access-Control-Allow-Origin"))
	}
}

// TestSchemeNotFromTheRequestLine: a client writing an https URL in its
// request line over plain HTTP is not taken for HTTPS.
func TestSchemeNotFromTheRequestLine(t *testing.T) {
	s := startServer(t, testConfig())
	conn, err := net.Dial("tcp", s.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	fmt.Fprintf(conn, "GET https://%s/api/echo HTTP/1.1\r\nHost: %s\r\nConnection: close\r\n\r\n", s.Addr(), s.Addr())
	res, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if sc := res.Header.Get("Set-Cookie"); res.StatusCode != 200 || sc == "" || strings.Contains(sc, "Secure") {
		t.Errorf("absolute https URL over http: %d, Set-Cookie %q", res.StatusCode, sc)
	}
	req := httptest.NewRequest(http.MethodGet, "https://example.com/x", nil)
	req.TLS = nil
	if Scheme(req) != "http" {
		t.Errorf("Scheme of a request with an https URL and no TLS = %s", Scheme(req))
	}
}
