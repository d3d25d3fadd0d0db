package input

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
)

// Format converts a raw parameter value into the type the action or task
// wants. It returns an error whose message is shown to the client for that
// field.
type Format func(v any) (any, error)

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
	case float64:
		return strconv.FormatFloat(x, 'f', -1, 64), nil
	case float32:
		return strconv.FormatFloat(float64(x), 'f', -1, 32), nil
	case uint64:
		return strconv.FormatUint(x, 10), nil
	}
	if n, ok := toInt64(v); ok {
		return strconv.FormatInt(n, 10), nil
	}
	return nil, errors.New("must be a string")
}

// errIntRange is the message of an integer that does not fit in an int64.
var errIntRange = fmt.Errorf("must be an integer between %d and %d", math.MinInt64, math.MaxInt64)

// maxExactFloat bounds the floats that Integer accepts: beyond 2^53 a
// float64 no longer holds every integer, so the value may not be the one
// the client sent.
const maxExactFloat = 1 << 53

// formatInteger accepts Go integers, integral floats below 2^53, and
// json.Number values that are integers (so 1e3 from a JSON body is 1000,
// whether or not the decoder used UseNumber). Strings must be written as
// integers: "1e3" or "1.0" in a query string is not one.
func formatInteger(v any) (any, error) {
	if n, ok := toInt64(v); ok {
		return n, nil
	}
	switch x := v.(type) {
	case uint, uint64: // larger than MaxInt64, or toInt64 took it
		return nil, errIntRange
	case float64:
		return integralFloat(x)
	case float32:
		return integralFloat(float64(x))
	case json.Number:
		n, err := strconv.ParseInt(string(x), 10, 64)
		if err == nil {
			return n, nil
		}
		if errors.Is(err, strconv.ErrRange) {
			return nil, errIntRange
		}
		if f, err := x.Float64(); err == nil {
			return integralFloat(f)
		}
	case string:
		n, err := strconv.ParseInt(strings.TrimSpace(x), 10, 64)
		if err == nil {
			return n, nil
		}
		if errors.Is(err, strconv.ErrRange) {
			return nil, errIntRange
		}
	}
	return nil, errors.New("must be an integer")
}

func integralFloat(f float64) (any, error) {
	if f != math.Trunc(f) || math.IsInf(f, 0) {
		return nil, errors.New("must be an integer")
	}
	if math.Abs(f) >= maxExactFloat {
		return nil, errIntRange
	}
	return int64(f), nil
}

// formatFloat accepts any Go number, json.Number and numeric strings, but
// never NaN or an infinity.
func formatFloat(v any) (any, error) {
	var f float64
	switch x := v.(type) {
	case float64:
		f = x
	case float32:
		f = float64(x)
	case uint64:
		f = float64(x)
	case json.Number:
		var err error
		if f, err = x.Float64(); err != nil {
			return nil, errors.New("must be a number")
		}
	case string:
		var err error
		if f, err = strconv.ParseFloat(strings.TrimSpace(x), 64); err != nil {
			return nil, errors.New("must be a number")
		}
	default:
		n, ok := toInt64(v)
		if !ok {
			return nil, errors.New("must be a number")
		}
		f = float64(n)
	}
	if math.IsInf(f, 0) || math.IsNaN(f) {
		return nil, errors.New("must be a finite number")
	}
	return f, nil
}

// formatBoolean accepts booleans, the numbers 0 and 1, and the strings
// true/false, 1/0, yes/no and on/off in any case.
func formatBoolean(v any) (any, error) {
	switch x := v.(type) {
	case bool:
		return x, nil
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
	default:
		if n, ok := toInt64(v); ok && (n == 0 || n == 1) {
			return n == 1, nil
		}
	}
	return nil, errors.New("must be a boolean (true or false)")
}

// toInt64 converts any Go integer type that fits in an int64, so that
// values passed by Go callers (an internal action call, a task's
// arguments) format like decoded ones.
func toInt64(v any) (int64, bool) {
	switch x := v.(type) {
	case int64:
		return x, true
	case int:
		return int64(x), true
	case int32:
		return int64(x), true
	case int16:
		return int64(x), true
	case int8:
		return int64(x), true
	case uint:
		if uint64(x) <= math.MaxInt64 {
			return int64(x), true
		}
	case uint64:
		if x <= math.MaxInt64 {
			return int64(x), true
		}
	case uint32:
		return int64(x), true
	case uint16:
		return int64(x), true
	case uint8:
		return int64(x), true
	}
	return 0, false
}
