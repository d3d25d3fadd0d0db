package dashboard

import (
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// CookieName is the cookie the login form sets.
const CookieName = "stellar_dashboard"

// SessionTTL is how long a login lasts.
const SessionTTL = 12 * time.Hour

// maxLoginBytes bounds the login form's body.
const maxLoginBytes = 4 << 10

// auth checks the credential: the token itself in the Authorization
// header, or a cookie that the login form made from it.
type auth struct {
	sum [sha256.Size]byte // of the token: compared, never the token itself
	key []byte            // signs the cookies
	now func() time.Time
}

func newAuth(token string) auth {
	return auth{sum: sha256.Sum256([]byte(token)), key: []byte(token), now: time.Now}
}

// how says how a request proved it may use the dashboard.
type how int

const (
	refused how = iota
	byBearer
	byCookie
)

// Why a request is refused, for the log and the answer.
var (
	errNoCredential    = errors.New("this needs the dashboard token: send Authorization: Bearer TOKEN, or log in on the dashboard's page")
	errWrongCredential = errors.New("the dashboard token is wrong")
	errBadSession      = errors.New("the dashboard session is not valid (expired, or the token changed): log in again")
	errCrossOrigin     = errors.New("a change through the dashboard's cookie must come from the dashboard's own page (same origin)")
)

// check reports how r carries the credential, or why it does not. An
// Authorization header, when present, is the only credential looked at.
func (a auth) check(r *http.Request) (how, error) {
	if v := r.Header.Get("Authorization"); v != "" {
		tok, ok := bearer(v)
		if !ok || !a.tokenMatches(tok) {
			return refused, errWrongCredential
		}
		return byBearer, nil
	}
	c, err := r.Cookie(CookieName)
	if err != nil {
		return refused, errNoCredential
	}
	if !a.sessionValid(c.Value) {
		return refused, errBadSession
	}
	return byCookie, nil
}

// bearer parses "Bearer TOKEN" (the scheme in any case).
func bearer(v string) (string, bool) {
	scheme, tok, ok := strings.Cut(strings.TrimSpace(v), " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return "", false
	}
	tok = strings.TrimSpace(tok)
	return tok, tok != ""
}

// tokenMatches compares in constant time (over the hashes, so that not
// even the token's length shows).
func (a auth) tokenMatches(tok string) bool {
	sum := sha256.Sum256([]byte(tok))
	return subtle.ConstantTimeCompare(sum[:], a.sum[:]) == 1
}

// session returns a cookie value valid until exp: "v1.EXP.MAC", the MAC
// an HMAC-SHA256 keyed by the token. The token itself never goes into
// the cookie, and a new token ends every session.
func (a auth) session(exp time.Time) string {
	e := strconv.FormatInt(exp.Unix(), 10)
	return "v1." + e + "." + a.mac(e)
}

func (a auth) mac(exp string) string {
	m := hmac.New(sha256.New, a.key)
	m.Write([]byte("stellar-dashboard-session\n"))
	m.Write([]byte(exp))
	return hex.EncodeToString(m.Sum(nil))
}

// sessionValid checks a cookie value that session made, not expired.
func (a auth) sessionValid(v string) bool {
	rest, ok := strings.CutPrefix(v, "v1.")
	if !ok {
		return false
	}
	e, sig, ok := strings.Cut(rest, ".")
	if !ok {
		return false
	}
	exp, err := strconv.ParseInt(e, 10, 64)
	if err != nil || strconv.FormatInt(exp, 10) != e {
		return false
	}
	if !hmac.Equal([]byte(sig), []byte(a.mac(e))) {
		return false
	}
	return a.now().Unix() < exp
}

// sameOrigin reports whether a browser sent r from a page of the
// dashboard's own origin: its Origin header names r's host, or, when it
// has none or an opaque one ("null", as a no-referrer policy makes it),
// Sec-Fetch-Site says same-origin. A request with neither is not taken
// for same-origin.
func sameOrigin(r *http.Request) bool {
	if o := r.Header.Get("Origin"); o != "" && o != "null" {
		u, err := url.Parse(o)
		return err == nil && (u.Scheme == "http" || u.Scheme == "https") && u.Host != "" && strings.EqualFold(u.Host, r.Host)
	}
	return r.Header.Get("Sec-Fetch-Site") == "same-origin"
}

// guard lets through the requests that carry the credential, and, for
// the ones that change something through the cookie, come from the same
// origin. It answers the others 401 (403 for a cross-origin change): the
// login page for the page itself, JSON for the rest.
func (d *Dashboard) guard(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		how, err := d.auth.check(r)
		if err != nil {
			d.refuse(w, r, http.StatusUnauthorized, err)
			return
		}
		if how == byCookie && r.Method != http.MethodGet && r.Method != http.MethodHead && !sameOrigin(r) {
			d.refuse(w, r, http.StatusForbidden, errCrossOrigin)
			return
		}
		next.ServeHTTP(w, r)
	})
}

// refuse answers a request without the credential.
func (d *Dashboard) refuse(w http.ResponseWriter, r *http.Request, status int, err error) {
	d.log.Info("dashboard: request refused", "method", r.Method, "path", r.URL.Path,
		"status", status, "remote", r.RemoteAddr, "reason", err.Error())
	if status == http.StatusUnauthorized {
		w.Header().Set("WWW-Authenticate", `Bearer realm="stellar dashboard"`)
	}
	if r.Method == http.MethodGet && (r.URL.Path == Path || r.URL.Path == Path+"/") {
		d.renderLogin(w, status, "")
		return
	}
	code := "unauthorized"
	if status == http.StatusForbidden {
		code = "forbidden"
	}
	var body errorBody
	body.Error.Code, body.Error.Message = code, err.Error()
	writeJSON(w, status, body)
}

// loginPage is what the login template shows.
type loginPage struct {
	Error string
}

func (d *Dashboard) renderLogin(w http.ResponseWriter, status int, msg string) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_ = d.login.Execute(w, loginPage{Error: msg})
}

// serveLogin checks the form's token and sets the session cookie.
func (d *Dashboard) serveLogin(w http.ResponseWriter, r *http.Request) {
	if !sameOrigin(r) {
		d.log.Info("dashboard: login refused", "remote", r.RemoteAddr, "reason", errCrossOrigin.Error())
		d.renderLogin(w, http.StatusForbidden, "The login must come from the dashboard's own page.")
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, maxLoginBytes)
	if err := r.ParseForm(); err != nil {
		d.log.Info("dashboard: login refused", "remote", r.RemoteAddr, "reason", "unreadable form: "+err.Error())
		d.renderLogin(w, http.StatusBadRequest, "The login form could not be read.")
		return
	}
	if !d.auth.tokenMatches(r.PostForm.Get("token")) {
		d.log.Info("dashboard: login refused", "remote", r.RemoteAddr, "reason", errWrongCredential.Error())
		w.Header().Set("WWW-Authenticate", `Bearer realm="stellar dashboard"`)
		d.renderLogin(w, http.StatusUnauthorized, "Wrong token.")
		return
	}
	exp := d.auth.now().Add(SessionTTL)
	http.SetCookie(w, &http.Cookie{
		Name: CookieName, Value: d.auth.session(exp), Path: Path, Expires: exp, MaxAge: int(SessionTTL / time.Second),
		HttpOnly: true, SameSite: http.SameSiteStrictMode, Secure: overTLS(r),
	})
	d.log.Info("dashboard: logged in", "remote", r.RemoteAddr)
	http.Redirect(w, r, Path, http.StatusSeeOther)
}

// overTLS reports whether the browser reached the node over HTTPS: the
// node's listener is plain HTTP, so through a proxy that says so. A
// client lying about it only gets a cookie its browser will not send
// back over plain HTTP.
func overTLS(r *http.Request) bool {
	return r.TLS != nil || strings.EqualFold(r.Header.Get("X-Forwarded-Proto"), "https")
}

// serveLogout clears the session cookie.
func (d *Dashboard) serveLogout(w http.ResponseWriter, r *http.Request) {
	if !sameOrigin(r) {
		d.refuse(w, r, http.StatusForbidden, errCrossOrigin)
		return
	}
	http.SetCookie(w, &http.Cookie{Name: CookieName, Value: "", Path: Path, MaxAge: -1,
		HttpOnly: true, SameSite: http.SameSiteStrictMode, Secure: overTLS(r)})
	http.Redirect(w, r, Path, http.StatusSeeOther)
}
