package input_test

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/stellarfw/stellar-go/apierror"
	"github.com/stellarfw/stellar-go/input"
)

// fuzzInputs exercises every format and most rules, including those that
// compare fields.
var fuzzInputs = map[string]input.Input{
	"name":     {Required: true, Format: input.String, Validator: "required|alpha_dash|between:3,20|not_in:admin,root"},
	"age":      {Format: input.Integer, Validator: "integer|min:0|max:150"},
	"ratio":    {Format: input.Float, Validator: "numeric|between:-1.5,1.5"},
	"flag":     {Format: input.Boolean, Default: false},
	"color":    {Default: "red", Validator: "in:red,green,blue"},
	"email":    {Validator: "required_without:phone|email|max:254"},
	"phone":    {Validator: "digits_between:6,15"},
	"site":     {Validator: "url"},
	"addr":     {Validator: "ip"},
	"meta":     {Validator: "json|size:2|filled"},
	"code":     {Validator: `regex:^[A-Z]{2,3}(-\d+\|\.\d+)?$|alpha_num`},
	"start":    {Validator: "date|before:end"},
	"end":      {Validator: "required_with:start|date|after:2000-01-01"},
	"password": {Validator: "confirmed|different:name|min:8"},
	"pin":      {Format: input.Integer, Validator: "digits:4|same:pin2"},
}

// fuzzKeys are the parameter names the fuzzer fills, in the order of its
// arguments; the extra ones are undeclared but seen by some rules, except
// the ignored "route".
var fuzzKeys = []string{"name", "age", "ratio", "flag", "color", "email", "phone", "site", "addr",
	"meta", "code", "start", "end", "password", "password_confirmation", "pin", "pin2", "route"}

func FuzzProcess(f *testing.F) {
	seeds := [][]string{
		{"ann_b", "42", "0.5", "yes", "green", "ann@example.com", "", "https://example.com", "::1",
			`{"a":1}`, "AB-12", "2024-01-01", "2024-02-01", "s3cretpw!", "s3cretpw!", "1234", "1234", ""},
		{"", "1e3", "NaN", "maybe", "pink", "not-an-email", "12", "example.com", "256.0.0.1",
			"{", "ab", "2024-13-01", "1999-12-31", "short", "other", "99999999999999999999", "1", "abc"},
		{"root", "-1", "1e400", "", "", "", "", "", "", "", "", "", "", "", "", "", "", "0"},
		{"日本語テキスト", "9223372036854775808", "-0", "1", "red", "a@b.c", "١٢٣٤٥٦", "http://a b",
			"1.2.3.4", "[]", "ABC.5", "2024-01-01T00:00:00Z", "2024-01-01T00:00:00+02:00", "ann", "ann", "0123", "123", "1"},
	}
	for _, s := range seeds {
		f.Add(s[0], s[1], s[2], s[3], s[4], s[5], s[6], s[7], s[8], s[9], s[10], s[11], s[12], s[13], s[14], s[15], s[16], s[17])
	}
	set, err := input.Compile(fuzzInputs, input.Ignore("route"))
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, name, age, ratio, flag, color, email, phone, site, addr,
		meta, code, start, end, password, confirmation, pin, pin2, route string) {
		values := []string{name, age, ratio, flag, color, email, phone, site, addr,
			meta, code, start, end, password, confirmation, pin, pin2, route}
		raw := make(map[string]any, len(values))
		for i, v := range values {
			if v != "" {
				raw[fuzzKeys[i]] = v
			}
		}
		params, err := set.Process(context.Background(), raw)
		if err == nil {
			// Formats hold: the caller gets the types it asked for.
			for name, want := range map[string]string{"name": "string", "age": "int64", "ratio": "float64", "flag": "bool"} {
				if v, ok := params[name]; ok {
					if got := fmt.Sprintf("%T", v); got != want {
						t.Fatalf("param %s is a %s, want %s", name, got, want)
					}
				}
			}
			for _, k := range []string{"password_confirmation", "pin2", "route"} {
				if _, ok := params[k]; ok {
					t.Fatalf("undeclared param %s is in the params", k)
				}
			}
			return
		}
		var ae *apierror.Error
		if !errors.As(err, &ae) {
			t.Fatalf("error %v (%T) is not an *apierror.Error", err, err)
		}
		if ae.Code != apierror.CodeValidationFailed || ae.HTTPStatus() != 422 || len(ae.Fields) == 0 {
			t.Fatalf("error %s %d with fields %v for %v, want validation_failed 422 with fields", ae.Code, ae.HTTPStatus(), ae.Fields, raw)
		}
	})
}
