package action

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
)

// Input declares one parameter of an action.
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
	// "required|alpha_num|min:3|max:20". See the package documentation of
	// rules.go for the full set. An unknown rule is an error at Register.
	Validator string
	// Validators are custom checks run after the rules, in order. The first
	// error's message becomes the field's message.
	Validators []ValidatorFunc
}

// DefaultFunc computes a default value for each call.
type DefaultFunc func(ctx context.Context) any

// Format converts a raw parameter value into the type the action wants. It
// returns an error whose message is shown to the client for that field.
type Format func(v any) (any, error)

// ValidatorFunc checks one formatted value. params holds every formatted
// parameter of the call, for checks that compare fields. A non-nil error's
// message is shown to the client for that field.
type ValidatorFunc func(v any, params Params) error

// Built-in formats, as Stellar's format strings "string", "integer",
// "float" and "boolean".
var (
	String  Format = formatString
	Integer Format = formatInteger
	Float   Format = formatFloat
	Boolean Format = formatBoolean
)

func formatString(v any) (any, error) {
	switch x := v.(type) {
	case string:
		return x, nil
	case json.Number:
		return x.String(), nil
	case bool:
		return strconv.FormatBool(x), nil
	case int64:
		return strconv.FormatInt(x, 10), nil
	case int:
		return strconv.Itoa(x), nil
	case float64:
		return strconv.FormatFloat(x, 'f', -1, 64), nil
	}
	return nil, errors.New("must be a string")
}

func formatInteger(v any) (any, error) {
	switch x := v.(type) {
	case int64:
		return x, nil
	case int:
		return int64(x), nil
	case float64:
		if x == math.Trunc(x) && math.Abs(x) < 1<<53 {
			return int64(x), nil
		}
	case json.Number:
		if n, err := x.Int64(); err == nil {
			return n, nil
		}
	case string:
		if n, err := strconv.ParseInt(strings.TrimSpace(x), 10, 64); err == nil {
			return n, nil
		}
	}
	return nil, errors.New("must be an integer")
}

func formatFloat(v any) (any, error) {
	switch x := v.(type) {
	case float64:
		return x, nil
	case int64:
		return float64(x), nil
	case int:
		return float64(x), nil
	case json.Number:
		if f, err := x.Float64(); err == nil {
			return f, nil
		}
	case string:
		if f, err := strconv.ParseFloat(strings.TrimSpace(x), 64); err == nil && !math.IsInf(f, 0) && !math.IsNaN(f) {
			return f, nil
		}
	}
	return nil, errors.New("must be a number")
}

func formatBoolean(v any) (any, error) {
	switch x := v.(type) {
	case bool:
		return x, nil
	case int64:
		if x == 0 || x == 1 {
			return x == 1, nil
		}
	case float64:
		if x == 0 || x == 1 {
			return x == 1, nil
		}
	case json.Number:
		switch x.String() {
		case "0":
			return false, nil
		case "1":
			return true, nil
		}
	case string:
		switch strings.ToLower(strings.TrimSpace(x)) {
		case "true", "1", "yes", "on":
			return true, nil
		case "false", "0", "no", "off":
			return false, nil
		}
	}
	return nil, errors.New("must be a boolean (true or false)")
}

// Params holds an action's parameters by name.
type Params map[string]any

// Has reports whether name is present.
func (p Params) Has(name string) bool {
	_, ok := p[name]
	return ok
}

// String returns the parameter as a string: a string as is, other values
// in their usual text form, "" when missing.
func (p Params) String(name string) string {
	v, ok := p[name]
	if !ok || v == nil {
		return ""
	}
	if s, err := formatString(v); err == nil {
		return s.(string)
	}
	return fmt.Sprint(v)
}

// Int returns the parameter as an integer, 0 when missing or not integral.
func (p Params) Int(name string) int64 {
	v, err := formatInteger(p[name])
	if err != nil {
		return 0
	}
	return v.(int64)
}

// Float returns the parameter as a float, 0 when missing or not a number.
func (p Params) Float(name string) float64 {
	v, err := formatFloat(p[name])
	if err != nil {
		return 0
	}
	return v.(float64)
}

// Bool returns the parameter as a boolean, false when missing or not one.
func (p Params) Bool(name string) bool {
	v, err := formatBoolean(p[name])
	if err != nil {
		return false
	}
	return v.(bool)
}

// Param returns the parameter name as a T, and whether it was present with
// that type. Use it with formatted inputs: Integer gives int64, Float
// float64, Boolean bool, String string.
func Param[T any](p Params, name string) (T, bool) {
	v, ok := p[name].(T)
	return v, ok
}

// isEmpty reports whether a raw value counts as missing: absent, nil, or an
// empty string, as in Stellar.
func isEmpty(v any, present bool) bool {
	if !present || v == nil {
		return true
	}
	if s, ok := v.(string); ok && s == "" {
		return true
	}
	return false
}
