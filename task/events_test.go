package task_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/stellarfw/stellar-go/backend/memory"
	"github.com/stellarfw/stellar-go/event"
	"github.com/stellarfw/stellar-go/internal/backendtest"
	"github.com/stellarfw/stellar-go/internal/lifecycle"
	"github.com/stellarfw/stellar-go/task"
)

// taskEvents records the task events a bus received, in order.
type taskEvents struct {
	mu  sync.Mutex
	got []recorded // guarded by mu
}

type recorded struct {
	event string
	p     event.Task
}

func (r *taskEvents) listen(b *event.Bus, ev event.Event[event.Task], check func(*event.Task) error) {
	event.On(b, ev, 10, func(ctx context.Context, p *event.Task) error {
		if check != nil {
			if err := check(p); err != nil {
				return err
			}
		}
		r.mu.Lock()
		defer r.mu.Unlock()
		r.got = append(r.got, recorded{ev.Name(), *p})
		return nil
	})
}

// of returns the events of task id, in the order they fired.
func (r *taskEvents) of(id string) []recorded {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []recorded
	for _, e := range r.got {
		if e.p.ID == id {
			out = append(out, e)
		}
	}
	return out
}

func (r *taskEvents) names(id string) []string {
	var out []string
	for _, e := range r.of(id) {
		out = append(out, fmt.Sprintf("%s#%d", e.event, e.p.Attempt))
	}
	return out
}

// TestTaskEvents: each task event fires once per enqueue or run, with its
// payload, on the node where it happens; TaskCompleted and TaskFailed fire
// once the outcome is recorded; a listener's error is logged and changes
// nothing.
func TestTaskEvents(t *testing.T) {
	ctx := context.Background()
	clock := backendtest.NewClock()
	b := memory.New(memory.Config{Now: clock.Now})
	defer b.Close()
	store := b.Tasks()
	bus := event.NewBus()
	rec := &taskEvents{}
	var outcomeErrs []string
	var mu sync.Mutex
	// The outcome is in the store when the event fires: the run is no
	// longer running, and a task failed for good is in the failed list.
	settled := func(p *event.Task) error {
		running, err := store.List(ctx, p.Queue, task.StateRunning, 0, 0)
		if err != nil {
			return err
		}
		ok := !slices.ContainsFunc(running, func(in task.Info) bool { return in.ID == p.ID && in.Attempt == p.Attempt })
		if p.Final {
			failed, _ := store.List(ctx, p.Queue, task.StateFailed, 0, 0)
			ok = ok && slices.ContainsFunc(failed, func(in task.Info) bool { return in.ID == p.ID })
		}
		if !ok {
			mu.Lock()
			outcomeErrs = append(outcomeErrs, fmt.Sprintf("%s attempt %d: outcome not recorded when the event fired", p.ID, p.Attempt))
			mu.Unlock()
		}
		return nil
	}
	rec.listen(bus, event.TaskEnqueued, nil)
	rec.listen(bus, event.TaskStarted, nil)
	rec.listen(bus, event.TaskCompleted, settled)
	rec.listen(bus, event.TaskFailed, settled)
	// A failing listener after the recorder: logged, nothing else.
	event.On(bus, event.TaskStarted, 200, func(context.Context, *event.Task) error { return errors.New("listener broke") })
	logs := &logRecorder{}

	boom := errors.New("boom")
	worker := start(t, store, task.Config{
		NodeID: "n1", Concurrency: 2, Lease: time.Second, PollInterval: 10 * time.Millisecond,
		Now: clock.Now, Events: bus, Logger: slog.New(logs),
	},
		&task.Definition{Name: "ok", Queue: "mail", Handler: task.HandlerFunc(func(ctx context.Context, _ *task.Task) error {
			select { // a run of measurable length
			case <-time.After(5 * time.Millisecond):
			case <-ctx.Done():
			}
			return nil
		})},
		&task.Definition{Name: "flaky", MaxAttempts: 2, Backoff: func(int) time.Duration { return 0 },
			Handler: task.HandlerFunc(func(context.Context, *task.Task) error { return boom })},
	)
	m2 := task.New() // the enqueuing node: no workers, its own bus
	enqBus := event.NewBus()
	enqRec := &taskEvents{}
	enqRec.listen(enqBus, event.TaskEnqueued, nil)
	_ = m2.Register(&task.Definition{Name: "ok", Queue: "mail", Handler: noop})
	if err := m2.Start(ctx, store, task.Config{NodeID: "n2", EnqueueOnly: true, Now: clock.Now, Events: enqBus}, lifecycle.Key{}); err != nil {
		t.Fatal(err)
	}
	defer m2.Stop(ctx, lifecycle.Key{})

	okID, err := m2.Enqueue(ctx, "ok", map[string]int{"n": 1})
	if err != nil {
		t.Fatal(err)
	}
	delayedID, err := m2.EnqueueIn(ctx, time.Hour, "ok", nil)
	if err != nil {
		t.Fatal(err)
	}
	backendtest.Eventually(t, "the task completed", func() bool { return len(rec.of(okID)) == 2 })
	// Enqueued on the workers' node: it fires all of its events there.
	flakyID, err := worker.Enqueue(ctx, "flaky", nil)
	if err != nil {
		t.Fatal(err)
	}
	backendtest.Eventually(t, "the failing task failed for good", func() bool {
		ev := rec.of(flakyID)
		return len(ev) > 0 && ev[len(ev)-1].p.Final
	})

	// The enqueuing node saw its enqueues, and only they; the workers'
	// node saw the runs.
	enq := enqRec.of(okID)
	if len(enq) != 1 || enq[0].event != "task.enqueued" {
		t.Fatalf("enqueuing node's events of %s: %v", okID, enqRec.names(okID))
	}
	if p := enq[0].p; p.Name != "ok" || p.Queue != "mail" || string(p.Args) != `{"n":1}` || !p.RunAt.IsZero() || p.Attempt != 0 || p.Node != "" {
		t.Errorf("task.enqueued payload = %+v", p)
	}
	if d := enqRec.of(delayedID); len(d) != 1 || !d[0].p.RunAt.Equal(clock.Now().Add(time.Hour)) {
		t.Errorf("task.enqueued of a delayed task = %+v, want RunAt in an hour", d)
	}
	if got := rec.names(delayedID); len(got) != 0 {
		t.Errorf("the delayed task fired %v on the workers' node", got)
	}

	if got, want := rec.names(okID), []string{"task.started#1", "task.completed#1"}; !slices.Equal(got, want) {
		t.Fatalf("events of %s = %v, want %v", okID, got, want)
	}
	run := rec.of(okID)
	if p := run[0].p; p.Name != "ok" || p.Queue != "mail" || p.Node != "n1" || string(p.Args) != `{"n":1}` ||
		!p.EnqueuedAt.Equal(time.UnixMilli(clock.Now().UnixMilli())) {
		t.Errorf("task.started payload = %+v", p)
	}
	if p := run[1].p; p.Duration < 5*time.Millisecond || p.Err != nil || p.Final || p.Node != "n1" {
		t.Errorf("task.completed payload = %+v", p)
	}

	// task.enqueued fires once the store has the task, and a worker of
	// the same node may take it and fire task.started first: the
	// enqueue's event is in no order with the run's.
	got := rec.names(flakyID)
	runs := slices.DeleteFunc(slices.Clone(got), func(n string) bool { return n == "task.enqueued#0" })
	if want := []string{"task.started#1", "task.failed#1", "task.started#2", "task.failed#2"}; len(got) != len(runs)+1 || !slices.Equal(runs, want) {
		t.Fatalf("events of %s = %v, want task.enqueued#0 once and then, in order, %v", flakyID, got, want)
	}
	fl := slices.DeleteFunc(rec.of(flakyID), func(e recorded) bool { return e.event == "task.enqueued" })
	if p := fl[1].p; !errors.Is(p.Err, boom) || p.Final {
		t.Errorf("first task.failed = %+v, want boom, not final", p)
	}
	if p := fl[3].p; !errors.Is(p.Err, boom) || !p.Final {
		t.Errorf("last task.failed = %+v, want boom, final", p)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(outcomeErrs) > 0 {
		t.Error(outcomeErrs)
	}
	if warns := logs.at(slog.LevelWarn); !slices.Contains(warns, "event listener failed") {
		t.Errorf("a listener's error was not logged: %v", warns)
	}
}

// TestTaskFailedCutOff: a run cut off because its lease ran out on this
// node, or handed back at shutdown, fires task.failed, not final, with an
// error that says which (ErrLeaseLost, ErrHandedBack), even when the
// handler returns only its context's error.
func TestTaskFailedCutOff(t *testing.T) {
	for _, tc := range []struct {
		name string
		want error
	}{
		{name: "lease ran out", want: task.ErrLeaseLost},
		{name: "handed back", want: task.ErrHandedBack},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := memory.New(memory.Config{})
			defer b.Close()
			store := newFlaky(b.Tasks())
			bus := event.NewBus()
			failed := make(chan event.Task, 1)
			event.On(bus, event.TaskFailed, 0, func(_ context.Context, p *event.Task) error {
				failed <- *p
				return nil
			})
			started := make(chan struct{}, 1)
			def := &task.Definition{Name: "long", Handler: task.HandlerFunc(func(ctx context.Context, tk *task.Task) error {
				started <- struct{}{}
				<-ctx.Done()
				return ctx.Err()
			})}
			m := task.New()
			if err := m.Register(def); err != nil {
				t.Fatal(err)
			}
			cfg := task.Config{Concurrency: 1, Lease: 300 * time.Millisecond, PollInterval: 10 * time.Millisecond,
				DrainTimeout: 50 * time.Millisecond, Events: bus}
			if err := m.Start(context.Background(), store, cfg, lifecycle.Key{}); err != nil {
				t.Fatal(err)
			}
			stopped := false
			stop := func() {
				if stopped {
					return
				}
				stopped = true
				ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
				defer cancel()
				_ = m.Stop(ctx, lifecycle.Key{})
			}
			defer stop()
			if _, err := m.Enqueue(context.Background(), "long", nil); err != nil {
				t.Fatal(err)
			}
			<-started
			if tc.want == task.ErrLeaseLost {
				store.failNext("Extend", 1000, false)
			} else {
				stop()
			}
			select {
			case p := <-failed:
				if !errors.Is(p.Err, tc.want) || p.Final {
					t.Errorf("task.failed = %+v, want %v, not final", p, tc.want)
				}
			case <-time.After(10 * time.Second):
				t.Fatal("no task.failed for the cut-off run")
			}
			store.failNext("Extend", 0, false)
		})
	}
}
