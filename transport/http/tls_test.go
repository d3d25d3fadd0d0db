package http

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/stellarfw/stellar-go/action"
	"github.com/stellarfw/stellar-go/internal/logging"
	"github.com/stellarfw/stellar-go/internal/logging/logtest"
	"github.com/stellarfw/stellar-go/internal/poll"
	"github.com/stellarfw/stellar-go/internal/tlsconf"
	"github.com/stellarfw/stellar-go/internal/tlsconf/tlstest"
)

func tlsConfigFor(c tlstest.Cert) Config {
	cfg := testConfig()
	cfg.TLS = tlsconf.Settings{CertFile: c.CertFile, KeyFile: c.KeyFile}
	return cfg
}

// h2Client trusts c, negotiates HTTP/2 and opens a new connection for
// each request.
func h2Client(c tlstest.Cert) *http.Client {
	return &http.Client{Transport: &http.Transport{TLSClientConfig: c.ClientConfig(), ForceAttemptHTTP2: true, DisableKeepAlives: true}}
}

// TestHTTPSNegotiatesHTTP2: with http.tls_cert and http.tls_key the
// listener speaks HTTPS, HTTP/2 negotiated, TLS 1.2 at least; a plain
// HTTP request gets no answer it could mistake for one.
func TestHTTPSNegotiatesHTTP2(t *testing.T) {
	cert := tlstest.Write(t, t.TempDir(), "server", "stellar-test")
	s := startServer(t, tlsConfigFor(cert))
	url := "https://" + s.Addr().String() + "/api/echo?x=1"
	resp, err := h2Client(cert).Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var body map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
		t.Fatal(err)
	}
	if resp.ProtoMajor != 2 || resp.StatusCode != 200 || body["x"] != "1" {
		t.Fatalf("proto %s, status %d, body %v", resp.Proto, resp.StatusCode, body)
	}
	if resp.TLS == nil || resp.TLS.Version < tls.VersionTLS12 || resp.TLS.NegotiatedProtocol != "h2" {
		t.Fatalf("TLS state %+v", resp.TLS)
	}
	if !s.TLS() {
		t.Error("TLS() = false")
	}
	// An HTTP/1.1-only client still works.
	c1 := &http.Client{Transport: &http.Transport{TLSClientConfig: c1Config(cert)}}
	resp1, err := c1.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	resp1.Body.Close()
	if resp1.ProtoMajor != 1 {
		t.Errorf("HTTP/1.1 client got %s", resp1.Proto)
	}
	// Plain HTTP on the TLS port is not served.
	resp2, err := http.Get("http://" + s.Addr().String() + "/api/echo")
	if err == nil {
		defer resp2.Body.Close()
		if resp2.StatusCode != http.StatusBadRequest {
			t.Errorf("plain HTTP on the TLS port: %d", resp2.StatusCode)
		}
	}
}

func c1Config(c tlstest.Cert) *tls.Config {
	cfg := c.ClientConfig()
	cfg.NextProtos = []string{"http/1.1"}
	return cfg
}

// TestHTTPSCurlHTTP2: curl --http2, as a user would, gets HTTP/2.
func TestHTTPSCurlHTTP2(t *testing.T) {
	curl, err := exec.LookPath("curl")
	if err != nil {
		t.Fatal("curl is not installed: this test drives curl --http2; install curl (./test.sh does)")
	}
	cert := tlstest.Write(t, t.TempDir(), "server", "stellar-test")
	s := startServer(t, tlsConfigFor(cert))
	out, err := exec.Command(curl, "--http2", "-sS", "--cacert", cert.CertFile, "-o", "/dev/null",
		"-w", "%{http_version} %{http_code}", "https://localhost:"+portOf(s.Addr().String())+"/api/echo").CombinedOutput()
	if err != nil {
		t.Fatalf("curl: %v: %s", err, out)
	}
	if got := strings.TrimSpace(string(out)); got != "2 200" {
		t.Fatalf("curl --http2: http_version and code %q, want \"2 200\"", got)
	}
}

// TestHTTPSReloadCertificate: after ReloadCertificate (what SIGHUP calls),
// a new connection gets the certificate now in the files; a bad file
// leaves the previous certificate in use.
func TestHTTPSReloadCertificate(t *testing.T) {
	dir := t.TempDir()
	first := tlstest.Write(t, dir, "server", "first")
	s := startServer(t, tlsConfigFor(first))
	seen := func(trust tlstest.Cert) string {
		t.Helper()
		conn, err := tls.Dial("tcp", s.Addr().String(), trust.ClientConfig())
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		return conn.ConnectionState().PeerCertificates[0].Subject.CommonName
	}
	if cn := seen(first); cn != "first" {
		t.Fatalf("before reload: %q", cn)
	}
	second := tlstest.Write(t, dir, "server", "second")
	if cn := seen(first); cn != "first" {
		t.Fatalf("files replaced, not reloaded: %q", cn)
	}
	if err := s.ReloadCertificate(); err != nil {
		t.Fatal(err)
	}
	if cn := seen(second); cn != "second" {
		t.Fatalf("after reload: %q", cn)
	}
	if err := writeFile(second.KeyFile, "not a key"); err != nil {
		t.Fatal(err)
	}
	if err := s.ReloadCertificate(); err == nil || !strings.Contains(err.Error(), "loading the certificate") {
		t.Fatalf("reload of a bad key: %v", err)
	}
	if cn := seen(second); cn != "second" {
		t.Fatalf("after a failed reload: %q", cn)
	}
}

// TestHTTPSVersionAndCiphers: TLS 1.1 is refused by default; min version
// 1.3 refuses 1.2; a cipher suite list limits TLS 1.2 to it.
func TestHTTPSVersionAndCiphers(t *testing.T) {
	cert := tlstest.Write(t, t.TempDir(), "server", "stellar-test")
	dial := func(s *testServer, cfg *tls.Config) error {
		conn, err := tls.Dial("tcp", s.Addr().String(), cfg)
		if err == nil {
			conn.Close()
		}
		return err
	}
	with := func(f func(*tls.Config)) *tls.Config { c := cert.ClientConfig(); f(c); return c }

	def := startServer(t, tlsConfigFor(cert))
	if err := dial(def, with(func(c *tls.Config) { c.MinVersion, c.MaxVersion = tls.VersionTLS10, tls.VersionTLS11 })); err == nil {
		t.Error("TLS 1.1 accepted by default")
	}
	if err := dial(def, with(func(c *tls.Config) { c.MaxVersion = tls.VersionTLS12 })); err != nil {
		t.Errorf("TLS 1.2 refused by default: %v", err)
	}

	cfg13 := tlsConfigFor(cert)
	cfg13.TLS.MinVersion = "1.3"
	s13 := startServer(t, cfg13)
	if err := dial(s13, with(func(c *tls.Config) { c.MaxVersion = tls.VersionTLS12 })); err == nil {
		t.Error("TLS 1.2 accepted with min version 1.3")
	}
	if err := dial(s13, cert.ClientConfig()); err != nil {
		t.Errorf("TLS 1.3 refused: %v", err)
	}

	cfgCS := tlsConfigFor(cert)
	cfgCS.TLS.CipherSuites = []string{"TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256", "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256"}
	sCS := startServer(t, cfgCS)
	if err := dial(sCS, with(func(c *tls.Config) {
		c.MaxVersion = tls.VersionTLS12
		c.CipherSuites = []uint16{tls.TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384}
	})); err == nil {
		t.Error("a suite outside the list was accepted")
	}
	if err := dial(sCS, with(func(c *tls.Config) {
		c.MaxVersion = tls.VersionTLS12
		c.CipherSuites = []uint16{tls.TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256}
	})); err != nil {
		t.Errorf("the listed suite: %v", err)
	}
}

// TestHTTPSBadSettings: Listen refuses what cannot work, naming it.
func TestHTTPSBadSettings(t *testing.T) {
	cert := tlstest.Write(t, t.TempDir(), "server", "stellar-test")
	for _, tc := range []struct {
		name string
		edit func(*Config)
		want string
	}{
		{"missing file", func(c *Config) { c.TLS.CertFile += ".missing" }, "loading the certificate"},
		{"key without cert", func(c *Config) { c.TLS.CertFile = "" }, "must be set together"},
		{"old version", func(c *Config) { c.TLS.MinVersion = "1.0" }, "expected 1.2 or 1.3"},
		{"insecure suite", func(c *Config) { c.TLS.CipherSuites = []string{"TLS_RSA_WITH_RC4_128_SHA"} }, "insecure"},
		{"unknown suite", func(c *Config) { c.TLS.CipherSuites = []string{"TLS_NOPE"} }, "unknown cipher suite"},
		{"no suite HTTP/2 needs", func(c *Config) { c.TLS.CipherSuites = []string{"TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256"} }, "HTTP/2 needs"},
		{"h2c with TLS", func(c *Config) { c.H2C = true }, "h2c"},
		{"redirect without TLS", func(c *Config) { c.TLS = tlsconf.Settings{}; c.RedirectAddr = "127.0.0.1:0" }, "redirect needs a certificate"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := tlsConfigFor(cert)
			tc.edit(&cfg)
			s := New(Options{Config: cfg, Actions: testRegistry(t)})
			err := s.Listen()
			if err == nil {
				s.Close()
				t.Fatal("Listen succeeded")
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %q, want it to say %q", err, tc.want)
			}
		})
	}
}

// TestH2C: with h2c a client speaking HTTP/2 without TLS (prior
// knowledge) gets HTTP/2; HTTP/1.1 still works.
func TestH2C(t *testing.T) {
	cfg := testConfig()
	cfg.H2C = true
	s := startServer(t, cfg)
	var p http.Protocols
	p.SetUnencryptedHTTP2(true)
	c := &http.Client{Transport: &http.Transport{Protocols: &p}}
	resp, err := c.Get(s.url + "/api/echo")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.ProtoMajor != 2 || resp.StatusCode != 200 {
		t.Fatalf("h2c: %s %d", resp.Proto, resp.StatusCode)
	}
	resp, err = http.Get(s.url + "/api/echo")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.ProtoMajor != 1 {
		t.Fatalf("HTTP/1.1 client on h2c: %s", resp.Proto)
	}
}

// TestHTTPSRedirect: the redirect listener answers 308 to the same path
// and query over https on the TLS port, which then serves it.
func TestHTTPSRedirect(t *testing.T) {
	cert := tlstest.Write(t, t.TempDir(), "server", "stellar-test")
	cfg := tlsConfigFor(cert)
	cfg.RedirectAddr = "127.0.0.1:0"
	s := startServer(t, cfg)
	plain := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := plain.Post("http://"+s.RedirectAddr().String()+"/api/echo?x=1", "text/plain", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	want := "https://127.0.0.1:" + portOf(s.Addr().String()) + "/api/echo?x=1"
	if resp.StatusCode != http.StatusPermanentRedirect || resp.Header.Get("Location") != want {
		t.Fatalf("redirect: %d to %q, want 308 to %q", resp.StatusCode, resp.Header.Get("Location"), want)
	}
	follow := &http.Client{Transport: &http.Transport{TLSClientConfig: cert.ClientConfig(), ForceAttemptHTTP2: true}}
	resp, err = follow.Get("http://" + s.RedirectAddr().String() + "/api/echo?x=2")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || resp.TLS == nil || !strings.Contains(string(b), `"x":"2"`) {
		t.Fatalf("followed: %d %s", resp.StatusCode, b)
	}
	// Shutdown closes the redirect listener too.
	ctx := context.Background()
	if err := s.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := plain.Get("http://" + s.RedirectAddr().String() + "/"); err == nil || errors.Is(err, http.ErrUseLastResponse) {
		t.Fatalf("redirect listener still answers after shutdown: %v", err)
	}
}

func writeFile(path, content string) error { return os.WriteFile(path, []byte(content), 0o600) }

func testRegistry(t *testing.T) *action.Registry {
	reg := action.NewRegistry(logging.Discard(), "node-test")
	if err := reg.Register(testActions()...); err != nil {
		t.Fatal(err)
	}
	return reg
}

// TestHTTPSHandshakeErrorsAtDebug: a client that fails the handshake
// (plain HTTP on the HTTPS port, TLS 1.1) is logged at DEBUG, not above.
func TestHTTPSHandshakeErrorsAtDebug(t *testing.T) {
	cert := tlstest.Write(t, t.TempDir(), "server", "stellar-test")
	rec := &logtest.Recorder{}
	s := startServer(t, tlsConfigFor(cert), func(o *Options) { o.Logger = rec.Logger() })
	if resp, err := http.Get("http://" + s.Addr().String() + "/"); err == nil {
		resp.Body.Close()
	}
	old := cert.ClientConfig()
	old.MinVersion, old.MaxVersion = tls.VersionTLS10, tls.VersionTLS11
	if c, err := tls.Dial("tcp", s.Addr().String(), old); err == nil {
		c.Close()
		t.Fatal("TLS 1.1 accepted")
	}
	poll.Until(t, "two handshake failures logged", 5*time.Second, func() bool { return len(rec.Find("tls handshake failed")) >= 2 })
	for _, l := range rec.Find("tls handshake failed") {
		if l["level"] != "DEBUG" {
			t.Errorf("logged at %v: %v", l["level"], l)
		}
	}
	if above := rec.AtLeast(slog.LevelInfo); len(above) > 0 {
		t.Errorf("logged above DEBUG: %v", above)
	}
}
