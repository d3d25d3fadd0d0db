package event

import (
	"context"
	"fmt"
)

// Event names an event whose payload is a *T. Define one per event, in a
// package variable; the framework's own are the variables of this
// package.
type Event[T any] struct{ name string }

// Define returns the event name with payloads of type *T. Names are
// dotted, namespace first: "social.newComment".
func Define[T any](name string) Event[T] { return Event[T]{name: name} }

// Name is the event's name, as Bus.Fire and Bus.Listen take it.
func (e Event[T]) Name() string { return e.name }

// String is the event's name.
func (e Event[T]) String() string { return e.name }

// On registers fn for ev on b: Stellar's api.events.listener, typed. fn
// receives the payload the event was fired with; it may change it, and
// return ErrStop to stop the event. Listeners run lowest priority first,
// registration order breaking ties; priority zero means DefaultPriority.
func On[T any](b *Bus, ev Event[T], priority int, fn func(ctx context.Context, payload *T) error) {
	if fn == nil {
		panic("event: On with a nil listener")
	}
	b.Listen(ev.name, priority, func(ctx context.Context, payload any) error {
		p, ok := payload.(*T)
		if !ok {
			return fmt.Errorf("event: listener of %q wants a %T payload, got %T", ev.name, p, payload)
		}
		return fn(ctx, p)
	})
}

// Fire fires ev with payload on b (Stellar's api.events.fire): its
// listeners see payload and may change it. See Bus.Fire for the error. A
// nil b has no listeners.
func Fire[T any](ctx context.Context, b *Bus, ev Event[T], payload *T) error {
	return b.Fire(ctx, ev.name, payload)
}
