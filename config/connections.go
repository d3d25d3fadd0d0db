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
	// MaxConnections limits the connections open at once on this
	// transport; the upgrade of one more is refused with 503
	// connection_limit. Default 10,000.
	MaxConnections int `key:"max_connections"`
	// MaxConnectionsPerIP limits the connections open at once from one
	// remote address (an IPv6 /64 counts as one); the upgrade of one more
	// is refused with 429 ip_connection_limit. Default 256.
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
	setDefault(&t.MaxConnections, tcp.DefaultMaxConnections)
	setDefault(&t.MaxConnectionsPerIP, tcp.DefaultMaxConnectionsPerIP)
	setDefault(&t.MaxParams, tcp.DefaultMaxParams)
	setDefault(&t.MaxParamsBytes, tcp.DefaultMaxParamsBytes)
	setDefault(&t.MaxQueuedMessages, tcp.DefaultMaxQueuedMessages)
	setDefault(&t.MaxQueuedBytes, tcp.DefaultMaxQueuedBytes)
	w := &c.WebSocket
	setDefault(&w.Path, ws.DefaultPath)
	setDefault(&w.MaxFrameBytes, ws.DefaultMaxFrameBytes)
	setDefault(&w.MaxInFlight, ws.DefaultMaxInFlight)
	setDefault(&w.PingInterval, ws.DefaultPingInterval)
	setDefault(&w.MaxConnections, ws.DefaultMaxConnections)
	setDefault(&w.MaxConnectionsPerIP, ws.DefaultMaxConnectionsPerIP)
	setDefault(&w.MaxParams, ws.DefaultMaxParams)
	setDefault(&w.MaxParamsBytes, ws.DefaultMaxParamsBytes)
	setDefault(&w.MaxQueuedMessages, ws.DefaultMaxQueuedMessages)
	setDefault(&w.MaxQueuedBytes, ws.DefaultMaxQueuedBytes)
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
		{"tcp.max_connections", c.TCP.MaxConnections},
		{"tcp.max_connections_per_ip", c.TCP.MaxConnectionsPerIP},
		{"tcp.max_params", c.TCP.MaxParams},
		{"tcp.max_params_bytes", c.TCP.MaxParamsBytes},
		{"tcp.max_queued_messages", c.TCP.MaxQueuedMessages},
		{"tcp.max_queued_bytes", c.TCP.MaxQueuedBytes},
		{"websocket.max_connections", c.WebSocket.MaxConnections},
		{"websocket.max_connections_per_ip", c.WebSocket.MaxConnectionsPerIP},
		{"websocket.max_params", c.WebSocket.MaxParams},
		{"websocket.max_params_bytes", c.WebSocket.MaxParamsBytes},
		{"websocket.max_queued_messages", c.WebSocket.MaxQueuedMessages},
		{"websocket.max_queued_bytes", c.WebSocket.MaxQueuedBytes},
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

		"tcp.max_connections":              "TCP connections open at once on the node; one more gets connection_limit",
		"tcp.max_connections_per_ip":       "TCP connections open at once from one address (IPv6: a /64); one more gets ip_connection_limit",
		"tcp.max_params":                   "sticky params per TCP connection; one more gets param_limit",
		"tcp.max_params_bytes":             "bytes of sticky params (keys and JSON values) per TCP connection; beyond it param_limit",
		"tcp.max_queued_messages":          "messages waiting to be written to a TCP client; replies wait for room, room messages that find none disconnect it",
		"tcp.max_queued_bytes":             "bytes of the messages waiting to be written to a TCP client, bounded as tcp.max_queued_messages",
		"websocket.max_connections":        "WebSocket connections open at once on the node; one more is refused with 503 connection_limit",
		"websocket.max_connections_per_ip": "WebSocket connections open at once from one address (IPv6: a /64); one more gets 429 ip_connection_limit",
		"websocket.max_params":             "sticky params per WebSocket connection; one more gets param_limit",
		"websocket.max_params_bytes":       "bytes of sticky params (keys and JSON values) per WebSocket connection; beyond it param_limit",
		"websocket.max_queued_messages":    "messages waiting to be written to a WebSocket client; replies wait for room, room messages that find none disconnect it",
		"websocket.max_queued_bytes":       "bytes of the messages waiting to be written to a WebSocket client, bounded as websocket.max_queued_messages",
		"chat.starting_rooms":              "chat rooms created at start (startingChatRooms); the default room always is",
	} {
		keyDocs[k] = v
	}
}
