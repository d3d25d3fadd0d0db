package task_test

import (
	"context"
	"testing"
	"time"

	"github.com/stellarfw/stellar-go/backend/memory"
	"github.com/stellarfw/stellar-go/internal/backendtest"
	"github.com/stellarfw/stellar-go/internal/lifecycle"
	"github.com/stellarfw/stellar-go/internal/poll"
	"github.com/stellarfw/stellar-go/task"
)

// TestPauseWorkers: a paused node lets its running task finish, with its
// lease renewed meanwhile, then takes no task (not even through the
// acknowledgement that takes the next one) until Resume; its worker
// record says paused.
func TestPauseWorkers(t *testing.T) {
	ctx := context.Background()
	b := memory.New(memory.Config{})
	defer b.Close()
	store := b.Tasks()
	started := make(chan string, 10)
	release := make(chan struct{})
	const lease = 150 * time.Millisecond
	m := start(t, store, task.Config{NodeID: "p", Concurrency: 1, Lease: lease, PollInterval: 10 * time.Millisecond},
		&task.Definition{Name: "job", Handler: task.HandlerFunc(func(ctx context.Context, tk *task.Task) error {
			started <- tk.ID
			if tk.Params.String("wait") == "yes" {
				<-release
			}
			return nil
		})})
	workerPaused := func(want bool) func() bool {
		return func() bool {
			ws, err := store.Workers(ctx)
			return err == nil && len(ws) == 1 && ws[0].Paused == want
		}
	}

	first, err := m.Enqueue(ctx, "job", map[string]string{"wait": "yes"})
	if err != nil {
		t.Fatal(err)
	}
	if got := <-started; got != first {
		t.Fatalf("started %s", got)
	}
	m.Pause()
	m.Pause() // twice is once
	if !m.Paused() {
		t.Fatal("Paused() = false after Pause")
	}
	backendtest.Eventually(t, "the worker record to say paused", workerPaused(true))
	second, err := m.Enqueue(ctx, "job", nil)
	if err != nil {
		t.Fatal(err)
	}
	// The running task keeps its lease while the node is paused.
	infos, _ := store.List(ctx, task.DefaultQueue, task.StateRunning, 0, 0)
	if len(infos) != 1 {
		t.Fatalf("running = %+v", infos)
	}
	leased := infos[0].LeaseUntil
	backendtest.Eventually(t, "the lease renewed while paused", func() bool {
		infos, _ := store.List(ctx, task.DefaultQueue, task.StateRunning, 0, 0)
		return len(infos) == 1 && infos[0].LeaseUntil.After(leased.Add(lease))
	})
	close(release)
	// The acknowledgement of the first task takes no other: once it is
	// recorded, the second is still pending.
	backendtest.Eventually(t, "the running task to finish", func() bool {
		c, _ := store.Counts(ctx, task.DefaultQueue)
		return c.Processed >= 1
	})
	if c, _ := store.Counts(ctx, task.DefaultQueue); c.Pending != 1 || c.Running != 0 {
		t.Fatalf("counts after the running task finished on a paused node = %+v", c)
	}
	// Nor does the worker fetch it: a worker that did would start it
	// within a few milliseconds.
	if poll.Wait(300*time.Millisecond, func() bool { return len(started) > 0 }) {
		t.Fatalf("a paused worker started %s", <-started)
	}
	if n := m.Running(); n != 0 {
		t.Fatalf("Running() = %d on a paused node", n)
	}

	m.Resume()
	m.Resume()
	if m.Paused() {
		t.Fatal("Paused() = true after Resume")
	}
	select {
	case got := <-started:
		if got != second {
			t.Fatalf("started %s, want %s", got, second)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the task did not run after Resume")
	}
	backendtest.Eventually(t, "the worker record to say running", workerPaused(false))
}

// TestPausedBeforeStart: a Manager paused before Start starts with its
// workers paused.
func TestPausedBeforeStart(t *testing.T) {
	ctx := context.Background()
	b := memory.New(memory.Config{})
	defer b.Close()
	ran := make(chan struct{}, 1)
	m := task.New()
	_ = m.Register(&task.Definition{Name: "job", Handler: task.HandlerFunc(func(context.Context, *task.Task) error {
		ran <- struct{}{}
		return nil
	})})
	m.Pause()
	if err := m.Start(ctx, b.Tasks(), task.Config{Concurrency: 2, PollInterval: 10 * time.Millisecond}, lifecycle.Key{}); err != nil {
		t.Fatal(err)
	}
	defer m.Stop(ctx, lifecycle.Key{})
	if _, err := m.Enqueue(ctx, "job", nil); err != nil {
		t.Fatal(err)
	}
	if poll.Wait(300*time.Millisecond, func() bool { return len(ran) > 0 }) {
		t.Fatal("a Manager paused before Start ran a task")
	}
	m.Resume()
	select {
	case <-ran:
	case <-time.After(10 * time.Second):
		t.Fatal("the task did not run after Resume")
	}
}
