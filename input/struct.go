package input

import (
	"errors"
	"fmt"
	"math"
	"reflect"
	"strconv"
	"strings"
	"time"
	"unicode"
)

// This file derives inputs from the fields of a struct: the typed form of
// actions and tasks. The tags and the field types are documented in
// doc.go, under "Typed inputs".

// The struct tags that StructOf reads.
const (
	tagParam    = "param"
	tagDefault  = "default"
	tagValidate = "validate"
	tagFormat   = "format"
	tagDesc     = "desc"
)

var ourTags = []string{tagParam, tagDefault, tagValidate, tagFormat, tagDesc}

var (
	durationType = reflect.TypeFor[time.Duration]()
	timeType     = reflect.TypeFor[time.Time]()
)

// Struct is the inputs of a struct type, derived once from its fields and
// their tags by StructOf: one Input per field. It binds the processed
// Params of a call into a value of the type (Bind), and turns a value of
// the type back into parameters (Params). It is safe for concurrent use.
type Struct struct {
	typ    reflect.Type
	fields []Field
}

// Field is one input of a Struct.
type Field struct {
	// Param is the parameter name.
	Param string
	// Name is the Go field's name; a field promoted from an embedded
	// struct is named by its path, "Page.Size".
	Name string
	// Type is the Go field's type, a pointer for an optional field.
	Type reflect.Type
	// Input is the declaration derived from the field: its Format yields
	// the field's type, its Default and Validator come from the tags.
	Input Input
	// Layout is the format tag of a time.Time field: the layout its
	// values are written in; "" for RFC 3339 or YYYY-MM-DD.
	Layout string

	index []int
	conv  *conv
}

// For returns the inputs of the struct type T; see StructOf.
func For[T any]() (*Struct, error) { return StructOf(reflect.TypeFor[T]()) }

// StructOf derives the inputs of the struct type t from its exported
// fields. A field type it cannot convert to, a malformed tag, a default
// that does not convert to the field's type, a bad validator rule, two
// fields with one parameter name, or one of its tags on an unexported
// field is an error that names the field.
func StructOf(t reflect.Type) (*Struct, error) {
	if t == nil || t.Kind() != reflect.Struct {
		return nil, fmt.Errorf("input: %v is not a struct type", t)
	}
	s := &Struct{typ: t}
	if err := s.collect(t, nil, "", map[string]string{}); err != nil {
		return nil, fmt.Errorf("input: %s: %w", t, err)
	}
	return s, nil
}

// Type is the struct type.
func (s *Struct) Type() reflect.Type { return s.typ }

// Fields lists the inputs in the order of the struct's fields.
func (s *Struct) Fields() []Field { return append([]Field(nil), s.fields...) }

// Inputs returns the declarations of the fields by parameter name, a new
// map on each call: what Action.Inputs or Definition.Inputs holds for the
// struct.
func (s *Struct) Inputs() map[string]Input {
	m := make(map[string]Input, len(s.fields))
	for _, f := range s.fields {
		m[f.Param] = f.Input
	}
	return m
}

func (s *Struct) collect(t reflect.Type, index []int, prefix string, seen map[string]string) error {
	for i := 0; i < t.NumField(); i++ {
		sf := t.Field(i)
		goName := prefix + sf.Name
		tags, err := parseTag(string(sf.Tag))
		if err != nil {
			return fmt.Errorf("field %s: %w", goName, err)
		}
		ours := ""
		for _, k := range ourTags {
			if _, ok := tags[k]; ok {
				ours = k
				break
			}
		}
		idx := append(append([]int(nil), index...), i)
		if sf.Anonymous && ours == "" {
			ft := sf.Type
			if ft.Kind() == reflect.Struct && ft != timeType {
				if err := s.collect(ft, idx, goName+".", seen); err != nil {
					return err
				}
				continue
			}
			if ft.Kind() == reflect.Pointer && ft.Elem().Kind() == reflect.Struct {
				return fmt.Errorf("field %s: an embedded pointer is not supported: embed the struct itself", goName)
			}
		}
		if !sf.IsExported() {
			if ours != "" {
				return fmt.Errorf("field %s is unexported: its %s tag has no effect", goName, ours)
			}
			continue
		}
		name, ok := tags[tagParam]
		if name == "-" {
			continue
		}
		if !ok {
			name = jsonName(tags["json"])
			if name == "" {
				name = lowerFirst(sf.Name)
			}
		}
		if strings.TrimSpace(name) == "" {
			return fmt.Errorf("field %s: empty parameter name", goName)
		}
		if other, dup := seen[name]; dup {
			return fmt.Errorf("fields %s and %s both take the parameter %q", other, goName, name)
		}
		seen[name] = goName
		f, err := newField(sf.Type, tags)
		if err != nil {
			return fmt.Errorf("field %s: %w", goName, err)
		}
		f.Param, f.Name, f.index = name, goName, idx
		s.fields = append(s.fields, f)
	}
	return nil
}

// newField builds the field of type t from its tags.
func newField(t reflect.Type, tags map[string]string) (Field, error) {
	base := t
	if base.Kind() == reflect.Pointer {
		base = base.Elem()
	}
	layout := tags[tagFormat]
	c, err := newConv(base, layout, true)
	if err != nil {
		return Field{}, err
	}
	f := Field{Type: t, conv: c, Layout: layout}
	f.Input.Description = tags[tagDesc]
	f.Input.Format = c.format
	f.Input.Validator = tags[tagValidate]
	if _, err := compileRules(f.Input.Validator); err != nil {
		return Field{}, err
	}
	if text, ok := tags[tagDefault]; ok {
		d, err := c.parseDefault(text)
		if err != nil {
			return Field{}, fmt.Errorf("default %q %v", text, err)
		}
		f.Input.Default = d
	}
	return f, nil
}

// conv is how the values of one field type are formatted, bound and
// turned back into parameters.
type conv struct {
	typ    reflect.Type // the field's type, pointer removed
	basic  reflect.Type // the type Params hold: the kind's Go type, time.Duration, time.Time, a slice of those
	elem   *conv        // the items of a slice
	format Format       // nil for an interface field: values pass as sent
	layout string       // of a time.Time
}

func newConv(t reflect.Type, layout string, top bool) (*conv, error) {
	if layout != "" && t != timeType && !(t.Kind() == reflect.Slice && t.Elem() == timeType) {
		return nil, fmt.Errorf("the format tag is a time layout, for a time.Time field; the field is a %s", t)
	}
	c := &conv{typ: t, layout: layout}
	switch {
	case t == durationType:
		c.basic, c.format = durationType, formatDuration
		return c, nil
	case t == timeType:
		c.basic, c.format = timeType, timeFormat(layout)
		return c, nil
	}
	switch k := t.Kind(); k {
	case reflect.String:
		c.basic, c.format = reflect.TypeFor[string](), String
	case reflect.Bool:
		c.basic, c.format = reflect.TypeFor[bool](), Boolean
	case reflect.Int64:
		c.basic, c.format = reflect.TypeFor[int64](), Integer
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32:
		c.basic = kindType(k)
		c.format = intFormat(c.basic)
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		c.basic = kindType(k)
		c.format = uintFormat(c.basic)
	case reflect.Float64:
		c.basic, c.format = reflect.TypeFor[float64](), Float
	case reflect.Float32:
		c.basic, c.format = reflect.TypeFor[float32](), formatFloat32
	case reflect.Interface:
		if t.NumMethod() != 0 {
			return nil, fmt.Errorf("type %s is not supported: an interface field must be any", t)
		}
		c.basic = t
	case reflect.Slice:
		if !top {
			return nil, fmt.Errorf("type %s is not supported: a list holds strings, numbers, booleans, durations or times", t)
		}
		if t.Elem().Kind() == reflect.Uint8 {
			return nil, fmt.Errorf("type %s is not supported: use a string", t)
		}
		elem, err := newConv(t.Elem(), layout, false)
		if err != nil {
			return nil, err
		}
		c.elem = elem
		c.basic = reflect.SliceOf(elem.basic)
		c.format = c.formatList
	default:
		return nil, fmt.Errorf("type %s is not supported: use a string, a number, a bool, a time.Duration, a time.Time, any, a slice of one of those, or a pointer to one", t)
	}
	return c, nil
}

// kindType is the Go type of a basic kind.
func kindType(k reflect.Kind) reflect.Type {
	switch k {
	case reflect.Int:
		return reflect.TypeFor[int]()
	case reflect.Int8:
		return reflect.TypeFor[int8]()
	case reflect.Int16:
		return reflect.TypeFor[int16]()
	case reflect.Int32:
		return reflect.TypeFor[int32]()
	case reflect.Uint:
		return reflect.TypeFor[uint]()
	case reflect.Uint8:
		return reflect.TypeFor[uint8]()
	case reflect.Uint16:
		return reflect.TypeFor[uint16]()
	case reflect.Uint32:
		return reflect.TypeFor[uint32]()
	}
	return reflect.TypeFor[uint64]()
}

// intFormat formats an integer of a signed type narrower than int64 (or
// int), refusing values out of its range.
func intFormat(t reflect.Type) Format {
	bits := t.Bits()
	lo, hi := int64(-1)<<(bits-1), int64(1)<<(bits-1)-1
	rangeErr := fmt.Errorf("must be an integer between %d and %d", lo, hi)
	return func(v any) (any, error) {
		n, err := formatInteger(v)
		if err != nil {
			return nil, err
		}
		i := n.(int64)
		if i < lo || i > hi {
			return nil, rangeErr
		}
		return reflect.ValueOf(i).Convert(t).Interface(), nil
	}
}

// uintFormat formats an unsigned integer, refusing negative values and
// those out of the type's range (at most math.MaxInt64, as Integer).
func uintFormat(t reflect.Type) Format {
	hi := uint64(math.MaxInt64)
	if t.Bits() < 64 {
		hi = 1<<t.Bits() - 1
	}
	rangeErr := fmt.Errorf("must be an integer between 0 and %d", hi)
	return func(v any) (any, error) {
		n, err := formatInteger(v)
		if err != nil {
			return nil, err
		}
		i := n.(int64)
		if i < 0 || uint64(i) > hi {
			return nil, rangeErr
		}
		return reflect.ValueOf(uint64(i)).Convert(t).Interface(), nil
	}
}

func formatFloat32(v any) (any, error) {
	f, err := formatFloat(v)
	if err != nil {
		return nil, err
	}
	x := f.(float64)
	if math.Abs(x) > math.MaxFloat32 {
		return nil, fmt.Errorf("must be a number between %g and %g", -math.MaxFloat32, math.MaxFloat32)
	}
	return float32(x), nil
}

var errDuration = errors.New("must be a duration such as 1.5s, 20m or 1h30m")

// formatDuration accepts time.Duration values and Go duration strings. A
// bare number is refused: it has no unit.
func formatDuration(v any) (any, error) {
	switch x := v.(type) {
	case time.Duration:
		return x, nil
	case string:
		if d, err := time.ParseDuration(strings.TrimSpace(x)); err == nil {
			return d, nil
		}
	}
	return nil, errDuration
}

// timeFormat accepts time.Time values and strings: in layout, or without
// one in RFC 3339 or YYYY-MM-DD, as the date rule.
func timeFormat(layout string) Format {
	msg := errors.New("must be a valid date (RFC 3339 or YYYY-MM-DD)")
	if layout != "" {
		msg = fmt.Errorf("must be a time in the layout %s", layout)
	}
	return func(v any) (any, error) {
		switch x := v.(type) {
		case time.Time:
			return x, nil
		case string:
			s := strings.TrimSpace(x)
			if layout == "" {
				if t, ok := parseDate(s); ok {
					return t, nil
				}
			} else if t, err := time.Parse(layout, s); err == nil {
				return t, nil
			}
		}
		return nil, msg
	}
}

// formatList formats a list: each item with the item format. A value
// that is not a list is a list of one, as a query string sends a key
// given once.
func (c *conv) formatList(v any) (any, error) {
	items := []any{v}
	if rv := reflect.ValueOf(v); v != nil && (rv.Kind() == reflect.Slice || rv.Kind() == reflect.Array) {
		items = make([]any, rv.Len())
		for i := range items {
			items[i] = rv.Index(i).Interface()
		}
	}
	out := reflect.MakeSlice(c.basic, len(items), len(items))
	for i, it := range items {
		if c.elem.format != nil {
			fv, err := c.elem.format(it)
			if err != nil {
				return nil, fmt.Errorf("item %d %s", i+1, err.Error())
			}
			it = fv
		}
		if it != nil {
			out.Index(i).Set(reflect.ValueOf(it))
		}
	}
	return out.Interface(), nil
}

// parseDefault converts a default tag: a list's items are separated by
// commas.
func (c *conv) parseDefault(text string) (any, error) {
	if c.format == nil {
		return text, nil
	}
	if c.elem != nil {
		var items []any
		if strings.TrimSpace(text) != "" {
			for _, it := range strings.Split(text, ",") {
				items = append(items, strings.TrimSpace(it))
			}
		}
		return c.format(items)
	}
	return c.format(text)
}

// bind stores v, a processed parameter, in dst, a settable value of the
// field's type (pointer included).
func (c *conv) bind(dst reflect.Value, v any) error {
	if dst.Kind() == reflect.Pointer && c.typ.Kind() != reflect.Pointer {
		p := reflect.New(c.typ)
		if err := c.bind(p.Elem(), v); err != nil {
			return err
		}
		dst.Set(p)
		return nil
	}
	if c.format != nil && (v == nil || reflect.TypeOf(v) != c.basic) {
		// Not what the field's Format gives: the action's Inputs or a
		// middleware changed it. Format it again.
		fv, err := c.format(v)
		if err != nil {
			return err
		}
		v = fv
	}
	if v == nil {
		return nil
	}
	rv := reflect.ValueOf(v)
	if c.elem != nil {
		out := reflect.MakeSlice(c.typ, rv.Len(), rv.Len())
		for i := 0; i < rv.Len(); i++ {
			if err := c.elem.bind(out.Index(i), rv.Index(i).Interface()); err != nil {
				return fmt.Errorf("item %d %s", i+1, err.Error())
			}
		}
		dst.Set(out)
		return nil
	}
	if c.format == nil {
		dst.Set(rv)
		return nil
	}
	dst.Set(rv.Convert(c.typ))
	return nil
}

// param turns a field value (pointer removed) into the parameter that
// formats back to it.
func (c *conv) param(v reflect.Value) any {
	switch {
	case c.typ == durationType:
		return time.Duration(v.Int()).String()
	case c.typ == timeType:
		layout := c.layout
		if layout == "" {
			layout = time.RFC3339Nano
		}
		return v.Interface().(time.Time).Format(layout)
	case c.elem != nil:
		if v.IsNil() {
			return nil
		}
		items := make([]any, v.Len())
		for i := range items {
			items[i] = c.elem.param(v.Index(i))
		}
		return items
	case c.format == nil:
		return v.Interface()
	}
	return v.Convert(c.basic).Interface()
}

// Bind stores the parameters p, as Process returned them, in the fields
// of dst, a pointer to the struct type. A missing parameter leaves its
// field alone: the zero value, or nil for a pointer. A value that is not
// of the field's type (a middleware or a changed Format put it there) is
// formatted again; when that fails, Bind returns a validation_failed
// *apierror.Error, as Process does.
func (s *Struct) Bind(p Params, dst any) error {
	rv := reflect.ValueOf(dst)
	if rv.Kind() != reflect.Pointer || rv.IsNil() || rv.Elem().Type() != s.typ {
		return fmt.Errorf("input: Bind needs a non-nil *%s, got %T", s.typ, dst)
	}
	root := rv.Elem()
	var fields map[string]string
	for _, f := range s.fields {
		v, ok := p[f.Param]
		if !ok || v == nil {
			continue
		}
		if err := f.conv.bind(root.FieldByIndex(f.index), v); err != nil {
			if fields == nil {
				fields = make(map[string]string)
			}
			fields[f.Param] = err.Error()
		}
	}
	if fields != nil {
		return validationError(fields)
	}
	return nil
}

// Params returns the parameters of v, a value of the struct type or a
// pointer to one, by parameter name: what a caller sends so that the
// inputs bind back to v. Durations and times are sent as text; a nil
// pointer field is left out.
func (s *Struct) Params(v any) (Params, error) {
	rv := reflect.ValueOf(v)
	if rv.Kind() == reflect.Pointer && !rv.IsNil() {
		rv = rv.Elem()
	}
	if !rv.IsValid() || rv.Type() != s.typ {
		if rv.IsValid() && rv.Kind() == reflect.Pointer && rv.Type().Elem() == s.typ {
			return Params{}, nil // a nil *T
		}
		return nil, fmt.Errorf("input: Params needs a %s, got %T", s.typ, v)
	}
	p := make(Params, len(s.fields))
	for _, f := range s.fields {
		fv := rv.FieldByIndex(f.index)
		if fv.Kind() == reflect.Pointer && f.conv.typ.Kind() != reflect.Pointer {
			if fv.IsNil() {
				continue
			}
			fv = fv.Elem()
		}
		p[f.Param] = f.conv.param(fv)
	}
	return p, nil
}

// jsonName is the name part of a json tag, "" for none or "-".
func jsonName(tag string) string {
	name, _, _ := strings.Cut(tag, ",")
	if name == "-" {
		return ""
	}
	return name
}

// lowerFirst lower-cases the leading capitals of a Go name, keeping the
// last one of a run that starts a word: Name → name, ID → id, UserID →
// userID, HTTPPort → httpPort.
func lowerFirst(name string) string {
	r := []rune(name)
	n := 0
	for n < len(r) && unicode.IsUpper(r[n]) {
		n++
	}
	if n > 1 && n < len(r) {
		n--
	}
	for i := 0; i < n; i++ {
		r[i] = unicode.ToLower(r[i])
	}
	return string(r)
}

// parseTag parses a struct tag in the conventional form of
// reflect.StructTag: key:"value" pairs separated by spaces, each value a
// Go string literal. Unlike StructTag.Get, it reports a malformed tag
// instead of ignoring the rest of it, and one of this package's keys
// given twice.
func parseTag(tag string) (map[string]string, error) {
	out := map[string]string{}
	for {
		tag = strings.TrimLeft(tag, " ")
		if tag == "" {
			return out, nil
		}
		i := 0
		for i < len(tag) && tag[i] > ' ' && tag[i] != ':' && tag[i] != '"' && tag[i] != 0x7f {
			i++
		}
		if i == 0 || i+1 >= len(tag) || tag[i] != ':' || tag[i+1] != '"' {
			return nil, fmt.Errorf("malformed struct tag at %q: want key:\"value\" pairs separated by spaces", tag)
		}
		key := tag[:i]
		tag = tag[i+1:]
		i = 1
		for i < len(tag) && tag[i] != '"' {
			if tag[i] == '\\' {
				i++
			}
			i++
		}
		if i >= len(tag) {
			return nil, fmt.Errorf("malformed struct tag: the value of %s is not terminated", key)
		}
		value, err := strconv.Unquote(tag[:i+1])
		if err != nil {
			return nil, fmt.Errorf("malformed struct tag: the value of %s: %w", key, err)
		}
		tag = tag[i+1:]
		if tag != "" && tag[0] != ' ' {
			return nil, fmt.Errorf("malformed struct tag at %q: want a space after the value of %s", tag, key)
		}
		if _, dup := out[key]; dup {
			for _, k := range ourTags {
				if k == key {
					return nil, fmt.Errorf("struct tag key %s appears twice", key)
				}
			}
		}
		if _, dup := out[key]; !dup {
			out[key] = value // reflect.StructTag.Get takes the first
		}
	}
}
