package logging

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"strings"
	"testing"
	"time"

	"go.opentelemetry.io/otel/trace"
)

func TestWithTrace(t *testing.T) {
	var buf bytes.Buffer
	log := slog.New(WithTrace(slog.NewJSONHandler(&buf, nil))).With("node", "n1")
	tid, _ := trace.TraceIDFromHex("4bf92f3577b34da6a3ce929d0e0e4736")
	sid, _ := trace.SpanIDFromHex("00f067aa0ba902b7")
	ctx := trace.ContextWithRemoteSpanContext(context.Background(), trace.NewSpanContext(trace.SpanContextConfig{TraceID: tid, SpanID: sid}))
	log.InfoContext(ctx, "traced", "k", "v")
	log.Info("plain")
	log.DebugContext(ctx, "off") // below the level: not written
	lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
	if len(lines) != 2 {
		t.Fatalf("lines %q", lines)
	}
	var first, second map[string]any
	_ = json.Unmarshal([]byte(lines[0]), &first)
	_ = json.Unmarshal([]byte(lines[1]), &second)
	if first[KeyTraceID] != "4bf92f3577b34da6a3ce929d0e0e4736" || first["node"] != "n1" || first["k"] != "v" {
		t.Errorf("traced line %v", first)
	}
	if _, ok := second[KeyTraceID]; ok {
		t.Errorf("a line without a trace has one: %v", second)
	}
	if n := testing.AllocsPerRun(100, func() { log.DebugContext(ctx, "off", "k", "v") }); n != 0 {
		t.Errorf("a line below the level allocates %v times", n)
	}
}

func TestMs(t *testing.T) {
	if a := Ms("duration_ms", 1500*time.Microsecond); a.Key != "duration_ms" || a.Value.Float64() != 1.5 {
		t.Fatalf("Ms = %v", a)
	}
}
