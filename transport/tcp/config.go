package tcp

import "time"

// Defaults of Config.
const (
	DefaultAddr         = ":5000"
	DefaultMaxLineBytes = 64 << 10
	DefaultMaxInFlight  = 16
	DefaultIdleTimeout  = 5 * time.Minute
)

// Config configures a Server. A zero field means its default; New fills
// them in.
type Config struct {
	// Addr is the listen address. Default ":5000" (DefaultAddr).
	Addr string
	// TLSCert and TLSKey are PEM files; with both set the server speaks
	// TLS only. Default: plain TCP.
	TLSCert string
	TLSKey  string
	// MaxLineBytes limits one line from a client; a longer one gets an
	// error and the connection is closed. Default 64 KiB.
	MaxLineBytes int
	// MaxInFlight limits the actions running at once for one connection;
	// beyond it a message gets a too_many_requests error. Default 16.
	MaxInFlight int
	// IdleTimeout closes a connection that sends nothing for this long.
	// Default 5m.
	IdleTimeout time.Duration
}

func (c *Config) setDefaults() {
	if c.Addr == "" {
		c.Addr = DefaultAddr
	}
	if c.MaxLineBytes <= 0 {
		c.MaxLineBytes = DefaultMaxLineBytes
	}
	if c.MaxInFlight <= 0 {
		c.MaxInFlight = DefaultMaxInFlight
	}
	if c.IdleTimeout <= 0 {
		c.IdleTimeout = DefaultIdleTimeout
	}
}
