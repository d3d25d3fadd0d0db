package http

import (
	"context"
	"net/http"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/stellarfw/stellar-go/action"
	"github.com/stellarfw/stellar-go/internal/openapitest"
)

type quoteIn struct {
	Symbol string   `param:"symbol" validate:"required|alpha|max:5"`
	Days   int      `param:"days" default:"7" validate:"between:1,30"`
	Fields []string `param:"fields"`
}

type quoteOut struct {
	Symbol string    `json:"symbol"`
	Prices []float64 `json:"prices"`
	Fields []string  `json:"fields,omitempty"`
}

func quote() *action.Action {
	return action.Typed("quote", func(_ context.Context, _ *action.Request, in quoteIn) (quoteOut, error) {
		prices := make([]float64, in.Days)
		for i := range prices {
			prices[i] = float64(i) + 0.5
		}
		return quoteOut{Symbol: in.Symbol, Prices: prices, Fields: in.Fields}, nil
	}, func(a *action.Action) { a.Description = "Prices of a symbol" })
}

// A typed action over HTTP answers its output's fields, and its
// validation errors have the map form's body.
func TestTypedActionOverHTTP(t *testing.T) {
	s := startServer(t, testConfig())
	if err := s.reg.Register(quote()); err != nil {
		t.Fatal(err)
	}
	r := get(t, s.url+"/api/quote?symbol=ACME&days=2&fields=open&fields=close")
	if r.status != http.StatusOK {
		t.Fatalf("status %d: %s", r.status, r.raw)
	}
	if r.body["symbol"] != "ACME" || !reflect.DeepEqual(r.body["prices"], []any{0.5, 1.5}) ||
		!reflect.DeepEqual(r.body["fields"], []any{"open", "close"}) || r.body["serverInformation"] == nil {
		t.Errorf("body = %v", r.body)
	}
	r = do(t, http.MethodPost, s.url+"/api/quote", "application/json", strings.NewReader(`{"symbol":"TOOLONG1","days":99}`))
	if r.status != http.StatusUnprocessableEntity || errorCode(r) != "validation_failed" {
		t.Fatalf("status %d: %s", r.status, r.raw)
	}
	want := map[string]any{"symbol": "must contain only letters", "days": "must be between 1 and 30"}
	if !reflect.DeepEqual(errorFields(r), want) {
		t.Errorf("fields = %v, want %v", errorFields(r), want)
	}
	if msg := r.body["error"].(map[string]any)["message"]; msg != "invalid parameters: days must be between 1 and 30; symbol must contain only letters" {
		t.Errorf("message = %q", msg)
	}
}

func TestOpenAPIServed(t *testing.T) {
	cfg := testConfig()
	cfg.OpenAPIPath = "/openapi.json"
	cfg.Routes = []Route{{Method: "get", Path: "/quotes/:symbol", Action: "quote"}}
	routes := &Routes{}
	if err := routes.Post("/things/:id", "echo"); err != nil {
		t.Fatal(err)
	}
	s := startServer(t, cfg, func(o *Options) { o.Routes = routes })
	s.reg.SetDefaultTimeout(time.Minute)
	// Registered after the start: the document is built for each request.
	if err := s.reg.Register(quote()); err != nil {
		t.Fatal(err)
	}
	r := get(t, s.url+"/openapi.json")
	if r.status != http.StatusOK || !strings.HasPrefix(r.header.Get("Content-Type"), "application/json") {
		t.Fatalf("status %d, %s: %s", r.status, r.header.Get("Content-Type"), r.raw)
	}
	if err := openapitest.Validate([]byte(r.raw)); err != nil {
		t.Fatalf("the served document is not valid OpenAPI 3.1: %v", err)
	}
	if r.body["openapi"] != "3.1.0" || r.body["info"].(map[string]any)["title"] != "test" ||
		r.body["info"].(map[string]any)["version"] != "9.9.9" {
		t.Errorf("header = %v %v", r.body["openapi"], r.body["info"])
	}
	paths := r.body["paths"].(map[string]any)
	for _, p := range []string{"/api/quote", "/api/echo", "/api/versioned", "/api/things/{id}", "/api/quotes/{symbol}"} {
		if paths[p] == nil {
			t.Errorf("no path %s in %v", p, keysOf(paths))
		}
	}
	for _, p := range []string{"/api/secret", "/api/noWeb"} {
		if paths[p] != nil {
			t.Errorf("%s is documented", p)
		}
	}
	get504 := paths["/api/echo"].(map[string]any)["get"].(map[string]any)["responses"].(map[string]any)["504"]
	if get504 == nil {
		t.Error("the default timeout does not document 504")
	}
	// The server answers what OpenAPI builds.
	want, err := OpenAPI(Options{Config: cfg, ServerName: "test", APIVersion: "9.9.9", Actions: s.reg, Routes: routes})
	if err != nil {
		t.Fatal(err)
	}
	if string(want) != r.raw {
		t.Error("the served document differs from OpenAPI's")
	}
	head, err := http.Head(s.url + "/openapi.json")
	if err != nil {
		t.Fatal(err)
	}
	head.Body.Close()
	if head.StatusCode != http.StatusOK {
		t.Errorf("HEAD: %d", head.StatusCode)
	}
	p := do(t, http.MethodPost, s.url+"/openapi.json", "", nil)
	if p.status != http.StatusMethodNotAllowed || errorCode(p) != "method_not_allowed" || p.header.Get("Allow") != "GET, HEAD" {
		t.Errorf("POST: %d %s", p.status, p.raw)
	}
}

func TestOpenAPIOffByDefault(t *testing.T) {
	s := startServer(t, testConfig())
	if r := get(t, s.url+"/openapi.json"); r.status != http.StatusNotFound {
		t.Errorf("GET /openapi.json without http.openapi_path: %d %s", r.status, r.raw)
	}
	cfg := testConfig()
	cfg.OpenAPIPath = "openapi.json"
	if err := New(Options{Config: cfg, Actions: s.reg}).Listen(); err == nil || !strings.Contains(err.Error(), "must start with /") {
		t.Errorf("Listen with a relative OpenAPI path = %v", err)
	}
	cfg.OpenAPIPath = ""
	cfg.Routes = []Route{{Method: "fetch", Path: "/x", Action: "echo"}}
	if _, err := OpenAPI(Options{Config: cfg, Actions: s.reg}); err == nil {
		t.Error("OpenAPI accepted a malformed config route")
	}
}

func TestRoutesList(t *testing.T) {
	rt := &Routes{}
	_ = rt.Get("/a", "x")
	_ = rt.Add("all", "/b/:id", "y", 2)
	want := []Route{{Method: "get", Path: "/a", Action: "x"}, {Method: "all", Path: "/b/:id", Action: "y", Version: 2}}
	if got := rt.List(); !reflect.DeepEqual(got, want) {
		t.Errorf("List = %+v, want %+v", got, want)
	}
}

func keysOf(m map[string]any) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}
