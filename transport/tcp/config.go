package tcp

import (
	"time"

	"github.com/stellarfw/stellar-go/internal/session"
)

// Defaults of Config.
const (
	DefaultAddr                = ":5000"
	DefaultMaxLineBytes        = 64 << 10
	DefaultMaxInFlight         = 16
	DefaultIdleTimeout         = 5 * time.Minute
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
	// Addr is the listen address. Default ":5000" (DefaultAddr).
	Addr string
	// TLSCert and TLSKey are PEM files; with both set the server speaks
	// TLS only. Default: plain TCP.
	TLSCert string
	TLSKey  string
	// TLSMinVersion ("1.2", the default, or "1.3") and TLSCipherSuites
	// (TLS 1.2 suites by Go's names; empty for Go's defaults) are as for
	// the HTTP listener (package internal/tlsconf).
	TLSMinVersion   string
	TLSCipherSuites []string
	// MaxLineBytes limits one line from a client; a longer one gets an
	// error and the connection is closed. Default 64 KiB.
	MaxLineBytes int
	// MaxInFlight limits the actions running at once for one connection;
	// beyond it a message gets a too_many_requests error. Default 16.
	MaxInFlight int
	// IdleTimeout closes a connection that sends nothing for this long.
	// Default 5m.
	IdleTimeout time.Duration
	// MaxConnections limits the connections open at once; one more gets
	// a connection_limit error line and is closed. Default 10,000.
	MaxConnections int
	// MaxConnectionsPerIP limits the connections open at once from one
	// remote address (an IPv6 /64 counts as one); one more gets an
	// ip_connection_limit error line and is closed. Default 256.
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
}

func (c *Config) setDefaults() {
	if c.Addr == "" {
		c.Addr = DefaultAddr
	}
	setDefault(&c.MaxLineBytes, DefaultMaxLineBytes)
	setDefault(&c.MaxInFlight, DefaultMaxInFlight)
	setDefault(&c.IdleTimeout, DefaultIdleTimeout)
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
