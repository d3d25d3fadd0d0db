package http

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"testing/fstest"
	"time"

	"github.com/stellarfw/stellar-go/action"
	"github.com/stellarfw/stellar-go/apierror"
	"github.com/stellarfw/stellar-go/connection"
	"github.com/stellarfw/stellar-go/internal/logging"
	"github.com/stellarfw/stellar-go/internal/poll"
)

// testConfig is the http section with the documented defaults, on a free
// loopback port.
func testConfig() Config {
	return Config{
		Addr:              "127.0.0.1:0",
		ReadTimeout:       10 * time.Second,
		ReadHeaderTimeout: 5 * time.Second,
		WriteTimeout:      10 * time.Second,
		IdleTimeout:       30 * time.Second,
		MaxHeaderBytes:    64 << 10,
		MaxBodyBytes:      1 << 20,
		ActionPath:        "/api",
		RootEndpointType:  "file",
		DirectoryFile:     "index.html",
	}
}

type testServer struct {
	*Server
	url string
	reg *action.Registry
}

// startServer serves reg (with the test actions) on a real listener.
func startServer(t *testing.T, cfg Config, opts ...func(*Options)) *testServer {
	t.Helper()
	reg := action.NewRegistry(logging.Discard(), "node-test")
	if err := reg.Register(testActions()...); err != nil {
		t.Fatal(err)
	}
	o := Options{Config: cfg, ServerName: "test", APIVersion: "9.9.9", NodeID: "node-test",
		Actions: reg, Routes: &Routes{}, Logger: logging.Discard()}
	for _, f := range opts {
		f(&o)
	}
	s := New(o)
	if err := s.Listen(); err != nil {
		t.Fatal(err)
	}
	errc := make(chan error, 1)
	go func() { errc <- s.Serve() }()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := s.Shutdown(ctx); err != nil {
			t.Errorf("shutdown: %v", err)
		}
		if err := <-errc; err != nil {
			t.Errorf("serve: %v", err)
		}
	})
	return &testServer{Server: s, url: "http://" + s.Addr().String(), reg: reg}
}

func testActions() []*action.Action {
	return []*action.Action{
		{Name: "echo", Run: func(ctx context.Context, r *action.Request) error {
			for k, v := range r.Params {
				r.Response[k] = v
			}
			r.Response["route"] = r.Route
			r.Response["connType"] = r.Conn.Type
			return nil
		}},
		{Name: "typed", Inputs: map[string]action.Input{
			"n":    {Required: true, Format: action.Integer},
			"flag": {Format: action.Boolean, Default: false},
		}, Run: func(ctx context.Context, r *action.Request) error {
			r.Response["n"] = r.Params["n"]
			r.Response["flag"] = r.Params["flag"]
			return nil
		}},
		{Name: "versioned", Version: 1, Run: func(ctx context.Context, r *action.Request) error {
			r.Response["v"] = 1
			return nil
		}},
		{Name: "versioned", Version: 2, Run: func(ctx context.Context, r *action.Request) error {
			r.Response["v"] = 2
			return nil
		}},
		{Name: "secret", Private: true, Run: func(ctx context.Context, r *action.Request) error { return nil }},
		{Name: "noWeb", BlockedConnectionTypes: []string{connection.TypeWeb},
			Run: func(ctx context.Context, r *action.Request) error { return nil }},
		{Name: "fail", Run: func(ctx context.Context, r *action.Request) error {
			return errors.New("the disk is full")
		}},
		{Name: "conflict", Run: func(ctx context.Context, r *action.Request) error {
			return apierror.New("already_exists", http.StatusConflict, "that user exists")
		}},
		{Name: "boom", Run: func(ctx context.Context, r *action.Request) error {
			panic("kaboom")
		}},
		{Name: "created", Run: func(ctx context.Context, r *action.Request) error {
			r.Status = http.StatusCreated
			r.Header.Set("X-Custom", "yes")
			r.Response["ok"] = true
			return nil
		}},
		{Name: "raw", Run: func(ctx context.Context, r *action.Request) error {
			r.Writer.Header().Set("Content-Type", "text/plain")
			_, _ = io.WriteString(r.Writer, "plain text")
			r.NoRender = true
			return nil
		}},
		{Name: "unencodable", Run: func(ctx context.Context, r *action.Request) error {
			r.Response["ch"] = make(chan int)
			return nil
		}},
	}
}

type response struct {
	status int
	header http.Header
	body   map[string]any
	raw    string
}

func do(t *testing.T, method, url, contentType string, body io.Reader) response {
	t.Helper()
	req, err := http.NewRequest(method, url, body)
	if err != nil {
		t.Fatal(err)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	return send(t, req)
}

func send(t *testing.T, req *http.Request) response {
	t.Helper()
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	raw, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	out := response{status: res.StatusCode, header: res.Header, raw: string(raw)}
	if strings.HasPrefix(res.Header.Get("Content-Type"), "application/json") {
		if err := json.Unmarshal(raw, &out.body); err != nil {
			t.Fatalf("response is not JSON: %v: %s", err, raw)
		}
	}
	return out
}

func get(t *testing.T, url string) response {
	t.Helper()
	return do(t, http.MethodGet, url, "", nil)
}

func errorCode(r response) string {
	e, _ := r.body["error"].(map[string]any)
	code, _ := e["code"].(string)
	return code
}

func errorFields(r response) map[string]any {
	e, _ := r.body["error"].(map[string]any)
	f, _ := e["fields"].(map[string]any)
	return f
}

func TestActionResponseShape(t *testing.T) {
	s := startServer(t, testConfig())
	r := get(t, s.url+"/api/echo?hello=world")
	if r.status != 200 {
		t.Fatalf("status %d: %s", r.status, r.raw)
	}
	if r.body["hello"] != "world" || r.body["connType"] != "web" {
		t.Errorf("response = %v", r.body)
	}
	si, _ := r.body["serverInformation"].(map[string]any)
	if si["serverName"] != "test" || si["apiVersion"] != "9.9.9" || si["currentTime"] == nil || si["requestDuration"] == nil {
		t.Errorf("serverInformation = %v", si)
	}
	ri, _ := r.body["requesterInformation"].(map[string]any)
	if ri["remoteIP"] != "127.0.0.1" || ri["id"] == "" {
		t.Errorf("requesterInformation = %v", ri)
	}
	if rp, _ := ri["receivedParams"].(map[string]any); rp["hello"] != "world" {
		t.Errorf("receivedParams = %v", ri["receivedParams"])
	}
}

func TestHideInformation(t *testing.T) {
	cfg := testConfig()
	cfg.HideServerInformation = true
	cfg.HideRequesterInformation = true
	s := startServer(t, cfg)
	r := get(t, s.url+"/api/echo")
	if _, ok := r.body["serverInformation"]; ok {
		t.Error("serverInformation present")
	}
	if _, ok := r.body["requesterInformation"]; ok {
		t.Error("requesterInformation present")
	}
}

func TestStatusesAndCodes(t *testing.T) {
	s := startServer(t, testConfig())
	big := strings.Repeat("x", 2<<20)
	tests := []struct {
		name, method, path, ctype, body string
		status                          int
		code                            string
	}{
		{"ok by path", "GET", "/api/echo", "", "", 200, ""},
		{"ok by action param", "GET", "/api?action=echo", "", "", 200, ""},
		{"ok by action param with slash", "GET", "/api/?action=echo", "", "", 200, ""},
		{"no action", "GET", "/api", "", "", 404, apierror.CodeActionNotFound},
		{"unknown action", "GET", "/api/nope", "", "", 404, apierror.CodeActionNotFound},
		{"unknown action param", "GET", "/api?action=nope", "", "", 404, apierror.CodeActionNotFound},
		{"unknown deep path", "GET", "/api/a/b/c", "", "", 404, apierror.CodeNotFound},
		{"malformed json", "POST", "/api/echo", "application/json", `{"a":`, 400, apierror.CodeMalformedRequest},
		{"json scalar", "POST", "/api/echo", "application/json", `42`, 400, apierror.CodeMalformedRequest},
		{"two json values", "POST", "/api/echo", "application/json", `{} {}`, 400, apierror.CodeMalformedRequest},
		{"bad content type", "POST", "/api/echo", "text/;;", "x", 400, apierror.CodeMalformedRequest},
		{"multipart without boundary", "POST", "/api/echo", "multipart/form-data", "x", 400, apierror.CodeMalformedRequest},
		{"json too large", "POST", "/api/echo", "application/json", `{"a":"` + big + `"}`, 413, apierror.CodeBodyTooLarge},
		{"form too large", "POST", "/api/echo", "application/x-www-form-urlencoded", "a=" + big, 413, apierror.CodeBodyTooLarge},
		{"private", "GET", "/api/secret", "", "", 403, apierror.CodePrivateAction},
		{"blocked", "GET", "/api/noWeb", "", "", 403, apierror.CodeConnectionBlocked},
		{"missing input", "GET", "/api/typed", "", "", 422, apierror.CodeValidationFailed},
		{"bad format", "GET", "/api/typed?n=abc", "", "", 422, apierror.CodeValidationFailed},
		{"bad apiVersion", "GET", "/api/versioned?apiVersion=x", "", "", 422, apierror.CodeValidationFailed},
		{"unknown version", "GET", "/api/versioned?apiVersion=7", "", "", 404, apierror.CodeActionNotFound},
		{"action error", "GET", "/api/fail", "", "", 500, apierror.CodeInternal},
		{"action apierror", "GET", "/api/conflict", "", "", 409, "already_exists"},
		{"panic", "GET", "/api/boom", "", "", 500, apierror.CodeInternal},
		{"unencodable", "GET", "/api/unencodable", "", "", 500, apierror.CodeInternal},
		{"root file missing", "GET", "/nothing.txt", "", "", 404, apierror.CodeNotFound},
		{"action at root in file mode", "GET", "/echo", "", "", 404, apierror.CodeNotFound},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var body io.Reader
			if tc.body != "" {
				body = strings.NewReader(tc.body)
			}
			r := do(t, tc.method, s.url+tc.path, tc.ctype, body)
			if r.status != tc.status {
				t.Fatalf("status = %d, want %d: %s", r.status, tc.status, r.raw)
			}
			if got := errorCode(r); got != tc.code {
				t.Fatalf("code = %q, want %q: %s", got, tc.code, r.raw)
			}
			if tc.code != "" {
				e := r.body["error"].(map[string]any)
				if msg, _ := e["message"].(string); msg == "" {
					t.Errorf("error without message: %s", r.raw)
				}
			}
		})
	}
	// The node keeps serving after every one of those.
	if r := get(t, s.url+"/api/echo"); r.status != 200 {
		t.Fatalf("after errors: status %d", r.status)
	}
}

func TestPanicMessageDoesNotLeak(t *testing.T) {
	s := startServer(t, testConfig())
	r := get(t, s.url+"/api/boom")
	if strings.Contains(r.raw, "kaboom") {
		t.Errorf("panic value reached the client: %s", r.raw)
	}
}

func TestValidationFields(t *testing.T) {
	s := startServer(t, testConfig())
	r := get(t, s.url+"/api/typed?flag=maybe")
	f := errorFields(r)
	if f["n"] != "is required" || f["flag"] == nil {
		t.Fatalf("fields = %v", f)
	}
	r = get(t, s.url+"/api/typed?n=41&flag=yes")
	if r.status != 200 || r.body["n"] != float64(41) || r.body["flag"] != true {
		t.Fatalf("typed = %d %v", r.status, r.body)
	}
}

func TestVersions(t *testing.T) {
	s := startServer(t, testConfig())
	if r := get(t, s.url+"/api/versioned"); r.body["v"] != float64(2) {
		t.Errorf("default version: %v", r.body["v"])
	}
	if r := get(t, s.url+"/api/versioned?apiVersion=1"); r.body["v"] != float64(1) {
		t.Errorf("apiVersion=1: %v", r.body["v"])
	}
}

func TestStatusHeaderAndNoRender(t *testing.T) {
	s := startServer(t, testConfig())
	r := get(t, s.url+"/api/created")
	if r.status != 201 || r.header.Get("X-Custom") != "yes" || r.body["ok"] != true {
		t.Errorf("created: %d %v %v", r.status, r.header, r.body)
	}
	r = get(t, s.url+"/api/raw")
	if r.status != 200 || r.raw != "plain text" {
		t.Errorf("raw: %d %q", r.status, r.raw)
	}
}

func TestParamSources(t *testing.T) {
	s := startServer(t, testConfig())
	if err := s.opts.Routes.Add("post", "/things/:a", "echo", 0); err != nil {
		t.Fatal(err)
	}
	t.Run("json object, numbers normalized", func(t *testing.T) {
		r := do(t, "POST", s.url+"/api/echo?q=1", "application/json", strings.NewReader(`{"n":3,"f":1.5,"nested":{"k":[1,"x"]},"b":true}`))
		if r.body["q"] != "1" || r.body["n"] != float64(3) || r.body["f"] != 1.5 || r.body["b"] != true {
			t.Fatalf("%v", r.body)
		}
	})
	t.Run("json array becomes payload", func(t *testing.T) {
		r := do(t, "POST", s.url+"/api/echo", "application/json", strings.NewReader(`[1,2]`))
		if p, _ := r.body["payload"].([]any); len(p) != 2 {
			t.Fatalf("%v", r.body)
		}
	})
	t.Run("urlencoded form overrides query", func(t *testing.T) {
		r := do(t, "POST", s.url+"/api/echo?a=query&q=only", "application/x-www-form-urlencoded",
			strings.NewReader(url.Values{"a": {"form"}, "multi": {"1", "2"}}.Encode()))
		if r.body["a"] != "form" || r.body["q"] != "only" {
			t.Fatalf("%v", r.body)
		}
		if m, _ := r.body["multi"].([]any); len(m) != 2 {
			t.Fatalf("repeated key: %v", r.body["multi"])
		}
	})
	t.Run("multipart with a file", func(t *testing.T) {
		var buf bytes.Buffer
		mw := multipart.NewWriter(&buf)
		_ = mw.WriteField("a", "multipart")
		fw, _ := mw.CreateFormFile("upload", "hello.txt")
		_, _ = fw.Write([]byte("hello"))
		_ = mw.Close()
		r := do(t, "POST", s.url+"/api/echo?a=query", mw.FormDataContentType(), &buf)
		if r.body["a"] != "multipart" {
			t.Fatalf("%v", r.body)
		}
		up, _ := r.body["upload"].(map[string]any)
		if up["name"] != "hello.txt" || up["size"] != float64(5) {
			t.Fatalf("upload = %v", r.body["upload"])
		}
	})
	t.Run("path params win over body and query", func(t *testing.T) {
		r := do(t, "POST", s.url+"/api/things/path?a=query", "application/json", strings.NewReader(`{"a":"json"}`))
		if r.body["a"] != "path" || r.body["route"] != "/things/:a" {
			t.Fatalf("%v", r.body)
		}
	})
	t.Run("path segment wins over action param", func(t *testing.T) {
		r := get(t, s.url+"/api/versioned?action=echo")
		if r.body["v"] != float64(2) {
			t.Fatalf("%v", r.body)
		}
	})
}

func TestRoutes(t *testing.T) {
	cfg := testConfig()
	s := startServer(t, cfg)
	rt := s.opts.Routes
	for _, r := range []struct {
		method, path, action string
		version              int
	}{
		{"get", "/users/:id", "echo", 0},
		{"delete", "/users/:id", "typed", 0},
		{"all", "/old", "versioned", 1},
		{"all", "/new", "versioned", 0},
		{"get", "/a/:x/b/:y", "echo", 0},
	} {
		if err := rt.Add(r.method, r.path, r.action, r.version); err != nil {
			t.Fatal(err)
		}
	}
	r := get(t, s.url+"/api/users/42")
	if r.status != 200 || r.body["id"] != "42" {
		t.Fatalf("get user: %d %v", r.status, r.body)
	}
	r = do(t, "DELETE", s.url+"/api/users/42", "", nil)
	if r.status != 422 { // typed wants n
		t.Fatalf("delete user: %d %s", r.status, r.raw)
	}
	r = do(t, "PUT", s.url+"/api/users/42", "", nil)
	if r.status != 405 || errorCode(r) != apierror.CodeMethodNotAllowed {
		t.Fatalf("put user: %d %s", r.status, r.raw)
	}
	if r := do(t, "POST", s.url+"/api/old", "", nil); r.body["v"] != float64(1) {
		t.Fatalf("pinned version: %v", r.body)
	}
	if r := get(t, s.url+"/api/new"); r.body["v"] != float64(2) {
		t.Fatalf("newest version: %v", r.body)
	}
	if r := get(t, s.url+"/api/a/1/b/2"); r.body["x"] != "1" || r.body["y"] != "2" {
		t.Fatalf("two params: %v", r.body)
	}
	if r := get(t, s.url+"/api/users"); r.status != 404 {
		t.Fatalf("wrong segment count: %d", r.status)
	}
}

func TestRouteAddErrors(t *testing.T) {
	rt := &Routes{}
	for _, tc := range []struct{ method, path, action string }{
		{"fetch", "/x", "a"},
		{"get", "x", "a"},
		{"get", "/x", ""},
		{"get", "/x/:", "a"},
		{"get", "/x/:id/:id", "a"},
	} {
		if err := rt.Add(tc.method, tc.path, tc.action, 0); err == nil {
			t.Errorf("Add(%q, %q, %q) accepted", tc.method, tc.path, tc.action)
		}
	}
}

// TestConfigRoutes: routes from Config.Routes are served after the code
// routes, a pinned version wins over the client's apiVersion without
// showing up among the received params, and a malformed one fails Listen.
func TestConfigRoutes(t *testing.T) {
	cfg := testConfig()
	cfg.Routes = []Route{
		{Method: "get", Path: "/pinned/:id", Action: "versioned", Version: 1},
		{Method: "GET", Path: "/shared", Action: "versioned"},
		{Method: "post", Path: "/only-post", Action: "echo"},
	}
	s := startServer(t, cfg)
	if err := s.opts.Routes.Get("/shared", "echo"); err != nil {
		t.Fatal(err)
	}
	if err := s.opts.Routes.Get("/only-post", "echo"); err != nil {
		t.Fatal(err)
	}
	r := get(t, s.url+"/api/pinned/7?apiVersion=2")
	if r.status != 200 || r.body["v"] != float64(1) {
		t.Fatalf("pinned route: %d %v", r.status, r.body)
	}
	ri, _ := r.body["requesterInformation"].(map[string]any)
	if rp, _ := ri["receivedParams"].(map[string]any); rp["id"] != "7" || rp["apiVersion"] != "2" {
		t.Errorf("receivedParams = %v, want the client's id and apiVersion only", ri["receivedParams"])
	}
	if r := get(t, s.url+"/api/shared"); r.body["route"] != "/shared" || r.body["v"] != nil {
		t.Errorf("the code route should win: %v", r.body)
	}
	if r := do(t, "POST", s.url+"/api/only-post", "", nil); r.status != 200 || r.body["route"] != "/only-post" {
		t.Errorf("config route for another method than the code route's: %d %v", r.status, r.body)
	}
	if r := do(t, "PUT", s.url+"/api/pinned/7", "", nil); r.status != 405 {
		t.Errorf("PUT on a config route: %d", r.status)
	}

	bad := testConfig()
	bad.Routes = []Route{{Method: "get", Path: "/x/:id/:id", Action: "echo"}}
	srv := New(Options{Config: bad, Actions: s.reg, Logger: logging.Discard()})
	if err := srv.Listen(); err == nil || !strings.Contains(err.Error(), "appears twice") {
		t.Fatalf("malformed config route: %v", err)
	}
}

// TestConfigDefaults: a zero field takes its documented default, and the
// CORS lists theirs only when origins are set.
func TestConfigDefaults(t *testing.T) {
	s := New(Options{Actions: action.NewRegistry(logging.Discard(), "")})
	c := s.cfg
	want := Config{
		Addr: DefaultAddr, ReadTimeout: DefaultReadTimeout, ReadHeaderTimeout: DefaultReadHeaderTimeout,
		WriteTimeout: DefaultWriteTimeout, IdleTimeout: DefaultIdleTimeout, MaxHeaderBytes: DefaultMaxHeaderBytes,
		MaxBodyBytes: DefaultMaxBodyBytes, MaxBodyBytesInFlight: DefaultMaxBodyBytesInFlight, ActionPath: DefaultActionPath, RootEndpointType: RootFile,
		PublicDir: DefaultPublicDir, DirectoryFile: DefaultDirectoryFile, OpenAPIPath: DefaultOpenAPIPath,
		Fingerprint:      Fingerprint{Cookie: "sessionID", MaxAge: time.Hour, Secure: "auto", SameSite: "lax"},
		CompressMinBytes: DefaultCompressMinBytes, FilesPath: DefaultFilesPath,
	}
	if fmt.Sprint(c) != fmt.Sprint(want) {
		t.Errorf("defaults = %+v\nwant       %+v", c, want)
	}
	if s.srv.ReadTimeout != 30*time.Second || s.srv.MaxHeaderBytes != 64<<10 || c.MaxBodyBytes != 8<<20 {
		t.Errorf("http.Server = %+v", s.srv)
	}
	s = New(Options{Config: Config{CORS: CORS{AllowOrigins: []string{"*"}}}, Actions: action.NewRegistry(logging.Discard(), "")})
	if cors := s.cfg.CORS; strings.Join(cors.AllowMethods, ",") != "GET,POST,PUT,PATCH,DELETE,OPTIONS" ||
		strings.Join(cors.AllowHeaders, ",") != "Content-Type,Authorization" || cors.MaxAge != 10*time.Minute {
		t.Errorf("CORS defaults = %+v", cors)
	}
}

func TestRootEndpointAPI(t *testing.T) {
	cfg := testConfig()
	cfg.RootEndpointType = "api"
	s := startServer(t, cfg)
	if err := s.opts.Routes.Get("/users/:id", "echo"); err != nil {
		t.Fatal(err)
	}
	if r := get(t, s.url+"/echo?x=1"); r.status != 200 || r.body["x"] != "1" {
		t.Fatalf("root action: %d %s", r.status, r.raw)
	}
	if r := get(t, s.url+"/users/7"); r.body["id"] != "7" {
		t.Fatalf("root route: %s", r.raw)
	}
	if r := get(t, s.url+"/api/users/7"); r.body["id"] != "7" {
		t.Fatalf("/api still works: %s", r.raw)
	}
}

func TestActionPathOff(t *testing.T) {
	cfg := testConfig()
	cfg.RootEndpointType = "api"
	cfg.ActionPath = "off"
	s := startServer(t, cfg)
	if r := get(t, s.url+"/echo"); r.status != 200 {
		t.Fatalf("root: %d", r.status)
	}
	if r := get(t, s.url+"/api/echo"); r.status != 404 {
		t.Fatalf("/api should be off: %d", r.status)
	}
}

func TestStaticFiles(t *testing.T) {
	dir := t.TempDir()
	pub := filepath.Join(dir, "public")
	if err := os.MkdirAll(filepath.Join(pub, "docs"), 0o755); err != nil {
		t.Fatal(err)
	}
	must(t, os.WriteFile(filepath.Join(pub, "index.html"), []byte("<h1>home</h1>"), 0o644))
	must(t, os.WriteFile(filepath.Join(pub, "app.css"), []byte("body{}"), 0o644))
	must(t, os.WriteFile(filepath.Join(dir, "secret.txt"), []byte("secret"), 0o644))
	must(t, os.Symlink(filepath.Join(dir, "secret.txt"), filepath.Join(pub, "link.txt")))
	cfg := testConfig()
	cfg.PublicDir = pub
	s := startServer(t, cfg)

	r := get(t, s.url+"/")
	if r.status != 200 || r.raw != "<h1>home</h1>" || !strings.HasPrefix(r.header.Get("Content-Type"), "text/html") {
		t.Fatalf("index: %d %q %v", r.status, r.raw, r.header)
	}
	r = get(t, s.url+"/app.css")
	if r.status != 200 || !strings.HasPrefix(r.header.Get("Content-Type"), "text/css") {
		t.Fatalf("css: %d %v", r.status, r.header)
	}
	for _, p := range []string{"/docs/", "/missing", "/../secret.txt", "/%2e%2e/secret.txt", "/link.txt"} {
		r := get(t, s.url+p)
		if r.status != 404 || strings.Contains(r.raw, "secret") && !strings.Contains(r.raw, "nothing at") {
			t.Errorf("%s: %d %q", p, r.status, r.raw)
		}
	}
	// Actions still work under /api.
	if r := get(t, s.url+"/api/echo"); r.status != 200 {
		t.Fatalf("api: %d", r.status)
	}
}

func TestStaticFromFS(t *testing.T) {
	cfg := testConfig()
	s := startServer(t, cfg, func(o *Options) {
		o.Files = fstest.MapFS{"index.html": {Data: []byte("embedded")}}
	})
	if r := get(t, s.url+"/"); r.raw != "embedded" {
		t.Fatalf("got %d %q", r.status, r.raw)
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func TestCORS(t *testing.T) {
	cfg := testConfig()
	cfg.CORS = CORS{
		AllowOrigins: []string{"https://app.example"},
		AllowMethods: []string{"GET", "POST"},
		AllowHeaders: []string{"Content-Type"},
		MaxAge:       time.Minute,
	}
	s := startServer(t, cfg)
	req, _ := http.NewRequest(http.MethodOptions, s.url+"/api/echo", nil)
	req.Header.Set("Origin", "https://app.example")
	req.Header.Set("Access-Control-Request-Method", "POST")
	r := send(t, req)
	if r.status != 204 || r.header.Get("Access-Control-Allow-Origin") != "https://app.example" ||
		r.header.Get("Access-Control-Allow-Methods") != "GET, POST" || r.header.Get("Access-Control-Max-Age") != "60" {
		t.Fatalf("preflight: %d %v", r.status, r.header)
	}
	req, _ = http.NewRequest(http.MethodGet, s.url+"/api/echo", nil)
	req.Header.Set("Origin", "https://evil.example")
	r = send(t, req)
	if r.header.Get("Access-Control-Allow-Origin") != "" {
		t.Fatalf("foreign origin allowed: %v", r.header)
	}
	req.Header.Set("Origin", "https://app.example")
	if r := send(t, req); r.header.Get("Access-Control-Allow-Origin") != "https://app.example" || r.status != 200 {
		t.Fatalf("simple request: %d %v", r.status, r.header)
	}
}

func TestHealthAndReady(t *testing.T) {
	var notReady error
	s := startServer(t, testConfig(), func(o *Options) {
		o.Ready = func(ctx context.Context) error { return notReady }
	})
	if r := get(t, s.url+"/healthz"); r.status != 200 {
		t.Fatalf("healthz %d", r.status)
	}
	if r := get(t, s.url+"/readyz"); r.status != 200 {
		t.Fatalf("readyz %d", r.status)
	}
	notReady = errors.New("redis is down")
	if r := get(t, s.url+"/readyz"); r.status != 503 || r.body["reason"] != "redis is down" {
		t.Fatalf("readyz when not ready: %d %s", r.status, r.raw)
	}
}

func TestHeaderTooLarge(t *testing.T) {
	cfg := testConfig()
	cfg.MaxHeaderBytes = 1 << 10
	s := startServer(t, cfg)
	req, _ := http.NewRequest(http.MethodGet, s.url+"/api/echo", nil)
	req.Header.Set("X-Big", strings.Repeat("a", 64<<10))
	r := send(t, req)
	if r.status != http.StatusRequestHeaderFieldsTooLarge {
		t.Fatalf("status %d", r.status)
	}
	if r := get(t, s.url+"/api/echo"); r.status != 200 {
		t.Fatalf("after: %d", r.status)
	}
}

// TestDrain: a request in flight finishes while new ones get 503, and
// readiness turns off.
func TestDrain(t *testing.T) {
	release := make(chan struct{})
	entered := make(chan struct{})
	s := startServer(t, testConfig())
	if err := s.reg.Register(&action.Action{Name: "slow", Run: func(ctx context.Context, r *action.Request) error {
		close(entered)
		<-release
		r.Response["done"] = true
		return nil
	}}); err != nil {
		t.Fatal(err)
	}
	slow := make(chan response, 1)
	go func() {
		res, err := http.Get(s.url + "/api/slow")
		if err != nil {
			slow <- response{status: -1, raw: err.Error()}
			return
		}
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		slow <- response{status: res.StatusCode, raw: string(b)}
	}()
	<-entered
	drained := make(chan error, 1)
	go func() { drained <- s.Drain(context.Background()) }()
	poll.Until(t, "the server to start draining", 0, s.draining.Load)

	r := get(t, s.url+"/api/echo")
	if r.status != 503 || errorCode(r) != apierror.CodeDraining {
		t.Fatalf("new request while draining: %d %s", r.status, r.raw)
	}
	if r := get(t, s.url+"/readyz"); r.status != 503 {
		t.Fatalf("readyz while draining: %d", r.status)
	}
	if r := get(t, s.url+"/healthz"); r.status != 200 {
		t.Fatalf("healthz while draining: %d", r.status)
	}
	select {
	case err := <-drained:
		t.Fatalf("drain returned %v with a request in flight", err)
	default:
	}
	close(release)
	if res := <-slow; res.status != 200 || !strings.Contains(res.raw, `"done":true`) {
		t.Fatalf("in-flight request: %d %s", res.status, res.raw)
	}
	if err := <-drained; err != nil {
		t.Fatal(err)
	}
}

func TestDrainDeadline(t *testing.T) {
	release := make(chan struct{})
	entered := make(chan struct{})
	s := startServer(t, testConfig())
	if err := s.reg.Register(&action.Action{Name: "stuck", Run: func(ctx context.Context, r *action.Request) error {
		close(entered)
		<-release
		return nil
	}}); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		res, err := http.Get(s.url + "/api/stuck")
		if err == nil {
			res.Body.Close()
		}
	}()
	<-entered
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	err := s.Drain(ctx)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Drain = %v, want deadline exceeded", err)
	}
	close(release)
	<-done
}

func TestListenErrors(t *testing.T) {
	s := startServer(t, testConfig())
	cfg := testConfig()
	cfg.Addr = s.Addr().String()
	other := New(Options{Config: cfg, Actions: s.reg, Logger: logging.Discard()})
	if err := other.Listen(); err == nil || !strings.Contains(err.Error(), "cannot listen on") {
		t.Fatalf("port in use: %v", err)
	}
	cfg.Addr = "not-an-address"
	other = New(Options{Config: cfg, Actions: s.reg, Logger: logging.Discard()})
	if err := other.Listen(); err == nil {
		t.Fatal("bad address accepted")
	}
}

func ExampleRoutes() {
	rt := &Routes{}
	_ = rt.Get("/users/:id([0-9]+)", "getUser")
	_ = rt.Get("/users/:name", "getUserByName")
	_ = rt.Get("/files/*path", "getFile")
	for _, p := range []string{"/users/42", "/users/ada", "/files/docs/a.txt"} {
		r, params, _ := rt.match("GET", p, nil)
		fmt.Println(r.action, params)
	}
	// Output:
	// getUser [{id 42}]
	// getUserByName [{name ada}]
	// getFile [{path docs/a.txt}]
}

// TestHeaderValueKeysCanonical: the keys read with headerValue are in
// canonical form, so that it reads what Header.Get reads.
func TestHeaderValueKeysCanonical(t *testing.T) {
	h := http.Header{}
	for _, k := range []string{"Range", "Upgrade", RequestIDHeader, "Traceparent", "Tracestate", "Content-Encoding", "Content-Type"} {
		if c := http.CanonicalHeaderKey(k); c != k {
			t.Errorf("%q is not canonical (%q)", k, c)
		}
		h.Set(k, "v-"+k)
		if got := headerValue(h, k); got != h.Get(k) {
			t.Errorf("headerValue(%q) = %q, Get %q", k, got, h.Get(k))
		}
	}
}
