package config

import (
	"errors"
	"fmt"
	"maps"
	"math"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"
)

// ErrUnknownKey is matched (with errors.Is) by the error for a key that
// Config does not have.
var ErrUnknownKey = errors.New("config: unknown key")

// Error is a problem with the value of one key.
type Error struct {
	// Source is where the value came from: a file name, an environment
	// variable, "command line", or "" when unknown.
	Source string
	// Key is the full dotted key, such as "http.read_timeout" or
	// "http.routes[0].method".
	Key string
	// Err says what is wrong.
	Err error
}

func (e *Error) Error() string {
	src := ""
	if e.Source != "" {
		src = e.Source + ": "
	}
	var u *unknownKeyError
	if errors.As(e.Err, &u) {
		return fmt.Sprintf("config: %sunknown key %q%s", src, e.Key, u.hint)
	}
	return fmt.Sprintf("config: %skey %q: %v", src, e.Key, e.Err)
}

func (e *Error) Unwrap() error { return e.Err }

// unknownKeyError is the Err of an Error for an unknown key; hint is a
// did-you-mean suggestion, with its leading space, or "".
type unknownKeyError struct{ hint string }

func (e *unknownKeyError) Error() string        { return "unknown key" + e.hint }
func (e *unknownKeyError) Is(target error) bool { return target == ErrUnknownKey }

// sourceFlags is the Source of errors in values given as flags.
const sourceFlags = "command line"

var durationType = reflect.TypeFor[time.Duration]()

// Words used in "expected …" messages, shared by every format.
const (
	wantString   = "a string"
	wantBool     = "a boolean"
	wantInt      = "an integer"
	wantNumber   = "a number"
	wantDuration = `a duration such as "30s"`
	wantStrings  = "a list of strings"
	wantTables   = "a list of tables"
	wantTable    = "a table"
)

// field is one leaf key of Config: a value that is not a table.
type field struct {
	key    string // dotted key, such as "http.read_timeout"
	env    string // environment variable
	secret string // the secret tag: "", "true" or "password"
	index  []int  // for reflect.Value.FieldByIndex
	typ    reflect.Type
}

// leaves lists the leaf keys of Config in declaration order.
var leaves = sync.OnceValue(func() []field {
	return walk(reflect.TypeFor[Config](), "", nil)
})

func walk(t reflect.Type, prefix string, index []int) []field {
	var out []field
	for i := range t.NumField() {
		sf := t.Field(i)
		name, ok := sf.Tag.Lookup("key")
		if !ok || !sf.IsExported() {
			continue
		}
		key := prefix + name
		idx := append(slices.Clone(index), i)
		if sf.Type.Kind() == reflect.Struct {
			out = append(out, walk(sf.Type, key+".", idx)...)
			continue
		}
		env := sf.Tag.Get("env")
		if env == "" {
			env = "STELLAR_" + strings.ToUpper(strings.ReplaceAll(key, ".", "_"))
		}
		out = append(out, field{key: key, env: env, secret: sf.Tag.Get("secret"), index: idx, typ: sf.Type})
	}
	return out
}

// leaf returns the leaf field with the given key.
func leaf(key string) (field, bool) {
	for _, f := range leaves() {
		if f.key == key {
			return f, true
		}
	}
	return field{}, false
}

// keyNames returns the key tags of struct type t, in order.
func keyNames(t reflect.Type) []string {
	var names []string
	for i := range t.NumField() {
		if name, ok := t.Field(i).Tag.Lookup("key"); ok {
			names = append(names, name)
		}
	}
	return names
}

// fieldIndex returns the index of the field of struct type t whose key tag
// is name.
func fieldIndex(t reflect.Type, name string) (int, bool) {
	for i := range t.NumField() {
		if tag, ok := t.Field(i).Tag.Lookup("key"); ok && tag == name {
			return i, true
		}
	}
	return 0, false
}

// mapper sets Config fields from decoded file data or from text, strictly:
// unknown keys and values of the wrong type are errors.
type mapper struct {
	source  string            // for errors: file name, variable or sourceFlags
	origins map[string]string // leaf key → source, filled as keys are set; may be nil
	secret  bool              // the key being set is a secret: keep its value out of errors
}

func (m *mapper) errorf(key, format string, args ...any) error {
	return &Error{Source: m.source, Key: key, Err: fmt.Errorf(format, args...)}
}

func (m *mapper) typeError(key, want string, got any) error {
	d := describe(got)
	if m.secret && !strings.HasPrefix(d, "a ") {
		d, _, _ = strings.Cut(d, " ") // "integer 42" → "integer"
	}
	return m.errorf(key, "expected %s, got %s", want, d)
}

func (m *mapper) set(key string) {
	if m.origins != nil && !strings.Contains(key, "[") {
		m.origins[key] = m.source
	}
}

// table sets the fields of struct v from the keys of data; prefix is the
// dotted path of v, ending in "." (or "" for Config itself). Keys are
// visited in sorted order so that the first error is always the same one.
func (m *mapper) table(v reflect.Value, data map[string]any, prefix string) error {
	t := v.Type()
	for _, name := range slices.Sorted(maps.Keys(data)) {
		i, ok := fieldIndex(t, name)
		if !ok {
			return &Error{Source: m.source, Key: prefix + name, Err: &unknownKeyError{hint: suggest(t, prefix, name)}}
		}
		m.secret = t.Field(i).Tag.Get("secret") != ""
		err := m.value(v.Field(i), data[name], prefix+name)
		m.secret = false
		if err != nil {
			return err
		}
	}
	return nil
}

// value sets v, named key, from raw, a value decoded from TOML, YAML or
// JSON. A nil raw (null) leaves v as it is.
func (m *mapper) value(v reflect.Value, raw any, key string) error {
	if raw == nil {
		return nil
	}
	t := v.Type()
	switch {
	case t == durationType:
		s, ok := raw.(string)
		if !ok {
			return m.typeError(key, wantDuration, raw)
		}
		d, err := time.ParseDuration(s)
		if err != nil {
			return m.typeError(key, wantDuration, raw)
		}
		v.SetInt(int64(d))
	case t.Kind() == reflect.String:
		s, ok := raw.(string)
		if !ok {
			return m.typeError(key, wantString, raw)
		}
		v.SetString(s)
	case t.Kind() == reflect.Bool:
		b, ok := raw.(bool)
		if !ok {
			return m.typeError(key, wantBool, raw)
		}
		v.SetBool(b)
	case t.Kind() >= reflect.Int && t.Kind() <= reflect.Int64:
		n, ok, inRange := asInt(raw)
		if !ok {
			return m.typeError(key, wantInt, raw)
		}
		if !inRange || v.OverflowInt(n) {
			return m.errorf(key, "%s is out of range", describe(raw))
		}
		v.SetInt(n)
	case t.Kind() == reflect.Float64:
		f, ok := asFloat(raw)
		if !ok {
			return m.typeError(key, wantNumber, raw)
		}
		v.SetFloat(f)
	case t.Kind() == reflect.Slice && t.Elem().Kind() == reflect.String:
		list, ok := asList(raw)
		if !ok {
			return m.typeError(key, wantStrings, raw)
		}
		if len(list) == 0 {
			v.SetZero() // empty is nil, whatever the source
			break
		}
		out := make([]string, len(list))
		for i, item := range list {
			s, ok := item.(string)
			if !ok {
				return m.typeError(fmt.Sprintf("%s[%d]", key, i), wantString, item)
			}
			out[i] = s
		}
		v.Set(reflect.ValueOf(out).Convert(t))
	case t.Kind() == reflect.Slice && t.Elem().Kind() == reflect.Struct:
		list, ok := asList(raw)
		if !ok {
			return m.typeError(key, wantTables, raw)
		}
		if len(list) == 0 {
			v.SetZero()
			break
		}
		out := reflect.MakeSlice(t, len(list), len(list))
		for i, item := range list {
			elem := fmt.Sprintf("%s[%d]", key, i)
			tbl, ok := item.(map[string]any)
			if !ok {
				return m.typeError(elem, wantTable, item)
			}
			if err := m.table(out.Index(i), tbl, elem+"."); err != nil {
				return err
			}
		}
		v.Set(out)
	case t.Kind() == reflect.Map && t.Key().Kind() == reflect.String && t.Elem().Kind() == reflect.String:
		tbl, ok := asTable(raw)
		if !ok {
			return m.typeError(key, wantTable, raw)
		}
		if len(tbl) == 0 {
			v.SetZero()
			break
		}
		out := reflect.MakeMapWithSize(t, len(tbl))
		for _, name := range slices.Sorted(maps.Keys(tbl)) {
			s, ok := tbl[name].(string)
			if !ok {
				return m.typeError(key+"."+name, wantString, tbl[name])
			}
			out.SetMapIndex(reflect.ValueOf(name), reflect.ValueOf(s))
		}
		v.Set(out)
	case t.Kind() == reflect.Struct:
		tbl, ok := raw.(map[string]any)
		if !ok {
			return m.typeError(key, wantTable, raw)
		}
		return m.table(v, tbl, key+".")
	default:
		// Config gained a field of a type this mapper does not know: a bug
		// caught by the tests, which map every key.
		panic(fmt.Sprintf("config: key %q has unsupported type %s", key, t))
	}
	m.set(key)
	return nil
}

// text sets v, the leaf named key, from s, the text of an environment
// variable or a flag.
func (m *mapper) text(v reflect.Value, s, key string) error {
	t := v.Type()
	switch {
	case t == durationType:
		d, err := time.ParseDuration(s)
		if err != nil {
			return m.errorf(key, "expected %s, got %q", wantDuration, s)
		}
		v.SetInt(int64(d))
	case t.Kind() == reflect.String:
		v.SetString(s)
	case t.Kind() == reflect.Bool:
		b, err := strconv.ParseBool(s)
		if err != nil {
			return m.errorf(key, "expected true or false, got %q", s)
		}
		v.SetBool(b)
	case t.Kind() >= reflect.Int && t.Kind() <= reflect.Int64:
		n, err := strconv.ParseInt(s, 10, t.Bits())
		if errors.Is(err, strconv.ErrRange) {
			return m.errorf(key, "integer %s is out of range", s)
		}
		if err != nil {
			return m.errorf(key, "expected %s, got %q", wantInt, s)
		}
		v.SetInt(n)
	case t.Kind() == reflect.Float64:
		f, err := strconv.ParseFloat(s, 64)
		if err != nil {
			return m.errorf(key, "expected %s, got %q", wantNumber, s)
		}
		v.SetFloat(f)
	case t.Kind() == reflect.Slice && t.Elem().Kind() == reflect.String:
		v.Set(reflect.ValueOf(splitList(s)).Convert(t))
	case t.Kind() == reflect.Map:
		raw, err := decodeJSON([]byte(s))
		if err != nil {
			return m.errorf(key, `expected a JSON object of strings such as {"X-Frame-Options": "DENY"}: %v`, err)
		}
		if raw == nil {
			return m.errorf(key, "expected a JSON object, got an empty value")
		}
		return m.value(v, raw, key)
	case t.Kind() == reflect.Slice && t.Elem().Kind() == reflect.Struct:
		raw, err := decodeJSON([]byte(s))
		if err != nil {
			return m.errorf(key, `expected a JSON list of objects such as [{"method": "get", "path": "/x", "action": "x"}]: %v`, err)
		}
		if raw == nil {
			return m.errorf(key, "expected a JSON list of objects, got an empty value")
		}
		return m.value(v, raw, key)
	default:
		panic(fmt.Sprintf("config: key %q has unsupported type %s", key, t))
	}
	m.set(key)
	return nil
}

// splitList splits a comma-separated list, trimming spaces around items
// and dropping empty ones.
func splitList(s string) []string {
	var out []string
	for item := range strings.SplitSeq(s, ",") {
		if item = strings.TrimSpace(item); item != "" {
			out = append(out, item)
		}
	}
	return out
}

// asInt returns the integer in raw; inRange is false for an unsigned
// integer too large for int64.
func asInt(raw any) (n int64, ok, inRange bool) {
	switch x := raw.(type) {
	case int:
		return int64(x), true, true
	case int8:
		return int64(x), true, true
	case int16:
		return int64(x), true, true
	case int32:
		return int64(x), true, true
	case int64:
		return x, true, true
	case uint:
		return int64(x), true, uint64(x) <= math.MaxInt64
	case uint8:
		return int64(x), true, true
	case uint16:
		return int64(x), true, true
	case uint32:
		return int64(x), true, true
	case uint64:
		return int64(x), true, x <= math.MaxInt64
	}
	return 0, false, false
}

func asFloat(raw any) (float64, bool) {
	switch x := raw.(type) {
	case float64:
		return x, true
	case float32:
		return float64(x), true
	}
	if n, ok, _ := asInt(raw); ok {
		return float64(n), true
	}
	return 0, false
}

// asTable returns raw as a table: decoders return map[string]any.
func asTable(raw any) (map[string]any, bool) {
	if t, ok := raw.(map[string]any); ok {
		return t, true
	}
	rv := reflect.ValueOf(raw)
	if rv.Kind() != reflect.Map || rv.Type().Key().Kind() != reflect.String {
		return nil, false
	}
	out := make(map[string]any, rv.Len())
	for it := rv.MapRange(); it.Next(); {
		out[it.Key().String()] = it.Value().Interface()
	}
	return out, true
}

// asList returns the elements of raw when it is a list; decoders return
// []any, and TOML arrays of tables come as []map[string]any.
func asList(raw any) ([]any, bool) {
	if l, ok := raw.([]any); ok {
		return l, true
	}
	rv := reflect.ValueOf(raw)
	if rv.Kind() != reflect.Slice && rv.Kind() != reflect.Array {
		return nil, false
	}
	out := make([]any, rv.Len())
	for i := range out {
		out[i] = rv.Index(i).Interface()
	}
	return out, true
}

// describe names the type and value of raw for "got …" in messages, in the
// same words whichever format it was decoded from.
func describe(raw any) string {
	switch x := raw.(type) {
	case nil:
		return "null"
	case string:
		return "string " + quoteShort(x)
	case bool:
		return "boolean " + strconv.FormatBool(x)
	case float64:
		return "float " + strconv.FormatFloat(x, 'g', -1, 64)
	case float32:
		return "float " + strconv.FormatFloat(float64(x), 'g', -1, 32)
	case time.Time:
		return "datetime " + x.Format(time.RFC3339Nano)
	}
	rv := reflect.ValueOf(raw)
	switch rv.Kind() {
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return "integer " + strconv.FormatInt(rv.Int(), 10)
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return "integer " + strconv.FormatUint(rv.Uint(), 10)
	case reflect.Slice, reflect.Array:
		return "a list"
	case reflect.Map:
		return "a table"
	}
	return fmt.Sprintf("a value of type %T", raw)
}

// quoteShort quotes s, cutting it short so that a message stays one line.
func quoteShort(s string) string {
	const max = 40
	if utf8.RuneCountInString(s) <= max {
		return strconv.Quote(s)
	}
	r := []rune(s)
	return strconv.Quote(string(r[:max])) + "…"
}

// suggest returns a did-you-mean hint for an unknown key name inside the
// table of struct type t at prefix.
func suggest(t reflect.Type, prefix, name string) string {
	// A dotted name where a table is expected: YAML and JSON take
	// "http.addr" as one key, not as addr inside http.
	if i := strings.LastIndex(name, "."); i >= 0 && knownPath(stripIndexes(prefix)+name) {
		return fmt.Sprintf(" (keys with dots must be nested: write key %q inside table %q)", name[i+1:], prefix+name[:i])
	}
	if best := closest(name, keyNames(t)); best != "" {
		return fmt.Sprintf(" (did you mean %q?)", prefix+best)
	}
	// The right name in the wrong table, such as read_timeout at the top.
	var found []string
	for _, f := range leaves() {
		if f.key == name || strings.HasSuffix(f.key, "."+name) {
			found = append(found, f.key)
		}
	}
	switch len(found) {
	case 0:
		return ""
	case 1:
		return fmt.Sprintf(" (did you mean %q?)", found[0])
	}
	quoted := make([]string, len(found))
	for i, k := range found {
		quoted[i] = strconv.Quote(k)
	}
	return fmt.Sprintf(" (did you mean %s or %s?)", strings.Join(quoted[:len(quoted)-1], ", "), quoted[len(quoted)-1])
}

// knownPath reports whether path is a leaf key or a table of Config.
func knownPath(path string) bool {
	for _, f := range leaves() {
		if f.key == path || strings.HasPrefix(f.key, path+".") {
			return true
		}
	}
	return false
}

// stripIndexes removes list indexes from a dotted path:
// "http.routes[0]." becomes "http.routes.".
func stripIndexes(path string) string {
	var b strings.Builder
	skip := false
	for _, r := range path {
		switch {
		case r == '[':
			skip = true
		case r == ']':
			skip = false
		case !skip:
			b.WriteRune(r)
		}
	}
	return b.String()
}

// closest returns the candidate nearest to name by edit distance, if it is
// near enough to be a likely typo.
func closest(name string, candidates []string) string {
	name = strings.ToLower(name)
	best, bestDist := "", math.MaxInt
	for _, c := range candidates {
		if d := distance(name, strings.ToLower(c)); d < bestDist {
			best, bestDist = c, d
		}
	}
	if bestDist <= max(2, utf8.RuneCountInString(name)/3) && bestDist < utf8.RuneCountInString(name) {
		return best
	}
	return ""
}

// distance is the Levenshtein distance between a and b.
func distance(a, b string) int {
	ra, rb := []rune(a), []rune(b)
	prev := make([]int, len(rb)+1)
	cur := make([]int, len(rb)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(ra); i++ {
		cur[0] = i
		for j := 1; j <= len(rb); j++ {
			cost := 1
			if ra[i-1] == rb[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(rb)]
}
