// Package logging builds the node's log/slog logger: text on a terminal,
// JSON otherwise, every line carrying the node id, and identical lines at
// WARN or above written at most once per DefaultRepeatInterval (see
// NewRepeatLimiter).
package logging

import (
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
)

// ParseLevel turns debug, info, warn or error into a slog.Level.
func ParseLevel(s string) (slog.Level, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "debug":
		return slog.LevelDebug, nil
	case "", "info":
		return slog.LevelInfo, nil
	case "warn", "warning":
		return slog.LevelWarn, nil
	case "error":
		return slog.LevelError, nil
	}
	return 0, fmt.Errorf("logging: unknown level %q (want debug, info, warn or error)", s)
}

// New returns a logger writing to w at level, in format text, json or auto
// (text when w is a terminal, JSON otherwise), with node on every line.
// A line logged with a context that carries a trace has its trace_id
// (WithTrace). An identical line at WARN or above is written at most once
// per DefaultRepeatInterval; the next one says how many were held back.
func New(w io.Writer, format, level, node string) (*slog.Logger, error) {
	lvl, err := ParseLevel(level)
	if err != nil {
		return nil, err
	}
	opts := &slog.HandlerOptions{Level: lvl}
	var h slog.Handler
	switch strings.ToLower(format) {
	case "text":
		h = slog.NewTextHandler(w, opts)
	case "json":
		h = slog.NewJSONHandler(w, opts)
	case "", "auto":
		if IsTerminal(w) {
			h = slog.NewTextHandler(w, opts)
		} else {
			h = slog.NewJSONHandler(w, opts)
		}
	default:
		return nil, fmt.Errorf("logging: unknown format %q (want text, json or auto)", format)
	}
	h = NewRepeatLimiter(WithTrace(h), DefaultRepeatInterval, nil)
	return slog.New(h).With(slog.String("node", node)), nil
}

// IsTerminal reports whether w is a character device such as a terminal.
func IsTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}

// Discard is a logger that writes nothing, for tests and tools.
func Discard() *slog.Logger { return slog.New(slog.DiscardHandler) }
