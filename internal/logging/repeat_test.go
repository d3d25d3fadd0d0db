package logging

import (
	"bytes"
	"encoding/json"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"
)

// fakeClock is a clock the test moves by hand.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *fakeClock) add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// lines decodes the JSON lines written to buf.
func lines(t *testing.T, buf *bytes.Buffer) []map[string]any {
	t.Helper()
	var out []map[string]any
	for _, l := range strings.Split(strings.TrimSpace(buf.String()), "\n") {
		if l == "" {
			continue
		}
		var m map[string]any
		if err := json.Unmarshal([]byte(l), &m); err != nil {
			t.Fatalf("not JSON: %q", l)
		}
		out = append(out, m)
	}
	buf.Reset()
	return out
}

func TestRepeatLimiter(t *testing.T) {
	clock := &fakeClock{t: time.Unix(1000, 0)}
	var buf bytes.Buffer
	h := NewRepeatLimiter(slog.NewJSONHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug}), 10*time.Second, clock.now)
	log := slog.New(h).With("node", "n1")

	// An outage: the same failure, attempt after attempt.
	for range 50 {
		log.Warn("fetching a task", "error", "redis: unavailable")
		clock.add(100 * time.Millisecond) // 5 s in all
	}
	got := lines(t, &buf)
	if len(got) != 1 || got[0]["msg"] != "fetching a task" || got[0][SuppressedKey] != nil {
		t.Fatalf("first 5 s of repeats wrote %v", got)
	}

	// Other lines are not held back by it: another message, other
	// attributes, another node, and anything below WARN.
	log.Warn("fetching a task", "error", "redis: loading")
	log.Warn("moving delayed tasks", "error", "redis: unavailable")
	slog.New(h).With("node", "n2").Warn("fetching a task", "error", "redis: unavailable")
	log.WithGroup("g").Warn("fetching a task", "error", "redis: unavailable")
	for range 3 {
		log.Info("action", "action", "status")
	}
	if got := lines(t, &buf); len(got) != 7 {
		t.Fatalf("distinct lines: wrote %d, want 7: %v", len(got), got)
	}

	// Once the interval has passed, the next one says how many were held
	// back, and starts a new interval.
	clock.add(5 * time.Second)
	log.Warn("fetching a task", "error", "redis: unavailable")
	log.Warn("fetching a task", "error", "redis: unavailable")
	got = lines(t, &buf)
	if len(got) != 1 || got[0][SuppressedKey] != float64(49) || got[0]["node"] != "n1" {
		t.Fatalf("after the interval: %v", got)
	}
	clock.add(10 * time.Second)
	log.Error("fetching a task", "error", "redis: unavailable") // another level: its own line
	log.Warn("fetching a task", "error", "redis: unavailable")
	got = lines(t, &buf)
	if len(got) != 2 || got[0][SuppressedKey] != nil || got[1][SuppressedKey] != float64(1) {
		t.Fatalf("second interval: %v", got)
	}
}

// TestRepeatLimiterBounded: past maxRepeatKeys distinct lines, lines go
// through rather than be held back uncounted, and old keys are forgotten.
func TestRepeatLimiterBounded(t *testing.T) {
	clock := &fakeClock{t: time.Unix(1000, 0)}
	var buf bytes.Buffer
	h := NewRepeatLimiter(slog.NewJSONHandler(&buf, nil), time.Second, clock.now).(*repeatLimiter)
	log := slog.New(h)
	for i := range maxRepeatKeys + 10 {
		log.Warn("forged message", "from", i)
	}
	if n := len(lines(t, &buf)); n != maxRepeatKeys+10 {
		t.Fatalf("wrote %d distinct lines, want %d", n, maxRepeatKeys+10)
	}
	clock.add(2 * time.Second)
	log.Warn("another")
	h.state.mu.Lock()
	n := len(h.state.seen)
	h.state.mu.Unlock()
	if n != 1 {
		t.Fatalf("remembers %d lines after the interval, want 1", n)
	}
}

// TestNewLimitsRepeats: the node's logger has the limiter.
func TestNewLimitsRepeats(t *testing.T) {
	var buf bytes.Buffer
	l, err := New(&buf, "json", "info", "node-7")
	if err != nil {
		t.Fatal(err)
	}
	for range 20 {
		l.Warn("cluster heartbeat failed", "error", "redis: unavailable")
	}
	if got := lines(t, &buf); len(got) != 1 {
		t.Fatalf("20 identical warnings wrote %d lines", len(got))
	}
}
