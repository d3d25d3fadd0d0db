package openapi

import (
	"context"
	"encoding"
	"encoding/json"
	"fmt"
	"math"
	"reflect"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/stellarfw/stellar-go/input"
	"github.com/stellarfw/stellar-go/internal/jsonfields"
)

var (
	durationType      = reflect.TypeFor[time.Duration]()
	timeType          = reflect.TypeFor[time.Time]()
	marshalerType     = reflect.TypeFor[json.Marshaler]()
	textMarshalerType = reflect.TypeFor[encoding.TextMarshaler]()
)

// ---- inputs

// inputSchema describes one input as a client sends it, and whether it
// is required. f is the field of a typed action's In, nil for the map
// form.
func inputSchema(in input.Input, f *input.Field) (*Schema, bool) {
	var s *Schema
	layout := ""
	if f != nil {
		layout = f.Layout
		s = fieldSchema(f.Type, layout)
	} else {
		s = formatSchema(in.Format)
	}
	rules, _ := input.Rules(in.Validator) // Register compiled them
	required := in.Required
	for _, r := range rules {
		if r.Name == "required" {
			required = true
		}
	}
	applyRules(s, rules)
	if d, ok := defaultValue(in, layout); ok {
		s.Default = d
		required = false
	}
	if d := describeInput(in); d != "" {
		if s.Description != "" {
			d += "\n\n" + s.Description
		}
		s.Description = d
	}
	return s, required
}

func describeInput(in input.Input) string {
	d := in.Description
	if v := strings.TrimSpace(in.Validator); v != "" {
		if d != "" {
			d += "\n\n"
		}
		d += "Validator: `" + v + "`"
	}
	return d
}

// sameFunc reports whether two formats are the same function.
func sameFunc(a, b input.Format) bool {
	return a != nil && b != nil && reflect.ValueOf(a).Pointer() == reflect.ValueOf(b).Pointer()
}

// formatSchema is the type a map-form input's Format gives: the built-in
// formats map onto JSON types, a function of one's own onto none.
func formatSchema(f input.Format) *Schema {
	switch {
	case sameFunc(f, input.String):
		return &Schema{Type: "string"}
	case sameFunc(f, input.Integer):
		return &Schema{Type: "integer", Format: "int64"}
	case sameFunc(f, input.Float):
		return &Schema{Type: "number", Format: "double"}
	case sameFunc(f, input.Boolean):
		return &Schema{Type: "boolean"}
	}
	return &Schema{}
}

// fieldSchema is the type of a typed input's field, as a client sends
// it.
func fieldSchema(t reflect.Type, layout string) *Schema {
	if t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch t {
	case durationType:
		return &Schema{Type: "string", Description: "a duration", Examples: []any{"1m30s"}}
	case timeType:
		switch layout {
		case "":
			return &Schema{Type: "string", AnyOf: []*Schema{{Format: "date-time"}, {Format: "date"}}}
		case time.DateOnly:
			return &Schema{Type: "string", Format: "date"}
		case time.RFC3339, time.RFC3339Nano:
			return &Schema{Type: "string", Format: "date-time"}
		}
		return &Schema{Type: "string", Examples: []any{time.Date(2006, 1, 2, 15, 4, 5, 0, time.UTC).Format(layout)}}
	}
	switch t.Kind() {
	case reflect.Slice:
		return &Schema{Type: "array", Items: fieldSchema(t.Elem(), layout)}
	case reflect.Interface:
		return &Schema{}
	}
	return basicSchema(t)
}

// basicSchema is the schema of a string, bool or number kind, with the
// range of the narrower integers.
func basicSchema(t reflect.Type) *Schema {
	switch k := t.Kind(); k {
	case reflect.String:
		return &Schema{Type: "string"}
	case reflect.Bool:
		return &Schema{Type: "boolean"}
	case reflect.Int, reflect.Int64:
		return &Schema{Type: "integer", Format: "int64"}
	case reflect.Int8, reflect.Int16, reflect.Int32:
		lo, hi := int64(-1)<<(t.Bits()-1), int64(1)<<(t.Bits()-1)-1
		return &Schema{Type: "integer", Format: "int32", Minimum: intNumber(lo), Maximum: intNumber(hi)}
	case reflect.Uint8, reflect.Uint16, reflect.Uint32:
		s := &Schema{Type: "integer", Format: "int64", Minimum: "0", Maximum: intNumber(1<<t.Bits() - 1)}
		if k != reflect.Uint32 {
			s.Format = "int32"
		}
		return s
	case reflect.Uint, reflect.Uint64, reflect.Uintptr:
		return &Schema{Type: "integer", Format: "int64", Minimum: "0"}
	case reflect.Float32:
		return &Schema{Type: "number", Format: "float"}
	case reflect.Float64:
		return &Schema{Type: "number", Format: "double"}
	}
	return &Schema{}
}

func intNumber(n int64) json.Number { return json.Number(strconv.FormatInt(n, 10)) }

// applyRules adds what the validator rules say that JSON Schema says
// simply: a type, sizes, enums, patterns and formats. The rest is in the
// description.
func applyRules(s *Schema, rules []input.Rule) {
	numeric := false
	for _, r := range rules {
		if r.Name == "numeric" || r.Name == "integer" {
			numeric = true
		}
	}
	if s.Type == nil {
		for _, r := range rules {
			switch r.Name {
			case "integer":
				s.Type = "integer"
			case "numeric":
				if s.Type == nil {
					s.Type = "number"
				}
			case "boolean":
				s.Type = "boolean"
			case "array":
				s.Type = "array"
			case "string", "email", "url", "ip", "json", "date":
				if !numeric {
					s.Type = "string"
				}
			}
		}
	}
	target := s
	if s.typeName() == "array" && s.Items != nil {
		target = s.Items // in and not_in look at each item
	}
	for _, r := range rules {
		switch r.Name {
		case "min", "max", "size", "between":
			applySize(s, r, numeric)
		case "in":
			if e := enumOf(target.typeName(), r.Args); e != nil {
				target.Enum = e
			}
		case "not_in":
			if e := enumOf(target.typeName(), r.Args); e != nil {
				target.Not = &Schema{Enum: e}
			}
		case "regex":
			if stringish(s) && s.Pattern == "" && simplePattern(r.Args[0]) {
				s.Pattern = r.Args[0]
			}
		case "digits", "digits_between":
			if stringish(s) && s.Pattern == "" {
				s.Pattern = "^[0-9]{" + strings.Join(r.Args, ",") + "}$"
			}
		case "email":
			if s.typeName() == "string" {
				s.Format = "email"
			}
		case "url":
			if s.typeName() == "string" {
				s.Format = "uri"
			}
		case "ip":
			if s.typeName() == "string" && s.AnyOf == nil {
				s.AnyOf = []*Schema{{Format: "ipv4"}, {Format: "ipv6"}}
			}
		case "date":
			if s.typeName() == "string" && s.AnyOf == nil && s.Format == "" {
				s.AnyOf = []*Schema{{Format: "date-time"}, {Format: "date"}}
			}
		case "json":
			if s.typeName() == "string" {
				s.ContentMediaType = "application/json"
			}
		}
	}
}

// stringish reports whether s may hold strings, for the keywords that
// only constrain strings.
func stringish(s *Schema) bool { return s.Type == nil || s.typeName() == "string" }

// applySize maps min, max, size and between onto the bounds of the
// schema's type.
func applySize(s *Schema, r input.Rule, numeric bool) {
	bounds := make([]float64, len(r.Args))
	for i, a := range r.Args {
		f, err := strconv.ParseFloat(a, 64)
		if err != nil {
			return
		}
		bounds[i] = f
	}
	lo, hi, hasLo, hasHi := 0.0, 0.0, false, false
	switch r.Name {
	case "min":
		lo, hasLo = bounds[0], true
	case "max":
		hi, hasHi = bounds[0], true
	case "size":
		lo, hi, hasLo, hasHi = bounds[0], bounds[0], true, true
	case "between":
		lo, hi, hasLo, hasHi = bounds[0], bounds[1], true, true
	}
	typ := s.typeName()
	if numeric && typ == "" {
		typ = "number"
	}
	switch typ {
	case "integer", "number":
		if hasLo {
			s.Minimum = json.Number(strconv.FormatFloat(lo, 'g', -1, 64))
		}
		if hasHi {
			s.Maximum = json.Number(strconv.FormatFloat(hi, 'g', -1, 64))
		}
	case "string":
		setLength(s, lo, hi, hasLo, hasHi)
	case "array":
		setItems(s, lo, hi, hasLo, hasHi)
	case "":
		// Any type: a string is sized by its length, a number by its
		// value, a list by its items, and each JSON Schema keyword
		// applies to its own type only.
		setLength(s, lo, hi, hasLo, hasHi)
		setItems(s, lo, hi, hasLo, hasHi)
		if hasLo {
			s.Minimum = json.Number(strconv.FormatFloat(lo, 'g', -1, 64))
		}
		if hasHi {
			s.Maximum = json.Number(strconv.FormatFloat(hi, 'g', -1, 64))
		}
	}
}

func setLength(s *Schema, lo, hi float64, hasLo, hasHi bool) {
	if hasLo {
		s.MinLength = count(math.Ceil(lo))
	}
	if hasHi {
		s.MaxLength = count(math.Floor(hi))
	}
}

func setItems(s *Schema, lo, hi float64, hasLo, hasHi bool) {
	if hasLo {
		s.MinItems = count(math.Ceil(lo))
	}
	if hasHi {
		s.MaxItems = count(math.Floor(hi))
	}
}

func count(f float64) *int {
	n := int(max(f, 0))
	return &n
}

// enumOf converts the values of in or not_in to the schema's type; nil
// when one does not convert.
func enumOf(typ string, values []string) []any {
	out := make([]any, len(values))
	for i, v := range values {
		switch typ {
		case "integer":
			n, err := strconv.ParseInt(v, 10, 64)
			if err != nil {
				return nil
			}
			out[i] = n
		case "number":
			f, err := strconv.ParseFloat(v, 64)
			if err != nil || math.IsInf(f, 0) || math.IsNaN(f) {
				return nil
			}
			out[i] = f
		case "boolean":
			b, err := input.Boolean(v)
			if err != nil {
				return nil
			}
			out[i] = b
		case "string", "":
			out[i] = v
		default:
			return nil
		}
	}
	return out
}

// simplePattern reports whether an RE2 pattern means the same in
// ECMA-262, the regex dialect of JSON Schema: no flags, named groups or
// classes that only RE2 has.
var nonECMA = regexp.MustCompile(`\(\?|\\[pPzAQE]|\[\[:`)

func simplePattern(p string) bool { return !nonECMA.MatchString(p) }

// defaultValue is an input's default as JSON shows it: formatted with a
// built-in format, durations and times as text. A DefaultFunc has none.
func defaultValue(in input.Input, layout string) (any, bool) {
	d := in.Default
	switch d.(type) {
	case nil, input.DefaultFunc, func(context.Context) any:
		return nil, false
	}
	for _, f := range []input.Format{input.String, input.Integer, input.Float, input.Boolean} {
		if sameFunc(in.Format, f) {
			if v, err := f(d); err == nil {
				d = v
			}
		}
	}
	v := jsonValue(reflect.ValueOf(d), layout)
	if _, err := json.Marshal(v); err != nil {
		return nil, false
	}
	return v, true
}

// jsonValue writes durations and times as a client sends them.
func jsonValue(v reflect.Value, layout string) any {
	switch {
	case !v.IsValid():
		return nil
	case v.Type() == durationType:
		return time.Duration(v.Int()).String()
	case v.Type() == timeType:
		if layout == "" {
			layout = time.RFC3339Nano
		}
		return v.Interface().(time.Time).Format(layout)
	case v.Kind() == reflect.Slice && (v.Type().Elem() == durationType || v.Type().Elem() == timeType):
		out := make([]any, v.Len())
		for i := range out {
			out[i] = jsonValue(v.Index(i), layout)
		}
		return out
	}
	return v.Interface()
}

// ---- outputs

// schemas builds the schemas of Go types as encoding/json writes them,
// named struct types as components.
type schemas struct {
	defs  map[string]*Schema
	names map[reflect.Type]string
}

func newSchemas() *schemas {
	return &schemas{defs: map[string]*Schema{}, names: map[reflect.Type]string{}}
}

// of returns the schema of t's JSON encoding.
func (c *schemas) of(t reflect.Type) *Schema {
	if t.Kind() == reflect.Pointer {
		return nullable(c.of(t.Elem()))
	}
	switch {
	case t == timeType:
		return &Schema{Type: "string", Format: "date-time"}
	case t == durationType:
		return &Schema{Type: "integer", Format: "int64", Description: "a duration in nanoseconds"}
	case t.Implements(marshalerType) || reflect.PointerTo(t).Implements(marshalerType):
		return &Schema{}
	case t.Implements(textMarshalerType) || reflect.PointerTo(t).Implements(textMarshalerType):
		return &Schema{Type: "string"}
	}
	switch t.Kind() {
	case reflect.Struct:
		return c.object(t)
	case reflect.Slice, reflect.Array:
		if t.Elem().Kind() == reflect.Uint8 && t.Kind() == reflect.Slice {
			return &Schema{Type: "string", ContentEncoding: "base64"}
		}
		return &Schema{Type: "array", Items: c.of(t.Elem())}
	case reflect.Map:
		return &Schema{Type: "object", AdditionalProperties: c.of(t.Elem())}
	case reflect.Interface:
		return &Schema{}
	}
	s := basicSchema(t)
	s.Minimum, s.Maximum = "", "" // an output's range says nothing
	if t.Kind() >= reflect.Uint && t.Kind() <= reflect.Uintptr {
		s.Minimum = "0"
	}
	return s
}

// object is the schema of a struct: a component for a named type.
func (c *schemas) object(t reflect.Type) *Schema {
	if t.Name() == "" {
		return c.build(t)
	}
	if name, ok := c.names[t]; ok {
		return &Schema{Ref: ref("schemas", name)}
	}
	name := c.name(t)
	c.names[t] = name
	c.defs[name] = &Schema{} // taken, for recursive types
	c.defs[name] = c.build(t)
	return &Schema{Ref: ref("schemas", name)}
}

func (c *schemas) build(t reflect.Type) *Schema {
	s := &Schema{Type: "object", Properties: map[string]*Schema{}}
	for _, f := range jsonfields.Of(t) {
		ps := c.of(f.Type)
		if f.Quoted {
			ps = &Schema{Type: "string", Description: "a " + f.Type.Kind().String() + " written as a string"}
		}
		s.Properties[f.Name] = ps
		if !f.OmitEmpty && !f.OmitZero {
			s.Required = append(s.Required, f.Name)
		}
	}
	return s
}

var componentName = regexp.MustCompile(`[^A-Za-z0-9._-]+`)

// name gives t a component name of its own: its Go name, qualified by its
// package when another type took it.
func (c *schemas) name(t reflect.Type) string {
	base := componentName.ReplaceAllString(t.Name(), "_")
	if _, taken := c.defs[base]; !taken {
		return base
	}
	pkg := t.PkgPath()
	pkg = pkg[strings.LastIndex(pkg, "/")+1:]
	qualified := componentName.ReplaceAllString(pkg, "_") + "." + base
	name := qualified
	for i := 2; ; i++ {
		if _, taken := c.defs[name]; !taken {
			return name
		}
		name = fmt.Sprintf("%s%d", qualified, i)
	}
}

// nullable adds null to the values of s.
func nullable(s *Schema) *Schema {
	if t := s.typeName(); t != "" && s.Ref == "" {
		s.Type = []string{t, "null"}
		return s
	}
	if s.Type == nil && s.Ref == "" && len(s.AnyOf) == 0 && s.Format == "" {
		return s // any value already
	}
	return &Schema{AnyOf: []*Schema{s, {Type: "null"}}}
}
