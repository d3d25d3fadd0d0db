package http

import (
	"context"
	"errors"
	"fmt"
	"log"
	"log/slog"
	"net"
	"net/http"
	"slices"
	"strings"

	"github.com/stellarfw/stellar-go/internal/listen"
	"github.com/stellarfw/stellar-go/internal/tlsconf"
)

// setupTLS reads the certificate and chooses the protocols: HTTP/1.1 and
// HTTP/2 over TLS, HTTP/1.1 (and HTTP/2 with prior knowledge, with H2C)
// without.
func (s *Server) setupTLS() error {
	if err := s.cfg.TLS.Check(); err != nil {
		return fmt.Errorf("http: TLS: %w", err)
	}
	on := s.cfg.TLS.Enabled()
	switch {
	case on && s.cfg.H2C:
		return errors.New("http: h2c is HTTP/2 without TLS, for behind a proxy: set it or a certificate, not both")
	case s.cfg.RedirectAddr != "" && !on:
		return errors.New("http: the HTTP→HTTPS redirect needs a certificate (http.tls_cert, http.tls_key)")
	}
	var p http.Protocols
	p.SetHTTP1(true)
	if on {
		cert, err := tlsconf.Load(s.cfg.TLS)
		if err != nil {
			return fmt.Errorf("http: TLS: %w", err)
		}
		if cs := s.cfg.TLS.CipherSuites; len(cs) > 0 && !slices.ContainsFunc(cs, func(n string) bool {
			return strings.TrimSpace(n) == "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256" || strings.TrimSpace(n) == "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256"
		}) {
			return errors.New("http: TLS: HTTP/2 needs TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256 or TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256 among the cipher suites")
		}
		s.cert = cert
		s.srv.TLSConfig = cert.Config("h2", "http/1.1")
		s.srv.ErrorLog = log.New(serverLog{s.logger}, "", 0)
		p.SetHTTP2(true)
	} else if s.cfg.H2C {
		p.SetUnencryptedHTTP2(true)
	}
	s.srv.Protocols = &p
	return nil
}

// TLS reports whether the server speaks HTTPS.
func (s *Server) TLS() bool { return s.cert != nil }

// ReloadCertificate reads the certificate and key files again; new
// connections get the new certificate, open ones keep theirs. On error
// the previous certificate stays in use. Without TLS it does nothing.
func (s *Server) ReloadCertificate() error {
	if s.cert == nil {
		return nil
	}
	if err := s.cert.Reload(); err != nil {
		return fmt.Errorf("http: %w", err)
	}
	return nil
}

// listenRedirect binds Config.RedirectAddr; its redirects go to the port
// of main, the bound HTTPS listener.
func (s *Server) listenRedirect(main net.Addr) error {
	if s.cfg.RedirectAddr == "" || s.cfg.RedirectAddr == "off" {
		return nil
	}
	ln, err := listen.Listen("tcp", s.cfg.RedirectAddr)
	if err != nil {
		return fmt.Errorf("http: cannot listen on %s for the HTTPS redirect: %w", s.cfg.RedirectAddr, err)
	}
	s.redirectLn = ln
	s.redirect = &http.Server{
		Handler:           redirectHandler{port: portOf(main.String())},
		ReadHeaderTimeout: s.cfg.ReadHeaderTimeout,
		ReadTimeout:       s.cfg.ReadTimeout,
		WriteTimeout:      s.cfg.WriteTimeout,
		IdleTimeout:       s.cfg.IdleTimeout,
		MaxHeaderBytes:    s.cfg.MaxHeaderBytes,
		ErrorLog:          slog.NewLogLogger(s.logger.Handler(), slog.LevelWarn),
	}
	return nil
}

// RedirectAddr is the bound address of the redirect listener, nil for
// none.
func (s *Server) RedirectAddr() net.Addr {
	if s.redirectLn == nil {
		return nil
	}
	return s.redirectLn.Addr()
}

func (s *Server) serveRedirect() {
	if s.redirect == nil {
		return
	}
	go func() {
		if err := s.redirect.Serve(s.redirectLn); err != nil && !errors.Is(err, http.ErrServerClosed) {
			s.logger.Error("the HTTPS redirect listener stopped", "addr", s.cfg.RedirectAddr, "error", err.Error())
		}
	}()
}

func (s *Server) shutdownRedirect(ctx context.Context) error {
	if s.redirect == nil {
		return nil
	}
	if err := s.redirect.Shutdown(ctx); err != nil {
		_ = s.redirect.Close()
		return fmt.Errorf("http: stopping the HTTPS redirect: %w", err)
	}
	return nil
}

// portOf is the port of a listen address, "" when it has none.
func portOf(addr string) string {
	_, port, err := net.SplitHostPort(addr)
	if err != nil {
		return ""
	}
	return port
}

// redirectHandler answers 308 to the same host, path and query over
// https on port (none for 443).
type redirectHandler struct{ port string }

func (h redirectHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	host := r.Host
	if hh, _, err := net.SplitHostPort(host); err == nil {
		host = hh
	}
	switch {
	case strings.HasPrefix(host, "[") && strings.HasSuffix(host, "]") && net.ParseIP(host[1:len(host)-1]) != nil:
	case strings.Contains(host, ":") && net.ParseIP(host) != nil:
		host = "[" + host + "]" // IPv6
	case validHostName(host):
	default:
		http.Error(w, "bad Host header", http.StatusBadRequest)
		return
	}
	if h.port != "" && h.port != "443" {
		host += ":" + h.port
	}
	target := "https://" + host + r.URL.RequestURI()
	w.Header().Set("Location", target)
	w.Header().Set("Connection", "close")
	w.WriteHeader(http.StatusPermanentRedirect)
}

// validHostName reports whether h is a DNS name or an IPv4 address: only
// letters, digits, '-', '_' and '.'.
func validHostName(h string) bool {
	if h == "" || len(h) > 253 {
		return false
	}
	for _, c := range h {
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '_' || c == '.') {
			return false
		}
	}
	return true
}

// serverLog writes net/http's own messages: a failed TLS handshake is the
// client's doing (a scanner, plain HTTP on the HTTPS port, an old TLS
// version) and goes to DEBUG; the rest to WARN, as without TLS.
type serverLog struct{ logger *slog.Logger }

func (l serverLog) Write(p []byte) (int, error) {
	msg := strings.TrimSpace(string(p))
	if strings.Contains(msg, "TLS handshake error") {
		l.logger.Debug("tls handshake failed", "error", strings.TrimPrefix(msg, "http: "))
	} else {
		l.logger.Warn(msg)
	}
	return len(p), nil
}
