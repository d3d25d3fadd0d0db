// Package config holds a node's configuration and loads it from its four
// sources, each overriding the one before: built-in defaults (and what the
// program passed to stellar.New), a config file (stellar.toml, stellar.yaml
// or stellar.json in the working directory, or --config PATH), STELLAR_*
// environment variables, and command-line flags.
//
// Every field has a key, used in files (nested tables or objects) and to
// derive its environment variable: key http.read_timeout is
// STELLAR_HTTP_READ_TIMEOUT. A zero field means "use the default"; Defaults
// fills them in, in one place.
//
// # Precedence
//
// Load starts from the program's base Config, then sets the keys present in
// the config file, then the keys named by STELLAR_* environment variables,
// then the keys given as flags. A layer changes only the keys it names; the
// others keep the value of the layer before. Lists (such as
// http.cors.allow_origins and http.routes) are replaced whole, not merged.
// Defaults then fills the fields still zero, and Validate checks the result.
//
// # Files
//
// The file is --config PATH (Source.File), else the one named by
// STELLAR_CONFIG, else whichever of stellar.toml, stellar.yaml, stellar.yml
// and stellar.json is in the working directory; finding more than one is an
// error. TOML, YAML and JSON files are read by the same strict mapper, so they
// accept the same keys and give the same error messages: an unknown key or a
// value of the wrong type is an error naming the file and the full dotted key.
// Durations are strings such as "30s" or "1m30s"; a bare number is rejected
// because its unit would be a guess. A null value (YAML ~ or JSON null)
// leaves the key as it was. An empty file sets nothing.
//
// # Environment and flags
//
// Every leaf key has an environment variable: STELLAR_ followed by the key in
// upper case with dots turned into underscores, unless its env tag names
// another (cluster.token is STELLAR_SERVER_TOKEN). Keys lists them all.
// Values are text: durations as in files, booleans as true or false, lists
// of strings comma-separated ("a, b"), and http.routes as a JSON list of
// objects. An empty variable counts as unset. STELLAR_* variables that name no
// key are ignored, since other tools share the prefix; Load reports them as
// warnings, except STELLAR_CONFIG and STELLAR_TEST_*. Flags are given to Load
// as key → text, with the same syntax as the environment.
package config

import (
	"time"
)

// Config is the whole configuration of a node.
type Config struct {
	// ID names the node in logs and in the cluster. Default: the host name,
	// "-" and the process id, e.g. "web1-4242" ("stellar-PID" when the host
	// name is unknown). Under startCluster it is stellar-worker-N.
	ID string `key:"id"`
	// ShutdownTimeout bounds a graceful shutdown. Default 30s.
	ShutdownTimeout time.Duration `key:"shutdown_timeout"`

	General General `key:"general"`
	Log     Log     `key:"log"`
	HTTP    HTTP    `key:"http"`
	TCP     TCP     `key:"tcp"`
	// WebSocket configures the WebSocket transport on the HTTP server.
	WebSocket WebSocket `key:"websocket"`
	// Chat configures the chat rooms.
	Chat    Chat    `key:"chat"`
	Redis   Redis   `key:"redis"`
	Cluster Cluster `key:"cluster"`
	Tasks   Tasks   `key:"tasks"`
	// Dashboard configures the operator's web dashboard at /dashboard.
	Dashboard Dashboard `key:"dashboard"`
	// Supervisor configures stellar startCluster.
	Supervisor Supervisor `key:"supervisor"`
}

// General holds settings that describe the application.
type General struct {
	// ServerName appears in serverInformation. Default "Stellar API".
	ServerName string `key:"server_name"`
	// APIVersion is the application's version, shown in serverInformation
	// and by the status action. Default "0.0.1".
	APIVersion string `key:"api_version"`
	// ActionTimeout bounds the run of every action that sets no Timeout
	// of its own (action.Action.Timeout); past it the client gets 504
	// timeout. Default 0: off.
	ActionTimeout time.Duration `key:"action_timeout"`
}

// Log configures logging through log/slog.
type Log struct {
	// Level is debug, info, warn or error. Default info.
	Level string `key:"level"`
	// Format is text, json or auto (text on a terminal, JSON otherwise).
	// Default auto.
	Format string `key:"format"`
}

// HTTP configures the HTTP server.
type HTTP struct {
	// Addr is the listen address. Default ":8080". "off" disables HTTP.
	Addr string `key:"addr" env:"STELLAR_HTTP_ADDR"`
	// ReadTimeout bounds reading a whole request. Default 30s.
	ReadTimeout time.Duration `key:"read_timeout"`
	// ReadHeaderTimeout bounds reading request headers. Default 10s.
	ReadHeaderTimeout time.Duration `key:"read_header_timeout"`
	// WriteTimeout bounds writing a response. Default 60s.
	WriteTimeout time.Duration `key:"write_timeout"`
	// IdleTimeout closes idle keep-alive connections. Default 120s.
	IdleTimeout time.Duration `key:"idle_timeout"`
	// MaxHeaderBytes limits request headers. Default 64 KiB.
	MaxHeaderBytes int `key:"max_header_bytes"`
	// MaxBodyBytes limits request bodies; larger ones get 413. Default 8 MiB.
	MaxBodyBytes int64 `key:"max_body_bytes"`
	// MaxBodyBytesInFlight limits the bytes of request bodies the node
	// reads at once, across all requests, a JSON body counting 32 bytes
	// more for each value it holds; beyond it a request gets 503
	// server_busy with Retry-After. At least MaxBodyBytes. Default 32 MiB.
	MaxBodyBytesInFlight int64 `key:"max_body_bytes_in_flight"`
	// ActionPath is where actions are served, Stellar's urlPathForActions.
	// Default "/api". "off" disables it (then RootEndpointType must be api).
	ActionPath string `key:"action_path"`
	// RootEndpointType says what "/" serves: "file" (static files from
	// PublicDir) or "api" (actions and routes at the root). Default "file".
	RootEndpointType string `key:"root_endpoint_type"`
	// PublicDir is the folder of static files. Default "public".
	PublicDir string `key:"public_dir"`
	// DirectoryFile is served for a folder. Default "index.html".
	DirectoryFile string `key:"directory_file"`
	// OpenAPIPath is where the OpenAPI 3.1 document of the actions and
	// routes is served, such as "/openapi.json". Default "off": none.
	OpenAPIPath string `key:"openapi_path"`
	// MetricsPath is where the node's Prometheus metrics are served.
	// Default "/metrics". "off" serves none (App.Metrics still counts).
	MetricsPath string `key:"metrics_path"`
	// Pprof serves the Go profiler under /debug/pprof/. Default false.
	Pprof bool `key:"pprof"`
	// HideServerInformation leaves serverInformation out of responses.
	HideServerInformation bool `key:"hide_server_information"`
	// HideRequesterInformation leaves requesterInformation out of responses.
	HideRequesterInformation bool `key:"hide_requester_information"`
	// CORS sets cross-origin headers; empty AllowOrigins sends none.
	CORS CORS `key:"cors"`
	// Routes maps REST paths to actions, in addition to those registered in
	// code. In a file it is an array of tables ([[http.routes]] in TOML); in
	// the environment and in flags, a JSON list of objects.
	Routes []Route `key:"routes"`
	// TrustedProxies lists the proxies (IP addresses or CIDR prefixes
	// such as "10.0.0.0/8") whose X-Forwarded-For and X-Forwarded-Proto
	// are believed, for remoteIP, the scheme and the logs. Default none.
	TrustedProxies []string `key:"trusted_proxies"`
	// Fingerprint configures the fingerprint cookie (Stellar's
	// fingerprintOptions).
	Fingerprint Fingerprint `key:"fingerprint"`
	// Headers are set on every response of the HTTP listener (Stellar's
	// httpHeaders): a table of name = value in a file, a JSON object in
	// the environment and in flags. Default none.
	Headers map[string]string `key:"headers"`
	// TLSCert and TLSKey are PEM files; with both set the HTTP listener
	// speaks HTTPS only (HTTP/2 negotiated), and SIGHUP reads them again.
	TLSCert string `key:"tls_cert" env:"STELLAR_HTTP_TLS_CERT"`
	TLSKey  string `key:"tls_key" env:"STELLAR_HTTP_TLS_KEY"`
	// TLSMinVersion is the oldest TLS version accepted: "1.2" or "1.3".
	// Default "1.2".
	TLSMinVersion string `key:"tls_min_version"`
	// TLSCipherSuites limits the TLS 1.2 suites, by Go's names; empty
	// keeps Go's defaults.
	TLSCipherSuites []string `key:"tls_cipher_suites"`
	// H2C serves HTTP/2 without TLS (prior knowledge), for behind a proxy.
	H2C bool `key:"h2c"`
	// RedirectAddr, when set, listens there and redirects every request
	// to https on http.addr's port (308). Needs TLS. Default "off".
	RedirectAddr string `key:"redirect_addr"`
	// CompressMinBytes is the smallest response compressed (zstd or gzip,
	// as the client's Accept-Encoding ranks them). Default 1024; -1
	// compresses nothing.
	CompressMinBytes int `key:"compress_min_bytes"`
	// FilesPath is where static files are served besides "/" (with
	// RootEndpointType file), Stellar's urlPathForFiles. Default
	// "/public"; "off" for none.
	FilesPath string `key:"files_path"`
	// CacheControl sets Cache-Control on static files by URL prefix, the
	// longest prefix winning. In a file an array of tables
	// ([[http.cache_control]]); in the environment and flags a JSON list.
	CacheControl []CacheRule `key:"cache_control"`
}

// Fingerprint configures the cookie that keeps a browser's
// requesterInformation.fingerprint stable across requests.
type Fingerprint struct {
	// Cookie is the cookie's name. Default "sessionID". "off" sets none.
	Cookie string `key:"cookie"`
	// MaxAge is the cookie's lifetime. Default 1h.
	MaxAge time.Duration `key:"max_age"`
	// Secure is auto (Secure over HTTPS), always or never. Default auto.
	Secure string `key:"secure"`
	// SameSite is lax, strict or none. Default lax.
	SameSite string `key:"same_site"`
	// ScriptReadable leaves HttpOnly off. Default false.
	ScriptReadable bool `key:"script_readable"`
}

// CacheRule is the Cache-Control of the static files under a prefix.
type CacheRule struct {
	// Prefix is a URL path prefix such as "/assets/".
	Prefix string `key:"prefix"`
	// Value is the header, such as "public, max-age=31536000, immutable".
	Value string `key:"value"`
}

// CORS configures cross-origin resource sharing headers.
type CORS struct {
	// AllowOrigins lists allowed origins; "*" allows any.
	AllowOrigins []string `key:"allow_origins"`
	// AllowMethods default to GET, POST, PUT, PATCH, DELETE, OPTIONS when
	// AllowOrigins is set.
	AllowMethods []string `key:"allow_methods"`
	// AllowHeaders default to Content-Type, Authorization when AllowOrigins
	// is set.
	AllowHeaders []string `key:"allow_headers"`
	// AllowCredentials sends Access-Control-Allow-Credentials: true.
	AllowCredentials bool `key:"allow_credentials"`
	// MaxAge is how long a preflight answer may be cached. Default 10m when
	// AllowOrigins is set.
	MaxAge time.Duration `key:"max_age"`
}

// Route maps a method and a path pattern to an action.
type Route struct {
	// Method is get, post, put, patch, delete or all, in any case.
	Method string `key:"method"`
	// Path is a pattern such as "/users/:id": ":name", ":name(regexp)"
	// and a last "*name" segment become params (see Routes).
	Path string `key:"path"`
	// Action is the action name to run.
	Action string `key:"action"`
	// APIVersion pins the action version; zero means the newest.
	APIVersion int `key:"api_version"`
}

// TCP configures the TCP transport.
type TCP struct {
	// Addr is the listen address. Default ":5000". "off" disables TCP.
	Addr string `key:"addr" env:"STELLAR_TCP_ADDR"`
	// TLSCert and TLSKey are PEM files; with both set the TCP server
	// speaks TLS only.
	TLSCert string `key:"tls_cert"`
	TLSKey  string `key:"tls_key"`
	// TLSMinVersion and TLSCipherSuites are as http.tls_min_version and
	// http.tls_cipher_suites.
	TLSMinVersion   string   `key:"tls_min_version"`
	TLSCipherSuites []string `key:"tls_cipher_suites"`
	// MaxLineBytes limits one line from a client; a longer one gets an
	// error and the connection is closed. Default 64 KiB.
	MaxLineBytes int `key:"max_line_bytes"`
	// MaxInFlight limits the actions running at once for one connection;
	// beyond it a message gets a too_many_requests error. Default 16.
	MaxInFlight int `key:"max_in_flight"`
	// IdleTimeout closes a connection that sends nothing for this long.
	// Default 5m.
	IdleTimeout time.Duration `key:"idle_timeout"`
	// MaxConnections limits the connections open at once on this
	// transport; one more is refused with connection_limit. Default
	// 10,000.
	MaxConnections int `key:"max_connections"`
	// MaxConnectionsPerIP limits the connections open at once from one
	// remote address (an IPv6 /64 counts as one); one more is refused
	// with ip_connection_limit. Default 256.
	MaxConnectionsPerIP int `key:"max_connections_per_ip"`
	// MaxParams limits the sticky params of one connection; paramAdd of
	// one more gets param_limit. Default 64.
	MaxParams int `key:"max_params"`
	// MaxParamsBytes limits the bytes of one connection's sticky params
	// (keys plus values as JSON); beyond it paramAdd gets param_limit.
	// Default 64 KiB.
	MaxParamsBytes int `key:"max_params_bytes"`
	// MaxQueuedMessages bounds the messages waiting to be written to one
	// client: a reply waits for room (10 s at most, then the client is
	// disconnected), a room message that finds none disconnects it.
	// Default 64.
	MaxQueuedMessages int `key:"max_queued_messages"`
	// MaxQueuedBytes bounds the bytes of those messages the same way.
	// Default 1 MiB.
	MaxQueuedBytes int `key:"max_queued_bytes"`
}

// Redis configures the shared backend. With no URL and no Sentinel or
// Cluster addresses the node runs on the embedded memory backend.
type Redis struct {
	// URL is redis://[user:password@]host:port/db, rediss:// for TLS, or
	// unix:///path/to/socket?db=N.
	URL string `key:"url" env:"STELLAR_REDIS_URL" secret:"password"`
	// SentinelMaster is the master name when using Redis Sentinel.
	SentinelMaster string `key:"sentinel_master"`
	// SentinelAddrs lists sentinel host:port addresses.
	SentinelAddrs []string `key:"sentinel_addrs"`
	// ClusterAddrs lists seed host:port addresses of a Redis Cluster.
	ClusterAddrs []string `key:"cluster_addrs"`
	// Password for Sentinel or Cluster set-ups (a URL carries its own).
	Password string `key:"password" secret:"true"`
	// Prefix starts every key, so several apps can share one Redis.
	// Default "stellar:".
	Prefix string `key:"prefix"`
	// ClientCache, if positive, lets cache Loads be served from the
	// node's memory for up to this long, invalidated by Redis as soon as
	// any node changes the key; such Loads record no read time. Default
	// 0: off. See docs/cache.md.
	ClientCache time.Duration `key:"client_cache"`
	// ReplicaWait bounds how long a task write (enqueue, fetch, outcome)
	// waits for a replica of its master to confirm it (WAIT 1), when the
	// master has one online. Default 1s; negative never waits. See
	// docs/tasks.md for what it does and does not guarantee.
	ReplicaWait time.Duration `key:"replica_wait"`
}

// Cluster configures how nodes talk to each other.
type Cluster struct {
	// Token signs every message between nodes (HMAC-SHA256). It is never
	// sent. Nodes with different tokens do not form a cluster.
	Token string `key:"token" env:"STELLAR_SERVER_TOKEN" secret:"true"`
	// Insecure lets a node on Redis run with an empty token, for local
	// development only: anyone who reaches Redis can then forge messages
	// and calls. A warning is logged at start.
	Insecure bool `key:"insecure"`
	// HeartbeatInterval is how often a node renews its membership record
	// and refreshes its view of the live nodes. Default 1s.
	HeartbeatInterval time.Duration `key:"heartbeat_interval"`
	// NodeTTL is how long a node stays listed without a heartbeat. A node
	// that stops gracefully leaves at once. Default 5 × HeartbeatInterval
	// (5s at the default interval).
	NodeTTL time.Duration `key:"node_ttl"`
	// RPCTimeout bounds a cluster call whose context has no deadline.
	// Default 5s.
	RPCTimeout time.Duration `key:"rpc_timeout"`
	// MessageWindow is how old (or how far in the future) a message may be
	// before it is dropped as stale; ids are remembered this long to drop
	// replays. Default 30s.
	MessageWindow time.Duration `key:"message_window"`
	// MaxMessageBytes bounds a message between nodes; larger ones are
	// refused when sent and dropped when received. Default 1 MiB.
	MaxMessageBytes int `key:"max_message_bytes"`
}

// Dashboard configures the web dashboard every node serves at /dashboard:
// the cluster's nodes, queues, tasks, rooms and locks, with retry, remove,
// pause and resume.
type Dashboard struct {
	// Token turns the dashboard on and is the credential it asks for
	// (Authorization: Bearer TOKEN, or its login form). Empty, the
	// default, serves no dashboard. At least 16 characters.
	Token string `key:"token" secret:"true"`
}

// DashboardMinToken is the shortest dashboard.token accepted.
const DashboardMinToken = 16

// Enabled reports whether a Redis backend is configured.
func (r Redis) Enabled() bool {
	return r.URL != "" || len(r.SentinelAddrs) > 0 || len(r.ClusterAddrs) > 0
}
