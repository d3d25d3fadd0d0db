package action

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"

	"github.com/stellarfw/stellar-go/input"
	"github.com/stellarfw/stellar-go/internal/jsonfields"
)

// TypedFunc is the work of a typed action: it receives the call's
// validated inputs as an In and returns its output as an Out.
type TypedFunc[In, Out any] func(ctx context.Context, r *Request, in In) (Out, error)

// typedInfo is what Typed records on an action.
type typedInfo struct {
	in  *input.Struct
	out reflect.Type
	err error // a bad In or Out, returned by Register
}

// Typed returns the action name whose inputs are the fields of In and
// whose response is the fields of Out.
//
// In is a struct; each exported field is one input, declared by its tags
// (see package input, "Typed inputs"):
//
//	type SumIn struct {
//		A     float64 `validate:"required"`
//		B     float64 `default:"1"`
//		Label string  `param:"label" validate:"alpha|max:20" desc:"shown with the sum"`
//	}
//
// The action's Inputs are derived from In once, here; the call's
// parameters are checked by them as a map-form action's are (the same
// defaults, rules and validation_failed error), then bound into an In for
// run. Out is a struct, a pointer to one, or a map with string keys: its
// JSON fields (json tags, omitempty and embedded structs as
// encoding/json has them) are set on Request.Response, so that clients
// receive them as the keys of the response and Post middleware sees
// them. run may still set Response keys, headers or Status through r.
//
// Each opt edits the action before Typed returns it, to set the other
// fields (Description, Version, Middleware, …); they may also be set on
// the returned action. A bad In or Out (an unsupported field type, a
// malformed tag, a bad rule or default) is reported by Register, naming
// the field. Inputs may be edited after Typed (to add Validators, say),
// but keep a Format that yields the field's type.
func Typed[In, Out any](name string, run TypedFunc[In, Out], opts ...func(*Action)) *Action {
	inType, outType := reflect.TypeFor[In](), reflect.TypeFor[Out]()
	a := &Action{Name: name}
	st, inErr := input.StructOf(inType)
	enc, outErr := newOutput(outType)
	info := &typedInfo{in: st, out: outType, err: errors.Join(inErr, outErr)}
	if run == nil {
		info.err = errors.Join(info.err, errors.New("the typed run function is nil"))
	}
	a.typed = info
	if st != nil {
		a.Inputs = st.Inputs()
	}
	a.Run = func(ctx context.Context, r *Request) error {
		var in In
		if err := st.Bind(r.Params, &in); err != nil {
			return err
		}
		out, err := run(ctx, r, in)
		if err != nil {
			return err
		}
		r.output = out
		if r.Response == nil {
			r.Response = make(map[string]any)
		}
		return enc.merge(r.Response, reflect.ValueOf(&out).Elem())
	}
	for _, o := range opts {
		o(a)
	}
	return a
}

// InputType is the In of an action made by Typed; nil for the map form.
func (a *Action) InputType() reflect.Type {
	if a.typed == nil || a.typed.in == nil {
		return nil
	}
	return a.typed.in.Type()
}

// OutputType is the Out of an action made by Typed; nil for the map form.
func (a *Action) OutputType() reflect.Type {
	if a.typed == nil {
		return nil
	}
	return a.typed.out
}

// CallAs runs the action name internally, as Registry.Call does, and
// returns its output as an Out: the value a typed action returned when
// Out is its output type, else the response decoded from JSON into an Out
// (for a map-form action, or to read a typed action's output in another
// shape). params is a map, nil, or a struct (or a pointer to one) whose
// fields are sent as Params would send them: the In of a typed action, so
// that an internal call needs no map. The error of the call is an
// *apierror.Error, as Call's.
func CallAs[Out any](ctx context.Context, g *Registry, name string, params any) (Out, error) {
	var zero Out
	raw, err := paramsOf(params)
	if err != nil {
		return zero, fmt.Errorf("action: %s: %w", name, err)
	}
	r, err := g.call(ctx, name, raw)
	if err != nil {
		return zero, err
	}
	if out, ok := r.output.(Out); ok {
		return out, nil
	}
	b, err := json.Marshal(r.Response)
	if err != nil {
		return zero, fmt.Errorf("action: %s: the response does not encode: %w", name, err)
	}
	var out Out
	if err := json.Unmarshal(b, &out); err != nil {
		return zero, fmt.Errorf("action: %s: the response does not decode into a %T: %w", name, out, err)
	}
	return out, nil
}

// paramsOf returns the parameters of an internal call.
func paramsOf(params any) (map[string]any, error) {
	switch p := params.(type) {
	case nil:
		return nil, nil
	case map[string]any:
		return p, nil
	case Params:
		return p, nil
	}
	t := reflect.TypeOf(params)
	if t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	st, err := input.StructOf(t)
	if err != nil {
		return nil, fmt.Errorf("params: %w", err)
	}
	return st.Params(params)
}

// output merges the value of a typed action's Out into its response.
type output struct {
	kind   reflect.Kind // Struct, Pointer (to a struct) or Map
	fields []jsonfields.Field
	// viaJSON encodes the value and decodes the object: for an Out with
	// its own MarshalJSON, or fields reflect cannot read.
	viaJSON bool
}

var marshalerType = reflect.TypeFor[json.Marshaler]()

func newOutput(t reflect.Type) (*output, error) {
	o := &output{kind: t.Kind()}
	st := t
	switch {
	case t.Kind() == reflect.Struct:
	case t.Kind() == reflect.Pointer && t.Elem().Kind() == reflect.Struct:
		st = t.Elem()
	case t.Kind() == reflect.Map && t.Key().Kind() == reflect.String:
		o.viaJSON = t.Implements(marshalerType)
		return o, nil
	default:
		return nil, fmt.Errorf("output %s: an output is a struct, a pointer to one, or a map with string keys, whose fields become the keys of the response", t)
	}
	if t.Implements(marshalerType) || reflect.PointerTo(st).Implements(marshalerType) {
		o.viaJSON = true
		return o, nil
	}
	o.fields = jsonfields.Of(st)
	for _, f := range o.fields {
		if f.Hidden {
			o.viaJSON = true
		}
	}
	return o, nil
}

// merge sets the JSON fields of v, an Out, on resp.
func (o *output) merge(resp map[string]any, v reflect.Value) error {
	if o.viaJSON {
		return mergeJSON(resp, v.Interface())
	}
	switch o.kind {
	case reflect.Map:
		iter := v.MapRange()
		for iter.Next() {
			resp[iter.Key().String()] = iter.Value().Interface()
		}
		return nil
	case reflect.Pointer:
		if v.IsNil() {
			return nil
		}
		v = v.Elem()
	}
	for _, f := range o.fields {
		fv, ok := f.Value(v)
		if !ok || f.Omit(fv) {
			continue
		}
		val := fv.Interface()
		if f.Quoted {
			b, err := json.Marshal(val)
			if err != nil {
				return fmt.Errorf("action: output field %s: %w", f.Name, err)
			}
			val = string(b)
		}
		resp[f.Name] = val
	}
	return nil
}

// mergeJSON merges the JSON object that v encodes to into resp, numbers
// kept as written.
func mergeJSON(resp map[string]any, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("action: the output does not encode: %w", err)
	}
	if bytes.Equal(b, []byte("null")) {
		return nil
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var m map[string]any
	if err := dec.Decode(&m); err != nil {
		return fmt.Errorf("action: the output does not encode to a JSON object: %w", err)
	}
	for k, x := range m {
		resp[k] = x
	}
	return nil
}
