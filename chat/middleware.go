package chat

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"github.com/stellarfw/stellar-go/connection"
)

// Middleware is chat middleware (Stellar's say, onSayReceive, join and
// leave hooks). Each hook is optional; they run in ascending Priority and
// an error stops the operation: the sender gets the error and, for Say,
// the message is not sent; for OnSayReceive, that one receiver does not get
// it.
type Middleware struct {
	// Name identifies the middleware; it must be unique.
	Name string
	// Priority orders middleware, lowest first. Zero means 100.
	Priority int
	// Say runs on the sending node before a message goes out; it may
	// change m. from is nil for a message sent by the server.
	Say func(ctx context.Context, from *connection.Conn, m *Message) error
	// OnSayReceive runs on each receiver's node for each receiver, on its
	// own copy of m (the Message and Data values are shared: replace them
	// rather than change them in place). It runs on the node's cluster
	// message loop, so it must not block.
	OnSayReceive func(ctx context.Context, to *connection.Conn, m *Message) error
	// Join runs before a connection joins room, on the node that owns it.
	Join func(ctx context.Context, c *connection.Conn, room string) error
	// Leave runs before a connection leaves room, on the node that owns
	// it. When the connection is closing its error is logged and ignored.
	Leave func(ctx context.Context, c *connection.Conn, room string) error
}

func (m *Middleware) priority() int {
	if m.Priority == 0 {
		return connection.DefaultPriority
	}
	return m.Priority
}

// Use registers chat middleware.
func (c *Chat) Use(ms ...*Middleware) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	next := slices.Clone(c.mw)
	for _, m := range ms {
		if m == nil || m.Name == "" {
			return errors.New("chat: middleware needs a Name")
		}
		if m.Say == nil && m.OnSayReceive == nil && m.Join == nil && m.Leave == nil {
			return fmt.Errorf("chat: middleware %q has no hook", m.Name)
		}
		for _, o := range next {
			if o.Name == m.Name {
				return fmt.Errorf("chat: middleware %q is already registered", m.Name)
			}
		}
		next = append(next, m)
	}
	slices.SortStableFunc(next, func(a, b *Middleware) int { return a.priority() - b.priority() })
	c.mw = next
	return nil
}

func (c *Chat) middleware() []*Middleware {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.mw
}

// runHook runs one kind of hook of every middleware, recovering a panic
// into an error.
func runHook(name string, fn func() error) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("chat: middleware %s panicked: %v", name, r)
		}
	}()
	return fn()
}
