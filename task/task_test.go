package task_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/stellarfw/stellar-go"

	"go.uber.org/goleak"

	"github.com/stellarfw/stellar-go/backend/memory"
	"github.com/stellarfw/stellar-go/input"
	"github.com/stellarfw/stellar-go/internal/backendtest"
	"github.com/stellarfw/stellar-go/internal/lifecycle"
	"github.com/stellarfw/stellar-go/task"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

var noop = task.HandlerFunc(func(context.Context, *task.Task) error { return nil })

func TestRegister(t *testing.T) {
	tests := []struct {
		name string
		def  *task.Definition
		want string
	}{
		{"nil", nil, "nil definition"},
		{"no name", &task.Definition{Handler: noop}, "needs a Name"},
		{"no handler", &task.Definition{Name: "a"}, "Handler is nil"},
		{"negative frequency", &task.Definition{Name: "a", Handler: noop, Frequency: -time.Second}, "Frequency"},
		{"brace in queue", &task.Definition{Name: "a", Handler: noop, Queue: "a{b}"}, "brace"},
		{"bad input rule", &task.Definition{Name: "a", Handler: noop, Inputs: map[string]input.Input{"x": {Validator: "nosuch"}}}, "input"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			m := task.New()
			err := m.Register(tc.def)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Register = %v, want an error containing %q", err, tc.want)
			}
		})
	}
	m := task.New()
	if err := m.Register(&task.Definition{Name: "a", Handler: noop, Frequency: time.Minute}); err != nil {
		t.Fatal(err)
	}
	d := m.Definitions()[0]
	if d.Queue != task.DefaultQueue || d.MaxAttempts != 1 {
		t.Errorf("defaults: queue %q, max attempts %d", d.Queue, d.MaxAttempts)
	}
	if err := m.Register(&task.Definition{Name: "a", Handler: noop}); err == nil {
		t.Error("a name registered twice")
	}
	if _, err := m.Enqueue(context.Background(), "a", nil); !errors.Is(err, task.ErrNotStarted) {
		t.Errorf("Enqueue before Start = %v", err)
	}
	if err := m.EnqueueRecurrent(context.Background(), "a"); !errors.Is(err, task.ErrNotStarted) {
		t.Errorf("EnqueueRecurrent before Start = %v", err)
	}
	if _, err := m.StopRecurrent(context.Background(), "a"); !errors.Is(err, task.ErrNotStarted) {
		t.Errorf("StopRecurrent before Start = %v", err)
	}
}

// TestStartStop checks that a started Manager leaves no goroutine behind
// once stopped (TestMain runs goleak), that Stop is idempotent, and that
// a stopped Manager refuses enqueues and a second life.
func TestStartStop(t *testing.T) {
	b := memory.New(memory.Config{})
	defer b.Close()
	cfg := task.Config{Concurrency: 4, Lease: time.Second, PollInterval: 5 * time.Millisecond}
	m := task.New()
	ran := make(chan *task.Task, 1)
	_ = m.Register(
		&task.Definition{Name: "job", Handler: task.HandlerFunc(func(ctx context.Context, tk *task.Task) error { ran <- tk; return nil })},
		&task.Definition{Name: "tick", Frequency: time.Hour, Handler: noop},
	)
	ctx := context.Background()
	if err := m.Stop(ctx, lifecycle.Key{}); err != nil {
		t.Fatalf("Stop before Start = %v", err)
	}
	if err := m.Start(ctx, nil, cfg, lifecycle.Key{}); err == nil {
		t.Error("started without a store")
	}
	if err := m.Start(ctx, b.Tasks(), task.Config{Lease: time.Millisecond}, lifecycle.Key{}); err == nil || !strings.Contains(err.Error(), "Lease") {
		t.Errorf("Start with a lease under MinLease = %v", err)
	}
	if err := m.Start(ctx, b.Tasks(), cfg, lifecycle.Key{}); err != nil {
		t.Fatal(err)
	}
	if err := m.Start(ctx, b.Tasks(), cfg, lifecycle.Key{}); err == nil {
		t.Error("started twice")
	}
	if _, err := m.Enqueue(ctx, "job", nil); err != nil {
		t.Fatal(err)
	}
	select {
	case <-ran:
	case <-time.After(5 * time.Second):
		t.Fatal("task did not run")
	}
	for range 2 {
		if err := m.Stop(ctx, lifecycle.Key{}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := m.Enqueue(ctx, "job", nil); !errors.Is(err, task.ErrStopped) {
		t.Errorf("Enqueue after Stop = %v", err)
	}
	if err := m.Start(ctx, b.Tasks(), cfg, lifecycle.Key{}); !errors.Is(err, task.ErrStopped) {
		t.Errorf("Start after Stop = %v", err)
	}
}

func TestPickupIsImmediate(t *testing.T) {
	b := memory.New(memory.Config{})
	defer b.Close()
	m := task.New()
	ran := make(chan time.Time, 1)
	_ = m.Register(&task.Definition{Name: "job", Handler: task.HandlerFunc(func(context.Context, *task.Task) error {
		ran <- time.Now()
		return nil
	})})
	ctx := context.Background()
	// A long poll interval: only the wake-up can start the task quickly.
	if err := m.Start(ctx, b.Tasks(), task.Config{Concurrency: 2, PollInterval: time.Hour}, lifecycle.Key{}); err != nil {
		t.Fatal(err)
	}
	defer m.Stop(ctx, lifecycle.Key{})
	time.Sleep(20 * time.Millisecond) // workers idle
	t0 := time.Now()
	if _, err := m.Enqueue(ctx, "job", nil); err != nil {
		t.Fatal(err)
	}
	select {
	case t1 := <-ran:
		if d := t1.Sub(t0); d > 500*time.Millisecond {
			t.Errorf("pickup took %s", d)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("task did not run")
	}
}

func ExampleManager_Enqueue() {
	cfg := stellar.Config{}
	cfg.HTTP.Addr, cfg.TCP.Addr = "off", "off"
	app := stellar.New(cfg, stellar.WithLogger(slog.New(slog.DiscardHandler)))
	done := make(chan struct{})
	_ = app.Tasks.Register(&task.Definition{
		Name:   "sendWelcome",
		Queue:  "mail",
		Inputs: map[string]input.Input{"to": {Required: true, Validator: "email"}},
		Handler: task.HandlerFunc(func(ctx context.Context, t *task.Task) error {
			// t.ID and t.Attempt let a handler make its work idempotent.
			fmt.Println("welcome", t.Params.String("to"), "attempt", t.Attempt)
			close(done)
			return nil
		}),
	})
	ctx := context.Background()
	if err := app.Start(ctx); err != nil { // the node starts the Manager
		panic(err)
	}
	defer app.Shutdown(ctx)

	_, err := app.Tasks.Enqueue(ctx, "sendWelcome", map[string]any{"to": "ada@example.com"},
		task.Unique("welcome:ada"))
	if err != nil {
		panic(err)
	}
	<-done
	// Output: welcome ada@example.com attempt 1
}

// TestPoisonTaskFails: a task whose runs keep being cut off (its node
// dies each time) fails instead of circling the cluster for ever.
func TestPoisonTaskFails(t *testing.T) {
	clock := backendtest.NewClock()
	b := memory.New(memory.Config{Now: clock.Now})
	defer b.Close()
	store := b.Tasks()
	ctx := context.Background()
	ran := make(chan struct{}, 1)
	def := &task.Definition{Name: "poison", Handler: task.HandlerFunc(func(context.Context, *task.Task) error {
		ran <- struct{}{}
		return nil
	})}
	producer := task.New()
	_ = producer.Register(def)
	if err := producer.Start(ctx, store, task.Config{EnqueueOnly: true, Now: clock.Now}, lifecycle.Key{}); err != nil {
		t.Fatal(err)
	}
	defer producer.Stop(ctx, lifecycle.Key{})
	id, err := producer.Enqueue(ctx, "poison", nil, task.MaxAttempts(1))
	if err != nil {
		t.Fatal(err)
	}
	for range 4 { // four runs whose node died
		if d, err := store.Fetch(ctx, task.DefaultQueue, "doomed", time.Second); err != nil || d == nil {
			t.Fatalf("Fetch = %v, %v", d, err)
		}
		clock.Advance(2 * time.Second)
		if _, rec, _ := store.Forward(ctx, task.DefaultQueue, true); rec != 1 {
			t.Fatal("not recovered")
		}
	}
	m := task.New()
	_ = m.Register(def)
	if err := m.Start(ctx, store, task.Config{Concurrency: 1, Now: clock.Now}, lifecycle.Key{}); err != nil {
		t.Fatal(err)
	}
	defer m.Stop(ctx, lifecycle.Key{})
	inspector := task.NewInspector(store)
	deadline := time.Now().Add(5 * time.Second)
	for {
		f, _ := inspector.Failed(ctx, 0, 0)
		if len(f) == 1 {
			if f[0].ID != id || !strings.Contains(f[0].Failure.Error, "cut off") {
				t.Fatalf("failure = %+v", f[0].Failure)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the poison task did not fail")
		}
		time.Sleep(5 * time.Millisecond)
	}
	select {
	case <-ran:
		t.Fatal("the poison task ran")
	default:
	}
}
