package stellar_test

import (
	"context"
	"testing"
	"time"

	"github.com/stellarfw/stellar-go"
)

// TestAppTasks runs a task through a started app on the memory backend
// and finds the queue figures in the status action.
func TestAppTasks(t *testing.T) {
	app := newApp(t, &syncBuffer{})
	ran := make(chan *stellar.Task, 1)
	if err := app.Tasks.Register(&stellar.TaskDefinition{Name: "hello", Queue: "mail",
		Handler: stellar.TaskHandlerFunc(func(ctx context.Context, tk *stellar.Task) error { ran <- tk; return nil })}); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if err := app.Start(ctx); err != nil {
		t.Fatal(err)
	}
	defer app.Shutdown(ctx)
	id, err := app.Tasks.Enqueue(ctx, "hello", map[string]any{"a": 1})
	if err != nil {
		t.Fatal(err)
	}
	select {
	case tk := <-ran:
		if tk.ID != id || tk.Attempt != 1 {
			t.Fatalf("ran %+v", tk)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the task did not run")
	}
	_, body := getJSON(t, "http://"+app.HTTPAddr().String()+"/api/status")
	tasks, ok := body["tasks"].(map[string]any)
	if !ok {
		t.Fatalf("no tasks in status: %v", body)
	}
	queues, _ := tasks["queues"].([]any)
	found := false
	for _, q := range queues {
		if m, _ := q.(map[string]any); m["queue"] == "mail" {
			found = true
		}
	}
	if !found || tasks["workers"] != float64(1) {
		t.Fatalf("status tasks = %v", tasks)
	}
	if err := app.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
}
