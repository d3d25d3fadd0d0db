package config

import (
	"os"
	"strconv"
	"time"

	"github.com/stellarfw/stellar-go/backend"
	"github.com/stellarfw/stellar-go/cluster"
	"github.com/stellarfw/stellar-go/internal/metrics"
	httpt "github.com/stellarfw/stellar-go/transport/http"
)

// Defaults fills the zero fields of c with their documented defaults,
// which are those of the components the fields configure (http.Default…,
// cluster.Default…, …). A zero cluster.node_ttl is a number of heartbeat intervals, as in
// package cluster.
func Defaults(c *Config) {
	if c.ID == "" {
		c.ID = defaultID()
	}
	setDefault(&c.ShutdownTimeout, 30*time.Second)

	setDefault(&c.General.ServerName, "Stellar API")
	setDefault(&c.General.APIVersion, "0.0.1")

	setDefault(&c.Log.Level, "info")
	setDefault(&c.Log.Format, "auto")

	h := &c.HTTP
	setDefault(&h.Addr, httpt.DefaultAddr)
	setDefault(&h.ReadTimeout, httpt.DefaultReadTimeout)
	setDefault(&h.ReadHeaderTimeout, httpt.DefaultReadHeaderTimeout)
	setDefault(&h.WriteTimeout, httpt.DefaultWriteTimeout)
	setDefault(&h.IdleTimeout, httpt.DefaultIdleTimeout)
	setDefault(&h.MaxHeaderBytes, httpt.DefaultMaxHeaderBytes)
	setDefault(&h.MaxBodyBytes, httpt.DefaultMaxBodyBytes)
	setDefault(&h.MaxBodyBytesInFlight, max(httpt.DefaultMaxBodyBytesInFlight, h.MaxBodyBytes))
	setDefault(&h.ActionPath, httpt.DefaultActionPath)
	setDefault(&h.RootEndpointType, httpt.DefaultRootEndpointType)
	setDefault(&h.PublicDir, httpt.DefaultPublicDir)
	setDefault(&h.DirectoryFile, httpt.DefaultDirectoryFile)
	setDefault(&h.OpenAPIPath, httpt.DefaultOpenAPIPath)
	setDefault(&h.MetricsPath, metrics.DefaultPath)
	// The CORS methods, headers and max age have their defaults whether
	// or not origins are set, so that `stellar config` and `config
	// --keys` show the same values; without origins no CORS header is
	// sent at all.
	if len(h.CORS.AllowMethods) == 0 {
		h.CORS.AllowMethods = httpt.DefaultCORSAllowMethods()
	}
	if len(h.CORS.AllowHeaders) == 0 {
		h.CORS.AllowHeaders = httpt.DefaultCORSAllowHeaders()
	}
	setDefault(&h.CORS.MaxAge, httpt.DefaultCORSMaxAge)
	setDefault(&h.Fingerprint.Cookie, httpt.DefaultFingerprintCookie)
	setDefault(&h.Fingerprint.MaxAge, httpt.DefaultFingerprintMaxAge)
	setDefault(&h.Fingerprint.Secure, httpt.DefaultFingerprintSecure)
	setDefault(&h.Fingerprint.SameSite, httpt.DefaultFingerprintSameSite)

	c.connectionDefaults()
	c.httpTLSDefaults()
	setDefault(&c.Redis.Prefix, backend.DefaultRedisPrefix)
	setDefault(&c.Redis.ReplicaWait, backend.DefaultRedisReplicaWait)
	c.Tasks.defaults()
	c.Supervisor.defaults(c.ShutdownTimeout)

	cl := &c.Cluster
	setDefault(&cl.HeartbeatInterval, cluster.DefaultHeartbeatInterval)
	setDefault(&cl.NodeTTL, cluster.DefaultNodeTTLHeartbeats*cl.HeartbeatInterval)
	setDefault(&cl.RPCTimeout, cluster.DefaultRPCTimeout)
	setDefault(&cl.MessageWindow, cluster.DefaultMessageWindow)
	setDefault(&cl.MaxMessageBytes, cluster.DefaultMaxMessageBytes)
}

func setDefault[T comparable](p *T, def T) {
	var zero T
	if *p == zero {
		*p = def
	}
}

// defaultID is hostname-pid, or stellar-pid when the host name is unknown.
func defaultID() string {
	host, err := os.Hostname()
	if err != nil || host == "" {
		host = "stellar"
	}
	return host + "-" + strconv.Itoa(os.Getpid())
}
