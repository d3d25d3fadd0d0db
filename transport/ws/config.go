package ws

import (
	"time"

	"github.com/stellarfw/stellar-go/internal/session"
)

// Defaults of Config.
const (
	DefaultPath                = "/ws"
	DefaultMaxFrameBytes       = 64 << 10
	DefaultMaxInFlight         = 16
	DefaultPingInterval        = 30 * time.Second
	DefaultMaxConnections      = 10000
	DefaultMaxConnectionsPerIP = 256
	DefaultMaxParams           = session.DefaultMaxParams
	DefaultMaxParamsBytes      = session.DefaultMaxParamsBytes
	DefaultMaxQueuedMessages   = session.DefaultQueueSize
	DefaultMaxQueuedBytes      = session.DefaultMaxQueuedBytes
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
	// MaxConnections limits the connections open at once; the upgrade of
	// one more is refused with 503 connection_limit. Default 10,000.
	MaxConnections int
	// MaxConnectionsPerIP limits the connections open at once from one
	// remote address (an IPv6 /64 counts as one); the upgrade of one more
	// is refused with 429 ip_connection_limit. Default 256.
	MaxConnectionsPerIP int
	// MaxParams limits the sticky params of one connection; one more
	// gets param_limit. Default 64.
	MaxParams int
	// MaxParamsBytes limits the bytes of one connection's sticky params
	// (keys plus values as JSON); a paramAdd beyond gets param_limit.
	// Default 64 KiB.
	MaxParamsBytes int
	// MaxQueuedMessages and MaxQueuedBytes bound the messages waiting to
	// be written to one client: replies wait for room (up to 10 s, then
	// the client is disconnected), room messages that find none
	// disconnect it. Defaults 64 and 1 MiB.
	MaxQueuedMessages int
	MaxQueuedBytes    int
	// FingerprintCookie names the HTTP fingerprint cookie (the HTTP
	// transport's Fingerprint.Cookie): a connection whose upgrade request
	// carries a well-formed one has its value as its fingerprint, as the
	// browser's HTTP requests do. Empty: the fingerprint is the
	// connection's id.
	FingerprintCookie string
}

func (c *Config) setDefaults() {
	if c.Path == "" {
		c.Path = DefaultPath
	}
	setDefault(&c.MaxFrameBytes, DefaultMaxFrameBytes)
	setDefault(&c.MaxInFlight, DefaultMaxInFlight)
	setDefault(&c.PingInterval, DefaultPingInterval)
	setDefault(&c.MaxConnections, DefaultMaxConnections)
	setDefault(&c.MaxConnectionsPerIP, DefaultMaxConnectionsPerIP)
	setDefault(&c.MaxParams, DefaultMaxParams)
	setDefault(&c.MaxParamsBytes, DefaultMaxParamsBytes)
	setDefault(&c.MaxQueuedMessages, DefaultMaxQueuedMessages)
	setDefault(&c.MaxQueuedBytes, DefaultMaxQueuedBytes)
}

// setDefault sets *p to def when it is zero or negative.
func setDefault[T int | time.Duration](p *T, def T) {
	if *p <= 0 {
		*p = def
	}
}
