package input_test

import (
	"context"
	"errors"
	"net/http"
	"reflect"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/stellarfw/stellar-go/apierror"
	"github.com/stellarfw/stellar-go/input"
)

// compile compiles inputs or fails the test.
func compile(t *testing.T, inputs map[string]input.Input, opts ...input.Option) *input.Set {
	t.Helper()
	set, err := input.Compile(inputs, opts...)
	if err != nil {
		t.Fatalf("Compile: %v", err)
	}
	return set
}

// wantValidation fails unless err is a validation_failed *apierror.Error
// with status 422.
func wantValidation(t *testing.T, err error) *apierror.Error {
	t.Helper()
	var ae *apierror.Error
	if !errors.As(err, &ae) {
		t.Fatalf("error = %v (%T), want a validation_failed *apierror.Error", err, err)
	}
	if ae.Code != apierror.CodeValidationFailed || ae.HTTPStatus() != http.StatusUnprocessableEntity {
		t.Fatalf("error = %s %d (%q), want validation_failed 422", ae.Code, ae.HTTPStatus(), ae.Message)
	}
	return ae
}

func TestSet(t *testing.T) {
	set := compile(t, map[string]input.Input{
		"to":    {Required: true, Validator: "email"},
		"count": {Default: 1, Format: input.Integer},
	})
	tests := []struct {
		name    string
		raw     map[string]any
		want    input.Params
		wantErr string
	}{
		{"defaults and formats", map[string]any{"to": "a@b.io"}, input.Params{"to": "a@b.io", "count": int64(1)}, ""},
		{"formatted", map[string]any{"to": "a@b.io", "count": "3"}, input.Params{"to": "a@b.io", "count": int64(3)}, ""},
		{"missing", map[string]any{}, nil, "to"},
		{"invalid", map[string]any{"to": "nope"}, nil, "to"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := set.Process(context.Background(), tc.raw)
			if tc.wantErr != "" {
				var ae *apierror.Error
				if !errors.As(err, &ae) || ae.Fields[tc.wantErr] == "" {
					t.Fatalf("err = %v, want a validation error on %s", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != len(tc.want) || got["to"] != tc.want["to"] || got["count"] != tc.want["count"] {
				t.Errorf("got %v, want %v", got, tc.want)
			}
		})
	}
	if _, err := input.Compile(map[string]input.Input{"x": {Validator: "nosuchrule"}}); err == nil {
		t.Error("a bad rule compiled")
	}
}

func TestCompileErrors(t *testing.T) {
	cases := []struct {
		name   string
		inputs map[string]input.Input
		want   string
	}{
		{"unknown rule", map[string]input.Input{"x": {Validator: "required|nope"}}, `input "x": unknown validator rule "nope"`},
		{"bad rule argument", map[string]input.Input{"ok": {Validator: "min:1"}, "x": {Validator: "min:abc"}},
			`input "x": validator rule "min": argument "abc" is not a number`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			set, err := input.Compile(tc.inputs)
			if err == nil || set != nil {
				t.Fatalf("Compile = %v, %v; want an error", set, err)
			}
			if err.Error() != tc.want {
				t.Errorf("error %q, want %q", err, tc.want)
			}
		})
	}
}

func TestProcessFormats(t *testing.T) {
	set := compile(t, map[string]input.Input{
		"s": {Format: input.String},
		"i": {Format: input.Integer},
		"f": {Format: input.Float},
		"b": {Format: input.Boolean},
		"c": {Format: func(v any) (any, error) { return strings.ToUpper(v.(string)), nil }},
	})
	got, err := set.Process(context.Background(), map[string]any{"s": int64(5), "i": "12", "f": "2.5", "b": "on", "c": "abc"})
	if err != nil {
		t.Fatal(err)
	}
	want := input.Params{"s": "5", "i": int64(12), "f": 2.5, "b": true, "c": "ABC"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("params = %#v, want %#v", got, want)
	}

	_, err = set.Process(context.Background(), map[string]any{"i": "1e3", "f": "x", "b": "maybe"})
	ae := wantValidation(t, err)
	wantFields := map[string]string{
		"i": "must be an integer",
		"f": "must be a number",
		"b": "must be a boolean (true or false)",
	}
	if !reflect.DeepEqual(ae.Fields, wantFields) {
		t.Errorf("Fields = %v, want %v", ae.Fields, wantFields)
	}
}

func TestProcessDefaults(t *testing.T) {
	type ctxKey struct{}
	var calls atomic.Int64
	set := compile(t, map[string]input.Input{
		"page":  {Default: int64(1)},
		"size":  {Default: "20", Format: input.Integer},
		"token": {Default: input.DefaultFunc(func(ctx context.Context) any { return ctx.Value(ctxKey{}).(string) })},
		"n": {Default: input.DefaultFunc(func(context.Context) any {
			return calls.Add(1)
		})},
		"plain": {Default: func(context.Context) any { return "from func" }},
		"score": {Default: int64(5), Validator: "max:3"},
	})
	ctx := context.WithValue(context.Background(), ctxKey{}, "from ctx")

	cases := []struct {
		name string
		raw  map[string]any
		want input.Params
	}{
		{
			name: "missing",
			raw:  map[string]any{"score": int64(2)},
			want: input.Params{"page": int64(1), "size": int64(20), "token": "from ctx", "n": int64(1), "plain": "from func", "score": int64(2)},
		},
		{
			name: "empty string takes the default",
			raw:  map[string]any{"page": "", "size": nil, "score": int64(2)},
			want: input.Params{"page": int64(1), "size": int64(20), "token": "from ctx", "n": int64(2), "plain": "from func", "score": int64(2)},
		},
		{
			name: "sent values win",
			raw:  map[string]any{"page": int64(3), "size": "50", "token": "t", "n": int64(9), "plain": "p", "score": int64(2)},
			want: input.Params{"page": int64(3), "size": int64(50), "token": "t", "n": int64(9), "plain": "p", "score": int64(2)},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := set.Process(ctx, tc.raw)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("params = %#v, want %#v", got, tc.want)
			}
		})
	}
	t.Run("defaults are validated", func(t *testing.T) {
		_, err := set.Process(ctx, nil)
		ae := wantValidation(t, err)
		if ae.Fields["score"] != "must be at most 3" {
			t.Errorf("Fields = %v", ae.Fields)
		}
	})
}

func TestProcessRequired(t *testing.T) {
	sets := map[string]*input.Set{
		"input":       compile(t, map[string]input.Input{"n": {Required: true, Format: input.Integer}}),
		"rule":        compile(t, map[string]input.Input{"n": {Validator: "required", Format: input.Integer}}),
		"withDefault": compile(t, map[string]input.Input{"n": {Required: true, Validator: "required", Default: int64(7)}}),
	}
	cases := []struct {
		name string
		raw  map[string]any
		want any // int64 value, or the field message
	}{
		{"present", map[string]any{"n": "5"}, int64(5)},
		{"zero", map[string]any{"n": "0"}, int64(0)},
		{"missing", map[string]any{}, "is required"},
		{"empty", map[string]any{"n": ""}, "is required"},
		{"null", map[string]any{"n": nil}, "is required"},
	}
	// Input.Required and the required rule behave the same.
	for _, kind := range []string{"input", "rule"} {
		for _, tc := range cases {
			t.Run(kind+"/"+tc.name, func(t *testing.T) {
				got, err := sets[kind].Process(context.Background(), tc.raw)
				if msg, ok := tc.want.(string); ok {
					ae := wantValidation(t, err)
					if ae.Fields["n"] != msg || ae.Message != "invalid parameter: n "+msg {
						t.Errorf("error = %q, Fields = %v", ae.Message, ae.Fields)
					}
					return
				}
				if err != nil {
					t.Fatal(err)
				}
				if got["n"] != tc.want {
					t.Errorf("n = %#v, want %#v", got["n"], tc.want)
				}
			})
		}
	}
	t.Run("default satisfies required", func(t *testing.T) {
		got, err := sets["withDefault"].Process(context.Background(), nil)
		if err != nil || got["n"] != int64(7) {
			t.Errorf("Process = %#v, %v; want n 7", got, err)
		}
	})
}

func TestProcessDropsUndeclared(t *testing.T) {
	raw := map[string]any{"a": "1", "extra": "x"}
	cases := []struct {
		name   string
		inputs map[string]input.Input
		want   input.Params
	}{
		{"declared inputs drop the rest", map[string]input.Input{"a": {}, "b": {}}, input.Params{"a": "1"}},
		{"empty inputs drop everything", map[string]input.Input{}, input.Params{}},
		{"nil inputs drop everything", nil, input.Params{}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := compile(t, tc.inputs).Process(context.Background(), raw)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("params = %#v, want %#v", got, tc.want)
			}
		})
	}
	if want := map[string]any{"a": "1", "extra": "x"}; !reflect.DeepEqual(raw, want) {
		t.Errorf("Process changed raw to %#v", raw)
	}
}

func TestProcessRules(t *testing.T) {
	sets := map[string]*input.Set{
		"signup": compile(t, map[string]input.Input{
			"name":     {Validator: "required|alpha_dash|between:3,20"},
			"age":      {Format: input.Integer, Validator: "integer|min:18"},
			"password": {Validator: "required|min:8|confirmed"}, // password_confirmation is not declared
			"phone":    {Validator: "required_without:email|digits_between:6,15"},
			"email":    {Validator: "email"},
			"nick":     {Validator: "filled|alpha_num"},
		}),
		"ranged": compile(t, map[string]input.Input{
			"start": {Validator: "required|date"},
			"end":   {Validator: "required|date|after:start"},
		}),
		"custom": compile(t, map[string]input.Input{
			"a": {Format: input.Integer},
			"b": {Format: input.Integer, Validator: "min:0", Validators: []input.ValidatorFunc{
				func(v any, p input.Params) error {
					if v.(int64) <= p["a"].(int64) {
						return errors.New("must be greater than a")
					}
					return nil
				},
				func(any, input.Params) error { return errors.New("second validator must not run") },
			}},
		}),
	}
	valid := map[string]any{"name": "ann_b", "age": "21", "password": "s3cretpw", "password_confirmation": "s3cretpw", "email": "ann@example.com"}
	with := func(changes map[string]any) map[string]any {
		m := make(map[string]any, len(valid))
		for k, v := range valid {
			m[k] = v
		}
		for k, v := range changes {
			if v == nil {
				delete(m, k)
			} else {
				m[k] = v
			}
		}
		return m
	}
	cases := []struct {
		name   string
		set    string
		raw    map[string]any
		fields map[string]string // nil: the call succeeds
	}{
		{name: "valid", set: "signup", raw: valid},
		{name: "formatted value is sized by value", set: "signup", raw: with(map[string]any{"age": "9"}),
			fields: map[string]string{"age": "must be at least 18"}},
		{name: "undeclared confirmation is seen", set: "signup", raw: with(map[string]any{"password_confirmation": "other"}),
			fields: map[string]string{"password": "does not match password_confirmation"}},
		{name: "required_without sees other field", set: "signup", raw: with(map[string]any{"email": nil}),
			fields: map[string]string{"phone": "is required when email is missing"}},
		{name: "required_without satisfied", set: "signup", raw: with(map[string]any{"email": nil, "phone": "123456"})},
		{name: "filled: sent empty", set: "signup", raw: with(map[string]any{"nick": ""}),
			fields: map[string]string{"nick": "must not be empty"}},
		{name: "every bad field at once", set: "signup",
			raw: map[string]any{"name": "a b", "age": "x", "password": "short", "email": "nope"},
			fields: map[string]string{
				"name":     "must contain only letters, numbers, dashes and underscores",
				"age":      "must be an integer",
				"password": "must be at least 8 characters",
				"email":    "must be a valid email address",
			}},
		{name: "after another field", set: "ranged", raw: map[string]any{"start": "2024-01-02", "end": "2024-01-01"},
			fields: map[string]string{"end": "must be a date after start"}},
		{name: "after another field ok", set: "ranged", raw: map[string]any{"start": "2024-01-01", "end": "2024-01-02"}},
		{name: "custom validator sees params", set: "custom", raw: map[string]any{"a": "5", "b": "3"},
			fields: map[string]string{"b": "must be greater than a"}},
		{name: "rules run before custom validators", set: "custom", raw: map[string]any{"a": "-5", "b": "-3"},
			fields: map[string]string{"b": "must be at least 0"}},
		{name: "format error skips rules and validators", set: "custom", raw: map[string]any{"a": "5", "b": "x"},
			fields: map[string]string{"b": "must be an integer"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := sets[tc.set].Process(context.Background(), tc.raw)
			if tc.fields == nil {
				if err != nil {
					t.Fatal(err)
				}
				if _, leaked := got["password_confirmation"]; leaked {
					t.Error("undeclared password_confirmation is in the params")
				}
				return
			}
			ae := wantValidation(t, err)
			if !reflect.DeepEqual(ae.Fields, tc.fields) {
				t.Errorf("Fields = %v, want %v", ae.Fields, tc.fields)
			}
		})
	}
}

func TestValidationErrorMessage(t *testing.T) {
	set := compile(t, map[string]input.Input{
		"b": {Required: true},
		"a": {Format: input.Integer},
		"c": {Validator: "in:x,y"},
	})
	_, err := set.Process(context.Background(), map[string]any{"a": "z", "c": "q"})
	ae := wantValidation(t, err)
	want := "invalid parameters: a must be an integer; b is required; c must be one of: x, y"
	if ae.Message != want {
		t.Errorf("message = %q, want %q", ae.Message, want)
	}
	if len(ae.Fields) != 3 {
		t.Errorf("Fields = %v, want 3 entries", ae.Fields)
	}
}

func TestIgnore(t *testing.T) {
	inputs := map[string]input.Input{"x": {Validator: "required_with:route"}}
	raw := map[string]any{"route": "r"}
	t.Run("seen without Ignore", func(t *testing.T) {
		_, err := compile(t, inputs).Process(context.Background(), raw)
		if ae := wantValidation(t, err); ae.Fields["x"] != "is required when route is present" {
			t.Errorf("Fields = %v", ae.Fields)
		}
	})
	t.Run("hidden with Ignore", func(t *testing.T) {
		if _, err := compile(t, inputs, input.Ignore("route")).Process(context.Background(), raw); err != nil {
			t.Errorf("Process: %v", err)
		}
	})
	t.Run("a declared input is still processed", func(t *testing.T) {
		set := compile(t, map[string]input.Input{
			"route": {Format: input.Integer},
			"x":     {Format: input.Integer, Validator: "same:route"},
		}, input.Ignore("route"))
		got, err := set.Process(context.Background(), map[string]any{"route": "2", "x": "2"})
		if want := (input.Params{"route": int64(2), "x": int64(2)}); err != nil || !reflect.DeepEqual(got, want) {
			t.Errorf("Process = %#v, %v; want %#v", got, err, want)
		}
	})
}

// BenchmarkProcess measures one call's parameters through a typical set:
// formats, defaults and rules, one of which looks at another field.
func BenchmarkProcess(b *testing.B) {
	set, err := input.Compile(map[string]input.Input{
		"name":     {Required: true, Validator: "alpha_dash|between:3,20"},
		"age":      {Format: input.Integer, Validator: "min:18"},
		"email":    {Validator: "email"},
		"password": {Validator: "required|min:8|confirmed"},
		"page":     {Default: int64(1), Format: input.Integer},
	})
	if err != nil {
		b.Fatal(err)
	}
	raw := map[string]any{"name": "ann_b", "age": "21", "email": "ann@example.com",
		"password": "s3cretpw", "password_confirmation": "s3cretpw"}
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := set.Process(ctx, raw); err != nil {
			b.Fatal(err)
		}
	}
}
