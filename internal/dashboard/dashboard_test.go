package dashboard_test

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stellarfw/stellar-go"
	"github.com/stellarfw/stellar-go/action"
	"github.com/stellarfw/stellar-go/config"
	"github.com/stellarfw/stellar-go/internal/dashboard"
	"github.com/stellarfw/stellar-go/internal/node"
	"github.com/stellarfw/stellar-go/internal/poll"
)

const token = "dashboard-test-token-0123456789"

// testApp is a node on the memory backend with the dashboard on, a task
// that fails for good the first time and succeeds after, a periodic task
// and a queue.
type testApp struct {
	app  *stellar.App
	base string // http://host:port
	runs atomic.Int32
}

func startApp(t *testing.T, cfg stellar.Config) *testApp {
	t.Helper()
	if cfg.ID == "" {
		cfg.ID = "dash-node"
	}
	cfg.HTTP.Addr = "127.0.0.1:0"
	cfg.TCP.Addr = "off"
	cfg.Log.Format = "json"
	cfg.Tasks.PollInterval = 20 * time.Millisecond
	ta := &testApp{}
	ta.app = stellar.New(cfg, stellar.WithLogOutput(io.Discard))
	for _, d := range []*stellar.TaskDefinition{
		{Name: "flaky", Queue: "mail", MaxAttempts: 1, Handler: stellar.TaskHandlerFunc(func(context.Context, *stellar.Task) error {
			if ta.runs.Add(1) == 1 {
				return errors.New("the mail server said no")
			}
			return nil
		})},
		{Name: "boom", Queue: "bulk", MaxAttempts: 1, Handler: stellar.TaskHandlerFunc(func(context.Context, *stellar.Task) error {
			return errors.New("boom")
		})},
		{Name: "tick", Frequency: time.Hour, Handler: stellar.TaskHandlerFunc(func(context.Context, *stellar.Task) error { return nil })},
	} {
		if err := ta.app.Tasks.Register(d); err != nil {
			t.Fatal(err)
		}
	}
	if err := ta.app.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := ta.app.Shutdown(ctx); err != nil {
			t.Errorf("shutdown: %v", err)
		}
	})
	if a := ta.app.HTTPAddr(); a != nil {
		ta.base = "http://" + a.String()
	}
	return ta
}

// do sends a request with header k: v pairs and returns the status and
// body.
func do(t *testing.T, c *http.Client, method, u string, headers ...string) (int, string, http.Header) {
	t.Helper()
	req, err := http.NewRequest(method, u, nil)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	if c == nil {
		c = http.DefaultClient
	}
	res, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res.StatusCode, string(b), res.Header
}

// protected lists every request that needs the credential.
func protected() []struct{ method, path string } {
	out := []struct{ method, path string }{{"GET", "/dashboard"}, {"GET", "/dashboard/"}, {"GET", "/dashboard/api/events"}, {"GET", "/dashboard/nothing-here"}}
	for _, e := range dashboard.Endpoints() {
		out = append(out, struct{ method, path string }{"GET", "/dashboard" + e})
	}
	for _, p := range []string{"failed/some-id/retry", "failed/some-id/remove", "failed/retry-all", "failed/remove-all", "queues/mail/pause", "queues/mail/resume"} {
		out = append(out, struct{ method, path string }{"POST", "/dashboard/api/" + p})
	}
	return out
}

// TestUnauthorized: without the credential, or with a wrong one, the
// page, every data endpoint, the event stream and every action answer
// 401; the page answers with the login form.
func TestUnauthorized(t *testing.T) {
	ta := startApp(t, stellar.Config{Dashboard: config.Dashboard{Token: token}})
	creds := []struct {
		name    string
		headers []string
	}{
		{"none", nil},
		{"wrong bearer", []string{"Authorization", "Bearer not-the-" + token}},
		{"token as a prefix", []string{"Authorization", "Bearer " + token + "x"}},
		{"token cut short", []string{"Authorization", "Bearer " + token[:len(token)-1]}},
		{"basic scheme", []string{"Authorization", "Basic " + token}},
		{"bare token", []string{"Authorization", token}},
		{"forged cookie", []string{"Cookie", dashboard.CookieName + "=v1.99999999999.00"}},
		{"token as the cookie", []string{"Cookie", dashboard.CookieName + "=" + token}},
		{"right cookie, wrong header", []string{"Authorization", "Bearer nope", "Cookie", dashboard.CookieName + "=" + login(t, ta)}},
	}
	for _, c := range creds {
		for _, p := range protected() {
			t.Run(c.name+" "+p.method+" "+p.path, func(t *testing.T) {
				status, body, h := do(t, nil, p.method, ta.base+p.path, c.headers...)
				if status != http.StatusUnauthorized {
					t.Fatalf("status %d, want 401: %s", status, body)
				}
				if !strings.HasPrefix(h.Get("WWW-Authenticate"), "Bearer") {
					t.Errorf("WWW-Authenticate = %q", h.Get("WWW-Authenticate"))
				}
				if strings.Contains(body, `"queues"`) || strings.Contains(body, "flaky") {
					t.Errorf("the refusal leaks data: %s", body)
				}
				if p.method == "GET" && (p.path == "/dashboard" || p.path == "/dashboard/") {
					if !strings.Contains(body, `<form method="post" action="/dashboard/login"`) {
						t.Errorf("no login form in the 401 page: %s", body)
					}
				} else if !strings.Contains(body, `"unauthorized"`) {
					t.Errorf("body %s, want the unauthorized error", body)
				}
			})
		}
	}
}

// TestAuthorized: with the bearer token the page and every data endpoint
// answer 200 with their part of the picture.
func TestAuthorized(t *testing.T) {
	ta := startApp(t, stellar.Config{Dashboard: config.Dashboard{Token: token}})
	auth := []string{"Authorization", "Bearer " + token}
	status, body, h := do(t, nil, "GET", ta.base+"/dashboard", auth...)
	if status != http.StatusOK || !strings.Contains(body, `<script src="/dashboard/assets/app.js"`) {
		t.Fatalf("page: %d %s", status, body)
	}
	if csp := h.Get("Content-Security-Policy"); !strings.Contains(csp, "script-src 'self'") || !strings.Contains(csp, "frame-ancestors 'none'") {
		t.Errorf("Content-Security-Policy = %q", csp)
	}
	keys := map[string][]string{
		"/api/snapshot": {"node", "now", "nodes", "periodic"},
		"/api/nodes":    {"nodes"},
		"/api/queues":   {"queues", "workers", "paused"},
		"/api/running":  {"running"},
		"/api/failed":   {"total", "tasks"},
		"/api/delayed":  {"total", "tasks"},
		"/api/periodic": {"periodic"},
		"/api/rooms":    {"total", "rooms"},
		"/api/locks":    {"cacheLocks", "taskLocks"},
		"/api/dropped":  {"dropped"},
	}
	for _, e := range dashboard.Endpoints() {
		t.Run(e, func(t *testing.T) {
			want, ok := keys[e]
			if !ok {
				t.Fatalf("endpoint %s is not tested", e)
			}
			status, body, h := do(t, nil, "GET", ta.base+"/dashboard"+e, auth...)
			if status != http.StatusOK || !strings.HasPrefix(h.Get("Content-Type"), "application/json") {
				t.Fatalf("%d %s: %s", status, h.Get("Content-Type"), body)
			}
			var m map[string]json.RawMessage
			if err := json.Unmarshal([]byte(body), &m); err != nil {
				t.Fatalf("not JSON: %v: %s", err, body)
			}
			for _, k := range want {
				if _, ok := m[k]; !ok {
					t.Errorf("no %q in %s", k, body)
				}
			}
		})
	}
	for _, asset := range []string{"app.js", "style.css"} {
		if status, _, _ := do(t, nil, "GET", ta.base+"/dashboard/assets/"+asset); status != http.StatusOK {
			t.Errorf("asset %s: %d", asset, status)
		}
	}
	// The metrics count the dashboard's requests under its path.
	_, metrics, _ := do(t, nil, "GET", ta.base+"/metrics")
	if !strings.Contains(metrics, `stellar_http_requests_total{action="",route="/dashboard",status="200"}`) {
		t.Errorf("no dashboard requests in the metrics:\n%s", grepLines(metrics, "stellar_http_requests_total"))
	}
	// The embedded templates are not served as files.
	if status, _, _ := do(t, nil, "GET", ta.base+"/dashboard/assets/login.html", auth...); status != http.StatusNotFound {
		t.Errorf("login.html as a file: %d", status)
	}
}

// TestOff: without a token there is no dashboard: /dashboard is a plain
// 404, with or without a credential.
func TestOff(t *testing.T) {
	ta := startApp(t, stellar.Config{})
	for _, p := range []string{"/dashboard", "/dashboard/api/snapshot"} {
		if status, body, _ := do(t, nil, "GET", ta.base+p, "Authorization", "Bearer "+token); status != http.StatusNotFound {
			t.Errorf("%s: %d %s", p, status, body)
		}
	}
}

// login logs in through the form and returns the session cookie's value.
func login(t *testing.T, ta *testApp) string {
	t.Helper()
	c := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	req, _ := http.NewRequest("POST", ta.base+"/dashboard/login", strings.NewReader(url.Values{"token": {token}}.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Origin", ta.base)
	res, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusSeeOther {
		t.Fatalf("login: %d", res.StatusCode)
	}
	for _, ck := range res.Cookies() {
		if ck.Name == dashboard.CookieName {
			return ck.Value
		}
	}
	t.Fatal("login set no cookie")
	return ""
}

// TestLoginCookie: the login form checks the token and sets an HttpOnly,
// SameSite=Strict cookie that is not the token; with it the page and the
// data answer; a change through the cookie must come from the same
// origin; logging out ends it.
func TestLoginCookie(t *testing.T) {
	ta := startApp(t, stellar.Config{Dashboard: config.Dashboard{Token: token}})
	post := func(path, origin string, form url.Values, cookies ...*http.Cookie) *http.Response {
		t.Helper()
		c := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
		req, _ := http.NewRequest("POST", ta.base+path, strings.NewReader(form.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		if origin != "" {
			req.Header.Set("Origin", origin)
		}
		for _, ck := range cookies {
			req.AddCookie(ck)
		}
		res, err := c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, res.Body)
		res.Body.Close()
		return res
	}
	if res := post("/dashboard/login", ta.base, url.Values{"token": {"wrong-token-wrong-token"}}); res.StatusCode != http.StatusUnauthorized {
		t.Errorf("wrong token: %d", res.StatusCode)
	}
	if res := post("/dashboard/login", "https://evil.example", url.Values{"token": {token}}); res.StatusCode != http.StatusForbidden || len(res.Cookies()) != 0 {
		t.Errorf("cross-origin login: %d, cookies %v", res.StatusCode, res.Cookies())
	}
	if res := post("/dashboard/login", "", url.Values{"token": {token}}); res.StatusCode != http.StatusForbidden {
		t.Errorf("login without Origin: %d", res.StatusCode)
	}
	res := post("/dashboard/login", ta.base, url.Values{"token": {token}})
	if res.StatusCode != http.StatusSeeOther || res.Header.Get("Location") != "/dashboard" {
		t.Fatalf("login: %d to %q", res.StatusCode, res.Header.Get("Location"))
	}
	var ck *http.Cookie
	for _, c := range res.Cookies() {
		if c.Name == dashboard.CookieName {
			ck = c
		}
	}
	if ck == nil {
		t.Fatal("no session cookie")
	}
	if !ck.HttpOnly || ck.SameSite != http.SameSiteStrictMode || ck.Path != "/dashboard" || strings.Contains(ck.Value, token) ||
		ck.MaxAge != 12*3600 || ck.Secure {
		t.Errorf("cookie %+v: want HttpOnly, SameSite=Strict, Path /dashboard, 12 h, not Secure over plain HTTP, not the token", ck)
	}
	// Behind a proxy that terminates TLS the cookie is Secure.
	{
		req, _ := http.NewRequest("POST", ta.base+"/dashboard/login", strings.NewReader(url.Values{"token": {token}}.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.Header.Set("Origin", "https://"+strings.TrimPrefix(ta.base, "http://"))
		req.Header.Set("X-Forwarded-Proto", "https")
		res, err := (&http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}).Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if res.StatusCode != http.StatusSeeOther || len(res.Cookies()) != 1 || !res.Cookies()[0].Secure {
			t.Errorf("login through a TLS proxy: %d, cookies %+v", res.StatusCode, res.Cookies())
		}
	}

	jar, _ := cookiejar.New(nil)
	u, _ := url.Parse(ta.base + "/dashboard")
	jar.SetCookies(u, []*http.Cookie{{Name: ck.Name, Value: ck.Value, Path: "/dashboard"}})
	withCookie := &http.Client{Jar: jar}
	for _, p := range append([]string{"/dashboard"}, dashboard.Endpoints()...) {
		if !strings.HasPrefix(p, "/dashboard") {
			p = "/dashboard" + p
		}
		if status, body, _ := do(t, withCookie, "GET", ta.base+p); status != http.StatusOK {
			t.Errorf("GET %s with the cookie: %d %s", p, status, body)
		}
	}

	ctx := context.Background()
	if err := ta.app.Inspector.PauseQueue(ctx, "mail"); err != nil {
		t.Fatal(err)
	}
	if res := post("/dashboard/api/queues/mail/resume", "", nil, ck); res.StatusCode != http.StatusForbidden {
		t.Errorf("cookie change without Origin: %d", res.StatusCode)
	}
	if res := post("/dashboard/api/queues/mail/resume", "http://evil.example", nil, ck); res.StatusCode != http.StatusForbidden {
		t.Errorf("cookie change from another origin: %d", res.StatusCode)
	}
	if paused, _ := ta.app.Inspector.PausedQueues(ctx); len(paused) != 1 {
		t.Fatalf("a refused change resumed the queue: paused %v", paused)
	}
	if res := post("/dashboard/api/queues/mail/resume", ta.base, nil, ck); res.StatusCode != http.StatusOK {
		t.Errorf("same-origin change with the cookie: %d", res.StatusCode)
	}
	if paused, _ := ta.app.Inspector.PausedQueues(ctx); len(paused) != 0 {
		t.Errorf("still paused: %v", paused)
	}

	res = post("/dashboard/logout", ta.base, nil, ck)
	if res.StatusCode != http.StatusSeeOther || len(res.Cookies()) != 1 || res.Cookies()[0].MaxAge >= 0 {
		t.Errorf("logout: %d, cookies %v", res.StatusCode, res.Cookies())
	}
}

// TestActions: retry and remove a failed task (one, and all), pause and
// resume a queue, with the bearer token; unknown tasks are 404, a bad
// queue name 400, a GET on an action 405.
func TestActions(t *testing.T) {
	ta := startApp(t, stellar.Config{Dashboard: config.Dashboard{Token: token}})
	ctx := context.Background()
	auth := []string{"Authorization", "Bearer " + token}
	failOne := func() string {
		t.Helper()
		before := ta.runs.Load()
		id, err := ta.app.Tasks.Enqueue(ctx, "flaky", nil)
		if err != nil {
			t.Fatal(err)
		}
		poll.Until(t, "the task to fail", 0, func() bool {
			f, _ := ta.app.Inspector.Failed(ctx, 0, 0)
			for _, in := range f {
				if in.ID == id {
					return true
				}
			}
			return false
		})
		if ta.runs.Load() != before+1 {
			t.Fatalf("runs %d, want %d", ta.runs.Load(), before+1)
		}
		return id
	}
	ta.runs.Store(0)
	id := failOne()

	status, body, _ := do(t, nil, "GET", ta.base+"/dashboard/api/failed", auth...)
	var failed dashboard.TaskList
	if status != 200 || json.Unmarshal([]byte(body), &failed) != nil || failed.Total != 1 || len(failed.Tasks) != 1 {
		t.Fatalf("failed: %d %s", status, body)
	}
	if f := failed.Tasks[0].Failure; f == nil || f.Error != "the mail server said no" || failed.Tasks[0].ID != id {
		t.Errorf("failed task %+v", failed.Tasks[0])
	}

	if status, body, _ := do(t, nil, "POST", ta.base+"/dashboard/api/failed/"+id+"/retry", auth...); status != 200 {
		t.Fatalf("retry: %d %s", status, body)
	}
	poll.Until(t, "the retried task to run", 0, func() bool {
		st, _ := ta.app.Inspector.Stats(ctx)
		for _, q := range st.Queues {
			if q.Queue == "mail" {
				return ta.runs.Load() == 2 && q.Failed == 0 && q.Processed >= 1
			}
		}
		return false
	})
	if status, _, _ := do(t, nil, "POST", ta.base+"/dashboard/api/failed/"+id+"/retry", auth...); status != http.StatusNotFound {
		t.Errorf("retry of a task not failed: %d", status)
	}

	ta.runs.Store(0)
	id = failOne()
	if status, body, _ := do(t, nil, "POST", ta.base+"/dashboard/api/failed/"+id+"/remove", auth...); status != 200 {
		t.Fatalf("remove: %d %s", status, body)
	}
	if n, _ := ta.app.Inspector.FailedCount(ctx); n != 0 {
		t.Errorf("failed after remove: %d", n)
	}
	if status, _, _ := do(t, nil, "POST", ta.base+"/dashboard/api/failed/"+id+"/remove", auth...); status != http.StatusNotFound {
		t.Errorf("remove twice: %d", status)
	}

	for _, all := range []string{"retry-all", "remove-all"} {
		ta.runs.Store(0)
		failOne()
		ta.runs.Store(0)
		failOne()
		status, body, _ := do(t, nil, "POST", ta.base+"/dashboard/api/failed/"+all, auth...)
		var res dashboard.Result
		if status != 200 || json.Unmarshal([]byte(body), &res) != nil || res.Count != 2 {
			t.Fatalf("%s: %d %s", all, status, body)
		}
		// Until the retried tasks ran, so that none fails the next round.
		poll.Until(t, "the mail queue idle after "+all, 0, func() bool {
			st, _ := ta.app.Inspector.Stats(ctx)
			for _, q := range st.Queues {
				if q.Queue == "mail" {
					return q.Pending == 0 && q.Running == 0 && q.Failed == 0
				}
			}
			return false
		})
	}

	if status, body, _ := do(t, nil, "POST", ta.base+"/dashboard/api/queues/mail/pause", auth...); status != 200 {
		t.Fatalf("pause: %d %s", status, body)
	}
	_, body, _ = do(t, nil, "GET", ta.base+"/dashboard/api/queues", auth...)
	if !strings.Contains(body, `"paused":["mail"]`) || !strings.Contains(body, `"queue":"mail"`) {
		t.Errorf("queues after pause: %s", body)
	}
	if status, body, _ := do(t, nil, "POST", ta.base+"/dashboard/api/queues/mail/resume", auth...); status != 200 {
		t.Fatalf("resume: %d %s", status, body)
	}
	if paused, _ := ta.app.Inspector.PausedQueues(ctx); len(paused) != 0 {
		t.Errorf("paused after resume: %v", paused)
	}
	if status, _, _ := do(t, nil, "POST", ta.base+"/dashboard/api/queues/a%7Bb/pause", auth...); status != http.StatusBadRequest {
		t.Errorf("bad queue name: %d", status)
	}
	if status, _, _ := do(t, nil, "GET", ta.base+"/dashboard/api/failed/retry-all", auth...); status != http.StatusMethodNotAllowed {
		t.Errorf("GET on an action: %d", status)
	}
}

// TestSnapshot: the picture of one node on memory: itself as the live
// node with its address, the queue with its depths, the periodic task's
// next fire time, a room with its members by node, a cache lock with its
// owner, and the dropped-message counters.
func TestSnapshot(t *testing.T) {
	ta := startApp(t, stellar.Config{Dashboard: config.Dashboard{Token: token}})
	ctx := context.Background()
	if err := ta.app.Chat.Create(ctx, "lobby"); err != nil {
		t.Fatal(err)
	}
	if ok, err := ta.app.Cache.Lock(ctx, "report", time.Minute); err != nil || !ok {
		t.Fatal(ok, err)
	}
	if _, err := ta.app.Tasks.EnqueueIn(ctx, time.Hour, "flaky", nil); err != nil {
		t.Fatal(err)
	}
	var s dashboard.Snapshot
	poll.Until(t, "the picture", 0, func() bool {
		status, body, _ := do(t, nil, "GET", ta.base+"/dashboard/api/snapshot", "Authorization", "Bearer "+token)
		s = dashboard.Snapshot{}
		return status == 200 && json.Unmarshal([]byte(body), &s) == nil && len(s.Nodes) == 1 && s.Nodes[0].Info != nil
	})
	n := s.Nodes[0]
	if n.ID != "dash-node" || !n.Self || n.Info.HTTPAddr != ta.app.HTTPAddr().String() || n.Info.Framework != stellar.Version || n.StartedAt.IsZero() {
		t.Errorf("node %+v info %+v", n, n.Info)
	}
	if len(s.Errors) != 0 {
		t.Errorf("errors %v", s.Errors)
	}
	var mail *dashboard.QueueView
	for i, q := range s.Queues {
		if q.Queue == "mail" {
			mail = &s.Queues[i]
		}
	}
	if mail == nil || mail.Delayed != 1 || mail.Pending != 0 {
		t.Errorf("queues %+v", s.Queues)
	}
	if s.Delayed == nil || s.Delayed.Total != 1 || len(s.Delayed.Tasks) != 1 || s.Delayed.Tasks[0].Name != "flaky" {
		t.Errorf("delayed %+v", s.Delayed)
	}
	if len(s.Periodic) != 1 || s.Periodic[0].Name != "tick" || s.Periodic[0].FrequencyMs != 3600000 ||
		!s.Periodic[0].Next.After(s.Now) || s.Periodic[0].Next.Sub(s.Now) > time.Hour || s.Periodic[0].Next.UnixMilli()%3600000 != 0 {
		t.Errorf("periodic %+v (now %s)", s.Periodic, s.Now)
	}
	if _, err := ta.app.Tasks.StopRecurrent(ctx, "tick"); err != nil {
		t.Fatal(err)
	}
	_, body, _ := do(t, nil, "GET", ta.base+"/dashboard/api/periodic", "Authorization", "Bearer "+token)
	var p struct{ Periodic []dashboard.Periodic }
	if err := json.Unmarshal([]byte(body), &p); err != nil || len(p.Periodic) != 1 || !p.Periodic[0].Stopped {
		t.Errorf("periodic after StopRecurrent: %s", body)
	}
	if s.Rooms == nil || !hasRoom(s.Rooms.Rooms, "lobby") {
		t.Errorf("rooms %+v", s.Rooms)
	}
	if len(s.CacheLocks) != 1 || s.CacheLocks[0].Key != "report" || s.CacheLocks[0].Owner != "dash-node" {
		t.Errorf("cache locks %+v", s.CacheLocks)
	}
	if len(s.Dropped) != 1 || s.Dropped[0].Node != "dash-node" || len(s.Dropped[0].Reasons) == 0 {
		t.Errorf("dropped %+v", s.Dropped)
	}
}

func hasRoom(rs []dashboard.Room, name string) bool {
	for _, r := range rs {
		if r.Name == name {
			return true
		}
	}
	return false
}

// TestEvents: the event stream sends the picture at once and again when
// it changes, past the HTTP server's write timeout, and ends when the
// node shuts down, so that the shutdown does not wait for it.
func TestEvents(t *testing.T) {
	// The stream outlives the HTTP server's write timeout.
	const writeTimeout = 200 * time.Millisecond
	cfg := stellar.Config{Dashboard: config.Dashboard{Token: token}}
	cfg.HTTP.WriteTimeout = writeTimeout
	ta := startApp(t, cfg)
	req, _ := http.NewRequest("GET", ta.base+"/dashboard/api/events", nil)
	req.Header.Set("Authorization", "Bearer "+token)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	if res.StatusCode != 200 || res.Header.Get("Content-Type") != "text/event-stream" {
		t.Fatalf("%d %s", res.StatusCode, res.Header.Get("Content-Type"))
	}
	events := make(chan dashboard.Snapshot, 16)
	ended := make(chan struct{})
	go func() {
		defer close(ended)
		sc := bufio.NewScanner(res.Body)
		sc.Buffer(nil, 1<<20)
		var event string
		for sc.Scan() {
			line := sc.Text()
			switch {
			case strings.HasPrefix(line, "event: "):
				event = strings.TrimPrefix(line, "event: ")
			case strings.HasPrefix(line, "data: ") && event == "snapshot":
				var s dashboard.Snapshot
				if json.Unmarshal([]byte(strings.TrimPrefix(line, "data: ")), &s) == nil {
					events <- s
				}
			}
		}
	}()
	next := func(what string, ok func(dashboard.Snapshot) bool) {
		t.Helper()
		deadline := time.After(poll.DefaultTimeout)
		for {
			select {
			case s := <-events:
				if ok(s) {
					return
				}
			case <-deadline:
				t.Fatalf("no snapshot event with %s", what)
			}
		}
	}
	next("the node", func(s dashboard.Snapshot) bool { return len(s.Nodes) == 1 })
	<-time.After(3 * writeTimeout) // not a wait for something to happen: the time the stream must outlive
	if err := ta.app.Inspector.PauseQueue(context.Background(), "reports"); err != nil {
		t.Fatal(err)
	}
	next("the paused queue", func(s dashboard.Snapshot) bool { return len(s.Paused) == 1 && s.Paused[0] == "reports" })

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := ta.app.Shutdown(ctx); err != nil {
		t.Fatalf("shutdown with a stream open: %v", err)
	}
	<-ended
}

// TestCollisions: with the dashboard on, a handler, an action served at
// the root or one of the node's own endpoints under /dashboard fails the
// start.
func TestCollisions(t *testing.T) {
	cfg := stellar.Config{ID: "dash-collide", Dashboard: config.Dashboard{Token: token}}
	cfg.HTTP.Addr, cfg.TCP.Addr = "127.0.0.1:0", "off"
	app := stellar.New(cfg, stellar.WithLogOutput(io.Discard))
	app.Handle("/dashboard/mine", http.NotFoundHandler())
	err := app.Start(context.Background())
	if err == nil {
		_ = app.Shutdown(context.Background())
	}
	if !errors.Is(err, node.ErrHandlerCollides) || !strings.Contains(err.Error(), "dashboard") {
		t.Errorf("Start = %v, want ErrHandlerCollides naming the dashboard", err)
	}

	cfg.HTTP.ActionPath, cfg.HTTP.RootEndpointType = "off", "api"
	app = stellar.New(cfg, stellar.WithLogOutput(io.Discard))
	if err := app.Actions.Register(&action.Action{Name: "dashboard", Run: func(context.Context, *action.Request) error { return nil }}); err != nil {
		t.Fatal(err)
	}
	err = app.Start(context.Background())
	if err == nil {
		_ = app.Shutdown(context.Background())
	}
	if !errors.Is(err, node.ErrHandlerCollides) || !strings.Contains(err.Error(), `the action "dashboard"`) {
		t.Errorf("Start = %v, want ErrHandlerCollides naming the action", err)
	}

	cfg.HTTP.ActionPath, cfg.HTTP.RootEndpointType = "", ""
	cfg.WebSocket.Path = "/dashboard/ws"
	app = stellar.New(cfg, stellar.WithLogOutput(io.Discard))
	err = app.Start(context.Background())
	if err == nil {
		_ = app.Shutdown(context.Background())
	}
	if !errors.Is(err, node.ErrHandlerCollides) || !strings.Contains(err.Error(), "WebSocket") {
		t.Errorf("Start = %v, want ErrHandlerCollides naming the WebSocket endpoint", err)
	}
}

// TestLongLists: the picture holds the newest 100 failed tasks, the 100
// delayed tasks due soonest and the first 100 rooms by name, with how
// many there are in all.
func TestLongLists(t *testing.T) {
	ta := startApp(t, stellar.Config{Dashboard: config.Dashboard{Token: token}})
	ctx := context.Background()
	const n = 105
	for i := range n {
		if _, err := ta.app.Tasks.EnqueueIn(ctx, time.Duration(i+1)*time.Hour, "flaky", map[string]int{"i": i}); err != nil {
			t.Fatal(err)
		}
		if _, err := ta.app.Tasks.Enqueue(ctx, "boom", map[string]int{"i": i}); err != nil {
			t.Fatal(err)
		}
	}
	for i := range n {
		if err := ta.app.Chat.Create(ctx, fmt.Sprintf("room-%03d", i)); err != nil {
			t.Fatal(err)
		}
	}
	poll.Until(t, "every boom to fail", 0, func() bool {
		c, _ := ta.app.Inspector.FailedCount(ctx)
		return c == n
	})
	all, err := ta.app.Inspector.Failed(ctx, 0, 0)
	if err != nil || len(all) != n {
		t.Fatal(len(all), err)
	}
	var s dashboard.Snapshot
	status, body, _ := do(t, nil, "GET", ta.base+"/dashboard/api/snapshot", "Authorization", "Bearer "+token)
	if status != 200 || json.Unmarshal([]byte(body), &s) != nil {
		t.Fatalf("%d %s", status, body)
	}
	if s.Delayed.Total != n || len(s.Delayed.Tasks) != 100 {
		t.Fatalf("delayed: total %d, listed %d", s.Delayed.Total, len(s.Delayed.Tasks))
	}
	for i, in := range s.Delayed.Tasks {
		var args map[string]int
		if err := json.Unmarshal(in.Args, &args); err != nil || args["i"] != i {
			t.Fatalf("delayed task %d has args %s: not the soonest first", i, in.Args)
		}
	}
	if s.Rooms.Total != n+1 || len(s.Rooms.Rooms) != 100 || s.Rooms.Rooms[0].Name != "defaultRoom" || s.Rooms.Rooms[1].Name != "room-000" {
		t.Errorf("rooms: total %d, listed %d, first %+v", s.Rooms.Total, len(s.Rooms.Rooms), s.Rooms.Rooms[:2])
	}
	if s.Failed.Total != n || len(s.Failed.Tasks) != 100 {
		t.Fatalf("failed: total %d, listed %d", s.Failed.Total, len(s.Failed.Tasks))
	}
	// all is oldest failure first: the picture holds its last 100, newest first.
	for i, in := range s.Failed.Tasks {
		if want := all[n-1-i]; !in.Failure.FailedAt.Equal(want.Failure.FailedAt) {
			t.Fatalf("failed task %d failed at %s, want %s (newest first)", i, in.Failure.FailedAt, want.Failure.FailedAt)
		}
	}
}

func grepLines(s, sub string) string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if strings.Contains(l, sub) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}
