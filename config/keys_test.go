package config

import (
	"os"
	"reflect"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"
)

func TestDefaults(t *testing.T) {
	var c Config
	Defaults(&c)
	host, err := os.Hostname()
	if err != nil {
		host = "stellar"
	}
	want := Config{
		ID:              host + "-" + strconv.Itoa(os.Getpid()),
		ShutdownTimeout: 30 * time.Second,
		General:         General{ServerName: "Stellar API", APIVersion: "0.0.1"},
		Log:             Log{Level: "info", Format: "auto"},
		HTTP: HTTP{
			Addr:              ":8080",
			ReadTimeout:       30 * time.Second,
			ReadHeaderTimeout: 10 * time.Second,
			WriteTimeout:      60 * time.Second,
			IdleTimeout:       120 * time.Second,
			MaxHeaderBytes:    64 << 10,
			MaxBodyBytes:      8 << 20,
			// Four bodies of the largest size.
			MaxBodyBytesInFlight: 32 << 20,
			ActionPath:           "/api",
			RootEndpointType:     "file",
			PublicDir:            "public",
			DirectoryFile:        "index.html",
			OpenAPIPath:          "off",
			MetricsPath:          "/metrics",
			TLSMinVersion:        "1.2",
			RedirectAddr:         "off",
			CompressMinBytes:     1024,
			FilesPath:            "/public",
			CORS: CORS{
				AllowMethods: []string{"GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"},
				AllowHeaders: []string{"Content-Type", "Authorization"},
				MaxAge:       10 * time.Minute,
			},
			Fingerprint: Fingerprint{Cookie: "sessionID", MaxAge: time.Hour, Secure: "auto", SameSite: "lax"},
		},
		TCP: TCP{Addr: ":5000", TLSMinVersion: "1.2", MaxLineBytes: 64 << 10, MaxInFlight: 16, IdleTimeout: 5 * time.Minute,
			MaxConnections: 10000, MaxConnectionsPerIP: 256, MaxParams: 64, MaxParamsBytes: 64 << 10,
			MaxQueuedMessages: 64, MaxQueuedBytes: 1 << 20},
		WebSocket: WebSocket{Path: "/ws", MaxFrameBytes: 64 << 10, MaxInFlight: 16, PingInterval: 30 * time.Second,
			MaxConnections: 10000, MaxConnectionsPerIP: 256, MaxParams: 64, MaxParamsBytes: 64 << 10,
			MaxQueuedMessages: 64, MaxQueuedBytes: 1 << 20},
		Chat:  Chat{DefaultRoom: "defaultRoom", StartingRooms: []string{"defaultRoom"}},
		Redis: Redis{Prefix: "stellar:", ReplicaWait: time.Second},
	}
	want.Tasks = Tasks{Workers: 10, Lease: 30 * time.Second, PollInterval: 100 * time.Millisecond, DrainTimeout: 10 * time.Second}
	want.Cluster = Cluster{HeartbeatInterval: time.Second, NodeTTL: 5 * time.Second, RPCTimeout: 5 * time.Second,
		MessageWindow: 30 * time.Second, MaxMessageBytes: 1 << 20}
	want.Supervisor = Supervisor{Workers: runtime.NumCPU(), NamePrefix: "stellar-worker-", PIDFile: "stellar-cluster.pid",
		StopTimeout: 35 * time.Second, ReadyTimeout: time.Minute, RestartBackoff: 100 * time.Millisecond, MaxRestarts: 5, RestartWindow: time.Minute}
	if !reflect.DeepEqual(c, want) {
		t.Errorf("Defaults:\n got %+v\nwant %+v", c, want)
	}
	if err := c.Validate(); err != nil {
		t.Errorf("the defaults do not validate: %v", err)
	}
}

func TestDefaultsKeepSetFields(t *testing.T) {
	c := Config{ID: "me", HTTP: HTTP{Addr: "off", ReadTimeout: time.Second, MaxBodyBytes: 1}, Redis: Redis{Prefix: "x:"}}
	Defaults(&c)
	if c.ID != "me" || c.HTTP.Addr != "off" || c.HTTP.ReadTimeout != time.Second || c.HTTP.MaxBodyBytes != 1 || c.Redis.Prefix != "x:" {
		t.Errorf("Defaults overwrote set fields: %+v", c)
	}
	before := c
	Defaults(&c)
	if !reflect.DeepEqual(c, before) {
		t.Error("Defaults is not idempotent")
	}
}

// TestDefaultsNodeTTL: a zero node_ttl is five heartbeat intervals, so
// that setting only heartbeat_interval still gives a config that
// validates.
func TestDefaultsNodeTTL(t *testing.T) {
	for _, tc := range []struct {
		name           string
		heartbeat, ttl time.Duration
		wantTTL        time.Duration
	}{
		{name: "defaults", wantTTL: 5 * time.Second},
		{name: "slow heartbeat", heartbeat: 2 * time.Second, wantTTL: 10 * time.Second},
		{name: "fast heartbeat", heartbeat: 50 * time.Millisecond, wantTTL: 250 * time.Millisecond},
		{name: "ttl set", heartbeat: 2 * time.Second, ttl: 3 * time.Second, wantTTL: 3 * time.Second},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := Config{Cluster: Cluster{HeartbeatInterval: tc.heartbeat, NodeTTL: tc.ttl}}
			Defaults(&c)
			if c.Cluster.NodeTTL != tc.wantTTL {
				t.Errorf("NodeTTL = %s, want %s", c.Cluster.NodeTTL, tc.wantTTL)
			}
			if err := c.Validate(); err != nil {
				t.Errorf("does not validate: %v", err)
			}
		})
	}
}

// TestDefaultsStartingRooms: chat.starting_rooms defaults to the default
// room, whatever it is named; a list that is set is kept as it is.
func TestDefaultsStartingRooms(t *testing.T) {
	for _, tc := range []struct {
		name string
		chat Chat
		want []string
	}{
		{name: "defaults", want: []string{"defaultRoom"}},
		{name: "default room renamed", chat: Chat{DefaultRoom: "hall"}, want: []string{"hall"}},
		{name: "list set", chat: Chat{StartingRooms: []string{"lobby", "games"}}, want: []string{"lobby", "games"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := Config{Chat: tc.chat}
			Defaults(&c)
			if !reflect.DeepEqual(c.Chat.StartingRooms, tc.want) {
				t.Errorf("StartingRooms = %q, want %q", c.Chat.StartingRooms, tc.want)
			}
		})
	}
}

func TestDefaultsCORS(t *testing.T) {
	// Without origins the other fields have their defaults too (no CORS
	// header is sent), as `stellar config --keys` shows them.
	var none Config
	Defaults(&none)
	if none.HTTP.CORS.AllowOrigins != nil || strings.Join(none.HTTP.CORS.AllowMethods, ",") != "GET,POST,PUT,PATCH,DELETE,OPTIONS" ||
		strings.Join(none.HTTP.CORS.AllowHeaders, ",") != "Content-Type,Authorization" || none.HTTP.CORS.MaxAge != 10*time.Minute {
		t.Errorf("CORS defaults without origins: %+v", none.HTTP.CORS)
	}
	for _, k := range Keys() {
		if k.Key == "http.cors.allow_origins" && k.Default != "" {
			t.Errorf("--keys shows allow_origins default %q, want none", k.Default)
		}
	}

	c := Config{HTTP: HTTP{CORS: CORS{AllowOrigins: []string{"*"}, AllowHeaders: []string{"X-Custom"}}}}
	Defaults(&c)
	want := CORS{
		AllowOrigins: []string{"*"},
		AllowMethods: []string{"GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"},
		AllowHeaders: []string{"X-Custom"},
		MaxAge:       10 * time.Minute,
	}
	if !reflect.DeepEqual(c.HTTP.CORS, want) {
		t.Errorf("CORS = %+v, want %+v", c.HTTP.CORS, want)
	}

	// Each config gets its own slices: changing one leaves the next alone.
	c.HTTP.CORS.AllowMethods[0] = "CHANGED"
	d := Config{HTTP: HTTP{CORS: CORS{AllowOrigins: []string{"*"}}}}
	Defaults(&d)
	if d.HTTP.CORS.AllowMethods[0] != "GET" {
		t.Error("default slices are shared between configs")
	}
}

func TestKeys(t *testing.T) {
	keys := Keys()
	byKey := map[string]Key{}
	for _, k := range keys {
		if _, dup := byKey[k.Key]; dup {
			t.Errorf("key %s listed twice", k.Key)
		}
		byKey[k.Key] = k
		if k.Doc == "" {
			t.Errorf("key %s has no doc in keyDocs", k.Key)
		}
		if want := "STELLAR_" + strings.ToUpper(strings.ReplaceAll(k.Key, ".", "_")); k.Env != want && k.Key != "cluster.token" {
			t.Errorf("key %s: Env = %s, want %s", k.Key, k.Env, want)
		}
	}
	for key := range keyDocs {
		if _, ok := byKey[key]; !ok {
			t.Errorf("keyDocs has %q, which is not a key", key)
		}
	}
	for _, tc := range []Key{
		{Key: "id", Env: "STELLAR_ID", Type: "string", Default: "hostname-pid"},
		{Key: "cluster.token", Env: "STELLAR_SERVER_TOKEN", Type: "string", Secret: true},
		{Key: "redis.url", Env: "STELLAR_REDIS_URL", Type: "string", Secret: true},
		{Key: "http.read_timeout", Env: "STELLAR_HTTP_READ_TIMEOUT", Type: "time.Duration", Default: "30s"},
		{Key: "http.idle_timeout", Env: "STELLAR_HTTP_IDLE_TIMEOUT", Type: "time.Duration", Default: "2m"},
		{Key: "http.max_header_bytes", Env: "STELLAR_HTTP_MAX_HEADER_BYTES", Type: "int", Default: "65536"},
		{Key: "http.max_body_bytes", Env: "STELLAR_HTTP_MAX_BODY_BYTES", Type: "int64", Default: "8388608"},
		{Key: "http.cors.allow_origins", Env: "STELLAR_HTTP_CORS_ALLOW_ORIGINS", Type: "[]string"},
		{Key: "http.cors.allow_methods", Env: "STELLAR_HTTP_CORS_ALLOW_METHODS", Type: "[]string", Default: "GET,POST,PUT,PATCH,DELETE,OPTIONS"},
		{Key: "http.cors.max_age", Env: "STELLAR_HTTP_CORS_MAX_AGE", Type: "time.Duration", Default: "10m"},
		{Key: "http.hide_server_information", Env: "STELLAR_HTTP_HIDE_SERVER_INFORMATION", Type: "bool", Default: "false"},
		{Key: "http.routes", Env: "STELLAR_HTTP_ROUTES", Type: "[]config.Route"},
		{Key: "redis.prefix", Env: "STELLAR_REDIS_PREFIX", Type: "string", Default: "stellar:"},
	} {
		t.Run(tc.Key, func(t *testing.T) {
			got := byKey[tc.Key]
			got.Doc = ""
			if got != tc {
				t.Errorf("got %+v, want %+v", got, tc)
			}
		})
	}
	if len(keys) != len(leaves()) {
		t.Errorf("Keys lists %d keys, Config has %d leaves", len(keys), len(leaves()))
	}
}

// TestKeysDefaultsParse checks that every default shown by Keys is text
// the environment accepts and that gives the default back.
func TestKeysDefaultsParse(t *testing.T) {
	var def Config
	def.HTTP.CORS.AllowOrigins = []string{"*"}
	Defaults(&def)
	for _, k := range Keys() {
		if k.Default == "" || k.Key == "id" {
			continue
		}
		t.Run(k.Key, func(t *testing.T) {
			f, _ := leaf(k.Key)
			var c Config
			m := mapper{source: k.Env}
			if err := m.text(reflect.ValueOf(&c).Elem().FieldByIndex(f.index), k.Default, k.Key); err != nil {
				t.Fatal(err)
			}
			got := reflect.ValueOf(c).FieldByIndex(f.index).Interface()
			if want := reflect.ValueOf(def).FieldByIndex(f.index).Interface(); !reflect.DeepEqual(got, want) {
				t.Errorf("default %q parses to %v, want %v", k.Default, got, want)
			}
		})
	}
}
