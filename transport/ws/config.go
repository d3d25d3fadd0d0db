package ws

import "time"

// Defaults of Config.
const (
	DefaultPath          = "/ws"
	DefaultMaxFrameBytes = 64 << 10
	DefaultMaxInFlight   = 16
	DefaultPingInterval  = 30 * time.Second
)

// Config configures a Server. A zero field means its default; New fills
// them in.
type Config struct {
	// Path is where the HTTP server mounts the endpoint (see
	// Server.Path). Default "/ws" (DefaultPath).
	Path string
	// AllowedOrigins lists the origins (host patterns such as
	// "example.com" or "*.example.com") allowed besides the node's own;
	// "*" allows any. Default: the node's own origin only.
	AllowedOrigins []string
	// MaxFrameBytes limits one message from a client; a larger one gets
	// an error and the connection is closed. Default 64 KiB.
	MaxFrameBytes int
	// MaxInFlight limits the actions running at once for one connection.
	// Default 16.
	MaxInFlight int
	// PingInterval is how often the server pings a client; one that does
	// not answer within the interval is disconnected. Default 30s.
	PingInterval time.Duration
}

func (c *Config) setDefaults() {
	if c.Path == "" {
		c.Path = DefaultPath
	}
	if c.MaxFrameBytes <= 0 {
		c.MaxFrameBytes = DefaultMaxFrameBytes
	}
	if c.MaxInFlight <= 0 {
		c.MaxInFlight = DefaultMaxInFlight
	}
	if c.PingInterval <= 0 {
		c.PingInterval = DefaultPingInterval
	}
}
