// Package connection models a client connection to a node: a single HTTP
// request (type "web") or a persistent WebSocket or TCP connection. Actions
// see the connection that called them, and middleware can refuse a
// connection type.
package connection

import (
	"crypto/rand"
	"encoding/hex"
	"net"
	"sync"
	"sync/atomic"
	"time"
)

// Connection types, as Stellar names them.
const (
	TypeWeb       = "web"       // one HTTP request
	TypeWebSocket = "websocket" // a WebSocket connection
	TypeTCP       = "tcp"       // a TCP socket speaking JSON lines
	TypeInternal  = "internal"  // an internal call (Actions.Call, tasks)
)

// Conn is one client connection. Its identity fields are set at creation and
// never change; Params and Rooms may be changed concurrently through methods.
type Conn struct {
	ID          string    // unique in the cluster
	Type        string    // one of the Type constants
	RemoteAddr  string    // remote IP, or "" for internal connections
	Fingerprint string    // stable per client when the transport knows one (a cookie), else ID
	NodeID      string    // the node that owns the connection
	ConnectedAt time.Time // when the connection was accepted

	messages atomic.Int64

	mu     sync.Mutex
	params map[string]any      // guarded by mu
	rooms  map[string]struct{} // guarded by mu
	sender Sender              // guarded by mu; set by a persistent transport
}

// New returns a connection of the given type owned by node, with a fresh id.
func New(typ, remoteAddr, node string) *Conn {
	id := NewID()
	return &Conn{
		ID:          id,
		Type:        typ,
		RemoteAddr:  remoteAddr,
		Fingerprint: id,
		NodeID:      node,
		ConnectedAt: time.Now(),
	}
}

// NewID returns a random 128-bit identifier in hex.
func NewID() string {
	var b [16]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails on supported platforms
	return hex.EncodeToString(b[:])
}

// CountMessage records one message (request, verb or action) received.
func (c *Conn) CountMessage() int64 { return c.messages.Add(1) }

// Messages is the number of messages received so far.
func (c *Conn) Messages() int64 { return c.messages.Load() }

// SetParam stores a sticky parameter, used by later actions on persistent
// connections.
func (c *Conn) SetParam(key string, value any) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.params == nil {
		c.params = make(map[string]any)
	}
	c.params[key] = value
}

// DeleteParam removes a sticky parameter.
func (c *Conn) DeleteParam(key string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.params, key)
}

// ClearParams removes every sticky parameter.
func (c *Conn) ClearParams() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.params = nil
}

// Params returns a copy of the sticky parameters.
func (c *Conn) Params() map[string]any {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make(map[string]any, len(c.params))
	for k, v := range c.params {
		out[k] = v
	}
	return out
}

// AddRoom records membership of a chat room.
func (c *Conn) AddRoom(room string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.rooms == nil {
		c.rooms = make(map[string]struct{})
	}
	c.rooms[room] = struct{}{}
}

// RemoveRoom forgets membership of a chat room.
func (c *Conn) RemoveRoom(room string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.rooms, room)
}

// Rooms returns the rooms the connection is in.
func (c *Conn) Rooms() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make([]string, 0, len(c.rooms))
	for r := range c.rooms {
		out = append(out, r)
	}
	return out
}

// RemoteIP is the host part of a network address such as an
// http.Request's RemoteAddr ("203.0.113.7:51234" → "203.0.113.7"), or
// the address itself when it has no port.
func RemoteIP(addr string) string {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return addr
	}
	return host
}

// ValidFingerprint reports whether a fingerprint a client sent (in a
// cookie) is one a node would have made, or close: 16 to 64 letters,
// digits, - or _. Anything else is replaced, so that a forged cookie
// cannot put markup or huge values into responses and logs.
func ValidFingerprint(v string) bool {
	if len(v) < 16 || len(v) > 64 {
		return false
	}
	for i := 0; i < len(v); i++ {
		c := v[i]
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || c == '-' || c == '_') {
			return false
		}
	}
	return true
}
