package input

import "context"

// Input declares one parameter of an action or a task.
type Input struct {
	// Description documents the parameter.
	Description string
	// Required rejects a call in which the parameter is missing or empty.
	Required bool
	// Default is used when the parameter is missing. It is a value, or a
	// DefaultFunc evaluated for each call.
	Default any
	// Format converts the raw value before validation: String, Integer,
	// Float, Boolean, or a function of your own. Nil leaves it as sent.
	Format Format
	// Validator is a rule list in Stellar's syntax, rules separated by "|":
	// "required|alpha_num|min:3|max:20". The package documentation lists
	// every rule. An unknown rule or a bad argument is an error at Compile.
	Validator string
	// Validators are custom checks run after the rules, in order. The first
	// error's message becomes the field's message.
	Validators []ValidatorFunc
}

// DefaultFunc computes a default value for each call.
type DefaultFunc func(ctx context.Context) any

// ValidatorFunc checks one formatted value. params holds every formatted
// parameter of the call, for checks that compare fields. A non-nil error's
// message is shown to the client for that field.
type ValidatorFunc func(v any, params Params) error
