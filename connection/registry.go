package connection

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
)

// ErrNoSender is returned by Send on a connection that cannot be pushed to
// (a single HTTP request, an internal call) or that is closed.
var ErrNoSender = errors.New("connection: the connection cannot receive messages")

// Sender delivers a message to the client of a persistent connection. It
// must not block: a transport queues the message, and closes a connection
// whose client does not keep up.
type Sender func(msg any) error

// SetSender sets how Send reaches the client; the transport that owns the
// connection calls it once, and with nil when the connection closes.
func (c *Conn) SetSender(s Sender) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.sender = s
}

// Send pushes msg (encoded as JSON) to the client, as Stellar's
// connection.sendMessage. It fails with ErrNoSender when the connection is
// not persistent or is closed.
func (c *Conn) Send(msg any) error {
	c.mu.Lock()
	s := c.sender
	c.mu.Unlock()
	if s == nil {
		return ErrNoSender
	}
	return s(msg)
}

// InRoom reports whether the connection is in room.
func (c *Conn) InRoom(room string) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	_, ok := c.rooms[room]
	return ok
}

// Middleware is connection middleware (Stellar's create and destroy
// hooks): it runs when a persistent connection opens and when it closes,
// in ascending Priority.
type Middleware struct {
	// Name identifies the middleware; it must be unique.
	Name string
	// Priority orders middleware, lowest first. Zero means 100, Stellar's
	// defaultProcessorPriority.
	Priority int
	// Create runs when a connection opens. An error refuses the
	// connection: the client gets it and is disconnected.
	Create func(ctx context.Context, c *Conn) error
	// Destroy runs when a connection closes, for any reason.
	Destroy func(ctx context.Context, c *Conn)
}

// DefaultPriority is the priority of middleware that gives none.
const DefaultPriority = 100

func (m *Middleware) priority() int {
	if m.Priority == 0 {
		return DefaultPriority
	}
	return m.Priority
}

// Registry holds the persistent connections a node owns, and the
// connection middleware. It is safe for concurrent use.
type Registry struct {
	mu    sync.RWMutex
	conns map[string]*Conn // guarded by mu
	mw    []*Middleware    // guarded by mu; sorted by priority
}

// NewRegistry returns an empty registry.
func NewRegistry() *Registry {
	return &Registry{conns: make(map[string]*Conn)}
}

// Use registers connection middleware.
func (r *Registry) Use(ms ...*Middleware) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, m := range ms {
		if m == nil || m.Name == "" || (m.Create == nil && m.Destroy == nil) {
			return errors.New("connection: middleware needs a Name and Create or Destroy")
		}
		for _, o := range r.mw {
			if o.Name == m.Name {
				return fmt.Errorf("connection: middleware %q is already registered", m.Name)
			}
		}
		r.mw = append(r.mw, m)
	}
	slices.SortStableFunc(r.mw, func(a, b *Middleware) int { return a.priority() - b.priority() })
	return nil
}

// Add runs the create middleware and, unless one refuses, records c.
func (r *Registry) Add(ctx context.Context, c *Conn) error {
	r.mu.RLock()
	mw := r.mw
	r.mu.RUnlock()
	for _, m := range mw {
		if m.Create == nil {
			continue
		}
		if err := m.Create(ctx, c); err != nil {
			return err
		}
	}
	r.mu.Lock()
	r.conns[c.ID] = c
	r.mu.Unlock()
	return nil
}

// Remove forgets c and runs the destroy middleware. It does nothing for a
// connection that is not recorded.
func (r *Registry) Remove(ctx context.Context, c *Conn) {
	r.mu.Lock()
	_, ok := r.conns[c.ID]
	delete(r.conns, c.ID)
	mw := r.mw
	r.mu.Unlock()
	if !ok {
		return
	}
	for _, m := range mw {
		if m.Destroy != nil {
			m.Destroy(ctx, c)
		}
	}
}

// Get returns the connection with id, if this node owns it.
func (r *Registry) Get(id string) (*Conn, bool) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	c, ok := r.conns[id]
	return c, ok
}

// Owns reports whether this node owns the connection id.
func (r *Registry) Owns(id string) bool {
	_, ok := r.Get(id)
	return ok
}

// Len is the number of connections, optionally of one type ("" for all).
func (r *Registry) Len(typ string) int {
	r.mu.RLock()
	defer r.mu.RUnlock()
	if typ == "" {
		return len(r.conns)
	}
	n := 0
	for _, c := range r.conns {
		if c.Type == typ {
			n++
		}
	}
	return n
}

// All returns the connections, in no order.
func (r *Registry) All() []*Conn {
	r.mu.RLock()
	defer r.mu.RUnlock()
	out := make([]*Conn, 0, len(r.conns))
	for _, c := range r.conns {
		out = append(out, c)
	}
	return out
}
