// Package backendtest is the conformance suite of Stellar's backends: it
// defines, as tests, the semantics that the memory and the Redis backend
// share. Each feature has its Run function (RunCache, RunTasks,
// RunCluster, RunChat…), called by each backend's tests with a factory
// for fresh stores: backend/memory runs them in memory, backend/redis on
// a redis-server and on a Redis Cluster that internal/redistest starts.
package backendtest

import (
	"sync"
	"time"
)

// Clock is a fake clock for backends that take an injected one: tests
// advance it instead of sleeping. It is safe for concurrent use.
type Clock struct {
	mu  sync.Mutex
	now time.Time // guarded by mu
}

// NewClock returns a clock stopped at a fixed instant, a whole millisecond
// (as Redis stores times).
func NewClock() *Clock {
	return &Clock{now: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)}
}

// Now returns the clock's time.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

// Advance moves the clock forward by d.
func (c *Clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}
