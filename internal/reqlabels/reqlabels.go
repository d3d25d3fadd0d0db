// Package reqlabels carries the labels an HTTP request gets in the
// node's metrics (the action that ran and the route that led there) in
// the request's context. The HTTP transport's context holds them with
// the request's other information, so that the metrics need no context
// of their own on every request.
package reqlabels

import "context"

// Labels are what a request learns about itself on its way through the
// node's handlers, for its metrics. They are written on the request's
// goroutine, before the handler returns.
type Labels struct {
	Action, Route string
	// Status is the final status written, 0 until then; Hijacked says
	// that a handler took the connection over. Whoever sets Recorded
	// keeps them, from a writer that sees every response: the HTTP
	// transport does, around the whole handler.
	Status   int
	Hijacked bool
	Recorded bool
}

// WriteHeader records a status written; 1xx headers are informational,
// except the switch of protocols.
func (l *Labels) WriteHeader(code int) {
	if l.Status == 0 && (code >= 200 || code == 101) {
		l.Status = code
	}
}

// Wrote records a body written (or flushed) before any status: 200.
func (l *Labels) Wrote() {
	if l.Status == 0 {
		l.Status = 200
	}
}

// Key is the context key of a request's *Labels. A context that holds
// them without context.WithValue answers Value(Key{}) with them.
type Key struct{}

// From returns the labels of the request of ctx, nil outside one.
func From(ctx context.Context) *Labels {
	l, _ := ctx.Value(Key{}).(*Labels)
	return l
}

// With returns ctx holding l.
func With(ctx context.Context, l *Labels) context.Context {
	return context.WithValue(ctx, Key{}, l)
}
