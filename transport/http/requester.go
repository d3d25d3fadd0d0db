package http

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/netip"
	"strings"

	"github.com/stellarfw/stellar-go/connection"
)

// Scheme is the scheme a client used for r: "https" when the node's
// listener spoke TLS or a trusted proxy said so in X-Forwarded-Proto
// (see Config.TrustedProxies), else "http".
func Scheme(r *http.Request) string {
	if scheme, ok := r.Context().Value(schemeKey{}).(string); ok {
		return scheme
	}
	if r.TLS != nil {
		return "https"
	}
	return "http"
}

// schemeKey keys the scheme a trusted proxy stated in a request's
// context. It is not r.URL.Scheme, which a client sets by writing an
// absolute URL in its request line.
type schemeKey struct{}

// parseProxies parses Config.TrustedProxies.
func parseProxies(list []string) ([]netip.Prefix, error) {
	var out []netip.Prefix
	for i, s := range list {
		s = strings.TrimSpace(s)
		if p, err := netip.ParsePrefix(s); err == nil {
			out = append(out, p.Masked())
			continue
		}
		a, err := netip.ParseAddr(s)
		if err != nil {
			return nil, fmt.Errorf("http: trusted proxy %d: %q is neither an IP address nor a CIDR prefix such as 10.0.0.0/8", i, s)
		}
		a = a.Unmap()
		out = append(out, netip.PrefixFrom(a, a.BitLen()))
	}
	return out, nil
}

// CheckTrustedProxies reports whether every entry of list is an IP
// address or a CIDR prefix, as Config.TrustedProxies takes them.
func CheckTrustedProxies(list []string) error {
	_, err := parseProxies(list)
	return err
}

// CheckFingerprint reports whether f is a valid Config.Fingerprint once
// its defaults are filled in (zero fields are taken as their defaults).
func CheckFingerprint(f Fingerprint) error {
	c := Config{Fingerprint: f}
	c.setDefaults()
	_, err := checkFingerprint(c.Fingerprint)
	return err
}

// trusted reports whether a is one of the trusted proxies.
func (s *Server) trusted(a netip.Addr) bool {
	for _, p := range s.proxies {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// forwarded returns r as its client sent it when its peer is a trusted
// proxy that forwarded it: RemoteAddr becomes the client's address from
// X-Forwarded-For (without a port), and the scheme from
// X-Forwarded-Proto is what Scheme reports. Otherwise, or when the
// headers say nothing usable, it returns r itself.
func (s *Server) forwarded(r *http.Request) *http.Request {
	if len(s.proxies) == 0 {
		return r
	}
	xff, proto := r.Header.Values("X-Forwarded-For"), r.Header.Values("X-Forwarded-Proto")
	if len(xff) == 0 && len(proto) == 0 {
		return r
	}
	peer, err := netip.ParseAddrPort(r.RemoteAddr)
	if err != nil || !s.trusted(peer.Addr().Unmap()) {
		return r
	}
	client, ok := clientAddr(xff, peer.Addr().Unmap(), s.trusted)
	scheme := forwardedProto(proto)
	if !ok && scheme == "" {
		return r
	}
	var r2 *http.Request
	if scheme != "" {
		r2 = r.WithContext(context.WithValue(r.Context(), schemeKey{}, scheme))
	} else {
		c := *r
		r2 = &c
	}
	if ok {
		r2.RemoteAddr = client.String()
	}
	return r2
}

// clientAddr walks the X-Forwarded-For entries (the header's lines,
// each a comma-separated list, the nearest hop last) from the nearest
// hop outwards while the hop that added an entry is trusted, and returns
// the first address not a trusted proxy, or the farthest one the
// trusted hops vouch for. It stops at a malformed entry: what lies
// beyond it cannot be vouched for. ok is false when no entry was usable.
func clientAddr(lines []string, peer netip.Addr, trusted func(netip.Addr) bool) (netip.Addr, bool) {
	cur, ok := peer, false
	for i := len(lines) - 1; i >= 0; i-- {
		line := lines[i]
		for line != "" {
			var entry string
			if j := strings.LastIndexByte(line, ','); j >= 0 {
				entry, line = line[j+1:], line[:j]
			} else {
				entry, line = line, ""
			}
			if !trusted(cur) {
				return cur, ok
			}
			a, good := parseForwardedAddr(strings.TrimSpace(entry))
			if !good {
				return cur, ok
			}
			cur, ok = a, true
		}
	}
	return cur, ok
}

// parseForwardedAddr parses one X-Forwarded-For entry: an address, or
// an address and a port as some proxies write it.
func parseForwardedAddr(s string) (netip.Addr, bool) {
	if a, err := netip.ParseAddr(s); err == nil {
		return a.Unmap(), a.Zone() == ""
	}
	if ap, err := netip.ParseAddrPort(s); err == nil {
		return ap.Addr().Unmap(), ap.Addr().Zone() == ""
	}
	return netip.Addr{}, false
}

// forwardedProto is the scheme the nearest trusted hop states in
// X-Forwarded-Proto (its last entry), "" unless http or https.
func forwardedProto(lines []string) string {
	if len(lines) == 0 {
		return ""
	}
	last := lines[len(lines)-1]
	if j := strings.LastIndexByte(last, ','); j >= 0 {
		last = last[j+1:]
	}
	switch strings.ToLower(strings.TrimSpace(last)) {
	case "https":
		return "https"
	case "http":
		return "http"
	}
	return ""
}

// fingerprint returns the fingerprint of the request that conn is: the
// value of the fingerprint cookie when r carries a well-formed one,
// else conn's id, which a Set-Cookie on w hands to the client.
func (s *Server) fingerprint(w http.ResponseWriter, r *http.Request, conn *connection.Conn) string {
	f := s.cfg.Fingerprint
	if f.Cookie == "off" {
		return conn.ID
	}
	if v, ok := cookieValue(r.Header, f.Cookie); ok {
		if connection.ValidFingerprint(v) {
			return v
		}
		s.logger.Debug("malformed fingerprint cookie replaced", "cookie", f.Cookie, "remote", conn.RemoteAddr)
	}
	secure := f.Secure == SecureAlways || f.SameSite == "none" || (f.Secure == SecureAuto && Scheme(r) == "https")
	h := w.Header()
	h["Set-Cookie"] = append(h["Set-Cookie"], s.cookies[boolIndex(secure)].line(conn.ID))
	return conn.ID
}

// fingerprintCookie is the fingerprint's Set-Cookie line built once, as
// http.SetCookie writes it, but for the value.
type fingerprintCookie struct{ before, after string }

// idPlaceholder stands for a connection id in fingerprintCookie: what
// http.Cookie makes of it is what it makes of every id, 32 hex digits.
const idPlaceholder = "0123456789abcdef0123456789abcdef"

// newFingerprintCookies returns the Set-Cookie lines of f, not secure and
// secure. A cookie that http.Cookie refuses (a bad name) gives empty
// lines; Listen refuses its config.
func newFingerprintCookies(f Fingerprint, sameSite http.SameSite) (out [2]fingerprintCookie) {
	for i, secure := range []bool{false, true} {
		line := (&http.Cookie{
			Name:     f.Cookie,
			Value:    idPlaceholder,
			Path:     "/",
			MaxAge:   int(f.MaxAge.Seconds()),
			Secure:   secure,
			HttpOnly: !f.ScriptReadable,
			SameSite: sameSite,
		}).String()
		if before, after, ok := strings.Cut(line, idPlaceholder); ok {
			out[i] = fingerprintCookie{before, after}
		}
	}
	return out
}

func (c fingerprintCookie) line(id string) string { return c.before + id + c.after }

func boolIndex(b bool) int {
	if b {
		return 1
	}
	return 0
}

// cookieValue returns the value of the first cookie named name in the
// Cookie headers of h, unquoted. It reads the headers in place rather
// than parsing every cookie, as http.Request.Cookie does, so that the
// fingerprint of each request costs no allocation.
func cookieValue(h http.Header, name string) (string, bool) {
	for _, line := range h["Cookie"] {
		for line != "" {
			var part string
			part, line, _ = strings.Cut(line, ";")
			part = strings.TrimSpace(part)
			if len(part) > len(name) && part[len(name)] == '=' && part[:len(name)] == name {
				v := part[len(name)+1:]
				if len(v) > 1 && v[0] == '"' && v[len(v)-1] == '"' {
					v = v[1 : len(v)-1]
				}
				return v, true
			}
		}
	}
	return "", false
}

// checkFingerprint checks Config.Fingerprint and returns its SameSite.
func checkFingerprint(f Fingerprint) (http.SameSite, error) {
	if f.Cookie != "off" {
		if err := (&http.Cookie{Name: f.Cookie, Value: "x"}).Valid(); err != nil {
			return 0, fmt.Errorf("http: fingerprint cookie name %q: %w", f.Cookie, err)
		}
	}
	if f.MaxAge < 0 {
		return 0, fmt.Errorf("http: fingerprint cookie max age %s is negative", f.MaxAge)
	}
	switch f.Secure {
	case SecureAuto, SecureAlways, SecureNever:
	default:
		return 0, fmt.Errorf("http: fingerprint cookie secure must be auto, always or never, got %q", f.Secure)
	}
	switch strings.ToLower(f.SameSite) {
	case "lax":
		return http.SameSiteLaxMode, nil
	case "strict":
		return http.SameSiteStrictMode, nil
	case "none":
		return http.SameSiteNoneMode, nil
	}
	return 0, fmt.Errorf("http: fingerprint cookie same_site must be lax, strict or none, got %q", f.SameSite)
}

// header is one of Config.Headers, ready to set.
type header struct {
	name  string
	value []string
}

// parseHeaders checks Config.Headers and canonicalises their names.
func parseHeaders(m map[string]string) ([]header, error) {
	var out []header
	for name, value := range m {
		if err := CheckHeader(name, value); err != nil {
			return nil, err
		}
		out = append(out, header{http.CanonicalHeaderKey(name), []string{value}})
	}
	return out, nil
}

// CheckHeader reports whether name and value make a response header
// that can be sent, and what is wrong if not.
func CheckHeader(name, value string) error {
	if name == "" {
		return errors.New("http: a response header has an empty name")
	}
	for i := 0; i < len(name); i++ {
		if !isTokenChar(name[i]) {
			return fmt.Errorf("http: response header name %q holds %q, which a header name cannot", name, name[i])
		}
	}
	for i := 0; i < len(value); i++ {
		if c := value[i]; c == '\r' || c == '\n' || c == 0 {
			return fmt.Errorf("http: response header %s: the value holds a line break or NUL", name)
		}
	}
	return nil
}

// isTokenChar reports whether c may appear in an HTTP token (RFC 9110).
func isTokenChar(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' ||
		strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0
}

// front is the outermost handler of the listener: it sets the
// configured headers and resolves a trusted proxy's forwarding, so that
// everything after it (the node's middleware, the user's handlers, the
// actions, the logs) sees the client's address and scheme.
type front struct {
	s    *Server
	next http.Handler
}

func (f front) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if hs := f.s.headers; len(hs) > 0 {
		h := w.Header()
		for _, kv := range hs {
			h[kv.name] = kv.value
		}
	}
	f.next.ServeHTTP(w, f.s.forwarded(r))
}
