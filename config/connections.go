package config

import (
	"strings"
	"time"

	"github.com/stellarfw/stellar-go/chat"
	"github.com/stellarfw/stellar-go/transport/tcp"
	"github.com/stellarfw/stellar-go/transport/ws"
)

// WebSocket configures the WebSocket transport, served by the HTTP server.
type WebSocket struct {
	// Path is where WebSocket clients connect. Default "/ws". "off"
	// disables WebSocket (and the browser client at /stellar-client.js).
	Path string `key:"path"`
	// AllowedOrigins lists the origins (host patterns such as
	// "example.com" or "*.example.com") allowed besides the node's own;
	// "*" allows any. Default: the node's own origin only.
	AllowedOrigins []string `key:"allowed_origins"`
	// MaxFrameBytes limits one message from a client; a larger one gets
	// an error and the connection is closed. Default 64 KiB.
	MaxFrameBytes int `key:"max_frame_bytes"`
	// MaxInFlight limits the actions running at once for one connection.
	// Default 16.
	MaxInFlight int `key:"max_in_flight"`
	// PingInterval is how often the server pings a client; one that does
	// not answer within the interval is disconnected. Default 30s.
	PingInterval time.Duration `key:"ping_interval"`
}

// Chat configures the chat rooms.
type Chat struct {
	// DefaultRoom is the room that verbs naming no room use; it exists
	// from start, as in Stellar. Default "defaultRoom".
	DefaultRoom string `key:"default_room"`
	// StartingRooms are the rooms created when the node starts
	// (Stellar's startingChatRooms); the default room is created whether
	// it is listed or not. Default: the default room.
	StartingRooms []string `key:"starting_rooms"`
}

func (c *Config) connectionDefaults() {
	t := &c.TCP
	setDefault(&t.Addr, tcp.DefaultAddr)
	setDefault(&t.MaxLineBytes, tcp.DefaultMaxLineBytes)
	setDefault(&t.MaxInFlight, tcp.DefaultMaxInFlight)
	setDefault(&t.IdleTimeout, tcp.DefaultIdleTimeout)
	w := &c.WebSocket
	setDefault(&w.Path, ws.DefaultPath)
	setDefault(&w.MaxFrameBytes, ws.DefaultMaxFrameBytes)
	setDefault(&w.MaxInFlight, ws.DefaultMaxInFlight)
	setDefault(&w.PingInterval, ws.DefaultPingInterval)
	setDefault(&c.Chat.DefaultRoom, chat.DefaultRoomName)
	if len(c.Chat.StartingRooms) == 0 {
		c.Chat.StartingRooms = []string{c.Chat.DefaultRoom}
	}
}

func (c Config) validateConnections() error {
	for _, n := range []struct {
		key string
		v   int
	}{
		{"tcp.max_line_bytes", c.TCP.MaxLineBytes},
		{"tcp.max_in_flight", c.TCP.MaxInFlight},
		{"websocket.max_frame_bytes", c.WebSocket.MaxFrameBytes},
		{"websocket.max_in_flight", c.WebSocket.MaxInFlight},
	} {
		if err := nonNegative(n.key, n.v); err != nil {
			return err
		}
	}
	if err := nonNegative("tcp.idle_timeout", c.TCP.IdleTimeout); err != nil {
		return err
	}
	if err := nonNegative("websocket.ping_interval", c.WebSocket.PingInterval); err != nil {
		return err
	}
	if (c.TCP.TLSCert == "") != (c.TCP.TLSKey == "") {
		return invalid("tcp.tls_cert", "tcp.tls_cert and tcp.tls_key must be set together")
	}
	if p := c.WebSocket.Path; p != "" && p != "off" && !strings.HasPrefix(p, "/") {
		return invalid("websocket.path", `expected a path starting with "/" or "off", got %q`, p)
	}
	for i, o := range c.WebSocket.AllowedOrigins {
		if strings.TrimSpace(o) == "" {
			return invalid("websocket.allowed_origins", "entry %d is empty", i)
		}
	}
	if len(c.Chat.DefaultRoom) > chat.MaxRoomName {
		return invalid("chat.default_room", "longer than %d bytes", chat.MaxRoomName)
	}
	for i, r := range c.Chat.StartingRooms {
		if chat.CheckRoom(r) != nil {
			return invalid("chat.starting_rooms", "entry %d: a room name is 1 to %d bytes, got %d", i, chat.MaxRoomName, len(r))
		}
	}
	return nil
}

func init() {
	for k, v := range map[string]string{
		"tcp.tls_cert":              "PEM certificate file; with tcp.tls_key the TCP server speaks TLS",
		"tcp.tls_key":               "PEM private key file of tcp.tls_cert",
		"tcp.max_line_bytes":        "limit on one line from a TCP client, in bytes; a longer one closes the connection",
		"tcp.max_in_flight":         "actions running at once per TCP connection; more get too_many_requests",
		"tcp.idle_timeout":          "a TCP connection that sends nothing for this long is closed",
		"websocket.path":            `path of the WebSocket endpoint, or "off"`,
		"websocket.allowed_origins": `origins allowed besides the node's own ("*" for any)`,
		"websocket.max_frame_bytes": "limit on one WebSocket message, in bytes; a larger one closes the connection",
		"websocket.max_in_flight":   "actions running at once per WebSocket connection; more get too_many_requests",
		"websocket.ping_interval":   "how often the server pings a WebSocket client, which must answer within it",
		"chat.default_room":         "the chat room that exists from start",
		"chat.starting_rooms":       "chat rooms created at start (startingChatRooms); the default room always is",
	} {
		keyDocs[k] = v
	}
}
