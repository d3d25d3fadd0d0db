package task_test

import (
	"context"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/stellarfw/stellar-go/backend/memory"
	"github.com/stellarfw/stellar-go/internal/backendtest"
	"github.com/stellarfw/stellar-go/task"
)

// TestCatchUp: after every node was down, each CatchUp policy enqueues the
// missed fire times it says, whether the scheduler is back late in the
// current period or in time for it, on two nodes at once, and never one
// fire time twice.
func TestCatchUp(t *testing.T) {
	const freq = time.Minute
	tests := []struct {
		name   string
		policy task.CatchUp
		seeded bool          // a run at F0 was enqueued before the outage
		back   time.Duration // when the nodes are back, after F0
		want   []int         // fire times enqueued, in minutes after F0
	}{
		{"once, late", task.CatchUpOnce, true, 5*freq + 10*time.Second, []int{5}},
		{"once, in time", task.CatchUpOnce, true, 5*freq + 100*time.Millisecond, []int{4, 5}},
		{"once, nothing missed", task.CatchUpOnce, true, freq + 100*time.Millisecond, []int{1}},
		{"once, never ran", task.CatchUpOnce, false, 5*freq + 10*time.Second, []int{5}},
		{"none, late", task.CatchUpNone, true, 5*freq + 10*time.Second, nil},
		{"none, in time", task.CatchUpNone, true, 5*freq + 100*time.Millisecond, []int{5}},
		{"each, late", task.CatchUpEach, true, 5*freq + 10*time.Second, []int{1, 2, 3, 4, 5}},
		{"each, in time", task.CatchUpEach, true, 5*freq + 100*time.Millisecond, []int{1, 2, 3, 4, 5}},
		{"each, never ran", task.CatchUpEach, false, 5*freq + 100*time.Millisecond, []int{5}},
		{"each, bounded", task.CatchUpEach, true, 300*freq + 100*time.Millisecond, seq(201, 300)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			clock := backendtest.NewClock()
			b := memory.New(memory.Config{Now: clock.Now})
			defer b.Close()
			store := b.Tasks()
			ctx := context.Background()
			f0 := clock.Now().Truncate(freq)
			if tc.seeded {
				seed := &task.Message{ID: "periodic:tick:" + strconv.FormatInt(f0.UnixMilli(), 10), Name: "tick", Queue: task.DefaultQueue, MaxAttempts: 1, FireAt: f0.UnixMilli()}
				if ok, err := store.EnqueuePeriodic(ctx, seed); !ok || err != nil {
					t.Fatal(ok, err)
				}
			}
			clock.Advance(f0.Add(tc.back).Sub(clock.Now()))
			// Each node also schedules a control task, named after the
			// one under test: once its run is there, the node's first
			// pass over "tick" is done.
			for _, node := range []string{"a", "b"} {
				start(t, store, task.Config{NodeID: node, PollInterval: 10 * time.Millisecond, Now: clock.Now},
					&task.Definition{Name: "tick", Frequency: freq, CatchUp: tc.policy, Handler: noop},
					&task.Definition{Name: "z-control-" + node, Frequency: time.Hour, Handler: noop})
			}
			var got []int
			backendtest.Eventually(t, "both nodes scheduled", func() bool {
				pending, err := store.List(ctx, task.DefaultQueue, task.StatePending, 0, 0)
				if err != nil {
					t.Fatal(err)
				}
				got = got[:0]
				controls := 0
				for _, in := range pending {
					switch {
					case in.Name == "tick" && in.FireAt > f0.UnixMilli():
						got = append(got, int(time.UnixMilli(in.FireAt).Sub(f0)/freq))
					case in.Name != "tick":
						controls++
					}
				}
				return controls == 2
			})
			if !slices.Equal(got, tc.want) {
				t.Errorf("fire times enqueued (minutes after F0) = %v, want %v", got, tc.want)
			}
		})
	}
}

func seq(from, to int) []int {
	var out []int
	for i := from; i <= to; i++ {
		out = append(out, i)
	}
	return out
}

// TestCatchUpNoneRunsNext: a periodic task that skipped a missed fire
// time runs at the next one.
func TestCatchUpNoneRunsNext(t *testing.T) {
	clock := backendtest.NewClock()
	b := memory.New(memory.Config{Now: clock.Now})
	defer b.Close()
	store := b.Tasks()
	ctx := context.Background()
	const freq = time.Minute
	f0 := clock.Now().Truncate(freq)
	clock.Advance(f0.Add(30 * time.Second).Sub(clock.Now())) // F0 is 30s late
	start(t, store, task.Config{PollInterval: 10 * time.Millisecond, Now: clock.Now},
		&task.Definition{Name: "tick", Frequency: freq, CatchUp: task.CatchUpNone, Handler: noop},
		&task.Definition{Name: "z-control", Frequency: time.Hour, Handler: noop})
	backendtest.Eventually(t, "the control scheduled", func() bool {
		c, _ := store.Counts(ctx, task.DefaultQueue)
		return c.Pending == 1
	})
	clock.Advance(30 * time.Second)
	backendtest.Eventually(t, "the next fire time scheduled", func() bool {
		c, _ := store.Counts(ctx, task.DefaultQueue)
		return c.Pending == 2
	})
	pending, _ := store.List(ctx, task.DefaultQueue, task.StatePending, 0, 0)
	for _, in := range pending {
		if in.Name == "tick" && in.FireAt != f0.Add(freq).UnixMilli() {
			t.Errorf("tick ran for fire time %v, want only %v", time.UnixMilli(in.FireAt).UTC(), f0.Add(freq))
		}
	}
}
