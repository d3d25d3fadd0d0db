// Package nowait wraps a network connection so that writing to it never
// waits for the peer: a Write puts on the socket what it takes at once
// and keeps the rest, and Flush writes what was kept, waiting up to a
// deadline. A persistent transport writes a message from whichever
// goroutine produced it (an action, the chat fan-out) without letting a
// client that does not read hold that goroutine; the one goroutine that
// waits is the connection's own, started only while bytes are kept.
package nowait

import (
	"errors"
	"net"
	"sync"
	"syscall"
	"time"
)

// ErrTooMuchKept is the error of a Write that would keep more bytes than
// the connection's bound: the client has not read for long.
var ErrTooMuchKept = errors.New("nowait: too many bytes wait for the client")

// Conn is a net.Conn whose Write never waits; see the package comment.
// Bytes keep their order: while some are kept, a Write keeps all of its
// own. Read, Close and the rest are the wrapped connection's.
type Conn struct {
	net.Conn
	raw     syscall.RawConn // nil when the socket cannot be tried (TLS): every Write keeps its bytes
	maxKept int
	timeout time.Duration

	mu       sync.Mutex
	kept     []byte // guarded by mu
	flushing bool   // guarded by mu; Flush is writing, outside mu
	err      error  // guarded by mu; the first failure, returned from then on
	notify   func() // guarded by mu
	attempt  attempt
}

// New wraps c. A Write that would keep more than maxKept bytes on top of
// bytes already kept fails with ErrTooMuchKept (one Write alone may keep
// any amount: a large message goes out whole); Flush waits up to timeout
// for each write.
func New(c net.Conn, maxKept int, timeout time.Duration) *Conn {
	w := &Conn{Conn: c, maxKept: maxKept, timeout: timeout}
	if sc, ok := c.(syscall.Conn); ok && canTry {
		if raw, err := sc.SyscallConn(); err == nil {
			w.raw = raw
		}
	}
	return w
}

// Notify sets f to be called, outside any lock of the connection's,
// after each Write that kept bytes: whoever calls Flush is to be woken.
func (c *Conn) Notify(f func()) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.notify = f
}

// Write writes p without waiting: what the socket does not take at once
// is kept for Flush. It reports len(p) unless the connection failed or
// would keep more than its bound.
func (c *Conn) Write(p []byte) (int, error) {
	c.mu.Lock()
	if c.err != nil {
		err := c.err
		c.mu.Unlock()
		return 0, err
	}
	n := 0
	if !c.flushing && len(c.kept) == 0 && c.raw != nil {
		var err error
		n, err = c.attempt.try(c.raw, p)
		if err != nil {
			c.err = err
			c.mu.Unlock()
			return n, err
		}
	}
	var notify func()
	if n < len(p) {
		if len(c.kept) > 0 && len(c.kept)+len(p)-n > c.maxKept {
			c.err = ErrTooMuchKept
			c.mu.Unlock()
			return n, ErrTooMuchKept
		}
		c.kept = append(c.kept, p[n:]...)
		notify = c.notify
	}
	c.mu.Unlock()
	if notify != nil {
		notify()
	}
	return len(p), nil
}

// Kept is the number of bytes waiting for Flush.
func (c *Conn) Kept() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.kept)
}

// Flush writes what Write kept, waiting for the client up to the
// timeout for each write; Writes meanwhile are kept after it. Call it
// from one goroutine at a time. A failure stays: every later Write and
// Flush returns it.
func (c *Conn) Flush() error {
	for {
		c.mu.Lock()
		if c.err != nil {
			err := c.err
			c.flushing = false
			c.kept = nil
			c.mu.Unlock()
			return err
		}
		if len(c.kept) == 0 {
			c.flushing = false
			c.kept = nil // an idle connection holds no buffer
			c.mu.Unlock()
			return nil
		}
		buf := c.kept
		c.kept = nil
		c.flushing = true
		c.mu.Unlock()
		_ = c.Conn.SetWriteDeadline(time.Now().Add(c.timeout))
		_, err := c.Conn.Write(buf)
		// The next Write tries the socket, which an expired deadline
		// would refuse.
		_ = c.Conn.SetWriteDeadline(time.Time{})
		if err != nil {
			c.mu.Lock()
			if c.err == nil {
				c.err = err
			}
			c.mu.Unlock()
		}
	}
}

// Close closes the connection; later Writes fail at once and keep
// nothing.
func (c *Conn) Close() error {
	c.mu.Lock()
	if c.err == nil {
		c.err = net.ErrClosed
	}
	c.mu.Unlock()
	return c.Conn.Close()
}
