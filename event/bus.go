// Package event is the node's event bus, Stellar's api.events: code fires
// a named event with a payload, and listeners registered for that name
// run in priority order, may change the payload, and may stop it.
//
// An Event[T] names an event and the type of its payload, so that
// listeners receive a *T and need no type assertion:
//
//	var CommentPosted = event.Define[Comment]("social.newComment")
//
//	event.On(app.Events, CommentPosted, 0, func(ctx context.Context, c *Comment) error {
//		c.EmailSent = true
//		return nil
//	})
//	err := event.Fire(ctx, app.Events, CommentPosted, &comment)
//
// The framework fires its own events (ActionBefore, ConnectionOpen,
// ChatSay, …: see the variables of this package) on the same bus.
//
// Events stay on the node that fires them; they are not sent to the other
// nodes of a cluster.
package event

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"runtime/debug"
	"slices"
	"sync"
	"sync/atomic"
)

// DefaultPriority is the priority of a listener registered with priority
// zero, as Stellar's general.defaultListenerPriority.
const DefaultPriority = 100

// ErrStop, returned by a listener (or wrapped in its error), stops the
// event: the listeners after it do not run, and Fire returns the
// listener's error so that the caller knows.
var ErrStop = errors.New("event: stopped by a listener")

// PanicError is the error of a fire whose listener panicked.
type PanicError struct {
	Event string // the event's name
	Value any    // what the listener panicked with
	Stack string // the listener's stack
}

func (e *PanicError) Error() string {
	return fmt.Sprintf("event: a listener of %q panicked: %v", e.Event, e.Value)
}

// Listener handles an event whose payload it receives untyped; see On for
// the typed form.
type Listener func(ctx context.Context, payload any) error

// Bus holds the listeners of one node and fires events to them. It is
// safe for concurrent use: listeners may be added at any time, also while
// events fire; a fire that has begun runs the listeners registered when it
// began. The zero Bus is ready to use; so is a nil *Bus for Fire and Has,
// which then have no listeners.
type Bus struct {
	mu        sync.Mutex                            // serializes Listen
	seq       uint64                                // guarded by mu; registration order
	listeners atomic.Pointer[map[string][]listener] // replaced, never changed, by Listen
}

type listener struct {
	priority int
	seq      uint64
	fn       Listener
}

// NewBus returns a bus with no listeners.
func NewBus() *Bus { return &Bus{} }

// Listen registers fn for the event name, Stellar's api.events.listener.
// Listeners run lowest priority first, registration order breaking ties;
// priority zero means DefaultPriority.
func (b *Bus) Listen(name string, priority int, fn Listener) {
	if fn == nil {
		panic("event: Listen with a nil listener")
	}
	if priority == 0 {
		priority = DefaultPriority
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	b.seq++
	next := make(map[string][]listener)
	if cur := b.listeners.Load(); cur != nil {
		next = maps.Clone(*cur)
	}
	ls := append(slices.Clone(next[name]), listener{priority: priority, seq: b.seq, fn: fn})
	slices.SortStableFunc(ls, func(a, b listener) int { return a.priority - b.priority })
	next[name] = ls
	b.listeners.Store(&next)
}

func (b *Bus) of(name string) []listener {
	if b == nil {
		return nil
	}
	m := b.listeners.Load()
	if m == nil {
		return nil
	}
	return (*m)[name]
}

// Has reports whether the event name has listeners, so that a caller can
// skip building a payload nobody reads.
func (b *Bus) Has(name string) bool { return len(b.of(name)) > 0 }

// Fire runs the listeners of the event name on payload, one after the
// other in priority order, Stellar's api.events.fire. It returns nil when
// every listener returned nil. A listener that returns an error stops the
// event: the listeners after it do not run, and Fire returns that error —
// as is when it wraps ErrStop, else wrapped with the event's name. A
// listener's panic is recovered into a *PanicError and stops the event
// the same way.
func (b *Bus) Fire(ctx context.Context, name string, payload any) error {
	for _, l := range b.of(name) {
		if err := call(ctx, name, l.fn, payload); err != nil {
			if errors.Is(err, ErrStop) {
				return err
			}
			return fmt.Errorf("event %s: %w", name, err)
		}
	}
	return nil
}

func call(ctx context.Context, name string, fn Listener, payload any) (err error) {
	defer func() {
		if v := recover(); v != nil {
			err = &PanicError{Event: name, Value: v, Stack: string(debug.Stack())}
		}
	}()
	return fn(ctx, payload)
}
