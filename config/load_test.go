package config

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

// writeFile writes content to dir/name and returns its path.
func writeFile(t *testing.T, dir, name, content string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// load runs Load with an empty environment unless src sets one, and fails
// the test on error.
func load(t *testing.T, src Source) Loaded {
	t.Helper()
	if src.Env == nil {
		src.Env = []string{}
	}
	l, err := Load(src)
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	return l
}

// loadErr runs Load with an empty environment unless src sets one and
// returns its error, failing the test if there is none.
func loadErr(t *testing.T, src Source) error {
	t.Helper()
	if src.Env == nil {
		src.Env = []string{}
	}
	_, err := Load(src)
	if err == nil {
		t.Fatal("Load succeeded, want an error")
	}
	return err
}

// testdataConfig is what each file in testdata holds, defaults filled in.
func testdataConfig() Config {
	c := Config{
		ID:              "node-a",
		ShutdownTimeout: 45 * time.Second,
		General:         General{ServerName: "My API"},
		Log:             Log{Level: "debug", Format: "json"},
		HTTP: HTTP{
			Addr:                  "127.0.0.1:9000",
			ReadTimeout:           90 * time.Second,
			MaxHeaderBytes:        32768,
			MaxBodyBytes:          1 << 20,
			HideServerInformation: true,
			CORS: CORS{
				AllowOrigins: []string{"https://example.com", "https://example.org"},
				MaxAge:       5 * time.Minute,
			},
			Routes: []Route{
				{Method: "get", Path: "/users/:id", Action: "userShow"},
				{Method: "post", Path: "/users", Action: "userCreate", APIVersion: 2},
			},
		},
		TCP:     TCP{Addr: "off"},
		Redis:   Redis{URL: "redis://:s3cret@127.0.0.1:6379/1", Prefix: "app:"},
		Cluster: Cluster{Token: "tok"},
	}
	Defaults(&c)
	return c
}

func TestLoadFormats(t *testing.T) {
	want := testdataConfig()
	for _, tc := range []struct{ name, testdata string }{
		{"stellar.toml", "stellar.toml"},
		{"stellar.yaml", "stellar.yaml"},
		{"stellar.yml", "stellar.yaml"},
		{"stellar.json", "stellar.json"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			data, err := os.ReadFile(filepath.Join("testdata", tc.testdata))
			if err != nil {
				t.Fatal(err)
			}
			dir := t.TempDir()
			path := writeFile(t, dir, tc.name, string(data))
			l := load(t, Source{Dir: dir})
			if l.File != path {
				t.Errorf("File = %q, want %q", l.File, path)
			}
			if !reflect.DeepEqual(l.Config, want) {
				t.Errorf("config differs:\n got %+v\nwant %+v", l.Config, want)
			}
			if got := l.Origins["http.routes"]; got != path {
				t.Errorf("Origins[http.routes] = %q, want %q", got, path)
			}
			if _, ok := l.Origins["general.api_version"]; ok {
				t.Error("Origins has general.api_version, which the file does not set")
			}
		})
	}
}

func TestLoadNoFile(t *testing.T) {
	l := load(t, Source{Dir: t.TempDir()})
	if l.File != "" {
		t.Errorf("File = %q, want none", l.File)
	}
	var want Config
	Defaults(&want)
	want.ID = l.Config.ID
	if !reflect.DeepEqual(l.Config, want) {
		t.Errorf("got %+v, want the defaults %+v", l.Config, want)
	}
}

func TestLoadPrecedence(t *testing.T) {
	dir := t.TempDir()
	path := writeFile(t, dir, "stellar.toml", `
[general]
server_name = "from file"
[log]
level = "warn"
[http]
addr = ":1001"
public_dir = "file-public"
[tcp]
addr = ":2001"
[redis]
sentinel_master = "file-master"
sentinel_addrs = ["file:26379"]
`)
	base := Config{
		ID:      "base-id",
		General: General{ServerName: "from base", APIVersion: "9.9.9"},
		Log:     Log{Level: "debug"},
		HTTP:    HTTP{Addr: ":1000", DirectoryFile: "base.html"},
		TCP:     TCP{Addr: ":2000"},
	}
	l := load(t, Source{
		Base: base,
		Dir:  dir,
		Env: []string{
			"STELLAR_HTTP_ADDR=:1002",
			"STELLAR_TCP_ADDR=:2002",
			"STELLAR_REDIS_SENTINEL_ADDRS=env-a:26379, env-b:26379",
			"STELLAR_REDIS_PREFIX=env:",
		},
		Flags: map[string]string{
			"tcp.addr":        ":2003",
			"log.level":       "error",
			"http.public_dir": "flag-public",
		},
	})
	c := l.Config
	for _, tc := range []struct {
		key, got, want, origin string
	}{
		{"id", c.ID, "base-id", ""},                                      // base only
		{"general.api_version", c.General.APIVersion, "9.9.9", ""},       // base only
		{"http.directory_file", c.HTTP.DirectoryFile, "base.html", ""},   // base only
		{"general.server_name", c.General.ServerName, "from file", path}, // base < file
		{"redis.sentinel_master", c.Redis.SentinelMaster, "file-master", path},
		{"http.addr", c.HTTP.Addr, ":1002", "STELLAR_HTTP_ADDR"}, // base < file < env
		{"redis.prefix", c.Redis.Prefix, "env:", "STELLAR_REDIS_PREFIX"},
		{"tcp.addr", c.TCP.Addr, ":2003", "command line"},   // base < file < env < flag
		{"log.level", c.Log.Level, "error", "command line"}, // base < file < flag
		{"http.public_dir", c.HTTP.PublicDir, "flag-public", "command line"},
		{"http.action_path", c.HTTP.ActionPath, "/api", ""}, // default
	} {
		t.Run(tc.key, func(t *testing.T) {
			if tc.got != tc.want {
				t.Errorf("%s = %q, want %q", tc.key, tc.got, tc.want)
			}
			if got := l.Origins[tc.key]; got != tc.origin {
				t.Errorf("Origins[%s] = %q, want %q", tc.key, got, tc.origin)
			}
		})
	}
	if want := []string{"env-a:26379", "env-b:26379"}; !reflect.DeepEqual(c.Redis.SentinelAddrs, want) {
		t.Errorf("redis.sentinel_addrs = %q, want %q (env replaces the file's list)", c.Redis.SentinelAddrs, want)
	}
}

// fileCase is one mistake written in each format, with the message that
// must follow "config: PATH: " whatever the format.
type fileCase struct {
	name             string
	toml, yaml, json string
	want             string
}

var fileErrorCases = []fileCase{
	{
		name: "duration given as integer",
		toml: "[http]\nread_timeout = 30\n",
		yaml: "http:\n  read_timeout: 30\n",
		json: `{"http": {"read_timeout": 30}}`,
		want: `key "http.read_timeout": expected a duration such as "30s", got integer 30`,
	},
	{
		name: "duration without unit",
		toml: "shutdown_timeout = \"thirty\"\n",
		yaml: "shutdown_timeout: thirty\n",
		json: `{"shutdown_timeout": "thirty"}`,
		want: `key "shutdown_timeout": expected a duration such as "30s", got string "thirty"`,
	},
	{
		name: "unknown key with a suggestion",
		toml: "[http]\nadr = \":80\"\n",
		yaml: "http:\n  adr: \":80\"\n",
		json: `{"http": {"adr": ":80"}}`,
		want: `unknown key "http.adr" (did you mean "http.addr"?)`,
	},
	{
		name: "unknown table",
		toml: "[htpp]\naddr = \":80\"\n",
		yaml: "htpp:\n  addr: \":80\"\n",
		json: `{"htpp": {"addr": ":80"}}`,
		want: `unknown key "htpp" (did you mean "http"?)`,
	},
	{
		name: "key in the wrong table",
		toml: "read_header_timeout = \"5s\"\n",
		yaml: "read_header_timeout: 5s\n",
		json: `{"read_header_timeout": "5s"}`,
		want: `unknown key "read_header_timeout" (did you mean "http.read_header_timeout"?)`,
	},
	{
		name: "key in one of two tables",
		toml: "addr = \":80\"\n",
		yaml: "addr: \":80\"\n",
		json: `{"addr": ":80"}`,
		want: `unknown key "addr" (did you mean "http.addr" or "tcp.addr"?)`,
	},
	{
		name: "unknown key without a suggestion",
		toml: "[redis]\nzzzzzzzz = 1\n",
		yaml: "redis:\n  zzzzzzzz: 1\n",
		json: `{"redis": {"zzzzzzzz": 1}}`,
		want: `unknown key "redis.zzzzzzzz"`,
	},
	{
		name: "dotted key not nested",
		toml: "\"http.addr\" = \":80\"\n",
		yaml: "http.addr: \":80\"\n",
		json: `{"http.addr": ":80"}`,
		want: `unknown key "http.addr" (keys with dots must be nested: write key "addr" inside table "http")`,
	},
	{
		name: "string expected",
		toml: "[log]\nlevel = true\n",
		yaml: "log:\n  level: true\n",
		json: `{"log": {"level": true}}`,
		want: `key "log.level": expected a string, got boolean true`,
	},
	{
		name: "boolean expected",
		toml: "[http]\nhide_server_information = \"yes\"\n",
		yaml: "http:\n  hide_server_information: \"yes\"\n",
		json: `{"http": {"hide_server_information": "yes"}}`,
		want: `key "http.hide_server_information": expected a boolean, got string "yes"`,
	},
	{
		name: "integer expected, float given",
		toml: "[http]\nmax_header_bytes = 1.5\n",
		yaml: "http:\n  max_header_bytes: 1.5\n",
		json: `{"http": {"max_header_bytes": 1.5}}`,
		want: `key "http.max_header_bytes": expected an integer, got float 1.5`,
	},
	{
		name: "integer expected, string given",
		toml: "[http]\nmax_body_bytes = \"8MiB\"\n",
		yaml: "http:\n  max_body_bytes: 8MiB\n",
		json: `{"http": {"max_body_bytes": "8MiB"}}`,
		want: `key "http.max_body_bytes": expected an integer, got string "8MiB"`,
	},
	{
		name: "list expected",
		toml: "[http.cors]\nallow_origins = \"*\"\n",
		yaml: "http:\n  cors:\n    allow_origins: \"*\"\n",
		json: `{"http": {"cors": {"allow_origins": "*"}}}`,
		want: `key "http.cors.allow_origins": expected a list of strings, got string "*"`,
	},
	{
		name: "headers as a list",
		toml: "[http]\nheaders = [\"X-A: 1\"]\n",
		yaml: "http:\n  headers: [\"X-A: 1\"]\n",
		json: `{"http": {"headers": ["X-A: 1"]}}`,
		want: `key "http.headers": expected a table, got a list`,
	},
	{
		name: "header value a number",
		toml: "[http.headers]\nX-A = 1\n",
		yaml: "http:\n  headers:\n    X-A: 1\n",
		json: `{"http": {"headers": {"X-A": 1}}}`,
		want: `key "http.headers.X-A": expected a string, got integer 1`,
	},
	{
		name: "list of strings with a number",
		toml: "[redis]\ncluster_addrs = [\"a:1\", 2]\n",
		yaml: "redis:\n  cluster_addrs: [\"a:1\", 2]\n",
		json: `{"redis": {"cluster_addrs": ["a:1", 2]}}`,
		want: `key "redis.cluster_addrs[1]": expected a string, got integer 2`,
	},
	{
		name: "table expected",
		toml: "http = \":80\"\n",
		yaml: "http: \":80\"\n",
		json: `{"http": ":80"}`,
		want: `key "http": expected a table, got string ":80"`,
	},
	{
		name: "routes not a list",
		toml: "[http]\nroutes = \"/x\"\n",
		yaml: "http:\n  routes: /x\n",
		json: `{"http": {"routes": "/x"}}`,
		want: `key "http.routes": expected a list of tables, got string "/x"`,
	},
	{
		name: "route that is not a table",
		toml: "[http]\nroutes = [\"/x\"]\n",
		yaml: "http:\n  routes: [/x]\n",
		json: `{"http": {"routes": ["/x"]}}`,
		want: `key "http.routes[0]": expected a table, got string "/x"`,
	},
	{
		name: "unknown key in a route",
		toml: "[[http.routes]]\nmethod = \"get\"\npath = \"/a\"\naction = \"a\"\n[[http.routes]]\nmethd = \"get\"\n",
		yaml: "http:\n  routes:\n    - {method: get, path: /a, action: a}\n    - methd: get\n",
		json: `{"http": {"routes": [{"method": "get", "path": "/a", "action": "a"}, {"methd": "get"}]}}`,
		want: `unknown key "http.routes[1].methd" (did you mean "http.routes[1].method"?)`,
	},
	{
		name: "route field of the wrong type",
		toml: "[[http.routes]]\napi_version = \"2\"\n",
		yaml: "http:\n  routes:\n    - api_version: \"2\"\n",
		json: `{"http": {"routes": [{"api_version": "2"}]}}`,
		want: `key "http.routes[0].api_version": expected an integer, got string "2"`,
	},
	{
		name: "secret of the wrong type keeps its value out",
		toml: "[cluster]\ntoken = 123456\n",
		yaml: "cluster:\n  token: 123456\n",
		json: `{"cluster": {"token": 123456}}`,
		want: `key "cluster.token": expected a string, got integer`,
	},
	{
		name: "top level not a table",
		toml: "", // a TOML document is always a table
		yaml: "- a\n- b\n",
		json: `["a", "b"]`,
		want: `the top level must be a table of keys, got a list`,
	},
	{
		name: "invalid value found by Validate",
		toml: "[http]\naddr = \"8080\"\n",
		yaml: "http:\n  addr: \"8080\"\n",
		json: `{"http": {"addr": "8080"}}`,
		want: `key "http.addr": expected host:port such as ":8080" or "127.0.0.1:8080", got "8080" (or "off")`,
	},
	{
		name: "invalid route found by Validate",
		toml: "[[http.routes]]\nmethod = \"fetch\"\npath = \"/a\"\naction = \"a\"\n",
		yaml: "http:\n  routes:\n    - {method: fetch, path: /a, action: a}\n",
		json: `{"http": {"routes": [{"method": "fetch", "path": "/a", "action": "a"}]}}`,
		want: `key "http.routes[0].method": expected one of get, post, put, patch, delete, all, got "fetch"`,
	},
}

func TestLoadFileErrors(t *testing.T) {
	for _, tc := range fileErrorCases {
		for _, f := range []struct{ name, content string }{
			{"stellar.toml", tc.toml},
			{"stellar.yaml", tc.yaml},
			{"stellar.json", tc.json},
		} {
			if f.content == "" {
				continue
			}
			t.Run(tc.name+"/"+f.name, func(t *testing.T) {
				dir := t.TempDir()
				path := writeFile(t, dir, f.name, f.content)
				err := loadErr(t, Source{Dir: dir})
				if want := "config: " + path + ": " + tc.want; err.Error() != want {
					t.Errorf("error:\n got %s\nwant %s", err, want)
				}
			})
		}
	}
}

func TestLoadErrorTypes(t *testing.T) {
	dir := t.TempDir()
	path := writeFile(t, dir, "stellar.toml", "[http]\nadr = \":80\"\n")
	err := loadErr(t, Source{Dir: dir})
	if !errors.Is(err, ErrUnknownKey) {
		t.Errorf("errors.Is(%v, ErrUnknownKey) = false", err)
	}
	var e *Error
	if !errors.As(err, &e) || e.Source != path || e.Key != "http.adr" {
		t.Errorf("errors.As: %+v, want Source %q and Key http.adr", e, path)
	}

	writeFile(t, dir, "stellar.toml", "[http]\nread_timeout = 30\n")
	err = loadErr(t, Source{Dir: dir})
	if errors.Is(err, ErrUnknownKey) {
		t.Errorf("a type error matches ErrUnknownKey: %v", err)
	}
}

func TestLoadParseErrors(t *testing.T) {
	for _, tc := range []struct {
		name, file, content string
		want                []string
	}{
		{"toml syntax", "stellar.toml", "[http]\naddr = \n", []string{"line 2"}},
		{"toml duplicate key", "stellar.toml", "id = \"a\"\nid = \"b\"\n", []string{"line 2"}},
		{"yaml syntax", "stellar.yaml", "http:\n  addr: \":80\"\n bad: [\n", []string{"line "}},
		{"yaml duplicate key", "stellar.yaml", "id: a\nid: b\n", []string{"line 2", `"id"`}},
		{"yaml two documents", "stellar.yaml", "id: a\n---\nid: b\n", []string{"more than one YAML document"}},
		{"json syntax", "stellar.json", "{\n  \"id\": \"a\",\n  \"http\": {]\n}\n", []string{"line 3"}},
		{"json truncated", "stellar.json", "{\n  \"id\": \"a\",\n", []string{"unexpected end of file"}},
		{"json duplicate key", "stellar.json", "{\n\"id\": \"a\",\n\"id\": \"b\"}", []string{"line 3", `key "id" appears twice`}},
		{"json trailing data", "stellar.json", "{\"id\": \"a\"}\n{}", []string{"line 2", "after the top-level value"}},
		{"json too deep", "stellar.json", strings.Repeat("[", 100) + strings.Repeat("]", 100), []string{"nested too deeply"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			path := writeFile(t, dir, tc.file, tc.content)
			err := loadErr(t, Source{Dir: dir})
			msg := err.Error()
			if !strings.HasPrefix(msg, "config: "+path+": ") {
				t.Errorf("error %q does not start with the file name", msg)
			}
			if strings.Contains(msg, "\n") {
				t.Errorf("error %q has more than one line", msg)
			}
			for _, w := range tc.want {
				if !strings.Contains(msg, w) {
					t.Errorf("error %q does not contain %q", msg, w)
				}
			}
		})
	}
}

func TestLoadEmptyFiles(t *testing.T) {
	for _, name := range []string{"stellar.toml", "stellar.yaml", "stellar.json"} {
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			path := writeFile(t, dir, name, "\n")
			l := load(t, Source{Dir: dir})
			if l.File != path || l.Config.HTTP.Addr != ":8080" {
				t.Errorf("got File %q, http.addr %q; want %q and the default", l.File, l.Config.HTTP.Addr, path)
			}
		})
	}
}

func TestLoadNullLeavesValue(t *testing.T) {
	for _, tc := range []struct{ name, content string }{
		{"stellar.yaml", "http:\n  addr: ~\n  cors:\n"},
		{"stellar.json", `{"http": {"addr": null, "cors": null}}`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			writeFile(t, dir, tc.name, tc.content)
			l := load(t, Source{Dir: dir, Base: Config{HTTP: HTTP{Addr: ":7000"}}})
			if l.Config.HTTP.Addr != ":7000" {
				t.Errorf("http.addr = %q, want the base value :7000", l.Config.HTTP.Addr)
			}
		})
	}
}

func TestLoadYAMLOffIsAString(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, dir, "stellar.yaml", "http:\n  addr: off\ntcp:\n  addr: off\n")
	l := load(t, Source{Dir: dir})
	if l.Config.HTTP.Addr != "off" || l.Config.TCP.Addr != "off" {
		t.Errorf("addr = %q, %q; want off", l.Config.HTTP.Addr, l.Config.TCP.Addr)
	}
}

// TestLoadHeaders: http.headers is a table of names and values in the
// three formats, a JSON object in the environment, replaced whole.
func TestLoadHeaders(t *testing.T) {
	want := map[string]string{"X-Frame-Options": "DENY", "Cache-Control": "no-store, no-cache"}
	for name, text := range map[string]string{
		"stellar.toml": "[http.headers]\nX-Frame-Options = \"DENY\"\nCache-Control = \"no-store, no-cache\"\n",
		"stellar.yaml": "http:\n  headers:\n    X-Frame-Options: DENY\n    Cache-Control: no-store, no-cache\n",
		"stellar.json": `{"http": {"headers": {"X-Frame-Options": "DENY", "Cache-Control": "no-store, no-cache"}}}`,
	} {
		dir := t.TempDir()
		writeFile(t, dir, name, text)
		if got := load(t, Source{Dir: dir}).Config.HTTP.Headers; !reflect.DeepEqual(got, want) {
			t.Errorf("%s: headers = %v, want %v", name, got, want)
		}
	}
	dir := t.TempDir()
	writeFile(t, dir, "stellar.toml", "[http.headers]\nX-Frame-Options = \"DENY\"\n")
	l := load(t, Source{Dir: dir, Env: []string{`STELLAR_HTTP_HEADERS={"X-Other": "1"}`}})
	if got := l.Config.HTTP.Headers; !reflect.DeepEqual(got, map[string]string{"X-Other": "1"}) {
		t.Errorf("from the environment: headers = %v", got)
	}
	err := loadErr(t, Source{Dir: t.TempDir(), Env: []string{`STELLAR_HTTP_HEADERS=X-A: 1`}})
	if !strings.Contains(err.Error(), `key "http.headers": expected a JSON object of strings`) {
		t.Errorf("a header in the environment not as JSON: %v", err)
	}
}

func TestLoadTOMLInlineRoutes(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, dir, "stellar.toml", `[http]
routes = [
  {method = "GET", path = "/a", action = "a"},
  {method = "all", path = "/b/:id", action = "b", api_version = 3},
]
`)
	l := load(t, Source{Dir: dir})
	want := []Route{{"GET", "/a", "a", 0}, {"all", "/b/:id", "b", 3}}
	if !reflect.DeepEqual(l.Config.HTTP.Routes, want) {
		t.Errorf("routes = %+v, want %+v", l.Config.HTTP.Routes, want)
	}
}

func TestLoadChoosesFile(t *testing.T) {
	for _, tc := range []struct {
		name    string
		files   []string // created in Dir, each setting id to its own name
		file    string   // Source.File
		env     []string
		wantID  string // "" when an error is wanted
		wantErr []string
	}{
		{name: "toml found", files: []string{"stellar.toml"}, wantID: "stellar.toml"},
		{name: "json found", files: []string{"stellar.json"}, wantID: "stellar.json"},
		{name: "two files", files: []string{"stellar.toml", "stellar.yaml"},
			wantErr: []string{"stellar.toml", "stellar.yaml", "keep one"}},
		{name: "yaml and yml", files: []string{"stellar.yaml", "stellar.yml"},
			wantErr: []string{"stellar.yaml", "stellar.yml"}},
		{name: "three files", files: []string{"stellar.toml", "stellar.yaml", "stellar.json"},
			wantErr: []string{"stellar.toml", "stellar.yaml", "stellar.json"}},
		{name: "explicit file wins over two found", files: []string{"stellar.toml", "stellar.yaml", "other.json"},
			file: "other.json", wantID: "other.json"},
		{name: "STELLAR_CONFIG", files: []string{"stellar.toml", "other.yaml"},
			env: []string{"STELLAR_CONFIG=other.yaml"}, wantID: "other.yaml"},
		{name: "explicit file wins over STELLAR_CONFIG", files: []string{"a.toml", "b.toml"},
			file: "a.toml", env: []string{"STELLAR_CONFIG=b.toml"}, wantID: "a.toml"},
		{name: "explicit file missing", file: "missing.toml",
			wantErr: []string{"missing.toml"}},
		{name: "STELLAR_CONFIG missing", files: []string{"stellar.toml"}, env: []string{"STELLAR_CONFIG=gone.yaml"},
			wantErr: []string{"gone.yaml"}},
		{name: "unknown extension", files: []string{"stellar.conf"}, file: "stellar.conf",
			wantErr: []string{"stellar.conf", ".toml, .yaml, .yml or .json"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			for _, f := range tc.files {
				var content string
				switch format(f) {
				case "json":
					content = `{"id": "` + f + `"}`
				case "yaml":
					content = "id: " + f + "\n"
				default:
					content = `id = "` + f + `"` + "\n"
				}
				writeFile(t, dir, f, content)
			}
			env := tc.env
			if env == nil {
				env = []string{}
			}
			l, err := Load(Source{Dir: dir, File: tc.file, Env: env})
			if tc.wantID == "" {
				if err == nil {
					t.Fatalf("Load succeeded with file %q, want an error", l.File)
				}
				for _, w := range tc.wantErr {
					if !strings.Contains(err.Error(), w) {
						t.Errorf("error %q does not contain %q", err, w)
					}
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if l.Config.ID != tc.wantID {
				t.Errorf("read %q (id %q), want %q", l.File, l.Config.ID, tc.wantID)
			}
			if want := filepath.Join(dir, tc.wantID); l.File != want {
				t.Errorf("File = %q, want %q", l.File, want)
			}
		})
	}
}

func TestLoadMissingFileIsNotExist(t *testing.T) {
	err := loadErr(t, Source{Dir: t.TempDir(), File: "nope.toml"})
	if !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("errors.Is(%v, fs.ErrNotExist) = false", err)
	}
}

func TestLoadFileRelativeToDirAndAbsolute(t *testing.T) {
	dir := t.TempDir()
	abs := writeFile(t, t.TempDir(), "elsewhere.toml", "id = \"abs\"\n")
	l := load(t, Source{Dir: dir, File: abs})
	if l.Config.ID != "abs" || l.File != abs {
		t.Errorf("got id %q from %q, want abs from %q", l.Config.ID, l.File, abs)
	}
}

func TestLoadEnv(t *testing.T) {
	for _, tc := range []struct {
		name  string
		env   []string
		check func(t *testing.T, c Config)
	}{
		{"duration", []string{"STELLAR_HTTP_WRITE_TIMEOUT=1m30s"}, func(t *testing.T, c Config) {
			if c.HTTP.WriteTimeout != 90*time.Second {
				t.Errorf("write_timeout = %v", c.HTTP.WriteTimeout)
			}
		}},
		{"bool", []string{"STELLAR_HTTP_HIDE_REQUESTER_INFORMATION=true"}, func(t *testing.T, c Config) {
			if !c.HTTP.HideRequesterInformation {
				t.Error("hide_requester_information = false")
			}
		}},
		{"int and int64", []string{"STELLAR_HTTP_MAX_HEADER_BYTES=1024", "STELLAR_HTTP_MAX_BODY_BYTES=10000000000"}, func(t *testing.T, c Config) {
			if c.HTTP.MaxHeaderBytes != 1024 || c.HTTP.MaxBodyBytes != 10_000_000_000 {
				t.Errorf("max_header_bytes = %d, max_body_bytes = %d", c.HTTP.MaxHeaderBytes, c.HTTP.MaxBodyBytes)
			}
		}},
		{"list, comma-separated", []string{"STELLAR_HTTP_CORS_ALLOW_ORIGINS= https://a.example , https://b.example,,"}, func(t *testing.T, c Config) {
			if want := []string{"https://a.example", "https://b.example"}; !reflect.DeepEqual(c.HTTP.CORS.AllowOrigins, want) {
				t.Errorf("allow_origins = %q, want %q", c.HTTP.CORS.AllowOrigins, want)
			}
		}},
		{"routes as JSON", []string{`STELLAR_HTTP_ROUTES=[{"method": "get", "path": "/x", "action": "x", "api_version": 2}]`}, func(t *testing.T, c Config) {
			if want := []Route{{"get", "/x", "x", 2}}; !reflect.DeepEqual(c.HTTP.Routes, want) {
				t.Errorf("routes = %+v, want %+v", c.HTTP.Routes, want)
			}
		}},
		{"env tag", []string{"STELLAR_SERVER_TOKEN=t1", "STELLAR_CLUSTER_TOKEN=t2"}, func(t *testing.T, c Config) {
			if c.Cluster.Token != "t1" {
				t.Errorf("cluster.token = %q, want t1 from STELLAR_SERVER_TOKEN", c.Cluster.Token)
			}
		}},
		{"empty counts as unset", []string{"STELLAR_LOG_LEVEL=", "STELLAR_HTTP_READ_TIMEOUT="}, func(t *testing.T, c Config) {
			if c.Log.Level != "info" || c.HTTP.ReadTimeout != 30*time.Second {
				t.Errorf("log.level = %q, read_timeout = %v; want the defaults", c.Log.Level, c.HTTP.ReadTimeout)
			}
		}},
		{"later entry wins", []string{"STELLAR_ID=first", "STELLAR_ID=second"}, func(t *testing.T, c Config) {
			if c.ID != "second" {
				t.Errorf("id = %q, want second", c.ID)
			}
		}},
		{"value with equals sign", []string{"STELLAR_REDIS_URL=unix:///tmp/r.sock?db=2"}, func(t *testing.T, c Config) {
			if c.Redis.URL != "unix:///tmp/r.sock?db=2" {
				t.Errorf("redis.url = %q", c.Redis.URL)
			}
		}},
		{"other variables ignored", []string{"PATH=/bin", "HTTP_ADDR=:1", "stellar_http_addr=:2", "NOEQUALS"}, func(t *testing.T, c Config) {
			if c.HTTP.Addr != ":8080" {
				t.Errorf("http.addr = %q, want the default", c.HTTP.Addr)
			}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			l := load(t, Source{Dir: t.TempDir(), Env: tc.env})
			tc.check(t, l.Config)
		})
	}
}

func TestLoadEnvErrors(t *testing.T) {
	for _, tc := range []struct {
		env  string
		want string
	}{
		{"STELLAR_HTTP_READ_TIMEOUT=30", `config: STELLAR_HTTP_READ_TIMEOUT: key "http.read_timeout": expected a duration such as "30s", got "30"`},
		{"STELLAR_HTTP_HIDE_SERVER_INFORMATION=yes", `config: STELLAR_HTTP_HIDE_SERVER_INFORMATION: key "http.hide_server_information": expected true or false, got "yes"`},
		{"STELLAR_HTTP_MAX_HEADER_BYTES=64KiB", `config: STELLAR_HTTP_MAX_HEADER_BYTES: key "http.max_header_bytes": expected an integer, got "64KiB"`},
		{"STELLAR_HTTP_MAX_BODY_BYTES=99999999999999999999", `config: STELLAR_HTTP_MAX_BODY_BYTES: key "http.max_body_bytes": integer 99999999999999999999 is out of range`},
		{`STELLAR_HTTP_ROUTES={"method": "get"}`, `config: STELLAR_HTTP_ROUTES: key "http.routes": expected a list of tables, got a table`},
		{`STELLAR_HTTP_ROUTES=[{"method": "get", "pth": "/x"}]`, `config: STELLAR_HTTP_ROUTES: unknown key "http.routes[0].pth" (did you mean "http.routes[0].path"?)`},
		{`STELLAR_HTTP_ROUTES=[{`, `config: STELLAR_HTTP_ROUTES: key "http.routes": expected a JSON list of objects`},
		{"STELLAR_HTTP_ADDR=localhost", `config: STELLAR_HTTP_ADDR: key "http.addr": expected host:port`},
		{"STELLAR_REDIS_URL=http://:pw@example.com", `config: STELLAR_REDIS_URL: key "redis.url": expected a URL with scheme redis, rediss or unix, such as redis://127.0.0.1:6379/0, got scheme "http"`},
	} {
		t.Run(tc.env, func(t *testing.T) {
			err := loadErr(t, Source{Dir: t.TempDir(), Env: []string{tc.env}})
			if !strings.HasPrefix(err.Error(), tc.want) {
				t.Errorf("error:\n got %s\nwant %s…", err, tc.want)
			}
		})
	}
}

func TestLoadEnvWarnings(t *testing.T) {
	l := load(t, Source{Dir: t.TempDir(), Env: []string{
		"STELLAR_HTTP_ADR=:1",
		"STELLAR_CONFIG=",
		"STELLAR_TEST_REDIS=1",
		"STELLAR_SOMETHING_ELSE_ENTIRELY=1",
		"STELLAR_HTTP_ADDR=:2",
		"OTHER_HTTP_ADR=:3",
	}})
	want := []string{
		"environment variable STELLAR_HTTP_ADR is not a config key; ignored (did you mean STELLAR_HTTP_ADDR?)",
		"environment variable STELLAR_SOMETHING_ELSE_ENTIRELY is not a config key; ignored",
	}
	if !reflect.DeepEqual(l.Warnings, want) {
		t.Errorf("warnings:\n got %q\nwant %q", l.Warnings, want)
	}
}

func TestLoadNilEnvReadsProcessEnvironment(t *testing.T) {
	t.Setenv("STELLAR_LOG_FORMAT", "text")
	l, err := Load(Source{Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	if l.Config.Log.Format != "text" {
		t.Errorf("log.format = %q, want text from the process environment", l.Config.Log.Format)
	}
}

func TestLoadFlags(t *testing.T) {
	l := load(t, Source{Dir: t.TempDir(), Flags: map[string]string{
		"redis.sentinel_master":       "mymaster",
		"redis.sentinel_addrs":        "a:26379,b:26379",
		"http.cors.allow_origins":     "",
		"http.cors.allow_credentials": "true",
		"shutdown_timeout":            "5s",
	}})
	c := l.Config
	if c.Redis.SentinelMaster != "mymaster" || len(c.Redis.SentinelAddrs) != 2 || !c.HTTP.CORS.AllowCredentials || c.ShutdownTimeout != 5*time.Second {
		t.Errorf("flags not applied: %+v", c)
	}
	if c.HTTP.CORS.AllowOrigins != nil {
		t.Errorf("allow_origins = %q, want none", c.HTTP.CORS.AllowOrigins)
	}
}

func TestLoadFlagErrors(t *testing.T) {
	for _, tc := range []struct {
		flags map[string]string
		want  string
	}{
		{map[string]string{"http.adr": ":1"}, `config: command line: unknown key "http.adr" (did you mean "http.addr"?)`},
		{map[string]string{"http": ":1"}, `config: command line: unknown key "http"`},
		{map[string]string{"http.idle_timeout": "forever"}, `config: command line: key "http.idle_timeout": expected a duration such as "30s", got "forever"`},
		{map[string]string{"http.idle_timeout": ""}, `config: command line: key "http.idle_timeout": expected a duration such as "30s", got ""`},
		{map[string]string{"log.level": "loud"}, `config: command line: key "log.level": expected one of debug, info, warn, error, got "loud"`},
	} {
		t.Run(tc.want, func(t *testing.T) {
			err := loadErr(t, Source{Dir: t.TempDir(), Flags: tc.flags})
			if err.Error() != tc.want {
				t.Errorf("error:\n got %s\nwant %s", err, tc.want)
			}
		})
	}
}

// TestLoadEveryKey sets every leaf key from a file, the environment and a
// flag, so that a field of a type the mapper does not handle fails here.
func TestLoadEveryKey(t *testing.T) {
	sample := func(f field) (file, text string) {
		switch {
		case f.typ == durationType:
			return `"7s"`, "7s"
		case f.typ.Kind() == reflect.String:
			return `"x"`, "x"
		case f.typ.Kind() == reflect.Bool:
			return "true", "true"
		case f.typ.Kind() == reflect.Int, f.typ.Kind() == reflect.Int64:
			return "7", "7"
		case f.typ == reflect.TypeFor[[]string]():
			return `["a:1"]`, "a:1"
		case f.typ == reflect.TypeFor[map[string]string]():
			return `{"X-A": "1, 2"}`, `{"X-A": "1, 2"}`
		case f.typ == reflect.TypeFor[[]Route]():
			return `[{"method": "get", "path": "/x", "action": "x"}]`, `[{"method": "get", "path": "/x", "action": "x"}]`
		case f.typ == reflect.TypeFor[[]CacheRule]():
			return `[{"prefix": "/a/", "value": "no-cache"}]`, `[{"prefix": "/a/", "value": "no-cache"}]`
		}
		t.Fatalf("key %s: no sample for type %s", f.key, f.typ)
		return "", ""
	}
	for _, f := range leaves() {
		t.Run(f.key, func(t *testing.T) {
			fileVal, text := sample(f)
			parts := strings.Split(f.key, ".")
			doc := fileVal
			for i := len(parts) - 1; i >= 0; i-- {
				doc = `{"` + parts[i] + `": ` + doc + `}`
			}
			var c Config
			if err := applyFile(reflect.ValueOf(&c).Elem(), "stellar.json", []byte(doc), nil); err != nil {
				t.Fatalf("file: %v", err)
			}
			fromFile := reflect.ValueOf(c).FieldByIndex(f.index).Interface()
			var c2 Config
			m := mapper{source: f.env}
			if err := m.text(reflect.ValueOf(&c2).Elem().FieldByIndex(f.index), text, f.key); err != nil {
				t.Fatalf("text: %v", err)
			}
			if got := reflect.ValueOf(c2).FieldByIndex(f.index).Interface(); !reflect.DeepEqual(got, fromFile) {
				t.Errorf("from text %q: %v; from the file: %v", text, got, fromFile)
			}
		})
	}
}
