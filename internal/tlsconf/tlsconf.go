// Package tlsconf builds the TLS settings shared by the node's listeners
// (HTTP, and the WebSocket endpoint on it, and TCP): a certificate read
// from PEM files that Reload reads again, a minimum version and a choice
// of cipher suites, with safe defaults.
package tlsconf

import (
	"crypto/tls"
	"errors"
	"fmt"
	"strings"
	"sync"
)

// DefaultMinVersion is the minimum TLS version when none is set.
const DefaultMinVersion = "1.2"

// Settings are the TLS settings of one listener. TLS is on when CertFile
// is set.
type Settings struct {
	// CertFile and KeyFile are PEM files: the certificate (its chain
	// after it) and its private key.
	CertFile, KeyFile string
	// MinVersion is "1.2" (DefaultMinVersion) or "1.3".
	MinVersion string
	// CipherSuites names the suites allowed for TLS 1.2, as Go names
	// them (tls.CipherSuites, such as
	// TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256). Empty means Go's
	// defaults. TLS 1.3 suites are not configurable.
	CipherSuites []string
}

// Enabled reports whether TLS is on.
func (s Settings) Enabled() bool { return s.CertFile != "" }

// Check reports the first setting that is wrong, without reading files:
// a certificate without a key, an unknown version, an unknown or
// insecure cipher suite.
func (s Settings) Check() error {
	if (s.CertFile == "") != (s.KeyFile == "") {
		return errors.New("the certificate and the key must be set together")
	}
	if _, err := ParseVersion(s.MinVersion); err != nil {
		return err
	}
	_, err := ParseCipherSuites(s.CipherSuites)
	return err
}

// ParseVersion reads a minimum version: "1.2" or "1.3" ("" is the
// default, 1.2). Older versions are refused.
func ParseVersion(v string) (uint16, error) {
	switch strings.TrimSpace(v) {
	case "", "1.2":
		return tls.VersionTLS12, nil
	case "1.3":
		return tls.VersionTLS13, nil
	}
	return 0, fmt.Errorf("TLS version %q: expected 1.2 or 1.3", v)
}

// ParseCipherSuites reads suite names; only those Go deems secure are
// accepted. Nil for none.
func ParseCipherSuites(names []string) ([]uint16, error) {
	if len(names) == 0 {
		return nil, nil
	}
	known := map[string]uint16{}
	for _, cs := range tls.CipherSuites() {
		known[cs.Name] = cs.ID
	}
	insecure := map[string]bool{}
	for _, cs := range tls.InsecureCipherSuites() {
		insecure[cs.Name] = true
	}
	ids := make([]uint16, 0, len(names))
	for _, n := range names {
		n = strings.TrimSpace(n)
		id, ok := known[n]
		switch {
		case insecure[n]:
			return nil, fmt.Errorf("cipher suite %s is insecure", n)
		case !ok:
			return nil, fmt.Errorf("unknown cipher suite %q (expected a name of Go's crypto/tls, such as TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256)", n)
		}
		ids = append(ids, id)
	}
	return ids, nil
}

// Certificate is a certificate read from its files, which Reload reads
// again; the TLS configuration of Config hands the current one to each
// new connection.
type Certificate struct {
	settings Settings
	mu       sync.RWMutex
	cert     *tls.Certificate
}

// Load checks s and reads its certificate.
func Load(s Settings) (*Certificate, error) {
	if err := s.Check(); err != nil {
		return nil, err
	}
	c := &Certificate{settings: s}
	if err := c.Reload(); err != nil {
		return nil, err
	}
	return c, nil
}

// Reload reads the files again. On error the previous certificate stays.
func (c *Certificate) Reload() error {
	cert, err := tls.LoadX509KeyPair(c.settings.CertFile, c.settings.KeyFile)
	if err != nil {
		return fmt.Errorf("loading the certificate %s and key %s: %w", c.settings.CertFile, c.settings.KeyFile, err)
	}
	c.mu.Lock()
	c.cert = &cert
	c.mu.Unlock()
	return nil
}

func (c *Certificate) get(*tls.ClientHelloInfo) (*tls.Certificate, error) {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return c.cert, nil
}

// Config returns the server TLS configuration: the minimum version and
// suites of the settings, and the certificate read last. nextProtos are
// the ALPN protocols offered ("h2", "http/1.1"), none for a raw stream.
func (c *Certificate) Config(nextProtos ...string) *tls.Config {
	minV, _ := ParseVersion(c.settings.MinVersion) // checked by Load
	suites, _ := ParseCipherSuites(c.settings.CipherSuites)
	return &tls.Config{
		MinVersion:     minV,
		CipherSuites:   suites,
		GetCertificate: c.get,
		NextProtos:     nextProtos,
	}
}
