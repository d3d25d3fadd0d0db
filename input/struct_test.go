package input_test

import (
	"context"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/stellarfw/stellar-go/input"
)

type level int8

type color string

type paging struct {
	Page int `default:"1" validate:"min:1"`
	Size int `param:"per_page" default:"20" validate:"between:1,100"`
}

// kinds has a field of every supported kind.
type kinds struct {
	paging
	Name     string        `validate:"required|alpha_dash|max:20" desc:"who"`
	Count    int64         `param:"count"`
	Small    int8          `param:"small"`
	Mid      int16         `param:"mid"`
	Int32    int32         `param:"int32"`
	Plain    int           `param:"plain"`
	Byte     uint8         `param:"byte"`
	U16      uint16        `param:"u16"`
	U32      uint32        `param:"u32"`
	U64      uint64        `param:"u64"`
	Uint     uint          `param:"uint"`
	Ratio    float64       `param:"ratio"`
	Ratio32  float32       `param:"ratio32"`
	On       bool          `param:"on"`
	Wait     time.Duration `param:"wait" default:"1m30s"`
	At       time.Time     `param:"at"`
	Day      time.Time     `param:"day" format:"02/01/2006"`
	Tags     []string      `param:"tags" validate:"in:a,b,c"`
	IDs      []int64       `param:"ids"`
	Waits    []time.Duration
	Level    level
	Color    color   `default:"red" validate:"in:red,green"`
	Colors   []color `param:"colors"`
	Any      any     `param:"any"`
	Opt      *int    `param:"opt"`
	OptName  *string `param:"optName" default:"x"`
	OptTags  *[]string
	JSONName string `json:"json_name,omitempty"`
	UserID   string
	Skipped  string `param:"-"`
	//lint:ignore U1000 an unexported field without tags is skipped
	hidden string
}

// taggedType is a struct type with one int field A tagged tag: vet
// refuses malformed tags in source.
func taggedType(tag string) reflect.Type {
	return reflect.StructOf([]reflect.StructField{{Name: "A", Type: reflect.TypeFor[int](), Tag: reflect.StructTag(tag)}})
}

func structOf(t *testing.T, v any) *input.Struct {
	t.Helper()
	st, err := input.StructOf(reflect.TypeOf(v))
	if err != nil {
		t.Fatalf("StructOf(%T): %v", v, err)
	}
	return st
}

// process compiles st's inputs, processes raw and binds the result.
func process[T any](t *testing.T, st *input.Struct, raw map[string]any) (T, error) {
	t.Helper()
	var v T
	set, err := input.Compile(st.Inputs())
	if err != nil {
		t.Fatalf("Compile: %v", err)
	}
	p, err := set.Process(context.Background(), raw)
	if err != nil {
		return v, err
	}
	if err := st.Bind(p, &v); err != nil {
		t.Fatalf("Bind: %v", err)
	}
	return v, nil
}

func TestStructFields(t *testing.T) {
	st := structOf(t, kinds{})
	var params []string
	for _, f := range st.Fields() {
		params = append(params, f.Param)
	}
	want := []string{"page", "per_page", "name", "count", "small", "mid", "int32", "plain", "byte", "u16", "u32", "u64", "uint",
		"ratio", "ratio32", "on", "wait", "at", "day", "tags", "ids", "waits", "level", "color", "colors", "any",
		"opt", "optName", "optTags", "json_name", "userID"}
	if !reflect.DeepEqual(params, want) {
		t.Fatalf("params = %v\nwant     %v", params, want)
	}
	in := st.Inputs()
	if in["name"].Validator != "required|alpha_dash|max:20" || in["name"].Description != "who" {
		t.Errorf("name input = %+v", in["name"])
	}
	if in["wait"].Default != 90*time.Second || in["page"].Default != 1 || in["color"].Default != "red" {
		t.Errorf("defaults: wait %#v page %#v color %#v", in["wait"].Default, in["page"].Default, in["color"].Default)
	}
	if f := st.Fields()[0]; f.Name != "paging.Page" || f.Type != reflect.TypeFor[int]() {
		t.Errorf("promoted field = %s %v", f.Name, f.Type)
	}
}

func TestStructBindEveryKind(t *testing.T) {
	st := structOf(t, kinds{})
	at := time.Date(2024, 5, 6, 7, 8, 9, 0, time.UTC)
	got, err := process[kinds](t, st, map[string]any{
		"name": "ann_b", "count": "42", "small": -7, "mid": "300", "int32": float64(70000), "plain": "-5",
		"byte": "255", "u16": 65535, "u32": "4000000000", "u64": "9000000000000000000", "uint": 3,
		"ratio": "0.25", "ratio32": 1.5, "on": "yes", "at": "2024-05-06T07:08:09Z", "day": "31/12/2023",
		"tags": []any{"a", "c"}, "ids": "7", "waits": []any{"1s", "2h"}, "level": "3",
		"colors": []any{"green"}, "any": map[string]any{"k": 1.0}, "opt": "9", "optTags": "solo",
		"json_name": "j", "userID": "u1", "Skipped": "no", "per_page": "50",
	})
	if err != nil {
		t.Fatal(err)
	}
	opt, optName, optTags := 9, "x", []string{"solo"}
	want := kinds{
		paging: paging{Page: 1, Size: 50},
		Name:   "ann_b", Count: 42, Small: -7, Mid: 300, Int32: 70000, Plain: -5,
		Byte: 255, U16: 65535, U32: 4000000000, U64: 9000000000000000000, Uint: 3,
		Ratio: 0.25, Ratio32: 1.5, On: true, Wait: 90 * time.Second, At: at,
		Day:  time.Date(2023, 12, 31, 0, 0, 0, 0, time.UTC),
		Tags: []string{"a", "c"}, IDs: []int64{7}, Waits: []time.Duration{time.Second, 2 * time.Hour},
		Level: 3, Color: "red", Colors: []color{"green"}, Any: map[string]any{"k": 1.0},
		Opt: &opt, OptName: &optName, OptTags: &optTags, JSONName: "j", UserID: "u1",
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("bound\n%+v\nwant\n%+v", got, want)
	}

	// Absent optional fields stay nil; absent plain ones zero.
	got, err = process[kinds](t, st, map[string]any{"name": "bo"})
	if err != nil {
		t.Fatal(err)
	}
	if got.Opt != nil || got.OptTags != nil || got.Count != 0 || got.Tags != nil || got.OptName == nil || *got.OptName != "x" {
		t.Errorf("absent fields: opt %v optTags %v count %d tags %v optName %v", got.Opt, got.OptTags, got.Count, got.Tags, got.OptName)
	}
}

func TestStructValidation(t *testing.T) {
	st := structOf(t, kinds{})
	cases := []struct {
		name   string
		raw    map[string]any
		fields map[string]string
	}{
		{"required and a rule", map[string]any{"per_page": "500"},
			map[string]string{"name": "is required", "per_page": "must be between 1 and 100"}},
		{"integer ranges", map[string]any{"name": "a", "small": 128, "byte": -1, "u16": "65536", "count": "1.5"},
			map[string]string{"small": "must be an integer between -128 and 127", "byte": "must be an integer between 0 and 255",
				"u16": "must be an integer between 0 and 65535", "count": "must be an integer"}},
		{"other formats", map[string]any{"name": "a", "on": "maybe", "wait": "5", "at": "soon", "day": "2023-12-31", "ratio32": "1e39"},
			map[string]string{"on": "must be a boolean (true or false)", "wait": "must be a duration such as 1.5s, 20m or 1h30m",
				"at": "must be a valid date (RFC 3339 or YYYY-MM-DD)", "day": "must be a time in the layout 02/01/2006",
				"ratio32": "must be a number between -3.4028234663852886e+38 and 3.4028234663852886e+38"}},
		{"lists", map[string]any{"name": "a", "ids": []any{"1", "x"}, "tags": []any{"a", "z"}, "colors": "blue"},
			map[string]string{"ids": "item 2 must be an integer", "tags": "must be one of: a, b, c"}},
		{"named type rules", map[string]any{"name": "a", "color": "blue"}, map[string]string{"color": "must be one of: red, green"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := process[kinds](t, st, tc.raw)
			ae := wantValidation(t, err)
			if !reflect.DeepEqual(ae.Fields, tc.fields) {
				t.Errorf("fields = %v\nwant     %v", ae.Fields, tc.fields)
			}
		})
	}
}

// The typed form reports exactly what the map form does for the same
// declaration.
func TestStructSameErrorsAsMapForm(t *testing.T) {
	type in struct {
		Name string `validate:"required|alpha|min:3"`
		Age  int64  `validate:"min:18"`
		Lang string `default:"en" validate:"in:en,fr"`
	}
	mapForm := compile(t, map[string]input.Input{
		"name": {Validator: "required|alpha|min:3"},
		"age":  {Format: input.Integer, Validator: "min:18"},
		"lang": {Default: "en", Validator: "in:en,fr"},
	})
	typed := compile(t, structOf(t, in{}).Inputs())
	for _, raw := range []map[string]any{
		{},
		{"name": "a1", "age": "x", "lang": "it"},
		{"name": "ab", "age": "17"},
		{"name": "abc", "age": 1e3, "extra": 1},
	} {
		p1, err1 := mapForm.Process(context.Background(), raw)
		p2, err2 := typed.Process(context.Background(), raw)
		if !reflect.DeepEqual(err1, err2) || !reflect.DeepEqual(p1, p2) {
			t.Errorf("raw %v:\nmap form %v %v\ntyped    %v %v", raw, p1, err1, p2, err2)
		}
	}
}

func TestStructOfErrors(t *testing.T) {
	type embeddedPtr struct{ *paging }
	cases := []struct {
		name string
		typ  reflect.Type
		want string
	}{
		{"not a struct", reflect.TypeFor[int](), "int is not a struct type"},
		{"unsupported type", reflect.TypeFor[struct{ M map[string]int }](), "field M: type map[string]int is not supported"},
		{"nested struct", reflect.TypeFor[struct{ P paging }](), "field P: type input_test.paging is not supported"},
		{"list of lists", reflect.TypeFor[struct{ L [][]string }](), "field L: type []string is not supported"},
		{"bytes", reflect.TypeFor[struct{ B []byte }](), "field B: type []uint8 is not supported: use a string"},
		{"interface with methods", reflect.TypeFor[struct{ E error }](), "field E: type error is not supported"},
		{"malformed tag", taggedType(`param:a`), "field A: malformed struct tag"},
		{"unterminated tag", taggedType(`param:"a`), "field A: malformed struct tag: the value of param is not terminated"},
		{"no space", taggedType(`param:"a"desc:"b"`), "field A: malformed struct tag at"},
		{"tag twice", taggedType(`validate:"min:1" validate:"max:2"`), "field A: struct tag key validate appears twice"},
		{"bad rule", reflect.TypeFor[struct {
			A int `validate:"min:x"`
		}](), `field A: validator rule "min": argument "x" is not a number`},
		{"unknown rule", reflect.TypeFor[struct {
			A int `validate:"required,min=3"`
		}](), `field A: unknown validator rule "required,min=3"`},
		{"bad default", reflect.TypeFor[struct {
			A int8 `default:"300"`
		}](), `field A: default "300" must be an integer between -128 and 127`},
		{"bad list default", reflect.TypeFor[struct {
			A []int `default:"1,x"`
		}](), `field A: default "1,x" item 2 must be an integer`},
		{"layout on a non-time", reflect.TypeFor[struct {
			A string `format:"2006"`
		}](), "field A: the format tag is a time layout, for a time.Time field"},
		{"duplicate names", reflect.TypeFor[struct {
			A int `param:"x"`
			B int `param:"x"`
		}](), `fields A and B both take the parameter "x"`},
		{"promoted duplicate", reflect.TypeFor[struct {
			paging
			Page int
		}](), `fields paging.Page and Page both take the parameter "page"`},
		{"unexported with tag", reflect.TypeFor[struct {
			//lint:ignore U1000 the test is the tag
			a int `param:"a"`
		}](), "field a is unexported: its param tag has no effect"},
		{"embedded pointer", reflect.TypeFor[embeddedPtr](), "field paging: an embedded pointer is not supported"},
		{"empty name", reflect.TypeFor[struct {
			A int `param:" "`
		}](), "field A: empty parameter name"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := input.StructOf(tc.typ)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want it to contain %q", err, tc.want)
			}
		})
	}
}

func TestStructParamsRoundTrip(t *testing.T) {
	st := structOf(t, kinds{})
	opt := 4
	v := kinds{
		paging: paging{Page: 2, Size: 10}, Name: "zed", Count: -3, Small: 1, U64: 12, Ratio32: 0.5, On: true,
		Wait: 3 * time.Second, At: time.Date(2024, 1, 2, 3, 4, 5, 6, time.UTC), Day: time.Date(2020, 2, 1, 0, 0, 0, 0, time.UTC),
		Tags: []string{"b"}, Waits: []time.Duration{time.Minute}, Level: -2, Color: "green", Colors: []color{"red"},
		Any: "raw", Opt: &opt, UserID: "u",
	}
	p, err := st.Params(&v)
	if err != nil {
		t.Fatal(err)
	}
	if p["wait"] != "3s" || p["day"] != "01/02/2020" || p["optName"] != nil || p["level"] != int8(-2) {
		t.Errorf("params: wait %#v day %#v optName %#v level %#v", p["wait"], p["day"], p["optName"], p["level"])
	}
	if _, ok := p["optName"]; ok {
		t.Error("a nil pointer field was sent")
	}
	got, err := process[kinds](t, st, p)
	if err != nil {
		t.Fatal(err)
	}
	optName := "x" // the default, as the pointer was nil
	v.OptName = &optName
	if !reflect.DeepEqual(got, v) {
		t.Fatalf("round trip\n%+v\nwant\n%+v", got, v)
	}
	if _, err := st.Params(3); err == nil {
		t.Error("Params of an int succeeded")
	}
	if p, err := st.Params((*kinds)(nil)); err != nil || len(p) != 0 {
		t.Errorf("Params of a nil pointer = %v, %v", p, err)
	}
}

func TestStructBindFormatsAgain(t *testing.T) {
	st := structOf(t, kinds{})
	var v kinds
	// Raw values, as a middleware might leave them, are formatted.
	if err := st.Bind(input.Params{"count": "5", "tags": "a", "wait": "2s"}, &v); err != nil {
		t.Fatal(err)
	}
	if v.Count != 5 || !reflect.DeepEqual(v.Tags, []string{"a"}) || v.Wait != 2*time.Second {
		t.Errorf("bound %d %v %v", v.Count, v.Tags, v.Wait)
	}
	err := st.Bind(input.Params{"count": "five", "small": "x"}, &v)
	ae := wantValidation(t, err)
	if ae.Fields["count"] != "must be an integer" || ae.Fields["small"] != "must be an integer" {
		t.Errorf("fields = %v", ae.Fields)
	}
	if err := st.Bind(input.Params{}, v); err == nil {
		t.Error("Bind into a non-pointer succeeded")
	}
}
