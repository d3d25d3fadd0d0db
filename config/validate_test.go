package config

import (
	"errors"
	"strings"
	"testing"
	"time"
)

func TestValidate(t *testing.T) {
	for _, tc := range []struct {
		name   string
		change func(c *Config)
		key    string // "" when valid
		want   string // part of the message
	}{
		{name: "defaults", change: func(c *Config) {}},
		{name: "zero config", change: func(c *Config) { *c = Config{} }},
		{name: "addresses off", change: func(c *Config) { c.HTTP.Addr, c.TCP.Addr = "off", "off" }},
		{name: "address with host", change: func(c *Config) { c.HTTP.Addr = "127.0.0.1:0" }},
		{name: "IPv6 address", change: func(c *Config) { c.TCP.Addr = "[::1]:65535" }},
		{name: "http addr without port", change: func(c *Config) { c.HTTP.Addr = "localhost" },
			key: "http.addr", want: `expected host:port such as ":8080" or "127.0.0.1:8080", got "localhost" (or "off")`},
		{name: "http addr bare port", change: func(c *Config) { c.HTTP.Addr = "8080" },
			key: "http.addr", want: `got "8080"`},
		{name: "tcp addr named port", change: func(c *Config) { c.TCP.Addr = ":telnet" },
			key: "tcp.addr", want: `expected a numeric port, got "telnet"`},
		{name: "tcp addr port too big", change: func(c *Config) { c.TCP.Addr = ":65536" },
			key: "tcp.addr", want: "port 65536 is out of range 0-65535"},
		{name: "negative port", change: func(c *Config) { c.TCP.Addr = ":-1" },
			key: "tcp.addr", want: `expected a numeric port, got "-1"`},
		{name: "tcp tls pair", change: func(c *Config) { c.TCP.TLSCert, c.TCP.TLSKey = "cert.pem", "key.pem" }},
		{name: "tcp tls cert alone", change: func(c *Config) { c.TCP.TLSCert = "cert.pem" },
			key: "tcp.tls_cert", want: "must be set together"},
		{name: "http tls pair", change: func(c *Config) { c.HTTP.TLSCert, c.HTTP.TLSKey = "cert.pem", "key.pem" }},
		{name: "http tls key alone", change: func(c *Config) { c.HTTP.TLSKey = "key.pem" },
			key: "http.tls_cert", want: "http.tls_cert and http.tls_key must be set together"},
		{name: "http tls 1.0", change: func(c *Config) { c.HTTP.TLSMinVersion = "1.0" },
			key: "http.tls_min_version", want: "expected 1.2 or 1.3"},
		{name: "tcp tls 1.3", change: func(c *Config) { c.TCP.TLSMinVersion = "1.3" }},
		{name: "tcp insecure suite", change: func(c *Config) { c.TCP.TLSCipherSuites = []string{"TLS_RSA_WITH_RC4_128_SHA"} },
			key: "tcp.tls_cipher_suites", want: "insecure"},
		{name: "http unknown suite", change: func(c *Config) { c.HTTP.TLSCipherSuites = []string{"AES"} },
			key: "http.tls_cipher_suites", want: "unknown cipher suite"},
		{name: "http suites without one HTTP/2 needs", change: func(c *Config) {
			c.HTTP.TLSCipherSuites = []string{"TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256"}
		}, key: "http.tls_cipher_suites", want: "HTTP/2 needs"},
		{name: "http suites with one HTTP/2 needs", change: func(c *Config) {
			c.HTTP.TLSCipherSuites = []string{"TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256"}
		}},
		{name: "h2c with tls", change: func(c *Config) { c.HTTP.H2C, c.HTTP.TLSCert, c.HTTP.TLSKey = true, "c", "k" },
			key: "http.h2c", want: "without TLS"},
		{name: "redirect without tls", change: func(c *Config) { c.HTTP.RedirectAddr = ":8081" },
			key: "http.redirect_addr", want: "needs http.tls_cert"},
		{name: "redirect on the https address", change: func(c *Config) {
			c.HTTP.TLSCert, c.HTTP.TLSKey, c.HTTP.RedirectAddr = "c", "k", c.HTTP.Addr
		}, key: "http.redirect_addr", want: "is http.addr too"},
		{name: "compression off", change: func(c *Config) { c.HTTP.CompressMinBytes = -1 }},
		{name: "compression below -1", change: func(c *Config) { c.HTTP.CompressMinBytes = -2 }, key: "http.compress_min_bytes"},
		{name: "files path relative", change: func(c *Config) { c.HTTP.FilesPath = "public" }, key: "http.files_path"},
		{name: "cache rule relative", change: func(c *Config) { c.HTTP.CacheControl = []CacheRule{{Prefix: "a", Value: "x"}} },
			key: "http.cache_control", want: "entry 0"},
		{name: "tcp negative line limit", change: func(c *Config) { c.TCP.MaxLineBytes = -1 }, key: "tcp.max_line_bytes"},
		{name: "tcp negative idle", change: func(c *Config) { c.TCP.IdleTimeout = -time.Second }, key: "tcp.idle_timeout"},
		{name: "dashboard token", change: func(c *Config) { c.Dashboard.Token = "0123456789abcdef" }},
		{name: "dashboard token too short", change: func(c *Config) { c.Dashboard.Token = "hunter2" },
			key: "dashboard.token", want: "at least 16 characters"},
		{name: "websocket off", change: func(c *Config) { c.WebSocket.Path = "off" }},
		{name: "websocket relative path", change: func(c *Config) { c.WebSocket.Path = "ws" },
			key: "websocket.path", want: `starting with "/"`},
		{name: "websocket negative frame", change: func(c *Config) { c.WebSocket.MaxFrameBytes = -1 }, key: "websocket.max_frame_bytes"},
		{name: "websocket negative ping", change: func(c *Config) { c.WebSocket.PingInterval = -time.Second }, key: "websocket.ping_interval"},
		{name: "websocket empty origin", change: func(c *Config) { c.WebSocket.AllowedOrigins = []string{""} }, key: "websocket.allowed_origins"},
		{name: "chat room too long", change: func(c *Config) { c.Chat.DefaultRoom = strings.Repeat("r", 257) }, key: "chat.default_room"},
		{name: "chat starting rooms", change: func(c *Config) { c.Chat.StartingRooms = []string{"lobby", "games"} }},
		{name: "chat starting room empty", change: func(c *Config) { c.Chat.StartingRooms = []string{"lobby", ""} },
			key: "chat.starting_rooms", want: "entry 1: a room name is 1 to 256 bytes, got 0"},
		{name: "chat starting room too long", change: func(c *Config) { c.Chat.StartingRooms = []string{strings.Repeat("r", 257)} },
			key: "chat.starting_rooms", want: "entry 0"},
		{name: "redis url", change: func(c *Config) { c.Redis.URL = "redis://:pw@127.0.0.1:6379/0" }},
		{name: "rediss url", change: func(c *Config) { c.Redis.URL = "rediss://user:pw@redis.example:6380" }},
		{name: "unix url", change: func(c *Config) { c.Redis.URL = "unix:///run/redis.sock?db=1" }},
		{name: "redis url bad scheme", change: func(c *Config) { c.Redis.URL = "http://127.0.0.1:6379" },
			key: "redis.url", want: `scheme redis, rediss or unix`},
		{name: "redis url without scheme", change: func(c *Config) { c.Redis.URL = "/var/run/redis" },
			key: "redis.url", want: `expected a URL such as redis://host:6379/0`},
		{name: "redis url does not parse", change: func(c *Config) { c.Redis.URL = "redis://:secretpw@h:x" },
			key: "redis.url", want: "not a valid URL"},
		{name: "redis url bad db", change: func(c *Config) { c.Redis.URL = "redis://h:6379/zero" },
			key: "redis.url", want: "database number"},
		{name: "unix url without path", change: func(c *Config) { c.Redis.URL = "unix://" },
			key: "redis.url", want: "socket path"},
		{name: "sentinel", change: func(c *Config) {
			c.Redis.SentinelMaster, c.Redis.SentinelAddrs = "m", []string{"a:26379", "b:26379"}
		}},
		{name: "sentinel master without addrs", change: func(c *Config) { c.Redis.SentinelMaster = "m" },
			key: "redis.sentinel_master", want: "redis.sentinel_addrs is empty"},
		{name: "sentinel addrs without master", change: func(c *Config) { c.Redis.SentinelAddrs = []string{"a:1"} },
			key: "redis.sentinel_addrs", want: "redis.sentinel_master is empty"},
		{name: "bad sentinel addr", change: func(c *Config) {
			c.Redis.SentinelMaster, c.Redis.SentinelAddrs = "m", []string{"a:1", "b"}
		}, key: "redis.sentinel_addrs[1]", want: `got "b"`},
		{name: "url and cluster", change: func(c *Config) {
			c.Redis.URL, c.Redis.ClusterAddrs = "redis://h:1", []string{"a:1"}
		}, key: "redis.cluster_addrs", want: "cannot be combined with redis.url"},
		{name: "negative rpc timeout", change: func(c *Config) { c.Cluster.RPCTimeout = -time.Second },
			key: "cluster.rpc_timeout", want: "must not be negative"},
		{name: "node ttl within a heartbeat", change: func(c *Config) {
			c.Cluster.HeartbeatInterval, c.Cluster.NodeTTL = 2*time.Second, time.Second
		}, key: "cluster.node_ttl", want: "must be longer than cluster.heartbeat_interval"},
		{name: "log level", change: func(c *Config) { c.Log.Level = "verbose" },
			key: "log.level", want: `expected one of debug, info, warn, error, got "verbose"`},
		{name: "log format", change: func(c *Config) { c.Log.Format = "xml" },
			key: "log.format", want: `expected one of text, json, auto, got "xml"`},
		{name: "root endpoint type", change: func(c *Config) { c.HTTP.RootEndpointType = "static" },
			key: "http.root_endpoint_type", want: `expected one of file, api, got "static"`},
		{name: "action path off with api root", change: func(c *Config) {
			c.HTTP.ActionPath, c.HTTP.RootEndpointType = "off", "api"
		}},
		{name: "action path off with file root", change: func(c *Config) { c.HTTP.ActionPath = "off" },
			key: "http.action_path", want: `"off" leaves no way to reach actions`},
		{name: "action path relative", change: func(c *Config) { c.HTTP.ActionPath = "api" },
			key: "http.action_path", want: `expected a path starting with "/" or "off", got "api"`},
		{name: "openapi path", change: func(c *Config) { c.HTTP.OpenAPIPath = "/openapi.json" }},
		{name: "openapi path relative", change: func(c *Config) { c.HTTP.OpenAPIPath = "openapi.json" },
			key: "http.openapi_path", want: `expected a path starting with "/" or "off", got "openapi.json"`},
		{name: "metrics path", change: func(c *Config) { c.HTTP.MetricsPath = "/prom" }},
		{name: "metrics off", change: func(c *Config) { c.HTTP.MetricsPath = "off" }},
		{name: "metrics path relative", change: func(c *Config) { c.HTTP.MetricsPath = "metrics" },
			key: "http.metrics_path", want: `expected a path starting with "/" or "off", got "metrics"`},
		{name: "routes", change: func(c *Config) {
			c.HTTP.Routes = []Route{{"get", "/a", "a", 0}, {"ALL", "/b/:id", "b", 2}, {"get", "/c/:n([0-9]+)/*rest", "c", 0}}
		}},
		{name: "route method", change: func(c *Config) {
			c.HTTP.Routes = []Route{{"get", "/a", "a", 0}, {"head", "/b", "b", 0}}
		}, key: "http.routes[1].method", want: `expected one of get, post, put, patch, delete, all, got "head"`},
		{name: "route without method", change: func(c *Config) { c.HTTP.Routes = []Route{{"", "/a", "a", 0}} },
			key: "http.routes[0].method", want: `got ""`},
		{name: "route path", change: func(c *Config) { c.HTTP.Routes = []Route{{"get", "users", "a", 0}} },
			key: "http.routes[0].path", want: `expected a path starting with "/", got "users"`},
		{name: "route pattern", change: func(c *Config) { c.HTTP.Routes = []Route{{"get", "/u/:id([0-9)", "a", 0}} },
			key: "http.routes[0].path", want: `"/u/:id([0-9)": segment ":id([0-9)": bad constraint`},
		{name: "route wildcard", change: func(c *Config) { c.HTTP.Routes = []Route{{"get", "/f/*p/x", "a", 0}} },
			key: "http.routes[0].path", want: "a wildcard *name must be the last segment"},
		{name: "trusted proxies", change: func(c *Config) { c.HTTP.TrustedProxies = []string{"10.0.0.0/8", "::1"} }},
		{name: "bad trusted proxy", change: func(c *Config) { c.HTTP.TrustedProxies = []string{"10.0.0.0/8", "proxy.local"} },
			key: "http.trusted_proxies", want: `"proxy.local" is neither an IP address nor a CIDR prefix`},
		{name: "fingerprint same site", change: func(c *Config) { c.HTTP.Fingerprint.SameSite = "loose" },
			key: "http.fingerprint", want: `same_site must be lax, strict or none, got "loose"`},
		{name: "fingerprint secure", change: func(c *Config) { c.HTTP.Fingerprint.Secure = "yes" },
			key: "http.fingerprint", want: `secure must be auto, always or never, got "yes"`},
		{name: "fingerprint cookie", change: func(c *Config) { c.HTTP.Fingerprint.Cookie = "a b" },
			key: "http.fingerprint", want: `fingerprint cookie name "a b"`},
		{name: "headers", change: func(c *Config) { c.HTTP.Headers = map[string]string{"X-Frame-Options": "DENY"} }},
		{name: "header name", change: func(c *Config) { c.HTTP.Headers = map[string]string{"X Frame": "DENY"} },
			key: "http.headers.X Frame", want: `holds ' '`},
		{name: "header value", change: func(c *Config) { c.HTTP.Headers = map[string]string{"X-A": "a\nb"} },
			key: "http.headers.X-A", want: "line break"},
		{name: "route action", change: func(c *Config) { c.HTTP.Routes = []Route{{"get", "/a", " ", 0}} },
			key: "http.routes[0].action", want: "must name an action"},
		{name: "route version", change: func(c *Config) { c.HTTP.Routes = []Route{{"get", "/a", "a", -1}} },
			key: "http.routes[0].api_version", want: "must not be negative, got -1"},
		{name: "negative shutdown timeout", change: func(c *Config) { c.ShutdownTimeout = -time.Second },
			key: "shutdown_timeout", want: "must not be negative, got -1s"},
		{name: "negative read timeout", change: func(c *Config) { c.HTTP.ReadTimeout = -1 },
			key: "http.read_timeout", want: "must not be negative"},
		{name: "negative idle timeout", change: func(c *Config) { c.HTTP.IdleTimeout = -time.Minute },
			key: "http.idle_timeout", want: "must not be negative, got -1m0s"},
		{name: "negative cors max age", change: func(c *Config) { c.HTTP.CORS.MaxAge = -time.Minute },
			key: "http.cors.max_age", want: "must not be negative"},
		{name: "negative header size", change: func(c *Config) { c.HTTP.MaxHeaderBytes = -1 },
			key: "http.max_header_bytes", want: "must not be negative, got -1"},
		{name: "negative body size", change: func(c *Config) { c.HTTP.MaxBodyBytes = -5 },
			key: "http.max_body_bytes", want: "must not be negative, got -5"},
		{name: "bodies in flight below one body", change: func(c *Config) { c.HTTP.MaxBodyBytesInFlight = 1 << 20 },
			key: "http.max_body_bytes_in_flight", want: "1048576 is less than http.max_body_bytes (8388608)"},
		{name: "negative connections per ip", change: func(c *Config) { c.WebSocket.MaxConnectionsPerIP = -1 },
			key: "websocket.max_connections_per_ip", want: "must not be negative, got -1"},
		{name: "negative params bytes", change: func(c *Config) { c.TCP.MaxParamsBytes = -1 },
			key: "tcp.max_params_bytes", want: "must not be negative, got -1"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var c Config
			Defaults(&c)
			tc.change(&c)
			err := c.Validate()
			if tc.key == "" {
				if err != nil {
					t.Fatalf("Validate: %v", err)
				}
				return
			}
			if err == nil {
				t.Fatal("Validate succeeded, want an error")
			}
			var e *Error
			if !errors.As(err, &e) || e.Key != tc.key {
				t.Errorf("error %v: want an *Error for key %q", err, tc.key)
			}
			msg := err.Error()
			if !strings.HasPrefix(msg, `config: key "`+tc.key+`": `) || !strings.Contains(msg, tc.want) {
				t.Errorf("error:\n got %s\nwant config: key %q: …%s…", msg, tc.key, tc.want)
			}
			if strings.Contains(msg, "\n") || strings.Contains(msg, "secretpw") {
				t.Errorf("error %q is not one line or shows a password", msg)
			}
		})
	}
}
