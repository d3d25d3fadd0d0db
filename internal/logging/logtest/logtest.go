// Package logtest records what a logger writes, for tests that check a
// line was (or was not) logged.
package logtest

import (
	"bytes"
	"encoding/json"
	"log/slog"
	"strings"
	"sync"
)

// Recorder keeps the JSON lines of its logger. It is safe for
// concurrent use.
type Recorder struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

// Write appends p, one or more JSON lines.
func (r *Recorder) Write(p []byte) (int, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.buf.Write(p)
}

// Logger returns a logger at debug level that writes to r.
func (r *Recorder) Logger() *slog.Logger {
	return slog.New(slog.NewJSONHandler(r, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

// Line is one decoded line: "level", "msg" and the attributes.
type Line map[string]any

// Str is the attribute key as text, "" when absent.
func (l Line) Str(key string) string {
	switch v := l[key].(type) {
	case nil:
		return ""
	case string:
		return v
	default:
		b, _ := json.Marshal(v)
		return string(b)
	}
}

// Lines returns the lines written so far.
func (r *Recorder) Lines() []Line {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []Line
	for _, s := range strings.Split(r.buf.String(), "\n") {
		var l Line
		if json.Unmarshal([]byte(s), &l) == nil {
			out = append(out, l)
		}
	}
	return out
}

// Find returns the lines whose message is msg.
func (r *Recorder) Find(msg string) []Line {
	var out []Line
	for _, l := range r.Lines() {
		if l["msg"] == msg {
			out = append(out, l)
		}
	}
	return out
}

// AtLeast returns the lines at level or above (slog's level names).
func (r *Recorder) AtLeast(level slog.Level) []Line {
	var out []Line
	for _, l := range r.Lines() {
		var lv slog.Level
		if s, ok := l["level"].(string); ok && lv.UnmarshalText([]byte(s)) == nil && lv >= level {
			out = append(out, l)
		}
	}
	return out
}
