package config

import (
	"os"
	"strconv"
	"time"
)

// Defaults fills the zero fields of c with their documented defaults. The
// CORS methods, headers and max age get theirs only when AllowOrigins is
// set, since without origins no CORS headers are sent.
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
	setDefault(&h.Addr, ":8080")
	setDefault(&h.ReadTimeout, 30*time.Second)
	setDefault(&h.ReadHeaderTimeout, 10*time.Second)
	setDefault(&h.WriteTimeout, 60*time.Second)
	setDefault(&h.IdleTimeout, 120*time.Second)
	setDefault(&h.MaxHeaderBytes, 64<<10)
	setDefault(&h.MaxBodyBytes, 8<<20)
	setDefault(&h.ActionPath, "/api")
	setDefault(&h.RootEndpointType, "file")
	setDefault(&h.PublicDir, "public")
	setDefault(&h.DirectoryFile, "index.html")
	if len(h.CORS.AllowOrigins) > 0 {
		if len(h.CORS.AllowMethods) == 0 {
			h.CORS.AllowMethods = []string{"GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"}
		}
		if len(h.CORS.AllowHeaders) == 0 {
			h.CORS.AllowHeaders = []string{"Content-Type", "Authorization"}
		}
		setDefault(&h.CORS.MaxAge, 10*time.Minute)
	}

	setDefault(&c.TCP.Addr, ":5000")
	c.connectionDefaults()
	setDefault(&c.Redis.Prefix, "stellar:")
	c.Tasks.defaults()
	c.Supervisor.defaults(c.ShutdownTimeout)

	cl := &c.Cluster
	setDefault(&cl.HeartbeatInterval, time.Second)
	setDefault(&cl.NodeTTL, 5*time.Second)
	setDefault(&cl.RPCTimeout, 5*time.Second)
	setDefault(&cl.MessageWindow, 30*time.Second)
	setDefault(&cl.MaxMessageBytes, 1<<20)
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
