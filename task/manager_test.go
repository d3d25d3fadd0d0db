package task_test

import (
	"context"
	"errors"
	"runtime"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/stellarfw/stellar-go/backend/memory"
	"github.com/stellarfw/stellar-go/internal/backendtest"
	"github.com/stellarfw/stellar-go/internal/lifecycle"
	"github.com/stellarfw/stellar-go/task"
)

// TestEnqueueOnly: an enqueue-only Manager enqueues and runs nothing in
// the background, whatever its Concurrency: no worker, no delayed-task
// mover or lease reaper, no periodic scheduler, no heartbeat.
func TestEnqueueOnly(t *testing.T) {
	clock := backendtest.NewClock()
	b := memory.New(memory.Config{Now: clock.Now})
	defer b.Close()
	store := b.Tasks()
	m := task.New()
	_ = m.Register(
		&task.Definition{Name: "job", Handler: noop},
		&task.Definition{Name: "tick", Frequency: time.Minute, Handler: noop},
	)
	ctx := context.Background()
	before := goleak.IgnoreCurrent()
	if err := m.Start(ctx, store, task.Config{EnqueueOnly: true, Concurrency: 4, PollInterval: time.Millisecond, Now: clock.Now}, lifecycle.Key{}); err != nil {
		t.Fatal(err)
	}
	if err := goleak.Find(before); err != nil {
		t.Fatalf("an enqueue-only Manager runs goroutines: %v", err)
	}
	if _, err := m.EnqueueIn(ctx, time.Second, "job", nil); err != nil {
		t.Fatal(err)
	}
	clock.Advance(time.Minute)
	c, err := store.Counts(ctx, task.DefaultQueue)
	if err != nil || c.Delayed != 1 || c.Pending != 0 {
		t.Fatalf("counts = %+v, %v; want the task still delayed", c, err)
	}
	if ws, _ := store.Workers(ctx); len(ws) != 0 {
		t.Fatalf("an enqueue-only Manager registered workers: %+v", ws)
	}
	// A node that does run the mover finds the task due.
	if moved, _, err := store.Forward(ctx, task.DefaultQueue, true); moved != 1 || err != nil {
		t.Fatalf("Forward = %d, %v", moved, err)
	}
	if err := m.Stop(ctx, lifecycle.Key{}); err != nil {
		t.Fatal(err)
	}
	if _, err := m.Enqueue(ctx, "job", nil); !errors.Is(err, task.ErrStopped) {
		t.Fatalf("Enqueue after Stop = %v", err)
	}
}

// TestEnqueueWhileStarting: enqueues racing Start fail with ErrNotStarted
// until it published the store, then succeed (the race detector checks
// that the store and configuration are read safely).
func TestEnqueueWhileStarting(t *testing.T) {
	b := memory.New(memory.Config{})
	defer b.Close()
	m := task.New()
	_ = m.Register(&task.Definition{Name: "job", Handler: noop})
	ctx := context.Background()
	const n = 4
	var wg sync.WaitGroup
	for range n {
		wg.Go(func() {
			for {
				_, err := m.Enqueue(ctx, "job", nil)
				if errors.Is(err, task.ErrNotStarted) {
					runtime.Gosched()
					continue
				}
				if err != nil {
					t.Error(err)
				}
				return
			}
		})
	}
	if err := m.Start(ctx, b.Tasks(), task.Config{EnqueueOnly: true}, lifecycle.Key{}); err != nil {
		t.Fatal(err)
	}
	defer m.Stop(ctx, lifecycle.Key{})
	wg.Wait()
	if c, err := b.Tasks().Counts(ctx, task.DefaultQueue); err != nil || c.Pending != n {
		t.Fatalf("counts = %+v, %v; want %d pending", c, err, n)
	}
}
