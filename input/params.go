package input

import "fmt"

// Params holds the parameters of one call, an action's or a task's, by
// name.
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
