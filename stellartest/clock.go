package stellartest

import (
	"sync"
	"time"
)

// Clock is a fake clock: it stands still until the test moves it.
type Clock struct {
	mu  sync.Mutex
	now time.Time // guarded by mu
}

// Start is where NewClock starts when given the zero time: a fixed
// instant, on a whole minute.
var Start = time.Date(2026, 1, 2, 3, 4, 0, 0, time.UTC)

// NewClock returns a clock stopped at t (Start when t is zero).
func NewClock(t time.Time) *Clock {
	if t.IsZero() {
		t = Start
	}
	return &Clock{now: t}
}

// Now is the clock's time.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

// Advance moves the clock forward by d. An expiry takes effect at once;
// what the task workers and scheduler poll for (a delayed task, a
// retry, a periodic run) happens within their poll interval (100ms by
// default): wait for it with App.Eventually.
func (c *Clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// Set moves the clock to t, forward or back.
func (c *Clock) Set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = t
}
