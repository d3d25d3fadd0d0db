package config

import (
	"errors"
	"fmt"
	"maps"
	"net"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	httpt "github.com/stellarfw/stellar-go/transport/http"
)

// Validate reports the first problem in c as an *Error naming its key, or
// nil. Zero fields are valid: they mean "use the default".
func (c Config) Validate() error {
	for _, check := range []func() error{
		func() error { return nonNegative("shutdown_timeout", c.ShutdownTimeout) },
		func() error { return nonNegative("general.action_timeout", c.General.ActionTimeout) },
		func() error { return oneOf("log.level", c.Log.Level, "debug", "info", "warn", "error") },
		func() error { return oneOf("log.format", c.Log.Format, "text", "json", "auto") },
		c.HTTP.validate,
		func() error { return listenAddr("tcp.addr", c.TCP.Addr) },
		c.validateConnections,
		c.validateHTTPTLS,
		c.Redis.validate,
		c.Tasks.validate,
		c.Supervisor.validate,
		c.Cluster.validate,
		c.Dashboard.validate,
	} {
		if err := check(); err != nil {
			return err
		}
	}
	return nil
}

func (h HTTP) validate() error {
	if err := listenAddr("http.addr", h.Addr); err != nil {
		return err
	}
	for _, d := range []struct {
		key string
		d   time.Duration
	}{
		{"http.read_timeout", h.ReadTimeout},
		{"http.read_header_timeout", h.ReadHeaderTimeout},
		{"http.write_timeout", h.WriteTimeout},
		{"http.idle_timeout", h.IdleTimeout},
		{"http.cors.max_age", h.CORS.MaxAge},
	} {
		if err := nonNegative(d.key, d.d); err != nil {
			return err
		}
	}
	if err := nonNegative("http.max_header_bytes", h.MaxHeaderBytes); err != nil {
		return err
	}
	if err := nonNegative("http.max_body_bytes", h.MaxBodyBytes); err != nil {
		return err
	}
	if err := nonNegative("http.max_body_bytes_in_flight", h.MaxBodyBytesInFlight); err != nil {
		return err
	}
	if h.MaxBodyBytesInFlight > 0 && h.MaxBodyBytesInFlight < h.MaxBodyBytes {
		return invalid("http.max_body_bytes_in_flight", "%d is less than http.max_body_bytes (%d): a body of the largest size could never be read",
			h.MaxBodyBytesInFlight, h.MaxBodyBytes)
	}
	if p := h.ActionPath; p != "" && p != "off" && !strings.HasPrefix(p, "/") {
		return invalid("http.action_path", `expected a path starting with "/" or "off", got %q`, p)
	}
	if p := h.OpenAPIPath; p != "" && p != "off" && !strings.HasPrefix(p, "/") {
		return invalid("http.openapi_path", `expected a path starting with "/" or "off", got %q`, p)
	}
	if p := h.MetricsPath; p != "" && p != "off" && !strings.HasPrefix(p, "/") {
		return invalid("http.metrics_path", `expected a path starting with "/" or "off", got %q`, p)
	}
	if err := oneOf("http.root_endpoint_type", h.RootEndpointType, "file", "api"); err != nil {
		return err
	}
	if h.ActionPath == "off" && h.RootEndpointType != "api" {
		return invalid("http.action_path", `"off" leaves no way to reach actions unless http.root_endpoint_type is "api"`)
	}
	for i, r := range h.Routes {
		key := fmt.Sprintf("http.routes[%d]", i)
		switch {
		case !slices.Contains(routeMethods, strings.ToLower(r.Method)):
			return invalid(key+".method", "expected one of %s, got %q", strings.Join(routeMethods, ", "), r.Method)
		case !strings.HasPrefix(r.Path, "/"):
			return invalid(key+".path", `expected a path starting with "/", got %q`, r.Path)
		case httpt.CheckPattern(r.Path) != nil:
			return invalid(key+".path", "%q: %v", r.Path, httpt.CheckPattern(r.Path))
		case strings.TrimSpace(r.Action) == "":
			return invalid(key+".action", "must name an action")
		case r.APIVersion < 0:
			return invalid(key+".api_version", "must not be negative, got %d", r.APIVersion)
		}
	}
	if err := httpt.CheckTrustedProxies(h.TrustedProxies); err != nil {
		return &Error{Key: "http.trusted_proxies", Err: err}
	}
	f := h.Fingerprint
	if err := httpt.CheckFingerprint(httpt.Fingerprint{Cookie: f.Cookie, MaxAge: f.MaxAge, Secure: f.Secure,
		SameSite: f.SameSite, ScriptReadable: f.ScriptReadable}); err != nil {
		return &Error{Key: "http.fingerprint", Err: err}
	}
	for _, name := range slices.Sorted(maps.Keys(h.Headers)) {
		if err := httpt.CheckHeader(name, h.Headers[name]); err != nil {
			return &Error{Key: "http.headers." + name, Err: err}
		}
	}
	return nil
}

var routeMethods = []string{"get", "post", "put", "patch", "delete", "all"}

func (r Redis) validate() error {
	if r.URL != "" {
		if err := redisURL(r.URL); err != nil {
			return &Error{Key: "redis.url", Err: err}
		}
	}
	if r.SentinelMaster != "" && len(r.SentinelAddrs) == 0 {
		return invalid("redis.sentinel_master", "is set but redis.sentinel_addrs is empty")
	}
	if len(r.SentinelAddrs) > 0 && r.SentinelMaster == "" {
		return invalid("redis.sentinel_addrs", "is set but redis.sentinel_master is empty")
	}
	var set []string
	if r.URL != "" {
		set = append(set, "redis.url")
	}
	if len(r.SentinelAddrs) > 0 {
		set = append(set, "redis.sentinel_addrs")
	}
	if len(r.ClusterAddrs) > 0 {
		set = append(set, "redis.cluster_addrs")
	}
	if len(set) > 1 {
		return invalid(set[1], "cannot be combined with %s; configure one kind of Redis", set[0])
	}
	for _, l := range []struct {
		key   string
		addrs []string
	}{{"redis.sentinel_addrs", r.SentinelAddrs}, {"redis.cluster_addrs", r.ClusterAddrs}} {
		for i, a := range l.addrs {
			if err := hostPort(a); err != nil {
				return &Error{Key: fmt.Sprintf("%s[%d]", l.key, i), Err: err}
			}
		}
	}
	return nil
}

// redisURL checks a Redis URL in the forms go-redis accepts.
func redisURL(s string) error {
	u, err := url.Parse(s)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return fmt.Errorf("not a valid URL: %v", err)
	}
	switch u.Scheme {
	case "redis", "rediss":
		if u.Port() != "" {
			if err := port(u.Port()); err != nil {
				return err
			}
		}
		if db := strings.TrimPrefix(u.Path, "/"); db != "" {
			if n, err := strconv.Atoi(db); err != nil || n < 0 {
				return fmt.Errorf("expected a database number after the host, such as /0, got %q", u.Path)
			}
		}
	case "unix":
		if u.Path == "" {
			return errors.New(`expected a socket path, such as unix:///run/redis.sock`)
		}
	case "":
		return fmt.Errorf("expected a URL such as redis://host:6379/0, got %q", maskURL(s))
	default:
		return fmt.Errorf("expected a URL with scheme redis, rediss or unix, such as redis://127.0.0.1:6379/0, got scheme %q", u.Scheme)
	}
	return nil
}

// listenAddr checks a listen address: host:port or "off".
func listenAddr(key, addr string) error {
	if addr == "" || addr == "off" {
		return nil
	}
	if err := hostPort(addr); err != nil {
		return &Error{Key: key, Err: fmt.Errorf(`%w (or "off")`, err)}
	}
	return nil
}

// hostPort checks that addr is host:port with a numeric port.
func hostPort(addr string) error {
	_, p, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("expected host:port such as \":8080\" or \"127.0.0.1:8080\", got %q", addr)
	}
	return port(p)
}

func port(p string) error {
	n, err := strconv.Atoi(p)
	if err != nil || strings.ContainsAny(p, "+-") {
		return fmt.Errorf("expected a numeric port, got %q", p)
	}
	if n > 65535 {
		return fmt.Errorf("port %d is out of range 0-65535", n)
	}
	return nil
}

func oneOf(key, v string, allowed ...string) error {
	if v == "" || slices.Contains(allowed, v) {
		return nil
	}
	return invalid(key, "expected one of %s, got %q", strings.Join(allowed, ", "), v)
}

func nonNegative[T int | int64 | time.Duration](key string, v T) error {
	if v >= 0 {
		return nil
	}
	return invalid(key, "must not be negative, got %v", v)
}

func invalid(key, format string, args ...any) error {
	return &Error{Key: key, Err: fmt.Errorf(format, args...)}
}

func (c Cluster) validate() error {
	for _, d := range []struct {
		key string
		d   time.Duration
	}{
		{"cluster.heartbeat_interval", c.HeartbeatInterval},
		{"cluster.node_ttl", c.NodeTTL},
		{"cluster.rpc_timeout", c.RPCTimeout},
		{"cluster.message_window", c.MessageWindow},
	} {
		if err := nonNegative(d.key, d.d); err != nil {
			return err
		}
	}
	if err := nonNegative("cluster.max_message_bytes", c.MaxMessageBytes); err != nil {
		return err
	}
	if c.NodeTTL > 0 && c.HeartbeatInterval > 0 && c.NodeTTL <= c.HeartbeatInterval {
		return invalid("cluster.node_ttl", "must be longer than cluster.heartbeat_interval (%s), or nodes drop out between heartbeats", c.HeartbeatInterval)
	}
	return nil
}

func (d Dashboard) validate() error {
	if d.Token != "" && len(d.Token) < DashboardMinToken {
		return invalid("dashboard.token", "must be at least %d characters: it is the only thing between the dashboard and anyone who reaches the port", DashboardMinToken)
	}
	return nil
}
