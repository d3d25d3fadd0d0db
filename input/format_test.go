package input

import (
	"encoding/json"
	"math"
	"reflect"
	"strings"
	"testing"
)

type formatCase struct {
	name    string
	in      any
	want    any    // the formatted value, when wantErr is ""
	wantErr string // a part of the error message
}

func runFormatCases(t *testing.T, f Format, cases []formatCase) {
	t.Helper()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := f(tc.in)
			if tc.wantErr != "" {
				if err == nil {
					t.Fatalf("format(%#v) = %#v, want an error containing %q", tc.in, got, tc.wantErr)
				}
				if !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("format(%#v) error %q, want it to contain %q", tc.in, err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("format(%#v): %v", tc.in, err)
			}
			// DeepEqual also compares the dynamic types: 1 is not int64(1).
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("format(%#v) = %#v (%T), want %#v (%T)", tc.in, got, got, tc.want, tc.want)
			}
		})
	}
}

func TestFormatString(t *testing.T) {
	runFormatCases(t, String, []formatCase{
		{name: "string", in: "a b", want: "a b"},
		{name: "empty", in: "", want: ""},
		{name: "json number kept verbatim", in: json.Number("1.50"), want: "1.50"},
		{name: "bool", in: true, want: "true"},
		{name: "int64", in: int64(-3), want: "-3"},
		{name: "int", in: 7, want: "7"},
		{name: "uint8", in: uint8(200), want: "200"},
		{name: "uint64 max", in: uint64(math.MaxUint64), want: "18446744073709551615"},
		{name: "float", in: 1.5, want: "1.5"},
		{name: "large float without exponent", in: 1e21, want: "1000000000000000000000"},
		{name: "float32", in: float32(0.1), want: "0.1"},
		{name: "list", in: []any{"a"}, wantErr: "must be a string"},
		{name: "object", in: map[string]any{}, wantErr: "must be a string"},
		{name: "nil", in: nil, wantErr: "must be a string"},
	})
}

func TestFormatInteger(t *testing.T) {
	runFormatCases(t, Integer, []formatCase{
		{name: "int64", in: int64(5), want: int64(5)},
		{name: "int", in: 5, want: int64(5)},
		{name: "int8", in: int8(-5), want: int64(-5)},
		{name: "uint32", in: uint32(5), want: int64(5)},
		{name: "text", in: "42", want: int64(42)},
		{name: "text with spaces", in: " 42 ", want: int64(42)},
		{name: "negative text", in: "-7", want: int64(-7)},
		{name: "plus sign", in: "+7", want: int64(7)},
		{name: "max int64 text", in: "9223372036854775807", want: int64(math.MaxInt64)},
		{name: "min int64 text", in: "-9223372036854775808", want: int64(math.MinInt64)},
		{name: "integral float", in: 3.0, want: int64(3)},
		{name: "negative integral float", in: -3.0, want: int64(-3)},
		{name: "json integer", in: json.Number("12"), want: int64(12)},
		// A JSON number is judged by its value, like the float64 that
		// encoding/json gives without UseNumber.
		{name: "json exponent", in: json.Number("1e3"), want: int64(1000)},
		{name: "json integral decimal", in: json.Number("1.0"), want: int64(1)},
		{name: "largest exact float", in: float64(1<<53 - 1), want: int64(1<<53 - 1)},

		{name: "exponent text", in: "1e3", wantErr: "must be an integer"},
		{name: "decimal text", in: "1.0", wantErr: "must be an integer"},
		{name: "json fraction", in: json.Number("1.5"), wantErr: "must be an integer"},
		{name: "fraction", in: 3.5, wantErr: "must be an integer"},
		{name: "float beyond 2^53", in: float64(1 << 53), wantErr: "must be an integer between"},
		{name: "json exponent beyond 2^53", in: json.Number("1e300"), wantErr: "must be an integer between"},
		{name: "NaN", in: math.NaN(), wantErr: "must be an integer"},
		{name: "infinity", in: math.Inf(1), wantErr: "must be an integer"},
		{name: "overflow text", in: "9223372036854775808", wantErr: "must be an integer between -9223372036854775808 and 9223372036854775807"},
		{name: "underflow json", in: json.Number("-9223372036854775809"), wantErr: "must be an integer between"},
		{name: "uint64 overflow", in: uint64(1 << 63), wantErr: "must be an integer between"},
		{name: "word", in: "abc", wantErr: "must be an integer"},
		{name: "empty", in: "", wantErr: "must be an integer"},
		{name: "bool", in: true, wantErr: "must be an integer"},
		{name: "nil", in: nil, wantErr: "must be an integer"},
		{name: "list", in: []any{1}, wantErr: "must be an integer"},
	})
}

func TestFormatFloat(t *testing.T) {
	runFormatCases(t, Float, []formatCase{
		{name: "text", in: "1.5", want: 1.5},
		{name: "text with spaces", in: " -2.5 ", want: -2.5},
		{name: "exponent text", in: "1e3", want: 1000.0},
		{name: "json number", in: json.Number("2.5"), want: 2.5},
		{name: "int64", in: int64(2), want: 2.0},
		{name: "int", in: -2, want: -2.0},
		{name: "uint64", in: uint64(1 << 63), want: float64(1 << 63)},
		{name: "float32", in: float32(0.5), want: 0.5},
		{name: "float", in: 0.25, want: 0.25},
		{name: "NaN text", in: "NaN", wantErr: "finite"},
		{name: "infinity text", in: "Inf", wantErr: "finite"},
		{name: "infinity float", in: math.Inf(-1), wantErr: "finite"},
		{name: "NaN float", in: math.NaN(), wantErr: "finite"},
		{name: "overflow text", in: "1e400", wantErr: "must be a number"},
		{name: "overflow json", in: json.Number("1e400"), wantErr: "must be a number"},
		{name: "word", in: "abc", wantErr: "must be a number"},
		{name: "empty", in: "", wantErr: "must be a number"},
		{name: "bool", in: true, wantErr: "must be a number"},
		{name: "nil", in: nil, wantErr: "must be a number"},
	})
}

func TestFormatBoolean(t *testing.T) {
	const msg = "must be a boolean (true or false)"
	runFormatCases(t, Boolean, []formatCase{
		{name: "true", in: true, want: true},
		{name: "false", in: false, want: false},
		{name: "TRUE", in: "TRUE", want: true},
		{name: "yes with spaces", in: " yes ", want: true},
		{name: "on", in: "on", want: true},
		{name: "off", in: "off", want: false},
		{name: "no", in: "No", want: false},
		{name: "text 1", in: "1", want: true},
		{name: "text 0", in: "0", want: false},
		{name: "int64 1", in: int64(1), want: true},
		{name: "int 0", in: 0, want: false},
		{name: "uint8 1", in: uint8(1), want: true},
		{name: "float 1", in: 1.0, want: true},
		{name: "json 1", in: json.Number("1"), want: true},
		{name: "json 0", in: json.Number("0"), want: false},
		{name: "maybe", in: "maybe", wantErr: msg},
		{name: "empty", in: "", wantErr: msg},
		{name: "two", in: int64(2), wantErr: msg},
		{name: "float half", in: 0.5, wantErr: msg},
		{name: "json 1.0", in: json.Number("1.0"), wantErr: msg},
		{name: "nil", in: nil, wantErr: msg},
		{name: "list", in: []any{true}, wantErr: msg},
	})
}
