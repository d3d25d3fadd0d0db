package task_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/stellarfw/stellar-go/backend/memory"
	"github.com/stellarfw/stellar-go/internal/backendtest"
	"github.com/stellarfw/stellar-go/task"
)

// TestEnqueueRetries: an enqueue whose first store calls fail with a
// temporary error is retried and stores one task, whether the failed
// calls reached the store (their reply was lost) or not, with a unique
// key too; it gives up when its context ends, and does not retry an
// error that is not temporary.
func TestEnqueueRetries(t *testing.T) {
	tests := []struct {
		name   string
		land   bool
		unique bool
	}{
		{"store unreachable", false, false},
		{"reply lost", true, false},
		{"unique, store unreachable", false, true},
		{"unique, reply lost", true, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			b := memory.New(memory.Config{})
			defer b.Close()
			flaky := newFlaky(b.Tasks())
			m := start(t, flaky, task.Config{EnqueueOnly: true}, &task.Definition{Name: "job", Handler: noop})
			var opts []task.Option
			if tc.unique {
				opts = append(opts, task.Unique("k"))
			}
			flaky.failNext("Enqueue", 2, tc.land)
			id, err := m.Enqueue(context.Background(), "job", map[string]any{"n": 1}, opts...)
			if err != nil {
				t.Fatalf("Enqueue = %v", err)
			}
			if calls, _ := flaky.count("Enqueue"); calls != 3 {
				t.Errorf("%d store calls, want 3", calls)
			}
			pending, err := b.Tasks().List(context.Background(), task.DefaultQueue, task.StatePending, 0, 0)
			if err != nil || len(pending) != 1 || pending[0].ID != id {
				t.Fatalf("pending = %+v, %v; want the one task %s", pending, err, id)
			}
			if tc.unique {
				// The key is held by the one task: a second enqueue is a
				// duplicate.
				if _, err := m.Enqueue(context.Background(), "job", map[string]any{"n": 1}, opts...); !errors.Is(err, task.ErrDuplicateTask) {
					t.Errorf("second unique Enqueue = %v, want ErrDuplicateTask", err)
				}
			}
		})
	}

	t.Run("down past the deadline", func(t *testing.T) {
		b := memory.New(memory.Config{})
		defer b.Close()
		flaky := newFlaky(b.Tasks())
		m := start(t, flaky, task.Config{EnqueueOnly: true}, &task.Definition{Name: "job", Handler: noop})
		flaky.setDown(true)
		ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
		defer cancel()
		t0 := time.Now()
		_, err := m.Enqueue(ctx, "job", nil)
		var tmp interface{ Temporary() bool }
		if !errors.As(err, &tmp) {
			t.Fatalf("Enqueue = %v, want the store's temporary error", err)
		}
		if d := time.Since(t0); d > 2*time.Second {
			t.Errorf("Enqueue returned %s after its 300ms deadline", d)
		}
		if calls, _ := flaky.count("Enqueue"); calls < 2 {
			t.Errorf("%d store calls: not retried", calls)
		}
	})

	t.Run("not temporary", func(t *testing.T) {
		b := memory.New(memory.Config{})
		defer b.Close()
		flaky := newFlaky(b.Tasks())
		m := start(t, flaky, task.Config{EnqueueOnly: true}, &task.Definition{Name: "job", Handler: noop})
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		if _, err := m.Enqueue(ctx, "job", nil); !errors.Is(err, context.Canceled) {
			t.Fatalf("Enqueue = %v, want context.Canceled", err)
		}
		if calls, _ := flaky.count("Enqueue"); calls != 1 {
			t.Errorf("%d store calls, want 1", calls)
		}
	})
}

// TestEnqueueRecurrentRetries: EnqueueRecurrent retried after a lost
// reply enqueues the period's run once.
func TestEnqueueRecurrentRetries(t *testing.T) {
	clock := backendtest.NewClock()
	b := memory.New(memory.Config{Now: clock.Now})
	defer b.Close()
	flaky := newFlaky(b.Tasks())
	m := start(t, flaky, task.Config{EnqueueOnly: true, Now: clock.Now},
		&task.Definition{Name: "tick", Frequency: time.Minute, Handler: noop})
	flaky.failNext("EnqueuePeriodic", 1, true)
	if err := m.EnqueueRecurrent(context.Background(), "tick"); err != nil {
		t.Fatal(err)
	}
	if calls, _ := flaky.count("EnqueuePeriodic"); calls != 2 {
		t.Errorf("%d store calls, want 2", calls)
	}
	pending, _ := b.Tasks().List(context.Background(), task.DefaultQueue, task.StatePending, 0, 0)
	if len(pending) != 1 || pending[0].FireAt != clock.Now().Truncate(time.Minute).UnixMilli() {
		t.Fatalf("pending = %+v, want the period's one run", pending)
	}
}
