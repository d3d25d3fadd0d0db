package config

import (
	"slices"
	"strings"

	"github.com/stellarfw/stellar-go/internal/tlsconf"
	httpt "github.com/stellarfw/stellar-go/transport/http"
)

// The http section's TLS, compression and static-file keys, and the TLS
// keys they share with the tcp section.

func (c *Config) httpTLSDefaults() {
	h := &c.HTTP
	setDefault(&h.TLSMinVersion, tlsconf.DefaultMinVersion)
	setDefault(&h.RedirectAddr, "off")
	setDefault(&h.CompressMinBytes, httpt.DefaultCompressMinBytes)
	setDefault(&h.FilesPath, httpt.DefaultFilesPath)
	setDefault(&c.TCP.TLSMinVersion, tlsconf.DefaultMinVersion)
}

func (c Config) validateHTTPTLS() error {
	h := c.HTTP
	if err := tlsSettings("http", h.TLSCert, h.TLSKey, h.TLSMinVersion, h.TLSCipherSuites); err != nil {
		return err
	}
	if err := tlsSettings("tcp", c.TCP.TLSCert, c.TCP.TLSKey, c.TCP.TLSMinVersion, c.TCP.TLSCipherSuites); err != nil {
		return err
	}
	if cs := h.TLSCipherSuites; len(cs) > 0 && !slices.ContainsFunc(cs, func(n string) bool {
		n = strings.TrimSpace(n)
		return n == "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256" || n == "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256"
	}) {
		return invalid("http.tls_cipher_suites", "HTTP/2 needs TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256 or TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256 among them")
	}
	if h.H2C && h.TLSCert != "" {
		return invalid("http.h2c", "h2c is HTTP/2 without TLS, for behind a proxy: with http.tls_cert the listener negotiates HTTP/2 over TLS already")
	}
	if a := h.RedirectAddr; a != "" && a != "off" {
		if h.TLSCert == "" {
			return invalid("http.redirect_addr", "the redirect to HTTPS needs http.tls_cert and http.tls_key")
		}
		if err := listenAddr("http.redirect_addr", a); err != nil {
			return err
		}
		if a == h.Addr {
			return invalid("http.redirect_addr", "%s is http.addr too", a)
		}
	}
	if h.CompressMinBytes < -1 {
		return invalid("http.compress_min_bytes", "expected -1 (off) or a size in bytes, got %d", h.CompressMinBytes)
	}
	if p := h.FilesPath; p != "" && p != "off" && (!strings.HasPrefix(p, "/") || p == "/") {
		return invalid("http.files_path", `expected a path below "/" or "off", got %q`, p)
	}
	for i, r := range h.CacheControl {
		if !strings.HasPrefix(r.Prefix, "/") {
			return invalid("http.cache_control", `entry %d: the prefix must start with "/", got %q`, i, r.Prefix)
		}
		if strings.ContainsAny(r.Value, "\r\n") {
			return invalid("http.cache_control", "entry %d: the value holds a line break", i)
		}
	}
	return nil
}

func tlsSettings(section, cert, key, minVersion string, suites []string) error {
	if (cert == "") != (key == "") {
		return invalid(section+".tls_cert", "%[1]s.tls_cert and %[1]s.tls_key must be set together", section)
	}
	if _, err := tlsconf.ParseVersion(minVersion); err != nil {
		return invalid(section+".tls_min_version", "%v", err)
	}
	if _, err := tlsconf.ParseCipherSuites(suites); err != nil {
		return invalid(section+".tls_cipher_suites", "%v", err)
	}
	return nil
}

func init() {
	for k, v := range map[string]string{
		"http.tls_cert":           "PEM certificate file; with http.tls_key the HTTP listener speaks HTTPS only, HTTP/2 negotiated; SIGHUP rereads it",
		"http.tls_key":            "PEM private key file of http.tls_cert",
		"http.tls_min_version":    "oldest TLS version accepted on HTTPS: 1.2 or 1.3",
		"http.tls_cipher_suites":  "TLS 1.2 cipher suites allowed on HTTPS, by Go's names; empty keeps Go's secure defaults",
		"http.h2c":                "serve HTTP/2 without TLS (prior knowledge), for behind a proxy; not with http.tls_cert",
		"http.redirect_addr":      `address of a listener that redirects every request to HTTPS (308), or "off"`,
		"http.compress_min_bytes": "smallest response compressed (zstd or gzip, as Accept-Encoding ranks them); -1 compresses nothing",
		"http.files_path":         `path where static files are served (urlPathForFiles), besides "/" when the root serves files, or "off"`,
		"http.cache_control":      "Cache-Control of static files by URL prefix, the longest winning: list of {prefix, value} (JSON in env and flags)",
		"tcp.tls_min_version":     "oldest TLS version accepted on TCP: 1.2 or 1.3",
		"tcp.tls_cipher_suites":   "TLS 1.2 cipher suites allowed on TCP, by Go's names; empty keeps Go's secure defaults",
	} {
		keyDocs[k] = v
	}
}
