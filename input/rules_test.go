package input

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"
	"time"
)

// ruleCase checks one value against one Validator string.
type ruleCase struct {
	name   string
	spec   string
	v      any
	absent bool   // the client did not send the field
	params Params // the other parameters of the call
	want   string // "" for a pass, else the message
}

func runRuleCases(t *testing.T, cases []ruleCase) {
	t.Helper()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			rs := mustCompile(t, tc.spec)
			params := Params{}
			for k, v := range tc.params {
				params[k] = v
			}
			if !tc.absent {
				params["f"] = tc.v
			}
			got := rs.check("f", tc.v, !tc.absent, params)
			if got != tc.want {
				t.Errorf("%q on %#v: got %q, want %q", tc.spec, tc.v, got, tc.want)
			}
		})
	}
}

func mustCompile(t *testing.T, spec string) ruleSet {
	t.Helper()
	rs, err := compileRules(spec)
	if err != nil {
		t.Fatalf("compileRules(%q): %v", spec, err)
	}
	return rs
}

func TestRulesPresence(t *testing.T) {
	runRuleCases(t, []ruleCase{
		{name: "required/value", spec: "required", v: "abc"},
		{name: "required/zero is a value", spec: "required", v: int64(0)},
		{name: "required/false is a value", spec: "required", v: false},
		{name: "required/absent", spec: "required", absent: true, want: "is required"},
		{name: "required/empty string", spec: "required", v: "", want: "is required"},
		{name: "required/null", spec: "required", v: nil, want: "is required"},

		{name: "required_if/other matches first", spec: "required_if:kind,card,paypal", absent: true,
			params: Params{"kind": "card"}, want: "is required when kind is card or paypal"},
		{name: "required_if/other matches second", spec: "required_if:kind,card,paypal", v: "",
			params: Params{"kind": "paypal"}, want: "is required when kind is card or paypal"},
		{name: "required_if/other differs", spec: "required_if:kind,card", absent: true, params: Params{"kind": "cash"}},
		{name: "required_if/other missing", spec: "required_if:kind,card", absent: true},
		{name: "required_if/value given", spec: "required_if:kind,card", v: "4111", params: Params{"kind": "card"}},
		{name: "required_if/formatted bool", spec: "required_if:notify,true", absent: true,
			params: Params{"notify": true}, want: "is required when notify is true"},
		{name: "required_if/bool matches 1", spec: "required_if:notify,1", absent: true,
			params: Params{"notify": true}, want: "is required when notify is 1"},
		{name: "required_if/bool false", spec: "required_if:notify,true", absent: true, params: Params{"notify": false}},
		{name: "required_if/number by value", spec: "required_if:n,1", absent: true,
			params: Params{"n": float64(1)}, want: "is required when n is 1"},

		{name: "required_unless/other in list", spec: "required_unless:role,admin,root", absent: true, params: Params{"role": "root"}},
		{name: "required_unless/other not in list", spec: "required_unless:role,admin", absent: true,
			params: Params{"role": "user"}, want: "is required unless role is admin"},
		{name: "required_unless/other missing", spec: "required_unless:role,admin", absent: true,
			want: "is required unless role is admin"},
		{name: "required_unless/value given", spec: "required_unless:role,admin", v: "x", params: Params{"role": "user"}},

		{name: "required_with/one present", spec: "required_with:a,b", absent: true,
			params: Params{"b": "x"}, want: "is required when a or b is present"},
		{name: "required_with/none present", spec: "required_with:a,b", absent: true},
		{name: "required_with/other empty", spec: "required_with:a", absent: true, params: Params{"a": ""}},
		{name: "required_with/value given", spec: "required_with:a", v: "x", params: Params{"a": "y"}},

		{name: "required_with_all/all present", spec: "required_with_all:a,b", absent: true,
			params: Params{"a": "x", "b": int64(0)}, want: "is required when a and b are present"},
		{name: "required_with_all/one missing", spec: "required_with_all:a,b", absent: true, params: Params{"a": "x"}},
		{name: "required_with_all/single", spec: "required_with_all:a", absent: true,
			params: Params{"a": "x"}, want: "is required when a is present"},

		{name: "required_without/one missing", spec: "required_without:a,b", absent: true,
			params: Params{"a": "x"}, want: "is required when a or b is missing"},
		{name: "required_without/all present", spec: "required_without:a,b", absent: true, params: Params{"a": "x", "b": "y"}},
		{name: "required_without/value given", spec: "required_without:a", v: "x"},

		{name: "required_without_all/all missing", spec: "required_without_all:a,b", absent: true,
			want: "is required when a and b are missing"},
		{name: "required_without_all/one present", spec: "required_without_all:a,b", absent: true, params: Params{"b": "y"}},

		{name: "filled/value", spec: "filled", v: "x"},
		{name: "filled/absent", spec: "filled", absent: true},
		{name: "filled/sent empty", spec: "filled", v: "", want: "must not be empty"},
		{name: "filled/sent null", spec: "filled", v: nil, want: "must not be empty"},
	})
}

func TestRulesTypes(t *testing.T) {
	runRuleCases(t, []ruleCase{
		{name: "alpha/letters", spec: "alpha", v: "abcÉé"},
		{name: "alpha/digit", spec: "alpha", v: "abc1", want: "must contain only letters"},
		{name: "alpha/space", spec: "alpha", v: "ab c", want: "must contain only letters"},
		{name: "alpha/number", spec: "alpha", v: int64(5), want: "must contain only letters"},
		{name: "alpha/bool", spec: "alpha", v: true, want: "must contain only letters"},

		{name: "alpha_dash/ok", spec: "alpha_dash", v: "a-b_c1"},
		{name: "alpha_dash/space", spec: "alpha_dash", v: "a b",
			want: "must contain only letters, numbers, dashes and underscores"},
		{name: "alpha_dash/dot", spec: "alpha_dash", v: "a.b",
			want: "must contain only letters, numbers, dashes and underscores"},

		{name: "alpha_num/ok", spec: "alpha_num", v: "abc123"},
		{name: "alpha_num/integer", spec: "alpha_num", v: int64(42)},
		{name: "alpha_num/dash", spec: "alpha_num", v: "a-b", want: "must contain only letters and numbers"},
		{name: "alpha_num/list", spec: "alpha_num", v: []any{"a"}, want: "must contain only letters and numbers"},

		{name: "array/list", spec: "array", v: []any{1}},
		{name: "array/go slice", spec: "array", v: []string{"a"}},
		{name: "array/string", spec: "array", v: "x", want: "must be a list"},
		{name: "array/object", spec: "array", v: map[string]any{"a": 1}, want: "must be a list"},

		{name: "boolean/bool", spec: "boolean", v: true},
		{name: "boolean/yes", spec: "boolean", v: "yes"},
		{name: "boolean/one", spec: "boolean", v: int64(1)},
		{name: "boolean/maybe", spec: "boolean", v: "maybe", want: "must be a boolean (true or false)"},
		{name: "boolean/two", spec: "boolean", v: int64(2), want: "must be a boolean (true or false)"},

		{name: "integer/int64", spec: "integer", v: int64(3)},
		{name: "integer/text", spec: "integer", v: "-42"},
		{name: "integer/integral float", spec: "integer", v: float64(3)},
		{name: "integer/decimal text", spec: "integer", v: "4.5", want: "must be an integer"},
		{name: "integer/float", spec: "integer", v: 4.5, want: "must be an integer"},
		{name: "integer/word", spec: "integer", v: "abc", want: "must be an integer"},

		{name: "numeric/text", spec: "numeric", v: "4.5"},
		{name: "numeric/int", spec: "numeric", v: int64(1)},
		{name: "numeric/json exponent", spec: "numeric", v: json.Number("1e3")},
		{name: "numeric/word", spec: "numeric", v: "abc", want: "must be a number"},
		{name: "numeric/NaN", spec: "numeric", v: "NaN", want: "must be a number"},
		{name: "numeric/bool", spec: "numeric", v: true, want: "must be a number"},

		{name: "string/ok", spec: "string", v: "x"},
		{name: "string/number", spec: "string", v: int64(1), want: "must be a string"},
		{name: "string/json number", spec: "string", v: json.Number("1"), want: "must be a string"},
	})
}

func TestRulesFormats(t *testing.T) {
	const (
		email = "must be a valid email address"
		url   = "must be a valid URL"
		ip    = "must be a valid IP address"
		js    = "must be a valid JSON string"
	)
	runRuleCases(t, []ruleCase{
		{name: "email/ok", spec: "email", v: "user.name+tag@example.com"},
		{name: "email/subdomain", spec: "email", v: "a@mail.example.co.uk"},
		{name: "email/no dot in domain", spec: "email", v: "user@localhost", want: email},
		{name: "email/two ats", spec: "email", v: "a@b@c.com", want: email},
		{name: "email/display name", spec: "email", v: "Ann <ann@example.com>", want: email},
		{name: "email/leading dot", spec: "email", v: ".a@example.com", want: email},
		{name: "email/double dot", spec: "email", v: "a..b@example.com", want: email},
		{name: "email/ip domain", spec: "email", v: "a@1.2.3.4", want: email},
		{name: "email/hyphen label", spec: "email", v: "a@-b.com", want: email},
		{name: "email/no local", spec: "email", v: "@example.com", want: email},
		{name: "email/space", spec: "email", v: "a b@example.com", want: email},
		{name: "email/not a string", spec: "email", v: int64(1), want: email},

		{name: "url/https", spec: "url", v: "https://example.com/path?q=1#x"},
		{name: "url/ftp", spec: "url", v: "ftp://files.example.com"},
		{name: "url/no scheme", spec: "url", v: "example.com", want: url},
		{name: "url/no host", spec: "url", v: "javascript:alert(1)", want: url},
		{name: "url/space", spec: "url", v: "http://example.com/a b", want: url},
		{name: "url/not a string", spec: "url", v: int64(1), want: url},

		{name: "ip/v4", spec: "ip", v: "192.168.0.1"},
		{name: "ip/v6", spec: "ip", v: "::1"},
		{name: "ip/v4 out of range", spec: "ip", v: "256.1.1.1", want: ip},
		{name: "ip/word", spec: "ip", v: "localhost", want: ip},

		{name: "json/object", spec: "json", v: `{"a":1}`},
		{name: "json/array", spec: "json", v: `[1,2]`},
		{name: "json/string", spec: "json", v: `"s"`},
		{name: "json/bad", spec: "json", v: `{a:1}`, want: js},
		{name: "json/decoded object", spec: "json", v: map[string]any{"a": 1.0}, want: js},
	})
}

func TestRulesDates(t *testing.T) {
	const dateMsg = "must be a valid date (RFC 3339 or YYYY-MM-DD)"
	runRuleCases(t, []ruleCase{
		{name: "date/day", spec: "date", v: "2024-02-29"},
		{name: "date/rfc3339", spec: "date", v: "2024-01-02T15:04:05Z"},
		{name: "date/fraction and offset", spec: "date", v: "2024-01-02T15:04:05.123+02:00"},
		{name: "date/time.Time", spec: "date", v: time.Date(2024, 1, 2, 0, 0, 0, 0, time.UTC)},
		{name: "date/no such day", spec: "date", v: "2023-02-29", want: dateMsg},
		{name: "date/other layout", spec: "date", v: "02/01/2024", want: dateMsg},
		{name: "date/number", spec: "date", v: int64(20240101), want: dateMsg},

		{name: "before/earlier", spec: "before:2024-01-01", v: "2023-12-31"},
		{name: "before/same day", spec: "before:2024-01-01", v: "2024-01-01", want: "must be a date before 2024-01-01"},
		{name: "before/later", spec: "before:2024-01-01", v: "2024-06-01", want: "must be a date before 2024-01-01"},
		{name: "before/not a date", spec: "before:2024-01-01", v: "soon", want: "must be a date before 2024-01-01"},
		{name: "before/field", spec: "before:end", v: "2024-04-01", params: Params{"end": "2024-05-01"}},
		{name: "before/field later", spec: "before:end", v: "2024-06-01",
			params: Params{"end": "2024-05-01"}, want: "must be a date before end"},
		{name: "before/field missing", spec: "before:end", v: "2024-04-01", want: "must be a date before end"},
		{name: "before/field not a date", spec: "before:end", v: "2024-04-01",
			params: Params{"end": "never"}, want: "must be a date before end"},

		{name: "after/later", spec: "after:2024-01-01", v: "2024-01-02"},
		{name: "after/earlier instant", spec: "after:2024-01-01", v: "2023-12-31T23:59:59Z",
			want: "must be a date after 2024-01-01"},
		// 01:00 at +02:00 is 23:00 UTC the day before.
		{name: "after/offset counts", spec: "after:2024-01-01T00:00:00Z", v: "2024-01-01T01:00:00+02:00",
			want: "must be a date after 2024-01-01T00:00:00Z"},
		{name: "after/field", spec: "after:start", v: "2024-01-02", params: Params{"start": "2024-01-01"}},
		{name: "after/field time.Time", spec: "after:start", v: "2023-01-02",
			params: Params{"start": time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)}, want: "must be a date after start"},
	})
}

func TestRulesSizes(t *testing.T) {
	runRuleCases(t, []ruleCase{
		{name: "between/string", spec: "between:3,5", v: "abcd"},
		{name: "between/string runes", spec: "between:3,5", v: "ééé"},
		// 2 characters but 4 bytes: sizes count characters.
		{name: "between/short runes", spec: "between:3,5", v: "éé", want: "must be between 3 and 5 characters"},
		{name: "between/number", spec: "between:3,5", v: int64(4)},
		{name: "between/number inclusive", spec: "between:3,5", v: float64(5)},
		{name: "between/number above", spec: "between:3,5", v: 5.5, want: "must be between 3 and 5"},
		{name: "between/list", spec: "between:1,2", v: []any{1, 2}},
		{name: "between/list short", spec: "between:3,5", v: []any{1}, want: "must have between 3 and 5 items"},

		{name: "min/string", spec: "min:3", v: "abc"},
		{name: "min/string short", spec: "min:3", v: "ab", want: "must be at least 3 characters"},
		{name: "min/runes", spec: "min:3", v: "日本", want: "must be at least 3 characters"},
		{name: "min/one", spec: "min:1", v: int64(0), want: "must be at least 1"},
		{name: "min/one character", spec: "string|min:2", v: "a", want: "must be at least 2 characters"},
		{name: "min/number", spec: "min:3", v: int64(2), want: "must be at least 3"},
		{name: "min/negative bound", spec: "min:-1.5", v: -1.0},
		{name: "min/json number", spec: "min:3", v: json.Number("2.5"), want: "must be at least 3"},
		{name: "min/list", spec: "min:1", v: []any{}, want: "must have at least 1 item"},
		{name: "min/numeric text by value", spec: "numeric|min:18", v: "21"},
		{name: "min/numeric text below", spec: "numeric|min:18", v: "9", want: "must be at least 18"},
		{name: "min/integer text below", spec: "min:18|integer", v: "9", want: "must be at least 18"},
		{name: "min/text by length", spec: "min:18", v: "21", want: "must be at least 18 characters"},
		{name: "min/bool", spec: "min:1", v: true, want: "must be a string, a number or a list"},

		{name: "max/runes", spec: "max:3", v: "日本語"},
		{name: "max/string", spec: "max:3", v: "abcd", want: "must be at most 3 characters"},
		{name: "max/number", spec: "max:3", v: int64(4), want: "must be at most 3"},
		{name: "max/list", spec: "max:3", v: []any{1, 2, 3, 4}, want: "must have at most 3 items"},
		{name: "max/object", spec: "max:3", v: map[string]any{}, want: "must be a string, a number or a list"},

		{name: "size/string", spec: "size:3", v: "abc"},
		{name: "size/string short", spec: "size:3", v: "ab", want: "must be exactly 3 characters"},
		{name: "size/number", spec: "size:3", v: int64(3)},
		{name: "size/json number", spec: "size:3", v: json.Number("3")},
		{name: "size/number differs", spec: "size:3", v: int64(4), want: "must be 3"},
		{name: "size/list", spec: "size:3", v: []any{1, 2, 3}},
		{name: "size/list differs", spec: "size:1", v: []any{1, 2}, want: "must have exactly 1 item"},

		{name: "digits/text", spec: "digits:4", v: "0123"},
		{name: "digits/integer", spec: "digits:4", v: int64(1234)},
		{name: "digits/short", spec: "digits:4", v: "123", want: "must be 4 digits"},
		{name: "digits/letter", spec: "digits:4", v: "12a4", want: "must be 4 digits"},
		{name: "digits/negative", spec: "digits:4", v: int64(-123), want: "must be 4 digits"},
		{name: "digits/other script", spec: "digits:4", v: "١٢٣٤", want: "must be 4 digits"},
		{name: "digits/one", spec: "digits:1", v: "12", want: "must be 1 digit"},

		{name: "digits_between/ok", spec: "digits_between:2,4", v: "123"},
		{name: "digits_between/short", spec: "digits_between:2,4", v: "1", want: "must be between 2 and 4 digits"},
		{name: "digits_between/long", spec: "digits_between:2,4", v: int64(12345), want: "must be between 2 and 4 digits"},
		{name: "digits_between/decimal", spec: "digits_between:2,4", v: "1.5", want: "must be between 2 and 4 digits"},
	})
}

func TestRulesComparisons(t *testing.T) {
	runRuleCases(t, []ruleCase{
		{name: "in/listed", spec: "in:red,green", v: "red"},
		{name: "in/not listed", spec: "in:red,green", v: "blue", want: "must be one of: red, green"},
		{name: "in/case matters", spec: "in:red,green", v: "Red", want: "must be one of: red, green"},
		{name: "in/list all listed", spec: "in:red,green", v: []any{"red", "green"}},
		{name: "in/list one not listed", spec: "in:red,green", v: []any{"red", "blue"}, want: "must be one of: red, green"},
		{name: "in/float by value", spec: "in:1,2", v: float64(1)},
		{name: "in/json number by value", spec: "in:1,2", v: json.Number("2.0")},
		{name: "in/integer", spec: "in:1,2", v: int64(3), want: "must be one of: 1, 2"},
		{name: "in/bool", spec: "in:true", v: true},
		{name: "in/spaces trimmed", spec: "in: red , green ", v: "green"},

		{name: "not_in/ok", spec: "not_in:admin,root", v: "bob"},
		{name: "not_in/listed", spec: "not_in:admin,root", v: "root", want: "must not be one of: admin, root"},
		{name: "not_in/list with one listed", spec: "not_in:admin,root", v: []any{"bob", "admin"},
			want: "must not be one of: admin, root"},

		{name: "same/equal", spec: "same:other", v: "x", params: Params{"other": "x"}},
		{name: "same/differs", spec: "same:other", v: "y", params: Params{"other": "x"}, want: "must match other"},
		{name: "same/other missing", spec: "same:other", v: "y", want: "must match other"},
		{name: "same/formatted and raw", spec: "same:other", v: "5", params: Params{"other": int64(5)}},
		{name: "same/lists", spec: "same:other", v: []any{"a"}, params: Params{"other": []any{"a"}}},

		{name: "different/differs", spec: "different:other", v: "x", params: Params{"other": "y"}},
		{name: "different/equal", spec: "different:other", v: "x", params: Params{"other": "x"},
			want: "must be different from other"},
		{name: "different/equal numbers", spec: "different:other", v: int64(1), params: Params{"other": 1.0},
			want: "must be different from other"},
		{name: "different/other missing", spec: "different:other", v: "x"},

		{name: "confirmed/equal", spec: "confirmed", v: "s3cret", params: Params{"f_confirmation": "s3cret"}},
		{name: "confirmed/differs", spec: "confirmed", v: "s3cret",
			params: Params{"f_confirmation": "secret"}, want: "does not match f_confirmation"},
		{name: "confirmed/missing", spec: "confirmed", v: "s3cret", want: "does not match f_confirmation"},

		{name: "regex/match", spec: "regex:^[a-z]+$", v: "abc"},
		{name: "regex/no match", spec: "regex:^[a-z]+$", v: "abc1", want: "has an invalid format"},
		{name: "regex/unanchored", spec: "regex:b", v: "abc"},
		{name: "regex/comma kept", spec: "regex:^a{1,3}$", v: "aaa"},
		{name: "regex/comma kept no match", spec: "regex:^a{1,3}$", v: "aaaa", want: "has an invalid format"},
		{name: "regex/escaped pipe", spec: `regex:^(cat\|dog)$|max:3`, v: "dog"},
		{name: "regex/escaped pipe no match", spec: `regex:^(cat\|dog)$|max:3`, v: "cow", want: "has an invalid format"},
		{name: "regex/rule after pattern", spec: `regex:^(cat\|dog)+$|max:3`, v: "catdog", want: "must be at most 3 characters"},
		{name: "regex/literal pipe", spec: `regex:^a[\x7c]b$`, v: "a|b"},
		{name: "regex/number", spec: `regex:^\d+$`, v: int64(123)},
		{name: "regex/flags inline", spec: `regex:(?i)^abc$`, v: "ABC"},
		{name: "regex/list", spec: `regex:.`, v: []any{"a"}, want: "has an invalid format"},
	})
}

func TestRulesOrderAndEmpty(t *testing.T) {
	runRuleCases(t, []ruleCase{
		{name: "first failure wins", spec: "min:3|alpha", v: "1", want: "must be at least 3 characters"},
		{name: "first failure wins reversed", spec: "alpha|min:3", v: "1", want: "must contain only letters"},
		{name: "optional absent skips rules", spec: "email|min:3|integer", absent: true},
		{name: "optional empty skips rules", spec: "email|min:3", v: ""},
		{name: "required after others", spec: "min:3|required", absent: true, want: "is required"},
		{name: "whitespace around rules", spec: "  required |  min : 3 ", v: "ab", want: "must be at least 3 characters"},
		{name: "no rules", spec: "", v: "anything"},
	})
}

func TestCompileRules(t *testing.T) {
	rs := mustCompile(t, ` required | in: a , b |regex: ^x,y$ `)
	var got [][]string
	for _, r := range rs {
		got = append(got, append([]string{r.name}, r.args...))
	}
	want := [][]string{{"required"}, {"in", "a", "b"}, {"regex", "^x,y$"}}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("parsed %q, want %q", got, want)
	}
	if rs, err := compileRules("   "); err != nil || rs != nil {
		t.Errorf(`compileRules("   ") = %v, %v; want nil, nil`, rs, err)
	}
	// Every rule the documentation lists compiles with a valid argument.
	valid := map[string]string{
		"required_if": ":a,b", "required_unless": ":a,b", "required_with": ":a", "required_with_all": ":a",
		"required_without": ":a", "required_without_all": ":a", "before": ":2024-01-01", "after": ":start",
		"between": ":1,2", "min": ":1", "max": ":1", "size": ":1", "digits": ":1", "digits_between": ":1,2",
		"in": ":a", "not_in": ":a", "same": ":a", "different": ":a", "regex": ":a",
	}
	for name := range ruleDefs {
		if _, err := compileRules(name + valid[name]); err != nil {
			t.Errorf("rule %s: %v", name, err)
		}
	}
}

func TestCompileRulesErrors(t *testing.T) {
	cases := []struct {
		spec string
		rule string // the rule the error must name
	}{
		{"foo", "foo"},
		{"required|foo:1", "foo"},
		{"Required", "Required"},
		{"min:abc", "min"},
		{"min", "min"},
		{"min:1,2", "min"},
		{"min:NaN", "min"},
		{"max:Inf", "max"},
		{"size:x", "size"},
		{"between:5", "between"},
		{"between:5,1", "between"},
		{"between:1,x", "between"},
		{"required:x", "required"},
		{"email:strict", "email"},
		{"confirmed:other", "confirmed"},
		{"regex:(", "regex"},
		{"regex:", "regex"},
		{"regex", "regex"},
		{"in", "in"},
		{"in:", "in"},
		{"in:a,,b", "in"},
		{"not_in:", "not_in"},
		{"digits:0", "digits"},
		{"digits:1.5", "digits"},
		{"digits_between:4,2", "digits_between"},
		{"digits_between:2", "digits_between"},
		{"before:2024-13-01", "before"},
		{"before:a,b", "before"},
		{"after:", "after"},
		{"required_if:a", "required_if"},
		{"required_unless", "required_unless"},
		{"required_with", "required_with"},
		{"required_with_all:", "required_with_all"},
		{"required_without", "required_without"},
		{"required_without_all", "required_without_all"},
		{"same", "same"},
		{"same:a,b", "same"},
		{"different", "different"},
	}
	for _, tc := range cases {
		t.Run(tc.spec, func(t *testing.T) {
			_, err := compileRules(tc.spec)
			if err == nil {
				t.Fatalf("compileRules(%q) succeeded", tc.spec)
			}
			if !strings.Contains(err.Error(), `"`+tc.rule+`"`) {
				t.Errorf("error %q does not name rule %q", err, tc.rule)
			}
		})
	}
	for _, spec := range []string{"required||min:3", "|required", "required|", "required| |min:3"} {
		t.Run(spec, func(t *testing.T) {
			if _, err := compileRules(spec); err == nil || !strings.Contains(err.Error(), "empty rule") {
				t.Errorf("compileRules(%q) = %v, want an empty rule error", spec, err)
			}
		})
	}
}

func TestSplitRules(t *testing.T) {
	cases := []struct {
		spec string
		want []string
	}{
		{"a|b", []string{"a", "b"}},
		{`a\|b|c`, []string{"a|b", "c"}},
		{`a\\|b`, []string{`a\|b`}},
		{`a\d|b`, []string{`a\d`, "b"}},
		{`a\`, []string{`a\`}},
	}
	for _, tc := range cases {
		t.Run(tc.spec, func(t *testing.T) {
			if got := splitRules(tc.spec); !reflect.DeepEqual(got, tc.want) {
				t.Errorf("splitRules(%q) = %q, want %q", tc.spec, got, tc.want)
			}
		})
	}
}

func TestRulesParses(t *testing.T) {
	got, err := Rules(`required|between:1, 5|regex:^a,b\|c$|in:x,y`)
	if err != nil {
		t.Fatal(err)
	}
	want := []Rule{{Name: "required", Args: []string{}}, {Name: "between", Args: []string{"1", "5"}},
		{Name: "regex", Args: []string{"^a,b|c$"}}, {Name: "in", Args: []string{"x", "y"}}}
	if len(got) != len(want) {
		t.Fatalf("Rules = %#v", got)
	}
	for i := range want {
		if got[i].Name != want[i].Name || strings.Join(got[i].Args, ",") != strings.Join(want[i].Args, ",") {
			t.Errorf("rule %d = %#v, want %#v", i, got[i], want[i])
		}
	}
	if _, err := Rules("min:x"); err == nil {
		t.Error("Rules accepted a bad rule")
	}
	if rs, err := Rules(""); err != nil || len(rs) != 0 {
		t.Errorf("Rules(\"\") = %v, %v", rs, err)
	}
}
