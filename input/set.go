package input

import (
	"context"
	"fmt"
	"net/http"
	"sort"
	"strings"

	"github.com/stellarfw/stellar-go/apierror"
)

// Set is a compiled set of input declarations, the inputs of one action or
// one task, ready to process the parameters of each call. It is safe for
// concurrent use.
type Set struct {
	inputs []compiled // sorted by name
	// hasRules is set when an input has Validator rules; they need to see
	// every parameter of the call, not only the declared ones.
	hasRules bool
	ignore   []string
}

type compiled struct {
	name  string
	input Input
	rules ruleSet
}

// Option changes how Compile builds a Set.
type Option func(*Set)

// Ignore hides the named parameters from the rules that look at other
// fields (required_with, same, confirmed, …): parameters such as an
// action's "action" and "apiVersion", which route a call rather than carry
// its data. An input declared under one of these names is still processed.
func Ignore(names ...string) Option {
	return func(s *Set) { s.ignore = append(s.ignore, names...) }
}

// Compile checks inputs and compiles their Validator rules. An error names
// the input and the rule at fault. A Set compiled from a nil or empty map
// drops every parameter.
func Compile(inputs map[string]Input, opts ...Option) (*Set, error) {
	s := &Set{}
	for _, o := range opts {
		o(s)
	}
	names := make([]string, 0, len(inputs))
	for name := range inputs {
		names = append(names, name)
	}
	sort.Strings(names)
	s.inputs = make([]compiled, 0, len(names))
	for _, name := range names {
		in := inputs[name]
		rules, err := compileRules(in.Validator)
		if err != nil {
			return nil, fmt.Errorf("input %q: %w", name, err)
		}
		s.inputs = append(s.inputs, compiled{name: name, input: in, rules: rules})
		s.hasRules = s.hasRules || len(rules) > 0
	}
	return s, nil
}

// Process applies defaults, formats and validators to raw and returns the
// declared parameters, formatted. When a parameter fails, it returns a
// validation_failed *apierror.Error (status 422) whose Fields map every bad
// parameter to its message. Process does not modify raw. A panic in a
// DefaultFunc, Format or ValidatorFunc is not recovered.
func (s *Set) Process(ctx context.Context, raw map[string]any) (Params, error) {
	params := make(Params, len(s.inputs))
	sent := make(map[string]bool, len(s.inputs)) // the client sent the key, maybe empty
	var fields map[string]string
	fail := func(name, msg string) {
		if fields == nil {
			fields = make(map[string]string)
		}
		fields[name] = msg
	}
	// First pass: defaults and formats, so that validators comparing
	// fields see formatted values.
	for _, ci := range s.inputs {
		v, ok := raw[ci.name]
		sent[ci.name] = ok
		if isEmpty(v, ok) {
			switch d := ci.input.Default.(type) {
			case nil:
				if ci.input.Required {
					fail(ci.name, "is required")
				}
				continue
			case DefaultFunc:
				v = d(ctx)
			case func(context.Context) any:
				v = d(ctx)
			default:
				v = d
			}
		}
		if ci.input.Format != nil {
			fv, err := ci.input.Format(v)
			if err != nil {
				fail(ci.name, err.Error())
				continue
			}
			v = fv
		}
		params[ci.name] = v
	}
	// Rules that name other fields (required_with, same, confirmed, …) see
	// every parameter of the call: declared ones formatted, the others as
	// sent, so that e.g. an undeclared password_confirmation still counts.
	view := params
	if s.hasRules {
		view = make(Params, len(raw)+len(params))
		for k, v := range raw {
			view[k] = v
		}
		for _, k := range s.ignore {
			delete(view, k)
		}
		for k, v := range params {
			view[k] = v
		}
	}
	// Second pass: rules and custom validators.
	for _, ci := range s.inputs {
		if _, bad := fields[ci.name]; bad {
			continue
		}
		v, ok := params[ci.name]
		if msg := ci.rules.check(ci.name, v, sent[ci.name], view); msg != "" {
			fail(ci.name, msg)
			continue
		}
		if !ok {
			continue
		}
		for _, fn := range ci.input.Validators {
			if err := fn(v, params); err != nil {
				fail(ci.name, err.Error())
				break
			}
		}
	}
	if fields != nil {
		return nil, validationError(fields)
	}
	return params, nil
}

// validationError reports every bad field, in name order.
func validationError(fields map[string]string) error {
	names := make([]string, 0, len(fields))
	for name := range fields {
		names = append(names, name)
	}
	sort.Strings(names)
	parts := make([]string, len(names))
	for i, name := range names {
		parts[i] = name + " " + fields[name]
	}
	msg := "invalid parameters: " + strings.Join(parts, "; ")
	if len(names) == 1 {
		msg = "invalid parameter: " + parts[0]
	}
	return &apierror.Error{Code: apierror.CodeValidationFailed, Status: http.StatusUnprocessableEntity,
		Message: msg, Fields: fields}
}
