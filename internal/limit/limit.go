// Package limit holds the gates behind the transports' per-connection
// and per-node limits, and the counters of what they refused: the
// connections open at once (per node and per remote address), the bytes
// in flight, and one refusal counter per reason.
package limit

import (
	"errors"
	"maps"
	"net/netip"
	"sync"
	"sync/atomic"
)

// Reasons for a refusal, the keys of Refusals. The status action shows
// them under "limits"; they are stable names for monitoring.
const (
	Connections      = "connections"          // the node's connection limit of a transport
	ConnectionsPerIP = "connections_per_ip"   // the per-address connection limit
	Params           = "params"               // sticky params per connection, by count
	ParamsBytes      = "params_bytes"         // sticky params per connection, by bytes
	InFlight         = "in_flight"            // actions at once per connection
	Queue            = "queue"                // a client that let its queue of replies fill: disconnected
	MessageSize      = "message_size"         // a line or frame over the limit: disconnected
	BodySize         = "body_size"            // an HTTP body over http.max_body_bytes
	BodiesInFlight   = "body_bytes_in_flight" // HTTP bodies over the node's bytes in flight
)

// Refusals counts refusals by reason. It is safe for concurrent use.
type Refusals struct {
	mu sync.Mutex
	n  map[string]uint64 // guarded by mu
}

// NewRefusals returns counters that report reasons at zero until they
// count, so that a monitor sees every series from the start.
func NewRefusals(reasons ...string) *Refusals {
	r := &Refusals{n: make(map[string]uint64, len(reasons))}
	for _, k := range reasons {
		r.n[k] = 0
	}
	return r
}

// Add counts one refusal for reason. A nil Refusals counts nothing.
func (r *Refusals) Add(reason string) {
	if r == nil {
		return
	}
	r.mu.Lock()
	if r.n == nil {
		r.n = make(map[string]uint64)
	}
	r.n[reason]++
	r.mu.Unlock()
}

// Snapshot returns the counts by reason.
func (r *Refusals) Snapshot() map[string]uint64 {
	if r == nil {
		return map[string]uint64{}
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	return maps.Clone(r.n)
}

// Errors of Conns.Acquire.
var (
	// ErrNodeFull: the node has as many connections as it takes.
	ErrNodeFull = errors.New("limit: the node has as many connections as it takes")
	// ErrAddrFull: the remote address has as many connections as it may.
	ErrAddrFull = errors.New("limit: the remote address has as many connections as it may")
)

// Conns bounds the connections open at once: in all, and per remote
// address (an IPv4 address, or an IPv6 /64, which one client usually
// holds whole). It is safe for concurrent use.
type Conns struct {
	max, perAddr int

	mu     sync.Mutex
	total  int                // guarded by mu
	byAddr map[netip.Addr]int // guarded by mu; only addresses with connections
	other  map[string]int     // guarded by mu; remote addresses that are not IPs
}

// NewConns returns a gate for max connections in all and perAddr per
// remote address.
func NewConns(max, perAddr int) *Conns {
	return &Conns{max: max, perAddr: perAddr, byAddr: map[netip.Addr]int{}, other: map[string]int{}}
}

// Acquire takes a slot for a connection from remote (an IP, as
// connection.RemoteIP gives it). It fails with ErrNodeFull or
// ErrAddrFull; on success the caller must Release the same remote.
func (c *Conns) Acquire(remote string) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.total >= c.max {
		return ErrNodeFull
	}
	a, ok := addrKey(remote)
	n := c.other[remote]
	if ok {
		n = c.byAddr[a]
	}
	if n >= c.perAddr {
		return ErrAddrFull
	}
	c.total++
	if ok {
		c.byAddr[a] = n + 1
	} else {
		c.other[remote] = n + 1
	}
	return nil
}

// Release gives back a slot that Acquire took for remote.
func (c *Conns) Release(remote string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.total--
	if a, ok := addrKey(remote); ok {
		if c.byAddr[a] <= 1 {
			delete(c.byAddr, a)
		} else {
			c.byAddr[a]--
		}
		return
	}
	if c.other[remote] <= 1 {
		delete(c.other, remote)
	} else {
		c.other[remote]--
	}
}

// Open is the number of connections holding a slot.
func (c *Conns) Open() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.total
}

// addrKey is the address a connection from remote counts against: the
// IPv4 address, or the /64 of an IPv6 one.
func addrKey(remote string) (netip.Addr, bool) {
	a, err := netip.ParseAddr(remote)
	if err != nil {
		return netip.Addr{}, false
	}
	a = a.Unmap().WithZone("")
	if a.Is4() {
		return a, true
	}
	p, err := a.Prefix(64)
	if err != nil {
		return netip.Addr{}, false
	}
	return p.Addr(), true
}

// Bytes bounds a number of bytes held at once across many holders: the
// request bodies a node reads, say. It is safe for concurrent use.
type Bytes struct {
	max  int64
	used atomic.Int64
}

// NewBytes returns a budget of max bytes.
func NewBytes(max int64) *Bytes { return &Bytes{max: max} }

// Acquire takes n bytes of the budget, or reports false, taking nothing,
// when that would go over it.
func (b *Bytes) Acquire(n int64) bool {
	for {
		used := b.used.Load()
		if used+n > b.max {
			return false
		}
		if b.used.CompareAndSwap(used, used+n) {
			return true
		}
	}
}

// Release gives back n bytes that Acquire took.
func (b *Bytes) Release(n int64) { b.used.Add(-n) }

// Used is the number of bytes taken.
func (b *Bytes) Used() int64 { return b.used.Load() }

// Max is the budget.
func (b *Bytes) Max() int64 { return b.max }
