package task

import (
	"context"
	"errors"
	"reflect"

	"github.com/stellarfw/stellar-go/input"
)

// TypedFunc is the work of a typed task: it receives the task's validated
// arguments as an In.
type TypedFunc[In any] func(ctx context.Context, t *Task, in In) error

// typedArgs is what Typed records on a definition.
type typedArgs struct {
	in  *input.Struct
	err error // a bad In, returned by Register
}

// Typed returns the definition of the task name whose arguments are the
// fields of the struct In, declared by their tags as a typed action's
// inputs are (see package input, "Typed inputs"). The definition's Inputs
// are derived from In; each run's arguments are checked by them, then
// bound into an In for run. Enqueue takes an In (or a *In) as the args of
// this task and sends its fields by parameter name; a map works as well.
//
// Each opt edits the definition before Typed returns it, to set the other
// fields (Queue, Frequency, MaxAttempts, …). A bad In is reported by
// Register, naming the field.
func Typed[In any](name string, run TypedFunc[In], opts ...func(*Definition)) *Definition {
	st, err := input.StructOf(reflect.TypeFor[In]())
	if run == nil {
		err = errors.Join(err, errors.New("the typed run function is nil"))
	}
	d := &Definition{Name: name, typed: &typedArgs{in: st, err: err}}
	if st != nil {
		d.Inputs = st.Inputs()
	}
	d.Handler = HandlerFunc(func(ctx context.Context, t *Task) error {
		var in In
		if err := st.Bind(t.Params, &in); err != nil {
			return errors.Join(ErrSkipRetry, err)
		}
		return run(ctx, t, in)
	})
	for _, o := range opts {
		o(d)
	}
	return d
}

// ArgsType is the In of a definition made by Typed; nil otherwise.
func (d *Definition) ArgsType() reflect.Type {
	if d.typed == nil || d.typed.in == nil {
		return nil
	}
	return d.typed.in.Type()
}

// args returns the arguments to encode for an Enqueue: an In of a typed
// task becomes its parameters, anything else is kept.
func (d *Definition) args(args any) (any, error) {
	if d.typed == nil || d.typed.in == nil || args == nil {
		return args, nil
	}
	t := reflect.TypeOf(args)
	if t == d.typed.in.Type() || (t.Kind() == reflect.Pointer && t.Elem() == d.typed.in.Type()) {
		p, err := d.typed.in.Params(args)
		return map[string]any(p), err
	}
	return args, nil
}
