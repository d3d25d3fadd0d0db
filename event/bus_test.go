package event

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"sync"
	"testing"
)

type payload struct {
	steps []string
	n     int
}

var testEvent = Define[payload]("test.event")

// record returns a listener that appends name to the payload's steps and
// then returns err.
func record(name string, err error) func(context.Context, *payload) error {
	return func(_ context.Context, p *payload) error {
		p.steps = append(p.steps, name)
		return err
	}
}

func TestFireOrder(t *testing.T) {
	b := NewBus()
	On(b, testEvent, 200, record("p200", nil))
	On(b, testEvent, 0, record("default-a", nil)) // 0 means DefaultPriority
	On(b, testEvent, 10, record("p10", nil))
	On(b, testEvent, DefaultPriority, record("default-b", nil)) // ties: registration order
	On(b, testEvent, -5, record("p-5", nil))
	On(b, Define[payload]("other.event"), 1, record("other", nil))

	p := &payload{}
	if err := Fire(context.Background(), b, testEvent, p); err != nil {
		t.Fatal(err)
	}
	want := []string{"p-5", "p10", "default-a", "default-b", "p200"}
	if !reflect.DeepEqual(p.steps, want) {
		t.Errorf("steps = %v, want %v", p.steps, want)
	}
}

func TestListenersChangePayload(t *testing.T) {
	b := NewBus()
	On(b, testEvent, 1, func(_ context.Context, p *payload) error { p.n += 2; return nil })
	On(b, testEvent, 2, func(_ context.Context, p *payload) error { p.n *= 10; return nil })
	p := &payload{n: 1}
	if err := Fire(context.Background(), b, testEvent, p); err != nil {
		t.Fatal(err)
	}
	if p.n != 30 {
		t.Errorf("n = %d, want 30: the second listener sees the first one's change", p.n)
	}
}

func TestStopAndErrors(t *testing.T) {
	boom := errors.New("boom")
	cases := []struct {
		name      string
		second    func(context.Context, *payload) error
		wantSteps []string
		check     func(t *testing.T, err error)
	}{
		{
			name:      "ErrStop",
			second:    record("second", ErrStop),
			wantSteps: []string{"first", "second"},
			check: func(t *testing.T, err error) {
				if err != ErrStop { // returned as is, not wrapped
					t.Errorf("err = %v, want ErrStop itself", err)
				}
			},
		},
		{
			name:      "wrapped ErrStop",
			second:    record("second", fmt.Errorf("already sent: %w", ErrStop)),
			wantSteps: []string{"first", "second"},
			check: func(t *testing.T, err error) {
				if !errors.Is(err, ErrStop) || !strings.Contains(err.Error(), "already sent") {
					t.Errorf("err = %v, want the listener's stop", err)
				}
			},
		},
		{
			name:      "error",
			second:    record("second", boom),
			wantSteps: []string{"first", "second"},
			check: func(t *testing.T, err error) {
				if !errors.Is(err, boom) || errors.Is(err, ErrStop) || !strings.Contains(err.Error(), "test.event") {
					t.Errorf("err = %v, want boom naming the event", err)
				}
			},
		},
		{
			name: "panic",
			second: func(_ context.Context, p *payload) error {
				p.steps = append(p.steps, "second")
				panic("listener bug")
			},
			wantSteps: []string{"first", "second"},
			check: func(t *testing.T, err error) {
				var pe *PanicError
				if !errors.As(err, &pe) || pe.Value != "listener bug" || pe.Event != "test.event" || pe.Stack == "" {
					t.Errorf("err = %#v, want a *PanicError", err)
				}
			},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			b := NewBus()
			On(b, testEvent, 1, record("first", nil))
			On(b, testEvent, 2, tc.second)
			On(b, testEvent, 3, record("third", nil))
			p := &payload{}
			err := Fire(context.Background(), b, testEvent, p)
			tc.check(t, err)
			if !reflect.DeepEqual(p.steps, tc.wantSteps) {
				t.Errorf("steps = %v, want %v (the third listener must not run)", p.steps, tc.wantSteps)
			}
			// The bus still works after a stop, an error or a panic.
			p = &payload{}
			_ = Fire(context.Background(), b, testEvent, p)
			if len(p.steps) != len(tc.wantSteps) {
				t.Errorf("second fire: steps = %v", p.steps)
			}
		})
	}
}

func TestUntypedListeners(t *testing.T) {
	b := NewBus()
	var got []any
	b.Listen(testEvent.Name(), 1, func(_ context.Context, p any) error { got = append(got, p); return nil })
	p := &payload{}
	if err := Fire(context.Background(), b, testEvent, p); err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || got[0] != any(p) {
		t.Errorf("untyped listener got %v, want the *payload", got)
	}

	// A typed listener on an event fired with another payload type fails
	// that fire with an error naming both types.
	On(b, testEvent, 2, record("typed", nil))
	err := b.Fire(context.Background(), testEvent.Name(), "a string")
	if err == nil || !strings.Contains(err.Error(), "*event.payload") || !strings.Contains(err.Error(), "string") {
		t.Errorf("err = %v, want a payload type mismatch", err)
	}
}

func TestNoListeners(t *testing.T) {
	var nilBus *Bus
	var zero Bus
	for name, b := range map[string]*Bus{"nil": nilBus, "zero": &zero, "new": NewBus()} {
		t.Run(name, func(t *testing.T) {
			if b.Has(testEvent.Name()) {
				t.Error("Has = true")
			}
			if err := Fire(context.Background(), b, testEvent, &payload{}); err != nil {
				t.Errorf("Fire = %v", err)
			}
		})
	}
	b := NewBus()
	On(b, testEvent, 0, record("x", nil))
	if !b.Has(testEvent.Name()) || b.Has("other") {
		t.Error("Has does not follow the listeners")
	}
}

// TestConcurrent fires and listens at once; run with -race.
func TestConcurrent(t *testing.T) {
	b := NewBus()
	var mu sync.Mutex
	calls := 0
	count := func(context.Context, *payload) error {
		mu.Lock()
		calls++
		mu.Unlock()
		return nil
	}
	On(b, testEvent, 0, count)
	const goroutines, rounds = 8, 200
	var wg sync.WaitGroup
	for g := range goroutines {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range rounds {
				if g%2 == 0 && i%20 == 0 {
					On(b, testEvent, i, count)
					continue
				}
				p := &payload{}
				if err := Fire(context.Background(), b, testEvent, p); err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	// Every listener is registered now: one more fire reaches them all.
	mu.Lock()
	calls = 0
	mu.Unlock()
	if err := Fire(context.Background(), b, testEvent, &payload{}); err != nil {
		t.Fatal(err)
	}
	want := 1 + (goroutines/2)*(rounds/20)
	if calls != want {
		t.Errorf("last fire ran %d listeners, want %d", calls, want)
	}
}
