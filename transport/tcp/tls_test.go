package tcp

import (
	"bufio"
	"crypto/tls"
	"encoding/json"
	"testing"

	"github.com/stellarfw/stellar-go/internal/session/sessiontest"
	"github.com/stellarfw/stellar-go/internal/tlsconf/tlstest"
)

// TestTLS: with tcp.tls_cert and tcp.tls_key the server speaks TLS only,
// with the same version floor and suite choice as HTTPS; ReloadCertificate
// hands new connections the certificate now in the files.
func TestTLS(t *testing.T) {
	dir := t.TempDir()
	first := tlstest.Write(t, dir, "tcp", "first")
	s := startServer(t, Config{TLSCert: first.CertFile, TLSKey: first.KeyFile, TLSMinVersion: "1.3"}, nil)
	talk := func(trust tlstest.Cert, maxVersion uint16) (string, error) {
		cfg := trust.ClientConfig()
		cfg.MaxVersion = maxVersion
		c, err := tls.Dial("tcp", s.Addr().String(), cfg)
		if err != nil {
			return "", err
		}
		defer c.Close()
		var welcome map[string]any
		if err := json.NewDecoder(bufio.NewReader(c)).Decode(&welcome); err != nil {
			return "", err
		}
		return c.ConnectionState().PeerCertificates[0].Subject.CommonName, nil
	}
	if cn, err := talk(first, 0); err != nil || cn != "first" {
		t.Fatalf("TLS 1.3: %q %v", cn, err)
	}
	if _, err := talk(first, tls.VersionTLS12); err == nil {
		t.Fatal("TLS 1.2 accepted with tcp.tls_min_version 1.3")
	}
	second := tlstest.Write(t, dir, "tcp", "second")
	if err := s.ReloadCertificate(); err != nil {
		t.Fatal(err)
	}
	if cn, err := talk(second, 0); err != nil || cn != "second" {
		t.Fatalf("after reload: %q %v", cn, err)
	}

	bad := New(Options{Config: Config{Addr: "127.0.0.1:0", TLSCert: first.CertFile, TLSKey: first.KeyFile,
		TLSCipherSuites: []string{"TLS_RSA_WITH_RC4_128_SHA"}}, Session: sessiontest.Options(t, nil)})
	if err := bad.Listen(); err == nil {
		t.Fatal("an insecure suite was accepted")
	}
}
