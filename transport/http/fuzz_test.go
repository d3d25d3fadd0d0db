package http

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"strings"
	"testing"

	"github.com/stellarfw/stellar-go/apierror"
	"github.com/stellarfw/stellar-go/connection"
)

// FuzzParseParams feeds arbitrary query strings, content types and bodies
// to the parameter parser: it must never panic, and every failure must be
// a 400 or 413 client error.
func FuzzParseParams(f *testing.F) {
	f.Add("a=1&b=2", "application/json", `{"a":1,"b":[1,2,{"c":null}]}`)
	f.Add("a=1&a=2", "application/x-www-form-urlencoded", "x=1&y=%zz")
	f.Add("", "multipart/form-data; boundary=X", "--X\r\nContent-Disposition: form-data; name=\"a\"\r\n\r\n1\r\n--X--\r\n")
	f.Add("%", "application/json", "[1e400, -0, 1.5]")
	f.Add("", "text/plain", "hello")
	f.Add("", "application/vnd.api+json", `{"a":"\ud800"}`)
	f.Fuzz(func(t *testing.T, query, ctype, body string) {
		req := httptest.NewRequest(http.MethodPost, "/api/x", strings.NewReader(body))
		req.URL.RawQuery = query
		req.Header.Set("Content-Type", ctype)
		rec := httptest.NewRecorder()
		req.Body = http.MaxBytesReader(rec, req.Body, 1<<16)
		params, err := parseParams(req)
		if err != nil {
			var ae *apierror.Error
			if !errors.As(err, &ae) {
				t.Fatalf("error is not an *apierror.Error: %v", err)
			}
			if ae.HTTPStatus() != 400 && ae.HTTPStatus() != 413 {
				t.Fatalf("status %d for bad input: %v", ae.HTTPStatus(), err)
			}
			return
		}
		if params == nil {
			t.Fatal("nil params without error")
		}
	})
}

// FuzzForwarded feeds arbitrary X-Forwarded-For and X-Forwarded-Proto
// values and fingerprint cookies to their parsers: nothing panics, the
// client's address is the peer or a valid address without a zone, the
// scheme is http, https or nothing, and an accepted fingerprint holds
// only letters, digits, - and _.
func FuzzForwarded(f *testing.F) {
	f.Add("203.0.113.9, 10.0.0.2", "10.0.0.7", "https", "0123456789abcdef0123456789abcdef")
	f.Add("[2001:db8::1]:443,::ffff:1.2.3.4", "", "HTTP, https", "<script>")
	f.Add(",,, ,", "unknown", "", "")
	f.Add("fe80::1%eth0", "1.1.1.1:80", "ftp", "a-b_c")
	f.Add("", "", "https", `a=1; sessionID="0123456789abcdef0123"; sessionID=x`)
	f.Add("", "", "", " sessionID=0123456789abcdefXYZ_-09 ;b=2")
	f.Fuzz(func(t *testing.T, xff, xff2, proto, cookie string) {
		proxies, err := parseProxies([]string{"10.0.0.0/8", "::ffff:0:0/96"})
		if err != nil {
			t.Fatal(err)
		}
		s := &Server{proxies: proxies}
		peer := netip.MustParseAddr("10.0.0.1")
		lines := []string{xff}
		if xff2 != "" {
			lines = append(lines, xff2)
		}
		a, ok := clientAddr(lines, peer, s.trusted)
		if !ok && a != peer {
			t.Fatalf("not ok but %s instead of the peer", a)
		}
		if ok && (!a.IsValid() || a.Zone() != "" || a.Is4In6()) {
			t.Fatalf("client address %s", a)
		}
		if p := forwardedProto([]string{proto}); p != "" && p != "http" && p != "https" {
			t.Fatalf("scheme %q", p)
		}
		if connection.ValidFingerprint(cookie) && strings.Trim(cookie, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_") != "" {
			t.Fatalf("fingerprint %q accepted", cookie)
		}
		// The cookie reader agrees with net/http on any fingerprint it
		// would accept.
		jar := httptest.NewRequest(http.MethodGet, "/api/x", nil)
		jar.Header.Set("Cookie", cookie)
		if v, ok := cookieValue(jar.Header, "sessionID"); ok && connection.ValidFingerprint(v) {
			c, err := jar.Cookie("sessionID")
			if err != nil || c.Value != v {
				t.Fatalf("cookie %q: read %q, net/http reads %v %v", cookie, v, c, err)
			}
		}
		req := httptest.NewRequest(http.MethodGet, "/api/x", nil)
		req.RemoteAddr = "10.0.0.1:1234"
		req.Header.Set("X-Forwarded-For", xff)
		req.Header.Set("X-Forwarded-Proto", proto)
		r2 := s.forwarded(req)
		if r2 != req && r2.RemoteAddr == "" {
			t.Fatal("an empty client address")
		}
	})
}

// FuzzAcceptsGzip: any Accept-Encoding is read without panicking, and
// one that names neither gzip nor * never takes gzip.
func FuzzAcceptsGzip(f *testing.F) {
	for _, s := range []string{"gzip", "gzip;q=0", "*;q=0.5", "br, gzip;q=0.8", "identity", "gzip;q=", ";;,,", "GZIP ; Q = 1", "x-gzip;q=1.5", "gzip;q=NaN", "zstd;q=0.9, gzip", "zstd;q=0, *"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, v string) {
		got := AcceptsGzip([]string{v})
		l := strings.ToLower(v)
		if got && !strings.Contains(l, "gzip") && !strings.Contains(l, "*") {
			t.Fatalf("%q takes gzip", v)
		}
		switch c := ChooseEncoding([]string{v}); c {
		case "":
		case "gzip":
			if !got {
				t.Fatalf("%q: gzip chosen, not accepted", v)
			}
		case "zstd":
			if !strings.Contains(l, "zstd") && !strings.Contains(l, "*") {
				t.Fatalf("%q: zstd chosen, not named", v)
			}
		default:
			t.Fatalf("%q: chose %q", v, c)
		}
	})
}

// FuzzRedirectHost: whatever Host a client sends, the HTTPS redirect is
// 400 or a URL to https on that host, never with user information or a
// path smuggled into the host.
func FuzzRedirectHost(f *testing.F) {
	for _, s := range []string{"example.com", "example.com:80", "[::1]:8080", "a@b", "a/b", "", "[::1", "x:y:z", "evil.com\\@good", "0#", "a?b"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, host string) {
		w := httptest.NewRecorder()
		r := httptest.NewRequest("GET", "/p?q=1", nil)
		r.Host = host
		redirectHandler{port: "8443"}.ServeHTTP(w, r)
		if w.Code == http.StatusBadRequest {
			return
		}
		loc := w.Header().Get("Location")
		u, err := url.Parse(loc)
		if err != nil {
			return // not a URL a client could follow elsewhere
		}
		if w.Code != http.StatusPermanentRedirect || u.Scheme != "https" || u.User != nil || u.Path != "/p" || u.RawQuery != "q=1" {
			t.Fatalf("Host %q: %d %q", host, w.Code, loc)
		}
	})
}
