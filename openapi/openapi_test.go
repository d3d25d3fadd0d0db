package openapi_test

import (
	"context"
	"encoding/json"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/stellarfw/stellar-go/action"
	"github.com/stellarfw/stellar-go/connection"
	"github.com/stellarfw/stellar-go/internal/openapitest"
	"github.com/stellarfw/stellar-go/openapi"
)

// validate fails t unless doc is a valid OpenAPI 3.1 document.
func validate(t *testing.T, doc []byte) {
	t.Helper()
	if err := openapitest.Validate(doc); err != nil {
		t.Fatalf("the document is not valid OpenAPI 3.1: %v\n%s", err, doc)
	}
}

type signupIn struct {
	Name  string        `validate:"required|alpha_dash|between:3,20" desc:"the user's handle"`
	Email string        `param:"email" validate:"required|email"`
	Age   *int          `validate:"numeric|min:18"`
	Plan  string        `default:"free" validate:"in:free,pro"`
	Tags  []string      `validate:"in:a,b|max:3"`
	Wait  time.Duration `default:"30s"`
	Since time.Time     `format:"2006-01-02"`
	At    time.Time     `format:"15:04"`
	Small int8
}

type Account struct {
	ID      int64     `json:"id"`
	Name    string    `json:"name"`
	Created time.Time `json:"created"`
	Friends []*Account
	Note    string `json:"note,omitempty"`
}

type signupOut struct {
	Account Account `json:"account"`
	Welcome *string `json:"welcome"`
}

func noop(context.Context, *action.Request) error { return nil }

// spec is a spec with actions of every kind.
func spec() openapi.Spec {
	signup := action.Typed("auth.signup", func(context.Context, *action.Request, signupIn) (signupOut, error) {
		return signupOut{}, nil
	}, func(a *action.Action) { a.Description = "Create an account\nwith a handle." })
	return openapi.Spec{
		Title: "Test API", Version: "1.2.3", ActionPath: "/api",
		Actions: []*action.Action{
			signup,
			{Name: "giveAge", Description: "Give the age", Run: noop, Inputs: map[string]action.Input{
				"name":      {Required: true, Validator: "alpha_dash|max:40"},
				"birthYear": {Required: true, Format: action.Integer, Validator: "between:1900,2100"},
				"unit":      {Default: "years", Validator: "in:years,months"},
				"round":     {Format: action.Boolean, Default: "yes"},
				"code":      {Validator: "digits:4"},
				"site":      {Validator: "url"},
				"re":        {Validator: `regex:^[a-z]+$`},
				"re2":       {Validator: `regex:(?i)^x$`},
				"when":      {Default: action.DefaultFunc(func(context.Context) any { return "now" })},
			}, OutputExample: map[string]any{"age": 34}},
			{Name: "sum", Version: 1, Description: "old sum", Run: noop, Inputs: map[string]action.Input{
				"a": {Required: true, Format: action.Float},
			}},
			{Name: "sum", Version: 2, Description: "new sum", Run: noop, Timeout: time.Second, Inputs: map[string]action.Input{
				"a": {Required: true, Format: action.Float},
				"b": {Format: action.Float, Default: 1},
			}},
			{Name: "anything", Run: noop},
			{Name: "secret", Private: true, Run: noop},
			{Name: "socketOnly", BlockedConnectionTypes: []string{connection.TypeWeb}, Run: noop},
			{Name: "hidden", Undocumented: true, Run: noop},
			{Name: "getUser", Run: noop, Inputs: map[string]action.Input{
				"id":     {Required: true, Format: action.Integer},
				"fields": {},
			}},
		},
		Routes: []openapi.Route{
			{Method: "get", Path: "/users/:id", Action: "getUser"},
			{Method: "all", Path: "/v1/sum", Action: "sum", Version: 1},
			{Method: "get", Path: "/users/:name", Action: "getUser"}, // same shape: left out
			{Method: "get", Path: "/secret", Action: "secret"},
			{Method: "post", Path: "/giveAge", Action: "sum"}, // the action of that name wins
			{Method: "get", Path: "/files/*path", Action: "sum"},
			{Method: "get", Path: "/items/:n([0-9]+)", Action: "sum"},
			{Method: "get", Path: "/items/:name", Action: "sum"}, // same shape for OpenAPI: left out
			{Method: "get", Path: "/files/:one", Action: "sum"},  // likewise
		},
	}
}

// build builds spec's document and returns it as JSON and as a value.
func build(t *testing.T, s openapi.Spec) ([]byte, map[string]any) {
	t.Helper()
	doc, err := openapi.Build(s)
	if err != nil {
		t.Fatal(err)
	}
	b, err := json.MarshalIndent(doc, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	return b, m
}

// at walks a decoded JSON value by keys and list indexes.
func at(t *testing.T, v any, path ...any) any {
	t.Helper()
	for i, p := range path {
		switch k := p.(type) {
		case string:
			m, ok := v.(map[string]any)
			if !ok {
				t.Fatalf("%v: not an object at %v", path, path[:i])
			}
			if v, ok = m[k]; !ok {
				t.Fatalf("%v: no key %q at %v (keys %v)", path, k, path[:i], keys(m))
			}
		case int:
			l, ok := v.([]any)
			if !ok || k >= len(l) {
				t.Fatalf("%v: no item %d at %v", path, k, path[:i])
			}
			v = l[k]
		}
	}
	return v
}

func keys(m map[string]any) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}

// param finds the parameter name of an operation.
func param(t *testing.T, op any, name string) map[string]any {
	t.Helper()
	ps, _ := at(t, op, "parameters").([]any)
	for _, p := range ps {
		if p.(map[string]any)["name"] == name {
			return p.(map[string]any)
		}
	}
	t.Fatalf("no parameter %q", name)
	return nil
}

func TestDocumentValidates(t *testing.T) {
	b, _ := build(t, spec())
	validate(t, b)

	// Without the information keys, at the root, with a default timeout.
	s := spec()
	s.ActionPath, s.HideServerInformation, s.HideRequesterInformation, s.ActionTimeout = "off", true, true, time.Second
	b, m := build(t, s)
	validate(t, b)
	at(t, m, "paths", "/giveAge", "get", "responses", "504")
	at(t, m, "paths", "/users/{id}", "get")

	// No actions at all.
	b, _ = build(t, openapi.Spec{})
	validate(t, b)
}

// The validator is not a formality: it refuses a broken document.
func TestValidatorRefusesBrokenDocuments(t *testing.T) {
	_, m := build(t, spec())
	for name, breakIt := range map[string]func(m map[string]any){
		"no info":       func(m map[string]any) { delete(m, "info") },
		"wrong version": func(m map[string]any) { m["openapi"] = "3.0.3" },
		"parameter without in": func(m map[string]any) {
			delete(param(t, at(t, m, "paths", "/api/giveAge", "get"), "name"), "in")
		},
		"bad schema keyword": func(m map[string]any) {
			at(t, m, "components", "schemas", "Error").(map[string]any)["required"] = "error"
		},
	} {
		t.Run(name, func(t *testing.T) {
			b, _ := json.Marshal(m)
			var c map[string]any
			_ = json.Unmarshal(b, &c)
			breakIt(c)
			b, _ = json.Marshal(c)
			if err := openapitest.Validate(b); err == nil {
				t.Fatal("a broken document validated")
			}
		})
	}
}

func TestDocumentContent(t *testing.T) {
	_, m := build(t, spec())
	if at(t, m, "openapi") != "3.1.0" || at(t, m, "info", "title") != "Test API" || at(t, m, "info", "version") != "1.2.3" {
		t.Errorf("header: %v %v", at(t, m, "openapi"), at(t, m, "info"))
	}

	// Which actions are documented.
	paths := at(t, m, "paths").(map[string]any)
	want := []string{"/api/anything", "/api/auth.signup", "/api/files/{path}", "/api/getUser", "/api/giveAge", "/api/items/{n}", "/api/sum", "/api/users/{id}", "/api/v1/sum"}
	got := keys(paths)
	if !sameSet(got, want) {
		t.Errorf("paths = %v, want %v", got, want)
	}

	t.Run("map form query parameters", func(t *testing.T) {
		op := at(t, m, "paths", "/api/giveAge", "get")
		if at(t, op, "summary") != "Give the age" || at(t, op, "x-stellar-action") != "giveAge" {
			t.Errorf("operation %v", op)
		}
		checks := []struct {
			name     string
			required bool
			schema   map[string]any
		}{
			{"name", true, map[string]any{"maxLength": 40.0, "maxItems": 40.0, "maximum": 40.0, "type": nil}},
			{"birthYear", true, map[string]any{"type": "integer", "format": "int64", "minimum": 1900.0, "maximum": 2100.0}},
			{"unit", false, map[string]any{"default": "years", "enum": []any{"years", "months"}}},
			{"round", false, map[string]any{"type": "boolean", "default": true}},
			{"code", false, map[string]any{"pattern": "^[0-9]{4}$"}},
			{"site", false, map[string]any{"type": "string", "format": "uri"}},
			{"re", false, map[string]any{"pattern": "^[a-z]+$"}},
		}
		for _, c := range checks {
			p := param(t, op, c.name)
			if p["in"] != "query" || (p["required"] == true) != c.required {
				t.Errorf("%s: in %v required %v", c.name, p["in"], p["required"])
			}
			s := p["schema"].(map[string]any)
			for k, v := range c.schema {
				if !reflect.DeepEqual(s[k], v) {
					t.Errorf("%s: schema %s = %#v, want %#v (schema %v)", c.name, k, s[k], v, s)
				}
			}
		}
		if s := param(t, op, "re2")["schema"].(map[string]any); s["pattern"] != nil {
			t.Errorf("an RE2-only pattern was copied: %v", s)
		}
		if s := param(t, op, "when")["schema"].(map[string]any); s["default"] != nil {
			t.Errorf("a DefaultFunc became a default: %v", s)
		}
		if d := param(t, op, "name")["description"]; d != "Validator: `alpha_dash|max:40`" {
			t.Errorf("description = %q", d)
		}
		if ex := at(t, op, "responses", "200", "content", "application/json", "example"); !reflect.DeepEqual(ex, map[string]any{"age": 34.0}) {
			t.Errorf("example = %v", ex)
		}
	})

	t.Run("typed request body", func(t *testing.T) {
		op := at(t, m, "paths", "/api/auth.signup", "post")
		if at(t, op, "summary") != "Create an account" || !reflect.DeepEqual(at(t, op, "tags"), []any{"auth"}) {
			t.Errorf("summary %v tags %v", at(t, op, "summary"), at(t, op, "tags"))
		}
		body := at(t, op, "requestBody")
		if at(t, body, "required") != true {
			t.Error("a body with required inputs is not required")
		}
		s := at(t, body, "content", "application/json", "schema")
		if !reflect.DeepEqual(at(t, s, "required"), []any{"email", "name"}) {
			t.Errorf("required = %v", at(t, s, "required"))
		}
		props := at(t, s, "properties").(map[string]any)
		checks := map[string]map[string]any{
			"name":  {"type": "string", "minLength": 3.0, "maxLength": 20.0},
			"email": {"type": "string", "format": "email"},
			"age":   {"type": "integer", "minimum": 18.0},
			"plan":  {"type": "string", "default": "free", "enum": []any{"free", "pro"}},
			"tags":  {"type": "array", "maxItems": 3.0, "items": map[string]any{"type": "string", "enum": []any{"a", "b"}}},
			"wait":  {"type": "string", "default": "30s"},
			"since": {"type": "string", "format": "date"},
			"at":    {"type": "string", "examples": []any{"15:04"}},
			"small": {"type": "integer", "minimum": -128.0, "maximum": 127.0},
		}
		for name, want := range checks {
			p, ok := props[name].(map[string]any)
			if !ok {
				t.Errorf("no property %s in %v", name, keys(props))
				continue
			}
			for k, v := range want {
				if !reflect.DeepEqual(p[k], v) {
					t.Errorf("%s: %s = %#v, want %#v", name, k, p[k], v)
				}
			}
		}
		if d := props["name"].(map[string]any)["description"]; d != "the user's handle\n\nValidator: `required|alpha_dash|between:3,20`" {
			t.Errorf("description = %q", d)
		}
		for _, ct := range []string{"application/x-www-form-urlencoded", "multipart/form-data"} {
			at(t, body, "content", ct, "schema")
		}
		for _, code := range []string{"200", "400", "413", "422", "500", "503"} {
			at(t, op, "responses", code)
		}
		if _, ok := at(t, op, "responses").(map[string]any)["404"]; ok {
			t.Error("a single-version action documents 404")
		}
	})

	t.Run("typed output schema", func(t *testing.T) {
		s := at(t, m, "paths", "/api/auth.signup", "get", "responses", "200", "content", "application/json", "schema")
		if at(t, s, "allOf", 0, "$ref") != "#/components/schemas/signupOut" ||
			at(t, s, "allOf", 1, "$ref") != "#/components/schemas/ResponseInformation" {
			t.Fatalf("schema = %v", s)
		}
		out := at(t, m, "components", "schemas", "signupOut")
		if !reflect.DeepEqual(at(t, out, "required"), []any{"account", "welcome"}) ||
			at(t, out, "properties", "account", "$ref") != "#/components/schemas/Account" ||
			!reflect.DeepEqual(at(t, out, "properties", "welcome", "type"), []any{"string", "null"}) {
			t.Errorf("signupOut = %v", out)
		}
		acc := at(t, m, "components", "schemas", "Account")
		if !reflect.DeepEqual(at(t, acc, "required"), []any{"id", "name", "created", "Friends"}) ||
			at(t, acc, "properties", "created", "format") != "date-time" ||
			at(t, acc, "properties", "Friends", "items", "anyOf", 0, "$ref") != "#/components/schemas/Account" {
			t.Errorf("Account = %v", acc)
		}
	})

	t.Run("versions", func(t *testing.T) {
		op := at(t, m, "paths", "/api/sum", "get")
		if at(t, op, "x-stellar-version") != 2.0 || at(t, op, "summary") != "new sum" {
			t.Errorf("sum documents version %v", at(t, op, "x-stellar-version"))
		}
		v := param(t, op, "apiVersion")
		if !reflect.DeepEqual(at(t, v, "schema", "enum"), []any{1.0, 2.0}) || at(t, v, "schema", "default") != 2.0 || v["required"] == true {
			t.Errorf("apiVersion = %v", v)
		}
		param(t, op, "b")
		if d := at(t, op, "description").(string); !strings.Contains(d, "**Version 1**: old sum. Inputs: `a` (required)") {
			t.Errorf("description = %q", d)
		}
		at(t, op, "responses", "404")
		at(t, op, "responses", "504") // version 2 has a Timeout
		post := at(t, m, "paths", "/api/sum", "post", "requestBody", "content", "application/json", "schema", "properties")
		at(t, post, "apiVersion")
	})

	t.Run("routes", func(t *testing.T) {
		op := at(t, m, "paths", "/api/users/{id}", "get")
		p := param(t, op, "id")
		if p["in"] != "path" || p["required"] != true || at(t, p, "schema", "type") != "integer" {
			t.Errorf("path parameter = %v", p)
		}
		param(t, op, "fields")
		if at(t, op, "x-stellar-action") != "getUser" {
			t.Error("the route runs another action")
		}
		at(t, op, "responses", "405")
		item := at(t, m, "paths", "/api/users/{id}").(map[string]any)
		if len(item) != 1 {
			t.Errorf("GET route has methods %v", keys(item))
		}
		// A wildcard tail and a constrained parameter are path parameters
		// saying what they match.
		if d := param(t, at(t, m, "paths", "/api/files/{path}", "get"), "path")["description"]; d != "route parameter: the rest of the path, slashes included" {
			t.Errorf("wildcard parameter: %v", d)
		}
		if d := param(t, at(t, m, "paths", "/api/items/{n}", "get"), "n")["description"]; d != "route parameter, matching the regular expression [0-9]+ whole" {
			t.Errorf("constrained parameter: %v", d)
		}
		// A route pinned to version 1 documents version 1, for every method.
		pinned := at(t, m, "paths", "/api/v1/sum").(map[string]any)
		if !sameSet(keys(pinned), []string{"get", "post", "put", "patch", "delete"}) {
			t.Errorf("all route has methods %v", keys(pinned))
		}
		for method, op := range pinned {
			if at(t, op, "x-stellar-version") != 1.0 {
				t.Errorf("%s /v1/sum documents version %v", method, at(t, op, "x-stellar-version"))
			}
			if _, ok := op.(map[string]any)["responses"].(map[string]any)["405"]; ok {
				t.Errorf("%s on an all route documents 405", method)
			}
		}
		if ps, _ := pinned["get"].(map[string]any)["parameters"].([]any); len(ps) != 1 {
			t.Errorf("pinned GET parameters = %v (want a, no apiVersion)", ps)
		}
		if op := at(t, m, "paths", "/api/giveAge").(map[string]any); at(t, op, "post", "x-stellar-action") != "giveAge" {
			t.Error("a route shadowed the action of its name")
		}
	})

	t.Run("errors", func(t *testing.T) {
		e := at(t, m, "components", "schemas", "Error")
		if !reflect.DeepEqual(at(t, e, "required"), []any{"error"}) ||
			!reflect.DeepEqual(at(t, e, "properties", "error", "required"), []any{"code", "message"}) ||
			at(t, e, "properties", "error", "properties", "fields", "additionalProperties", "type") != "string" {
			t.Errorf("Error = %v", e)
		}
		r := at(t, m, "components", "responses", "ValidationFailed")
		if at(t, r, "content", "application/json", "schema", "$ref") != "#/components/schemas/Error" ||
			at(t, r, "content", "application/json", "example", "error", "code") != "validation_failed" {
			t.Errorf("ValidationFailed = %v", r)
		}
		if ref := at(t, m, "paths", "/api/giveAge", "get", "responses", "422", "$ref"); ref != "#/components/responses/ValidationFailed" {
			t.Errorf("422 = %v", ref)
		}
	})

	t.Run("any parameter", func(t *testing.T) {
		op := at(t, m, "paths", "/api/anything", "get").(map[string]any)
		if _, ok := op["parameters"]; ok {
			t.Errorf("an action without Inputs lists parameters: %v", op["parameters"])
		}
		s := at(t, m, "paths", "/api/anything", "post", "requestBody", "content", "application/json", "schema")
		if at(t, s, "type") != "object" || s.(map[string]any)["properties"] != nil {
			t.Errorf("body = %v", s)
		}
	})
}

func TestBuildRefusesBadRoutes(t *testing.T) {
	_, err := openapi.Build(openapi.Spec{Routes: []openapi.Route{{Method: "fetch", Path: "/x", Action: "a"}}})
	if err == nil || !strings.Contains(err.Error(), "method must be") {
		t.Fatalf("Build = %v", err)
	}
}

func sameSet(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	seen := map[string]int{}
	for _, x := range a {
		seen[x]++
	}
	for _, x := range b {
		seen[x]--
	}
	for _, n := range seen {
		if n != 0 {
			return false
		}
	}
	return true
}
