package logging

import (
	"bytes"
	"encoding/json"
	"log/slog"
	"strings"
	"testing"
)

func TestNew(t *testing.T) {
	tests := []struct {
		name, format, level string
		wantJSON            bool
		debugShown          bool
	}{
		{"json info", "json", "info", true, false},
		{"text debug", "text", "debug", false, true},
		{"auto off a terminal is json", "auto", "warn", true, false},
		{"empty format is auto", "", "", true, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var buf bytes.Buffer
			l, err := New(&buf, tc.format, tc.level, "node-7")
			if err != nil {
				t.Fatal(err)
			}
			l.Debug("debug line")
			l.Error("error line", "k", "v")
			out := buf.String()
			if strings.Contains(out, "debug line") != tc.debugShown {
				t.Fatalf("debug shown = %v, want %v: %q", !tc.debugShown, tc.debugShown, out)
			}
			last := strings.TrimSpace(out[strings.LastIndex(strings.TrimSpace(out), "\n")+1:])
			if tc.wantJSON {
				var rec map[string]any
				if err := json.Unmarshal([]byte(last), &rec); err != nil {
					t.Fatalf("not JSON: %q", last)
				}
				if rec["node"] != "node-7" || rec["msg"] != "error line" {
					t.Fatalf("record = %v", rec)
				}
			} else if !strings.Contains(last, "node=node-7") || !strings.Contains(last, `msg="error line"`) {
				t.Fatalf("text line = %q", last)
			}
		})
	}
}

func TestNewErrors(t *testing.T) {
	if _, err := New(&bytes.Buffer{}, "xml", "info", "n"); err == nil {
		t.Error("unknown format accepted")
	}
	if _, err := New(&bytes.Buffer{}, "json", "loud", "n"); err == nil {
		t.Error("unknown level accepted")
	}
}

func TestParseLevel(t *testing.T) {
	for in, want := range map[string]slog.Level{"debug": slog.LevelDebug, "INFO": slog.LevelInfo, "warning": slog.LevelWarn, " error ": slog.LevelError} {
		if got, err := ParseLevel(in); err != nil || got != want {
			t.Errorf("ParseLevel(%q) = %v, %v", in, got, err)
		}
	}
}
