package main

import (
	"context"
	"crypto/tls"
	"io"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/stellarfw/stellar-go/internal/redistest"
	"github.com/stellarfw/stellar-go/internal/tlsconf/tlstest"
)

// httpsClient trusts cert, negotiates HTTP/2 and opens a connection for
// each request, so that each sees the certificate served at that moment.
func httpsClient(cert tlstest.Cert) *http.Client {
	return &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{
		TLSClientConfig: cert.ClientConfig(), ForceAttemptHTTP2: true, DisableKeepAlives: true}}
}

// servedCN is the common name of the certificate a new TLS connection to
// addr gets, "" when it cannot connect.
func servedCN(addr string, trust tlstest.Cert) string {
	conn, err := tls.Dial("tcp", addr, trust.ClientConfig())
	if err != nil {
		return ""
	}
	defer conn.Close()
	return conn.ConnectionState().PeerCertificates[0].Subject.CommonName
}

// getH2 GETs url and requires 200 over HTTP/2.
func getH2(t *testing.T, c *http.Client, url string) http.Header {
	t.Helper()
	res, err := c.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	_, _ = io.Copy(io.Discard, res.Body)
	res.Body.Close()
	if res.StatusCode != 200 || res.ProtoMajor != 2 {
		t.Fatalf("GET %s: %s over %s", url, res.Status, res.Proto)
	}
	return res.Header
}

// TestTLSNodeProcess: `stellar run` with STELLAR_HTTP_TLS_CERT and
// STELLAR_HTTP_TLS_KEY serves HTTPS with HTTP/2 and the WebSocket endpoint
// as wss, TCP speaks TLS with its own keys; SIGHUP rereads both
// certificates, which new connections see, and the node keeps running.
func TestTLSNodeProcess(t *testing.T) {
	dir := t.TempDir()
	first := tlstest.Write(t, dir, "server", "first")
	addr, tcpAddr := freePort(t), freePort(t)
	env := []string{"STELLAR_HTTP_TLS_CERT=" + first.CertFile, "STELLAR_HTTP_TLS_KEY=" + first.KeyFile, "STELLAR_LOG_FORMAT=text",
		"STELLAR_TCP_TLS_CERT=" + first.CertFile, "STELLAR_TCP_TLS_KEY=" + first.KeyFile}
	cmd := command(t, t.TempDir(), env, "run", "--http", addr, "--tcp", tcpAddr)
	stderr := &lockedBuffer{}
	cmd.Stderr, cmd.Stdout = stderr, io.Discard
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); close(done) }()
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-done:
		case <-time.After(15 * time.Second):
			_ = cmd.Process.Kill()
			<-done
		}
	})
	client := httpsClient(first)
	eventually(t, 15*time.Second, 20*time.Millisecond, func() bool {
		res, err := client.Get("https://" + addr + "/readyz")
		if err != nil {
			return false
		}
		res.Body.Close()
		return res.StatusCode == 200
	}, func() string { return "node not ready over https:\n" + stderr.String() })
	getH2(t, client, "https://"+addr+"/api/randomNumber")
	curl, err := exec.LookPath("curl")
	if err != nil {
		t.Fatal("curl is not installed: this test drives curl --http2; install curl (./test.sh does)")
	}
	out, err := exec.Command(curl, "--http2", "-sS", "--cacert", first.CertFile, "-o", "/dev/null",
		"-w", "%{http_version} %{http_code}", "https://"+addr+"/api/randomNumber").CombinedOutput()
	if err != nil || strings.TrimSpace(string(out)) != "2 200" {
		t.Fatalf("curl --http2: %q %v", out, err)
	}

	// The WebSocket endpoint on the listener is wss (over HTTP/1.1).
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	h1 := first.ClientConfig()
	h1.NextProtos = []string{"http/1.1"}
	ws, _, err := websocket.Dial(ctx, "wss://"+addr+"/ws", &websocket.DialOptions{
		HTTPClient: &http.Client{Transport: &http.Transport{TLSClientConfig: h1}}})
	if err != nil {
		t.Fatalf("wss: %v", err)
	}
	defer ws.CloseNow()
	_, welcome, err := ws.Read(ctx)
	if err != nil || !strings.Contains(string(welcome), "welcome") {
		t.Fatalf("wss welcome: %s %v", welcome, err)
	}

	if cn := servedCN(tcpAddr, first); cn != "first" {
		t.Fatalf("TCP over TLS: %q", cn)
	}
	second := tlstest.Write(t, dir, "server", "second")
	if err := cmd.Process.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	eventually(t, 10*time.Second, 20*time.Millisecond, func() bool {
		return servedCN(addr, second) == "second" && servedCN(tcpAddr, second) == "second"
	}, func() string {
		return "the new certificate is not served on HTTPS and TCP after SIGHUP:\n" + stderr.String()
	})
	getH2(t, httpsClient(second), "https://"+addr+"/api/randomNumber")
	select {
	case <-done:
		t.Fatalf("the node exited on SIGHUP:\n%s", stderr)
	default:
	}
	if !strings.Contains(stderr.String(), `msg="certificate reloaded"`) {
		t.Errorf("no reload logged:\n%s", stderr)
	}

	// A key that does not load: the error is logged, the certificate
	// read last stays, the node serves on.
	if err := os.WriteFile(second.KeyFile, []byte("not a key"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := cmd.Process.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	eventually(t, 10*time.Second, 20*time.Millisecond, func() bool {
		return strings.Contains(stderr.String(), `msg="certificate reload failed: the previous certificates stay in use"`)
	}, func() string { return "no failed reload logged:\n" + stderr.String() })
	if cn := servedCN(addr, second); cn != "second" {
		t.Fatalf("after a failed reload: %q", cn)
	}
	getH2(t, httpsClient(second), "https://"+addr+"/api/randomNumber")
}

// TestTLSStartCluster: under startCluster the workers serve HTTPS with
// HTTP/2 on the socket the supervisor shares, and SIGHUP (a rolling
// restart) brings the new certificate.
func TestTLSStartCluster(t *testing.T) {
	srv := redistest.Start(t)
	dir := t.TempDir()
	first := tlstest.Write(t, dir, "server", "first")
	addr := freePort(t)
	env := []string{"STELLAR_REDIS_PREFIX=" + redistest.Prefix(t), "STELLAR_LOG_FORMAT=text",
		"STELLAR_CLUSTER_HEARTBEAT_INTERVAL=100ms", "STELLAR_CLUSTER_NODE_TTL=1s", "STELLAR_SHUTDOWN_TIMEOUT=5s",
		"STELLAR_HTTP_TLS_CERT=" + first.CertFile, "STELLAR_HTTP_TLS_KEY=" + first.KeyFile}
	sup := startSupervisor(t, env, "--workers", "2", "--redis", srv.URL(), "--http", addr, "--tcp", "off")
	sup.waitFor(t, "two workers ready", 30*time.Second, func() bool { return len(sup.workers()) == 2 })
	client := httpsClient(first)
	served := map[string]bool{}
	sup.waitFor(t, "both workers answer over HTTPS", 30*time.Second, func() bool {
		served[getH2(t, client, "https://"+addr+"/api/randomNumber").Get("X-Served-By")] = true
		return len(served) == 2
	})

	second := tlstest.Write(t, dir, "server", "second")
	sup.signal(t, syscall.SIGHUP)
	rolled := func() bool {
		return sup.count("worker stopped for the rolling restart") >= 2 && len(sup.workers()) == 2
	}
	sup.waitFor(t, "the roll after SIGHUP", 60*time.Second, rolled)
	sup.waitFor(t, "the new certificate", 10*time.Second, func() bool { return servedCN(addr, second) == "second" })
	getH2(t, httpsClient(second), "https://"+addr+"/api/randomNumber")
}
