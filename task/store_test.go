package task_test

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/stellarfw/stellar-go/task"
)

// TestMessageTraceFormat: a message stored before the trace fields
// existed reads with none, and one without a trace is stored exactly as
// before (no tp or ts key); one with a trace keeps it.
func TestMessageTraceFormat(t *testing.T) {
	var old task.Message
	if err := json.Unmarshal([]byte(`{"id":"a1","name":"welcome","queue":"mail","args":{"n":1},"max":3,"at":1700000000000}`), &old); err != nil {
		t.Fatal(err)
	}
	if old.ID != "a1" || old.Traceparent != "" || old.Tracestate != "" {
		t.Fatalf("old message %+v", old)
	}
	b, _ := json.Marshal(old)
	if strings.Contains(string(b), `"tp"`) || strings.Contains(string(b), `"ts"`) {
		t.Fatalf("a message without a trace stored as %s", b)
	}
	old.Traceparent, old.Tracestate = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01", "k=v"
	b, _ = json.Marshal(old)
	var again task.Message
	if err := json.Unmarshal(b, &again); err != nil || again.Traceparent != old.Traceparent || again.Tracestate != "k=v" {
		t.Fatalf("round trip %s: %+v %v", b, again, err)
	}
}
