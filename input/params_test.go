package input

import (
	"encoding/json"
	"reflect"
	"testing"
)

func TestParamsAccessors(t *testing.T) {
	p := Params{
		"s":    "text",
		"n":    int64(42),
		"f":    1.5,
		"b":    true,
		"nstr": "7",
		"bstr": "yes",
		"num":  json.Number("3"),
		"list": []any{1},
		"nil":  nil,
	}
	cases := []struct {
		name string
		got  any
		want any
	}{
		{"Has present", p.Has("s"), true},
		{"Has nil value", p.Has("nil"), true},
		{"Has missing", p.Has("missing"), false},
		{"String string", p.String("s"), "text"},
		{"String int", p.String("n"), "42"},
		{"String float", p.String("f"), "1.5"},
		{"String bool", p.String("b"), "true"},
		{"String json", p.String("num"), "3"},
		{"String list", p.String("list"), "[1]"},
		{"String nil", p.String("nil"), ""},
		{"String missing", p.String("missing"), ""},
		{"Int int", p.Int("n"), int64(42)},
		{"Int text", p.Int("nstr"), int64(7)},
		{"Int json", p.Int("num"), int64(3)},
		{"Int fraction", p.Int("f"), int64(0)},
		{"Int word", p.Int("s"), int64(0)},
		{"Int missing", p.Int("missing"), int64(0)},
		{"Float float", p.Float("f"), 1.5},
		{"Float int", p.Float("n"), 42.0},
		{"Float text", p.Float("nstr"), 7.0},
		{"Float word", p.Float("s"), 0.0},
		{"Float missing", p.Float("missing"), 0.0},
		{"Bool bool", p.Bool("b"), true},
		{"Bool text", p.Bool("bstr"), true},
		{"Bool word", p.Bool("s"), false},
		{"Bool missing", p.Bool("missing"), false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if !reflect.DeepEqual(tc.got, tc.want) {
				t.Errorf("got %#v, want %#v", tc.got, tc.want)
			}
		})
	}
}

func TestParam(t *testing.T) {
	p := Params{"n": int64(42), "s": "text", "list": []any{"a"}}
	t.Run("typed", func(t *testing.T) {
		n, ok := Param[int64](p, "n")
		if !ok || n != 42 {
			t.Errorf("Param[int64](n) = %v, %v; want 42, true", n, ok)
		}
		l, ok := Param[[]any](p, "list")
		if !ok || len(l) != 1 || l[0] != "a" {
			t.Errorf("Param[[]any](list) = %v, %v", l, ok)
		}
	})
	t.Run("wrong type", func(t *testing.T) {
		n, ok := Param[int](p, "n") // Integer gives int64, not int
		if ok || n != 0 {
			t.Errorf("Param[int](n) = %v, %v; want 0, false", n, ok)
		}
		s, ok := Param[string](p, "n")
		if ok || s != "" {
			t.Errorf("Param[string](n) = %q, %v; want \"\", false", s, ok)
		}
	})
	t.Run("missing", func(t *testing.T) {
		if s, ok := Param[string](p, "missing"); ok || s != "" {
			t.Errorf("Param[string](missing) = %q, %v; want \"\", false", s, ok)
		}
	})
}
