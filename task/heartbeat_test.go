package task_test

import (
	"context"
	"testing"
	"time"

	"github.com/stellarfw/stellar-go/backend/memory"
	"github.com/stellarfw/stellar-go/task"
)

// slowBeat is a store whose worker heartbeats take a while, as on a busy
// machine or a slow link.
type slowBeat struct {
	task.Store
}

func (s slowBeat) Heartbeat(ctx context.Context, w task.WorkerInfo, ttl time.Duration) error {
	select {
	case <-time.After(100 * time.Millisecond):
	case <-ctx.Done():
		return ctx.Err()
	}
	return s.Store.Heartbeat(ctx, w, ttl)
}

// TestWorkersListedBeforeTheyRun: by the time a task has run, the
// Inspector lists the workers that ran it, however slow the first
// heartbeat (the status action once showed "workers: 0" on a busy box).
func TestWorkersListedBeforeTheyRun(t *testing.T) {
	b := memory.New(memory.Config{})
	defer b.Close()
	ran := make(chan struct{}, 1)
	def := &task.Definition{Name: "hello", Handler: task.HandlerFunc(func(context.Context, *task.Task) error {
		ran <- struct{}{}
		return nil
	})}
	m := start(t, slowBeat{b.Tasks()}, task.Config{Concurrency: 1, Lease: time.Second}, def)
	if _, err := m.Enqueue(context.Background(), "hello", nil); err != nil {
		t.Fatal(err)
	}
	select {
	case <-ran:
	case <-time.After(10 * time.Second):
		t.Fatal("the task did not run")
	}
	workers, err := task.NewInspector(b.Tasks()).Workers(context.Background())
	if err != nil || len(workers) != 1 {
		t.Fatalf("workers after a run: %v, %v", workers, err)
	}
}
