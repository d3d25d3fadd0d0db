// Package jsonfields lists the fields of a struct type as encoding/json
// encodes them: names from json tags, embedded structs promoted, the
// dominant field kept when names collide, omitempty, omitzero and the
// string option. Package action uses it to merge a typed action's output
// into its response, and package openapi to describe that output.
package jsonfields

import (
	"reflect"
	"sort"
	"strings"
	"unicode"
)

// Field is one field of a struct as encoding/json encodes it.
type Field struct {
	// Name is the JSON object key.
	Name string
	// Index is the path to the field, for reflect.Value.FieldByIndex.
	Index []int
	// Type is the field's Go type.
	Type reflect.Type
	// OmitEmpty and OmitZero are the tag's omitempty and omitzero.
	OmitEmpty, OmitZero bool
	// Quoted is the tag's string option, on a field it applies to: the
	// value is encoded inside a JSON string.
	Quoted bool
	// Hidden is set for a field promoted through an unexported embedded
	// struct: encoding/json encodes it, but reflect cannot read it
	// (Value.Interface panics).
	Hidden bool

	tagged bool
}

// Of returns the fields encoding/json encodes for the struct type t, in
// the order it encodes them. It returns nil for a type that is not a
// struct.
func Of(t reflect.Type) []Field {
	if t == nil || t.Kind() != reflect.Struct {
		return nil
	}
	type level struct {
		typ    reflect.Type
		index  []int
		hidden bool
	}
	var all []Field
	next := []level{{typ: t}}
	visited := map[reflect.Type]bool{}
	for len(next) > 0 {
		current := next
		next = nil
		count := map[reflect.Type]int{}
		for _, l := range current {
			count[l.typ]++
		}
		for _, l := range current {
			if visited[l.typ] {
				continue
			}
			visited[l.typ] = true
			for i := 0; i < l.typ.NumField(); i++ {
				sf := l.typ.Field(i)
				if sf.Anonymous {
					et := sf.Type
					if et.Kind() == reflect.Pointer {
						et = et.Elem()
					}
					if !sf.IsExported() && et.Kind() != reflect.Struct {
						continue
					}
				} else if !sf.IsExported() {
					continue
				}
				tag := sf.Tag.Get("json")
				if tag == "-" {
					continue
				}
				name, opts, _ := strings.Cut(tag, ",")
				if !validName(name) {
					name = ""
				}
				index := append(append([]int(nil), l.index...), i)
				ft := sf.Type
				if ft.Name() == "" && ft.Kind() == reflect.Pointer {
					ft = ft.Elem()
				}
				if name != "" || !sf.Anonymous || ft.Kind() != reflect.Struct {
					f := Field{
						Name: name, Index: index, Type: sf.Type, tagged: name != "",
						OmitEmpty: hasOpt(opts, "omitempty"), OmitZero: hasOpt(opts, "omitzero"),
						Quoted: hasOpt(opts, "string") && quotable(ft), Hidden: l.hidden,
					}
					if f.Name == "" {
						f.Name = sf.Name
					}
					all = append(all, f)
					if count[l.typ] > 1 {
						// The struct appears twice at this depth: its
						// fields cancel out, as in encoding/json.
						all = append(all, f)
					}
					continue
				}
				next = append(next, level{typ: ft, index: index, hidden: l.hidden || !sf.IsExported()})
			}
		}
	}
	sort.SliceStable(all, func(i, j int) bool {
		a, b := all[i], all[j]
		if a.Name != b.Name {
			return a.Name < b.Name
		}
		if len(a.Index) != len(b.Index) {
			return len(a.Index) < len(b.Index)
		}
		if a.tagged != b.tagged {
			return a.tagged
		}
		return lessIndex(a.Index, b.Index)
	})
	var out []Field
	for i := 0; i < len(all); {
		j := i + 1
		for j < len(all) && all[j].Name == all[i].Name {
			j++
		}
		group := all[i:j]
		if len(group) == 1 || len(group[0].Index) < len(group[1].Index) || group[0].tagged != group[1].tagged {
			out = append(out, group[0])
		}
		i = j
	}
	sort.Slice(out, func(i, j int) bool { return lessIndex(out[i].Index, out[j].Index) })
	return out
}

// Value returns the field in v, a value of the struct type, and false
// when an embedded pointer on the way is nil, so that the field is not
// encoded.
func (f Field) Value(v reflect.Value) (reflect.Value, bool) {
	for i, x := range f.Index {
		if i > 0 && v.Kind() == reflect.Pointer {
			if v.IsNil() {
				return reflect.Value{}, false
			}
			v = v.Elem()
		}
		v = v.Field(x)
	}
	return v, true
}

// Omit reports whether encoding/json leaves the field's value v out.
func (f Field) Omit(v reflect.Value) bool {
	if f.OmitEmpty && isEmpty(v) {
		return true
	}
	if f.OmitZero {
		if z, ok := v.Interface().(interface{ IsZero() bool }); ok {
			if v.Kind() == reflect.Pointer && v.IsNil() {
				return true
			}
			return z.IsZero()
		}
		return v.IsZero()
	}
	return false
}

func isEmpty(v reflect.Value) bool {
	switch v.Kind() {
	case reflect.Array, reflect.Map, reflect.Slice, reflect.String:
		return v.Len() == 0
	case reflect.Bool, reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr,
		reflect.Float32, reflect.Float64, reflect.Interface, reflect.Pointer:
		return v.IsZero()
	}
	return false
}

func quotable(t reflect.Type) bool {
	switch t.Kind() {
	case reflect.Bool, reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr,
		reflect.Float32, reflect.Float64, reflect.String:
		return true
	}
	return false
}

func hasOpt(opts, name string) bool {
	for opts != "" {
		var o string
		o, opts, _ = strings.Cut(opts, ",")
		if o == name {
			return true
		}
	}
	return false
}

// validName is encoding/json's test of a tag name.
func validName(s string) bool {
	if s == "" {
		return false
	}
	for _, c := range s {
		switch {
		case strings.ContainsRune("!#$%&()*+-./:;<=>?@[]^_{|}~ ", c):
		case !unicode.IsLetter(c) && !unicode.IsDigit(c):
			return false
		}
	}
	return true
}

func lessIndex(a, b []int) bool {
	for i := range a {
		if i >= len(b) {
			return false
		}
		if a[i] != b[i] {
			return a[i] < b[i]
		}
	}
	return len(a) < len(b)
}
