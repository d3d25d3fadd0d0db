package action

import (
	"context"
	"errors"
)

// InputSet is a compiled set of input declarations, for validating
// parameters outside an action (a task's arguments, say) exactly as an
// action's are.
type InputSet struct{ e *entry }

// CompileInputs checks and compiles inputs (their Validator rules).
func CompileInputs(inputs map[string]Input) (*InputSet, error) {
	if inputs == nil {
		inputs = map[string]Input{}
	}
	e, err := (&Registry{}).compile(&Action{Name: "inputs", Inputs: inputs, Run: func(context.Context, *Request) error { return nil }})
	if err != nil {
		return nil, errors.New(trimActionPrefix(err.Error()))
	}
	return &InputSet{e: e}, nil
}

// trimActionPrefix drops the "action: inputs: " the compiler adds.
func trimActionPrefix(s string) string {
	const p = "action: inputs: "
	if len(s) > len(p) && s[:len(p)] == p {
		return "input " + s[len(p)+len("input "):]
	}
	return s
}

// Process applies defaults, formats and validators to raw and returns the
// resulting params, or a validation_failed *apierror.Error naming every
// bad field.
func (s *InputSet) Process(ctx context.Context, raw map[string]any) (Params, error) {
	return processInputs(ctx, s.e, raw)
}
