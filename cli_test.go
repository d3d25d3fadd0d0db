package stellar

import (
	"bytes"
	"context"
	"encoding/json"
	"strings"
	"testing"
)

func TestTasksCLI(t *testing.T) {
	newApp := func() *App {
		a := New(Config{})
		if err := a.Tasks.Register(&TaskDefinition{Name: "send", Queue: "mail", Handler: TaskHandlerFunc(func(context.Context, *Task) error { return nil })}); err != nil {
			t.Fatal(err)
		}
		return a
	}
	run := func(args ...string) (int, string, string) {
		var out, errOut bytes.Buffer
		code := newApp().main(append([]string{"stellar", "tasks"}, args...), &out, &errOut)
		return code, out.String(), errOut.String()
	}
	code, out, _ := run("list", "--json")
	var defs []map[string]any
	if code != ExitOK || json.Unmarshal([]byte(out), &defs) != nil || len(defs) != 1 || defs[0]["queue"] != "mail" {
		t.Fatalf("list: %d %s", code, out)
	}
	if code, out, _ := run("enqueue", "send", `{"x":1}`, "--in", "1h", "--json"); code != ExitOK || !strings.Contains(out, `"id"`) {
		t.Fatalf("enqueue: %d %s", code, out)
	}
	if code, out, _ := run("stats"); code != ExitOK || !strings.Contains(out, "PENDING") {
		t.Fatalf("stats: %d %s", code, out)
	}
	for _, args := range [][]string{{}, {"nosuch"}, {"retry"}, {"enqueue", "send", "{bad"}, {"enqueue", "nosuch"}, {"remove", "nope"}} {
		if code, _, _ := run(args...); code == ExitOK {
			t.Errorf("tasks %v succeeded", args)
		}
	}
	if code, out, _ := run("delayed", "--json"); code != ExitOK || strings.TrimSpace(out) != "[]" {
		t.Fatalf("delayed on a fresh memory backend: %d %s", code, out)
	}
}
