package config

import (
	"maps"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Key describes one leaf key of Config, for help texts.
type Key struct {
	// Key is the dotted key used in files and flags, e.g. "http.addr".
	Key string
	// Env is the environment variable that sets it.
	Env string
	// Type is the Go type of the field, e.g. "time.Duration".
	Type string
	// Default is the default value as text, "" when it is empty.
	Default string
	// Doc says what the key does, in one line.
	Doc string
	// Secret reports whether Masked hides the value (or the password in it).
	Secret bool
}

// Keys describes every leaf key of Config, in declaration order.
func Keys() []Key {
	var def Config
	Defaults(&def)
	v := reflect.ValueOf(def)
	var keys []Key
	for _, f := range leaves() {
		k := Key{
			Key:     f.key,
			Env:     f.env,
			Type:    f.typ.String(),
			Default: formatDefault(v.FieldByIndex(f.index)),
			Doc:     keyDocs[f.key],
			Secret:  f.secret != "",
		}
		switch f.key {
		case "id":
			k.Default = "hostname-pid"
		}
		keys = append(keys, k)
	}
	return keys
}

func formatDefault(v reflect.Value) string {
	switch {
	case v.Type() == durationType:
		if v.Int() == 0 {
			return ""
		}
		return formatDuration(time.Duration(v.Int()))
	case v.Kind() == reflect.String:
		return v.String()
	case v.Kind() == reflect.Bool:
		return strconv.FormatBool(v.Bool())
	case v.Kind() == reflect.Int || v.Kind() == reflect.Int64:
		if v.Int() == 0 {
			return ""
		}
		return strconv.FormatInt(v.Int(), 10)
	case v.Kind() == reflect.Slice && v.Type().Elem().Kind() == reflect.String:
		return strings.Join(v.Interface().([]string), ",")
	case v.Kind() == reflect.Map:
		m := v.Interface().(map[string]string)
		var parts []string
		for _, k := range slices.Sorted(maps.Keys(m)) {
			parts = append(parts, k+"="+m[k])
		}
		return strings.Join(parts, ",")
	}
	return ""
}

// keyDocs holds the one-line description of every leaf key; a test keeps
// it in step with Config.
var keyDocs = map[string]string{
	"id":               "node id in logs and in the cluster",
	"shutdown_timeout": "bound on a graceful shutdown",

	"general.server_name":    "name shown in serverInformation",
	"general.api_version":    "application version, shown in serverInformation and by status",
	"general.action_timeout": "bound on an action's run when it sets no Timeout; 0 is off",

	"log.level":  "log level: debug, info, warn or error",
	"log.format": "log format: text, json or auto (text on a terminal, JSON otherwise)",

	"http.addr":                        `HTTP listen address, or "off"`,
	"http.read_timeout":                "bound on reading a whole request",
	"http.read_header_timeout":         "bound on reading request headers",
	"http.write_timeout":               "bound on writing a response",
	"http.idle_timeout":                "idle keep-alive connections are closed after this",
	"http.max_header_bytes":            "limit on request headers, in bytes",
	"http.max_body_bytes":              "limit on request bodies, in bytes; larger ones get 413",
	"http.max_body_bytes_in_flight":    "limit on the bytes of request bodies the node reads at once (JSON: +32 a value); beyond it 503 server_busy (at least http.max_body_bytes)",
	"http.action_path":                 `path where actions are served (urlPathForActions), or "off"`,
	"http.root_endpoint_type":          `what "/" serves: file (static files) or api (actions)`,
	"http.public_dir":                  "folder of static files",
	"http.directory_file":              "file served for a folder",
	"http.openapi_path":                `path of the OpenAPI 3.1 document of the actions, such as /openapi.json, or "off"`,
	"http.metrics_path":                `path of the Prometheus metrics, or "off"`,
	"http.pprof":                       "serve the Go profiler at /debug/pprof/ (never open it to the world)",
	"http.hide_server_information":     "leave serverInformation out of responses",
	"http.hide_requester_information":  "leave requesterInformation out of responses",
	"http.cors.allow_origins":          `allowed CORS origins, "*" for any; empty sends no CORS headers`,
	"http.cors.allow_methods":          "methods allowed by CORS",
	"http.cors.allow_headers":          "request headers allowed by CORS",
	"http.cors.allow_credentials":      "send Access-Control-Allow-Credentials: true",
	"http.cors.max_age":                "how long a browser may cache a preflight answer",
	"http.routes":                      "REST routes to actions: list of {method, path, action, api_version} (JSON in env and flags); paths take :name, :name(regexp) and a last *name",
	"http.trusted_proxies":             "proxies (IPs or CIDRs) whose X-Forwarded-For and X-Forwarded-Proto are believed; none by default",
	"http.fingerprint.cookie":          `name of the fingerprint cookie (fingerprintOptions.cookieKey), or "off"`,
	"http.fingerprint.max_age":         "lifetime of the fingerprint cookie",
	"http.fingerprint.secure":          "mark the fingerprint cookie Secure: auto (over HTTPS), always or never",
	"http.fingerprint.same_site":       "SameSite of the fingerprint cookie: lax, strict or none (none forces Secure)",
	"http.fingerprint.script_readable": "leave HttpOnly off the fingerprint cookie, so that page scripts can read it",
	"http.headers":                     "headers set on every HTTP response (httpHeaders): a table of name = value (a JSON object in env and flags)",

	"tcp.addr": `TCP listen address, or "off"`,

	"redis.url":             "Redis URL: redis://[user:password@]host:port/db, rediss:// or unix://; none runs in memory",
	"redis.sentinel_master": "Redis Sentinel master name",
	"redis.sentinel_addrs":  "Redis Sentinel host:port addresses",
	"redis.cluster_addrs":   "Redis Cluster seed host:port addresses",
	"redis.password":        "password for Sentinel or Cluster (a URL carries its own)",
	"redis.prefix":          "prefix of every Redis key, so apps can share one Redis",
	"redis.replica_wait":    "how long a task write waits for a replica to confirm it (WAIT 1) when its master has one; negative never waits",
	"redis.client_cache":    "keep cache entries read by Load in the node's memory this long, invalidated by Redis when any node changes them (RESP3 client-side caching); 0 is off",

	"dashboard.token":            "turns on /dashboard and is its credential (Authorization: Bearer, or the login form); empty is off",
	"cluster.token":              "token that signs messages between nodes (HMAC-SHA256); never sent",
	"cluster.insecure":           "allow an empty token on Redis, for local development only (logged loudly)",
	"cluster.heartbeat_interval": "how often a node renews its membership and refreshes its view of the cluster",
	"cluster.node_ttl":           "how long a node stays listed without a heartbeat; default 5 heartbeat intervals",
	"cluster.rpc_timeout":        "bound on a cluster call whose context has no deadline",
	"cluster.message_window":     "messages older (or later) than this are dropped as stale; replays are caught within it",
	"cluster.max_message_bytes":  "limit on a message between nodes, in bytes",
}
