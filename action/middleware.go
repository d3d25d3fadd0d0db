package action

import (
	"context"
	"sort"
)

// DefaultPriority is the priority of middleware that sets none, as Stellar's
// general.defaultProcessorPriority.
const DefaultPriority = 100

// Middleware runs around actions (Stellar's action middleware). Global
// middleware applies to every action; other middleware applies to the
// actions that name it in their Middleware field.
//
// The middleware of an action, global and named together, is sorted by
// Priority, lowest first, registration order breaking ties. A call then
// runs, as in Stellar and ActionHero:
//
//  1. every Wrap, nested: the lowest priority is the outermost, and each
//     wraps all that follows, input processing included;
//  2. every Pre, in priority order, on the parameters as the client sent
//     them: a Pre may add, change or remove parameters, or refuse the
//     call, before the inputs are checked;
//  3. input processing: defaults, formats, validators;
//  4. the Pre of AfterInputs middleware, in priority order, on the
//     validated parameters (the Wrap of AfterInputs middleware wraps
//     steps 4 to 6 only);
//  5. the action;
//  6. every Post, in priority order (not reversed: Stellar runs its
//     postProcessors lowest priority first, like its preProcessors), when
//     the action succeeded.
//
// Any of them may stop the call by returning an error, which the client
// receives (return an *apierror.Error to choose the code and status); the
// steps after it do not run.
type Middleware struct {
	// Name identifies the middleware; actions refer to it by name.
	Name string
	// Priority orders middleware, lowest first. Zero means DefaultPriority.
	Priority int
	// Global applies the middleware to every action.
	Global bool
	// AfterInputs runs Pre after input processing, on the validated
	// params (never for a call whose inputs fail), and Wrap around what
	// follows the inputs only: for middleware that reads validated inputs,
	// not for authentication. Post is not affected.
	AfterInputs bool
	// Pre runs before the action (Stellar's preProcessor). It runs before
	// input processing, unless AfterInputs is set: Request.Params holds the
	// parameters as the client sent them (apiVersion and action included),
	// and what Pre leaves there is what the inputs check.
	Pre func(ctx context.Context, r *Request) error
	// Post runs after the action succeeded (Stellar's postProcessor). It
	// may change the response.
	Post func(ctx context.Context, r *Request) error
	// Wrap wraps the rest of the call, for middleware that needs to see
	// both sides of it or its error (a validation error included, unless
	// AfterInputs is set).
	Wrap func(next Handler) Handler
}

func (m *Middleware) priority() int {
	if m.Priority == 0 {
		return DefaultPriority
	}
	return m.Priority
}

// pipeline is the middleware of one action, sorted and split by the step
// it runs in.
type pipeline struct {
	outer []*Middleware // Wrap, wrapping everything
	early []*Middleware // Pre, before the inputs
	inner []*Middleware // Wrap of AfterInputs middleware
	late  []*Middleware // Pre of AfterInputs middleware
	post  []*Middleware // Post
}

// applicable returns the middleware of all, every registered middleware
// in registration order, that applies to a: the global ones and those a
// names, sorted by priority, registration order breaking ties.
func applicable(a *Action, all []*Middleware) []*Middleware {
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
	return ms
}

func newPipeline(ms []*Middleware) pipeline {
	var p pipeline
	for _, m := range ms {
		if m.Wrap != nil {
			if m.AfterInputs {
				p.inner = append(p.inner, m)
			} else {
				p.outer = append(p.outer, m)
			}
		}
		if m.Pre != nil {
			if m.AfterInputs {
				p.late = append(p.late, m)
			} else {
				p.early = append(p.early, m)
			}
		}
		if m.Post != nil {
			p.post = append(p.post, m)
		}
	}
	return p
}

// seesRaw reports whether middleware may see or change the parameters
// before input processing, so that they must be a copy of the caller's.
func (p *pipeline) seesRaw() bool { return len(p.outer) > 0 || len(p.early) > 0 }

// handler builds the handler of the whole call for e: the middleware of
// p around input processing and the action.
func (p *pipeline) handler(e *entry) Handler {
	run := e.action.Run
	late, post := p.late, p.post
	var h Handler = HandlerFunc(func(ctx context.Context, r *Request) error {
		for _, m := range late {
			if err := m.Pre(ctx, r); err != nil {
				return err
			}
		}
		if err := run(ctx, r); err != nil {
			return err
		}
		for _, m := range post {
			if err := m.Post(ctx, r); err != nil {
				return err
			}
		}
		return nil
	})
	h = wrap(h, p.inner)
	afterInputs, early := h, p.early
	h = HandlerFunc(func(ctx context.Context, r *Request) error {
		for _, m := range early {
			if err := m.Pre(ctx, r); err != nil {
				return err
			}
		}
		params, err := processInputs(ctx, e, r.Params)
		if err != nil {
			return err
		}
		r.Params = params
		return afterInputs.ServeAction(ctx, r)
	})
	return wrap(h, p.outer)
}

// wrap nests h in the Wrap of each of ms, the first outermost.
func wrap(h Handler, ms []*Middleware) Handler {
	for i := len(ms) - 1; i >= 0; i-- {
		h = ms[i].Wrap(h)
	}
	return h
}
