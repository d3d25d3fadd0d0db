package task_test

import (
	"context"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/stellarfw/stellar-go/backend/memory"
	"github.com/stellarfw/stellar-go/internal/backendtest"
	"github.com/stellarfw/stellar-go/task"
)

func TestPartitionNames(t *testing.T) {
	for _, tc := range []struct {
		queue string
		p     int
		name  string
	}{
		{"mail", 0, "mail"},
		{"mail", 1, "mail{1}"},
		{"mail", 63, "mail{63}"},
		{"a:b c", 7, "a:b c{7}"},
	} {
		if got := task.PartitionName(tc.queue, tc.p); got != tc.name {
			t.Errorf("PartitionName(%q, %d) = %q, want %q", tc.queue, tc.p, got, tc.name)
		}
		if q, p := task.SplitPartition(tc.name); q != tc.queue || p != tc.p {
			t.Errorf("SplitPartition(%q) = %q, %d", tc.name, q, p)
		}
	}
	// Names that are no partition's are partition 0 of themselves.
	for _, name := range []string{"mail{0}", "mail{01}", "mail{64}", "mail{}", "{3}", "mail{x}", "mail{*}", "mail{-1}"} {
		if q, p := task.SplitPartition(name); q != name || p != 0 {
			t.Errorf("SplitPartition(%q) = %q, %d; want the name itself, 0", name, q, p)
		}
	}
}

func FuzzSplitPartition(f *testing.F) {
	for _, s := range []string{"mail", "mail{1}", "mail{63}", "mail{64}", "{1}", "a{b}{2}", "x{007}", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, name string) {
		q, p := task.SplitPartition(name)
		if p < 0 || p >= task.MaxPartitions {
			t.Fatalf("SplitPartition(%q) = partition %d", name, p)
		}
		if p == 0 && q != name {
			t.Fatalf("SplitPartition(%q) = %q, 0", name, q)
		}
		if p > 0 && task.PartitionName(q, p) != name {
			t.Fatalf("SplitPartition(%q) = %q, %d, which names %q", name, q, p, task.PartitionName(q, p))
		}
	})
}

// wakeStore passes on only the wake-ups the test sends, and records the
// store queues Fetch looks at.
type wakeStore struct {
	task.Store
	mu      sync.Mutex
	fetched []string
	wake    func(string)
	ready   chan struct{}
}

func (s *wakeStore) Fetch(ctx context.Context, queue, worker string, lease time.Duration) (*task.Delivery, error) {
	s.mu.Lock()
	s.fetched = append(s.fetched, queue)
	s.mu.Unlock()
	return s.Store.Fetch(ctx, queue, worker, lease)
}

func (s *wakeStore) Watch(ctx context.Context, wake func(string)) error {
	s.mu.Lock()
	s.wake = wake
	s.mu.Unlock()
	close(s.ready)
	<-ctx.Done()
	return ctx.Err()
}

func (s *wakeStore) fetches() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.fetched)
}

// TestWakeUpNamesPartition: an idle worker that a wake-up names one
// partition to looks at that partition, not at all of its queue's.
func TestWakeUpNamesPartition(t *testing.T) {
	b := memory.New(memory.Config{})
	defer b.Close()
	store := &wakeStore{Store: b.Tasks(), ready: make(chan struct{})}
	started := make(chan *task.Task, 1)
	var atStart []string // the looks before the run
	def := &task.Definition{Name: "job", Handler: task.HandlerFunc(func(_ context.Context, tk *task.Task) error {
		atStart = store.fetches()
		started <- tk
		return nil
	})}
	start(t, store, task.Config{Concurrency: 1, Partitions: 16, PollInterval: time.Hour}, def)
	<-store.ready
	// The first look: every partition, all empty.
	backendtest.Eventually(t, "the first look at every partition", func() bool { return len(store.fetches()) >= 16 })
	before := len(store.fetches())
	name := task.PartitionName(task.DefaultQueue, 11)
	msg := &task.Message{ID: "t1", Name: "job", Queue: task.DefaultQueue, Partition: 11, MaxAttempts: 1, EnqueuedAt: 1}
	if ok, err := b.Tasks().Enqueue(context.Background(), msg, time.Time{}); err != nil || !ok {
		t.Fatalf("Enqueue = %v, %v", ok, err)
	}
	store.mu.Lock()
	wake := store.wake
	store.mu.Unlock()
	wake(name)
	if tk := <-started; tk.ID != "t1" || tk.Queue != task.DefaultQueue {
		t.Fatalf("ran %s of queue %q", tk.ID, tk.Queue)
	}
	// The one look the wake-up caused. (The safety-net look at every
	// partition, once a second, could come first only on a machine
	// stalled for that second.)
	if got := atStart[before:]; !slices.Equal(got, []string{name}) {
		t.Fatalf("looks between the wake-up and the run: %v, want only %s", got, name)
	}
}
