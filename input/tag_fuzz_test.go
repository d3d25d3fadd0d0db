package input

import (
	"context"
	"reflect"
	"testing"
	"time"
)

// fuzzFieldTypes are the field types FuzzStructTag tries a tag on.
var fuzzFieldTypes = []reflect.Type{
	reflect.TypeFor[string](), reflect.TypeFor[int8](), reflect.TypeFor[uint16](), reflect.TypeFor[int64](),
	reflect.TypeFor[float32](), reflect.TypeFor[bool](), reflect.TypeFor[time.Duration](),
	reflect.TypeFor[time.Time](), reflect.TypeFor[[]int](), reflect.TypeFor[*string](), reflect.TypeFor[any](),
	reflect.TypeFor[[]time.Time](),
}

// FuzzStructTag derives inputs from a field with any tag: StructOf never
// panics, parseTag agrees with reflect.StructTag wherever it accepts a
// tag, and what StructOf accepts compiles, processes a value and binds
// it.
func FuzzStructTag(f *testing.F) {
	for _, seed := range []string{
		`param:"name" default:"1" validate:"required|min:3"`,
		`json:"x,omitempty" desc:"a \"quoted\" word"`,
		`format:"2006-01-02" default:"2024-02-29"`,
		`default:"1,2,3" validate:"array|max:5"`,
		`param:"-"`, `param:a`, `param:"a`, `validate:"min:1" validate:"max:2"`, `default:"1m"`,
		`validate:"regex:^a\\|b$"`, "param:\"\\u00e9\"", `  param:"p"   default:"x"  `,
	} {
		for i := range fuzzFieldTypes {
			f.Add(seed, uint8(i), "5")
		}
	}
	f.Fuzz(func(t *testing.T, tag string, kind uint8, value string) {
		if tags, err := parseTag(tag); err == nil {
			st := reflect.StructTag(tag)
			for k, v := range tags {
				if got, ok := st.Lookup(k); !ok || got != v {
					t.Fatalf("tag %q: parseTag gives %s=%q, reflect gives %q (%v)", tag, k, v, got, ok)
				}
			}
		}
		ft := fuzzFieldTypes[int(kind)%len(fuzzFieldTypes)]
		typ := reflect.StructOf([]reflect.StructField{{Name: "F", Type: ft, Tag: reflect.StructTag(tag)}})
		s, err := StructOf(typ)
		if err != nil {
			return
		}
		set, err := Compile(s.Inputs())
		if err != nil {
			t.Fatalf("tag %q on %s: StructOf accepted what Compile refuses: %v", tag, ft, err)
		}
		for _, f := range s.Fields() {
			p, err := set.Process(context.Background(), map[string]any{f.Param: value})
			if err != nil {
				continue
			}
			dst := reflect.New(typ)
			if err := s.Bind(p, dst.Interface()); err != nil {
				t.Fatalf("tag %q on %s: Bind of processed params %v: %v", tag, ft, p, err)
			}
			if _, err := s.Params(dst.Interface()); err != nil {
				t.Fatalf("tag %q on %s: Params: %v", tag, ft, err)
			}
		}
	})
}
