package logging

import (
	"context"
	"log/slog"
	"strings"
	"sync"
	"time"
)

// DefaultRepeatInterval is the least time between two identical lines at
// WARN or above that the node's logger writes.
const DefaultRepeatInterval = 10 * time.Second

// maxRepeatKeys bounds the lines a repeat limiter remembers. Past it,
// lines older than the interval are forgotten, and while it stays full
// new lines go through unlimited: a limiter never holds back a line it
// could not count.
const maxRepeatKeys = 4096

// SuppressedKey is the attribute that says how many identical lines were
// held back since the last one written.
const SuppressedKey = "suppressed"

// NewRepeatLimiter wraps h so that a line at WARN or above that is
// identical to one written less than interval ago — same level, message
// and attributes, the time aside — is held back and counted. The next
// identical line written after the interval carries suppressed=N. Lines
// below WARN always go through. now is the clock (time.Now when nil).
//
// A retry loop that logs each failed attempt during an outage then costs
// one line per interval, not one per attempt.
func NewRepeatLimiter(h slog.Handler, interval time.Duration, now func() time.Time) slog.Handler {
	if now == nil {
		now = time.Now
	}
	return &repeatLimiter{next: h, state: &repeatState{interval: interval, now: now, seen: map[string]*repeat{}}}
}

type repeatLimiter struct {
	next   slog.Handler
	prefix string // the attributes and groups of WithAttrs and WithGroup, as text
	state  *repeatState
}

type repeatState struct {
	interval time.Duration
	now      func() time.Time

	mu   sync.Mutex
	seen map[string]*repeat // guarded by mu
}

type repeat struct {
	last       time.Time // when the line was last written
	suppressed int       // held back since
}

func (h *repeatLimiter) Enabled(ctx context.Context, l slog.Level) bool {
	return h.next.Enabled(ctx, l)
}

func (h *repeatLimiter) Handle(ctx context.Context, r slog.Record) error {
	if r.Level < slog.LevelWarn {
		return h.next.Handle(ctx, r)
	}
	ok, n := h.state.allow(h.key(r))
	if !ok {
		return nil
	}
	if n > 0 {
		r = r.Clone()
		r.AddAttrs(slog.Int(SuppressedKey, n))
	}
	return h.next.Handle(ctx, r)
}

func (h *repeatLimiter) WithAttrs(as []slog.Attr) slog.Handler {
	var b strings.Builder
	b.WriteString(h.prefix)
	for _, a := range as {
		writeAttr(&b, a)
	}
	return &repeatLimiter{next: h.next.WithAttrs(as), prefix: b.String(), state: h.state}
}

func (h *repeatLimiter) WithGroup(name string) slog.Handler {
	return &repeatLimiter{next: h.next.WithGroup(name), prefix: h.prefix + "[" + name + "]", state: h.state}
}

// key identifies a line by everything but its time.
func (h *repeatLimiter) key(r slog.Record) string {
	var b strings.Builder
	b.WriteString(r.Level.String())
	b.WriteByte(0)
	b.WriteString(r.Message)
	b.WriteByte(0)
	b.WriteString(h.prefix)
	r.Attrs(func(a slog.Attr) bool {
		writeAttr(&b, a)
		return true
	})
	return b.String()
}

func writeAttr(b *strings.Builder, a slog.Attr) {
	v := a.Value.Resolve()
	b.WriteString(a.Key)
	if v.Kind() == slog.KindGroup {
		b.WriteString("{")
		for _, g := range v.Group() {
			writeAttr(b, g)
		}
		b.WriteString("}")
		return
	}
	b.WriteByte('=')
	b.WriteString(v.String())
	b.WriteByte(0)
}

// allow reports whether the line key may be written now and, if so, how
// many identical lines were held back since it last was.
func (s *repeatState) allow(key string) (bool, int) {
	now := s.now()
	s.mu.Lock()
	defer s.mu.Unlock()
	if r, ok := s.seen[key]; ok {
		if now.Sub(r.last) < s.interval {
			r.suppressed++
			return false, 0
		}
		n := r.suppressed
		r.last, r.suppressed = now, 0
		return true, n
	}
	if len(s.seen) >= maxRepeatKeys {
		for k, r := range s.seen {
			if now.Sub(r.last) >= s.interval {
				delete(s.seen, k)
			}
		}
		if len(s.seen) >= maxRepeatKeys {
			return true, 0
		}
	}
	s.seen[key] = &repeat{last: now}
	return true, 0
}
