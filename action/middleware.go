package action

import (
	"context"
	"sort"
)

// DefaultPriority is the priority of middleware that sets none, as Stellar's
// general.defaultProcessorPriority.
const DefaultPriority = 100

// Middleware runs around actions. Global middleware applies to every
// action; other middleware applies to the actions that name it in their
// Middleware field.
//
// Middleware nests like net/http middleware: the lowest Priority is the
// outermost, so its Pre runs first and its Post runs last. Pre and Post
// are conveniences for the common case; Wrap gives full control. Any of
// them may stop the call by returning an error, which the client receives
// (return an *apierror.Error to choose the code and status).
type Middleware struct {
	// Name identifies the middleware; actions refer to it by name.
	Name string
	// Priority orders middleware, lowest first. Zero means DefaultPriority.
	Priority int
	// Global applies the middleware to every action.
	Global bool
	// Pre runs before the action (Stellar's preProcessor). It sees the
	// validated params and may change them.
	Pre func(ctx context.Context, r *Request) error
	// Post runs after the action succeeded (Stellar's postProcessor). It
	// may change the response.
	Post func(ctx context.Context, r *Request) error
	// Wrap wraps the rest of the chain, for middleware that needs to see
	// both sides of the call or its error.
	Wrap func(next Handler) Handler
}

func (m *Middleware) priority() int {
	if m.Priority == 0 {
		return DefaultPriority
	}
	return m.Priority
}

// handler wraps next in m.
func (m *Middleware) handler(next Handler) Handler {
	inner := next
	if m.Wrap != nil {
		inner = m.Wrap(next)
	}
	if m.Pre == nil && m.Post == nil {
		return inner
	}
	return HandlerFunc(func(ctx context.Context, r *Request) error {
		if m.Pre != nil {
			if err := m.Pre(ctx, r); err != nil {
				return err
			}
		}
		if err := inner.ServeAction(ctx, r); err != nil {
			return err
		}
		if m.Post != nil {
			return m.Post(ctx, r)
		}
		return nil
	})
}

// chain builds the handler for a from all, every registered middleware in
// registration order: the global ones and those a names, ordered by
// priority, registration order breaking ties.
func chain(a *Action, all []*Middleware) Handler {
	named := make(map[string]bool, len(a.Middleware))
	for _, name := range a.Middleware {
		named[name] = true
	}
	var ms []*Middleware
	for _, m := range all {
		if m.Global || named[m.Name] {
			ms = append(ms, m)
		}
	}
	sort.SliceStable(ms, func(i, j int) bool { return ms[i].priority() < ms[j].priority() })
	var h Handler = a.Run
	for i := len(ms) - 1; i >= 0; i-- {
		h = ms[i].handler(h)
	}
	return h
}
