package dashboard

import (
	"net/http"
	"strings"
	"testing"
	"time"
)

const testToken = "auth-test-token-0123456789"

func request(authz, cookie string) *http.Request {
	r, _ := http.NewRequest("GET", "http://node/dashboard", nil)
	if authz != "" {
		r.Header.Set("Authorization", authz)
	}
	if cookie != "" {
		r.Header.Set("Cookie", CookieName+"="+cookie)
	}
	return r
}

// TestSessions: a session cookie is valid until it expires and only for
// the token that made it, so that a new token ends every session.
func TestSessions(t *testing.T) {
	a := newAuth(testToken)
	now := time.Unix(1_800_000_000, 0)
	a.now = func() time.Time { return now }
	v := a.session(now.Add(time.Hour))
	if strings.Contains(v, testToken) {
		t.Fatalf("the cookie holds the token: %s", v)
	}
	for _, tc := range []struct {
		name string
		auth auth
		at   time.Time
		want bool
	}{
		{"fresh", a, now, true},
		{"just before expiry", a, now.Add(time.Hour - time.Second), true},
		{"expired", a, now.Add(time.Hour), false},
		{"another token", newAuth(testToken + "-rotated"), now, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			au := tc.auth
			au.now = func() time.Time { return tc.at }
			if got := au.sessionValid(v); got != tc.want {
				t.Errorf("sessionValid = %v, want %v", got, tc.want)
			}
			h, err := au.check(request("", v))
			if (h == byCookie) != tc.want || (err == nil) != tc.want {
				t.Errorf("check = %v, %v", h, err)
			}
		})
	}
	// A later expiry written into a valid cookie breaks its MAC.
	e, mac, _ := strings.Cut(strings.TrimPrefix(v, "v1."), ".")
	if a.sessionValid("v1." + e + "0." + mac) {
		t.Error("a cookie with its expiry changed is valid")
	}
}

// TestBearer: the scheme in any case, spaces around; nothing else.
func TestBearer(t *testing.T) {
	a := newAuth(testToken)
	for _, tc := range []struct {
		header string
		want   how
	}{
		{"Bearer " + testToken, byBearer},
		{"bearer " + testToken, byBearer},
		{"  Bearer   " + testToken + "  ", byBearer},
		{"Bearer", refused},
		{"Bearer ", refused},
		{"Basic " + testToken, refused},
		{testToken, refused},
		{"Bearer " + testToken + " extra", refused},
		{"Bearer " + strings.ToUpper(testToken), refused},
	} {
		if h, _ := a.check(request(tc.header, "")); h != tc.want {
			t.Errorf("%q: %v, want %v", tc.header, h, tc.want)
		}
	}
}

// TestSameOrigin: the Origin header, or Sec-Fetch-Site when there is no
// usable Origin.
func TestSameOrigin(t *testing.T) {
	for _, tc := range []struct {
		origin, site string
		want         bool
	}{
		{"http://node", "", true},
		{"https://NODE", "", true},
		{"http://node:8080", "", false},
		{"http://evil.example", "same-origin", false},
		{"null", "same-origin", true},
		{"null", "cross-site", false},
		{"", "same-origin", true},
		{"", "same-site", false},
		{"", "", false},
		{"ftp://node", "", false},
		{"http://", "", false},
	} {
		r, _ := http.NewRequest("POST", "http://node/dashboard/api/failed/retry-all", nil)
		if tc.origin != "" {
			r.Header.Set("Origin", tc.origin)
		}
		if tc.site != "" {
			r.Header.Set("Sec-Fetch-Site", tc.site)
		}
		if got := sameOrigin(r); got != tc.want {
			t.Errorf("Origin %q, Sec-Fetch-Site %q: %v, want %v", tc.origin, tc.site, got, tc.want)
		}
	}
}

// FuzzCredential: no Authorization header and no cookie value lets a
// request in but the token and the cookies made from it, and none
// panics.
func FuzzCredential(f *testing.F) {
	a := newAuth(testToken)
	good := a.session(time.Now().Add(time.Hour))
	for _, s := range []string{"", "Bearer ", "Bearer " + testToken + "x", "v1.", "v1.1.", "v1.99999999999." + strings.Repeat("0", 64),
		good, good + "0", "v1.-1.00", "v1.+5.00", "v1.05.00", "Bearer \x01", "Basic Zm9vOmJhcg=="} {
		f.Add(s, s)
	}
	f.Fuzz(func(t *testing.T, authz, cookie string) {
		r, _ := http.NewRequest("GET", "http://node/dashboard", nil)
		r.Header["Authorization"] = []string{authz}
		if authz == "" {
			delete(r.Header, "Authorization")
		}
		r.AddCookie(&http.Cookie{Name: CookieName, Value: cookie})
		h, err := a.check(r)
		tok, isBearer := bearer(authz)
		switch {
		case h == byBearer && !(isBearer && tok == testToken):
			t.Fatalf("Authorization %q let in", authz)
		case h == byCookie && (authz != "" || !a.sessionValid(r.Cookies()[0].Value)):
			t.Fatalf("cookie %q let in", cookie)
		case h == refused && err == nil:
			t.Fatal("refused without a reason")
		}
	})
}
