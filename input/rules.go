package input

import (
	"encoding/json"
	"fmt"
	"math"
	"net/netip"
	"net/url"
	"reflect"
	"regexp"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

// This file implements Input.Validator, the rule strings of Stellar's
// validator. The rules and their syntax are documented in doc.go.

// ruleSet is a compiled Validator string.
type ruleSet []rule

// rule is one validator rule with its arguments.
type rule struct {
	name string
	args []string
	// implicit rules (required, required_*, filled) also run when the
	// value is missing or empty; the others only see non-empty values.
	implicit bool
	test     ruleFunc
}

// ruleInput is what a rule sees of one field.
type ruleInput struct {
	field   string
	v       any
	present bool   // the client sent the field, even if empty
	params  Params // every parameter of the call, for rules naming fields
}

// ruleFunc returns "" when the input passes, else the message.
type ruleFunc func(in ruleInput) string

// ruleDef describes one rule name: how many arguments it takes and how to
// compile them.
type ruleDef struct {
	minArgs  int
	maxArgs  int // -1: no limit
	implicit bool
	build    func(args []string, opts ruleOpts) (ruleFunc, error)
}

// ruleOpts holds what one rule needs to know about the others of its set.
type ruleOpts struct {
	// numeric is set when the set has numeric or integer: size rules then
	// measure a numeric string by its value, not its length, as Laravel
	// and Stellar do.
	numeric bool
}

// ruleDefs holds every rule by name.
var ruleDefs = map[string]ruleDef{
	"required":             {implicit: true, build: fixed(ruleRequired)},
	"required_if":          {minArgs: 2, maxArgs: -1, implicit: true, build: buildRequiredIf(false)},
	"required_unless":      {minArgs: 2, maxArgs: -1, implicit: true, build: buildRequiredIf(true)},
	"required_with":        {minArgs: 1, maxArgs: -1, implicit: true, build: buildRequiredWith(false, false)},
	"required_with_all":    {minArgs: 1, maxArgs: -1, implicit: true, build: buildRequiredWith(false, true)},
	"required_without":     {minArgs: 1, maxArgs: -1, implicit: true, build: buildRequiredWith(true, false)},
	"required_without_all": {minArgs: 1, maxArgs: -1, implicit: true, build: buildRequiredWith(true, true)},
	"filled":               {implicit: true, build: fixed(ruleFilled)},
	"alpha":                {build: buildCharClass("must contain only letters", isAlpha)},
	"alpha_dash":           {build: buildCharClass("must contain only letters, numbers, dashes and underscores", isAlphaDash)},
	"alpha_num":            {build: buildCharClass("must contain only letters and numbers", isAlphaNum)},
	"array":                {build: fixed(ruleArray)},
	"boolean":              {build: fixed(ruleBoolean)},
	"integer":              {build: fixed(ruleInteger)},
	"numeric":              {build: fixed(ruleNumeric)},
	"string":               {build: fixed(ruleString)},
	"email":                {build: fixed(ruleEmail)},
	"url":                  {build: fixed(ruleURL)},
	"ip":                   {build: fixed(ruleIP)},
	"json":                 {build: fixed(ruleJSON)},
	"date":                 {build: fixed(ruleDate)},
	"before":               {minArgs: 1, maxArgs: 1, build: buildDateCompare(true)},
	"after":                {minArgs: 1, maxArgs: 1, build: buildDateCompare(false)},
	"between":              {minArgs: 2, maxArgs: 2, build: buildSize(sizeBetween)},
	"min":                  {minArgs: 1, maxArgs: 1, build: buildSize(sizeMin)},
	"max":                  {minArgs: 1, maxArgs: 1, build: buildSize(sizeMax)},
	"size":                 {minArgs: 1, maxArgs: 1, build: buildSize(sizeExact)},
	"digits":               {minArgs: 1, maxArgs: 1, build: buildDigits},
	"digits_between":       {minArgs: 2, maxArgs: 2, build: buildDigits},
	"in":                   {minArgs: 1, maxArgs: -1, build: buildIn(true)},
	"not_in":               {minArgs: 1, maxArgs: -1, build: buildIn(false)},
	"same":                 {minArgs: 1, maxArgs: 1, build: buildSame(true)},
	"different":            {minArgs: 1, maxArgs: 1, build: buildSame(false)},
	"confirmed":            {build: fixed(ruleConfirmed)},
	"regex":                {minArgs: 1, maxArgs: 1, build: buildRegex},
}

// Rule is one rule of a Validator string: its name and arguments, as
// the package documentation lists them.
type Rule struct {
	Name string
	Args []string
}

// Rules parses a Validator string, checking it as Compile does, and
// returns its rules in order: for tools that describe inputs, such as API
// documentation.
func Rules(validator string) ([]Rule, error) {
	rs, err := compileRules(validator)
	if err != nil {
		return nil, err
	}
	out := make([]Rule, len(rs))
	for i, r := range rs {
		out[i] = Rule{Name: r.name, Args: append([]string(nil), r.args...)}
	}
	return out, nil
}

// compileRules parses a Validator string such as "required|min:3|max:10".
// Rules are separated by "|"; a rule's arguments follow a ":" and are
// separated by ","; the argument of regex is the rest of the rule, commas
// included. A backslash immediately before "|" keeps that "|" in the rule
// instead of ending it. Whitespace around rules and arguments is ignored.
func compileRules(spec string) (ruleSet, error) {
	if strings.TrimSpace(spec) == "" {
		return nil, nil
	}
	type parsed struct {
		name string
		args []string
		def  ruleDef
	}
	var ps []parsed
	var opts ruleOpts
	for _, tok := range splitRules(spec) {
		tok = strings.TrimSpace(tok)
		if tok == "" {
			return nil, fmt.Errorf("validator %q has an empty rule (a stray \"|\"?)", spec)
		}
		name, rest, hasArgs := strings.Cut(tok, ":")
		name = strings.TrimSpace(name)
		def, ok := ruleDefs[name]
		if !ok {
			return nil, fmt.Errorf("unknown validator rule %q", name)
		}
		var args []string
		if hasArgs {
			if name == "regex" {
				args = []string{strings.TrimSpace(rest)}
			} else {
				args = strings.Split(rest, ",")
			}
			for i := range args {
				args[i] = strings.TrimSpace(args[i])
				if args[i] == "" {
					return nil, fmt.Errorf("validator rule %q has an empty argument", name)
				}
			}
		}
		if err := checkArity(name, def, len(args)); err != nil {
			return nil, err
		}
		if name == "numeric" || name == "integer" {
			opts.numeric = true
		}
		ps = append(ps, parsed{name: name, args: args, def: def})
	}
	rs := make(ruleSet, 0, len(ps))
	for _, p := range ps {
		test, err := p.def.build(p.args, opts)
		if err != nil {
			return nil, fmt.Errorf("validator rule %q: %w", p.name, err)
		}
		rs = append(rs, rule{name: p.name, args: p.args, implicit: p.def.implicit, test: test})
	}
	return rs, nil
}

// splitRules splits spec at every "|" not preceded by a backslash, and
// turns each "\|" into "|".
func splitRules(spec string) []string {
	var parts []string
	var b strings.Builder
	for i := 0; i < len(spec); i++ {
		switch {
		case spec[i] == '\\' && i+1 < len(spec) && spec[i+1] == '|':
			b.WriteByte('|')
			i++
		case spec[i] == '|':
			parts = append(parts, b.String())
			b.Reset()
		default:
			b.WriteByte(spec[i])
		}
	}
	return append(parts, b.String())
}

func checkArity(name string, def ruleDef, n int) error {
	switch {
	case def.maxArgs == 0 && n > 0:
		return fmt.Errorf("validator rule %q takes no arguments", name)
	case def.minArgs == def.maxArgs && n != def.minArgs:
		return fmt.Errorf("validator rule %q needs %s, got %d", name, plural(def.minArgs, "argument"), n)
	case n < def.minArgs:
		return fmt.Errorf("validator rule %q needs at least %s, got %d", name, plural(def.minArgs, "argument"), n)
	}
	return nil
}

// check returns "" when v passes every rule, else the message of the first
// rule it fails. present tells whether the client sent the field at all;
// params holds every parameter of the call, formatted where declared.
func (rs ruleSet) check(field string, v any, present bool, params Params) string {
	if len(rs) == 0 {
		return ""
	}
	in := ruleInput{field: field, v: v, present: present, params: params}
	empty := isEmpty(v, true)
	for i := range rs {
		if empty && !rs[i].implicit {
			continue
		}
		if msg := rs[i].test(in); msg != "" {
			return msg
		}
	}
	return ""
}

// fixed adapts a rule without arguments.
func fixed(f ruleFunc) func([]string, ruleOpts) (ruleFunc, error) {
	return func([]string, ruleOpts) (ruleFunc, error) { return f, nil }
}

// ---- presence rules

func ruleRequired(in ruleInput) string {
	if isEmpty(in.v, true) {
		return "is required"
	}
	return ""
}

func ruleFilled(in ruleInput) string {
	if in.present && isEmpty(in.v, true) {
		return "must not be empty"
	}
	return ""
}

// filledIn reports whether params holds a non-empty value for name.
func filledIn(params Params, name string) bool {
	v, ok := params[name]
	return !isEmpty(v, ok)
}

// buildRequiredIf builds required_if (unless=false) and required_unless.
func buildRequiredIf(unless bool) func([]string, ruleOpts) (ruleFunc, error) {
	return func(args []string, _ ruleOpts) (ruleFunc, error) {
		other, values := args[0], args[1:]
		word := "when"
		if unless {
			word = "unless"
		}
		msg := fmt.Sprintf("is required %s %s is %s", word, other, strings.Join(values, " or "))
		return func(in ruleInput) string {
			if !isEmpty(in.v, true) {
				return ""
			}
			ov, ok := in.params[other]
			match := ok && matchesAny(ov, values)
			if match != unless {
				return msg
			}
			return ""
		}, nil
	}
}

// buildRequiredWith builds required_with (without=false, all=false),
// required_with_all, required_without and required_without_all.
func buildRequiredWith(without, all bool) func([]string, ruleOpts) (ruleFunc, error) {
	return func(others []string, _ ruleOpts) (ruleFunc, error) {
		var msg string
		switch {
		case !without && !all:
			msg = fmt.Sprintf("is required when %s is present", strings.Join(others, " or "))
		case !without && all:
			msg = fmt.Sprintf("is required when %s %s present", strings.Join(others, " and "), isAre(len(others)))
		case without && !all:
			msg = fmt.Sprintf("is required when %s is missing", strings.Join(others, " or "))
		default:
			msg = fmt.Sprintf("is required when %s %s missing", strings.Join(others, " and "), isAre(len(others)))
		}
		return func(in ruleInput) string {
			if !isEmpty(in.v, true) {
				return ""
			}
			// want is the state of the others that makes the field
			// required: present for _with, missing for _without.
			want := !without
			n := 0
			for _, o := range others {
				if filledIn(in.params, o) == want {
					n++
				}
			}
			if (all && n == len(others)) || (!all && n > 0) {
				return msg
			}
			return ""
		}, nil
	}
}

// ---- type rules

func ruleArray(in ruleInput) string {
	if _, ok := listLen(in.v); !ok {
		return "must be a list"
	}
	return ""
}

func ruleBoolean(in ruleInput) string {
	if _, err := formatBoolean(in.v); err != nil {
		return "must be a boolean (true or false)"
	}
	return ""
}

func ruleInteger(in ruleInput) string {
	if _, err := formatInteger(in.v); err != nil {
		return "must be an integer"
	}
	return ""
}

func ruleNumeric(in ruleInput) string {
	if _, err := formatFloat(in.v); err != nil {
		return "must be a number"
	}
	return ""
}

func ruleString(in ruleInput) string {
	if _, ok := in.v.(string); !ok {
		return "must be a string"
	}
	return ""
}

func buildCharClass(msg string, ok func(rune) bool) func([]string, ruleOpts) (ruleFunc, error) {
	return func([]string, ruleOpts) (ruleFunc, error) {
		return func(in ruleInput) string {
			s, isText := scalarText(in.v)
			if !isText {
				return msg
			}
			for _, r := range s {
				if !ok(r) {
					return msg
				}
			}
			return ""
		}, nil
	}
}

func isAlpha(r rune) bool     { return unicode.IsLetter(r) || unicode.IsMark(r) }
func isAlphaNum(r rune) bool  { return isAlpha(r) || unicode.IsNumber(r) }
func isAlphaDash(r rune) bool { return isAlphaNum(r) || r == '-' || r == '_' }

// ---- format rules

func ruleEmail(in ruleInput) string {
	if s, ok := in.v.(string); !ok || !isEmail(s) {
		return "must be a valid email address"
	}
	return ""
}

// isEmail accepts an addr-spec with a dot-atom local part and a DNS domain
// name, such as user.name+tag@example.com. Quoted local parts, IP literals
// and display names ("Ann <ann@example.com>") are refused.
func isEmail(s string) bool {
	if len(s) > 254 {
		return false
	}
	at := strings.LastIndexByte(s, '@')
	if at <= 0 || at > 64 {
		return false
	}
	local, domain := s[:at], s[at+1:]
	if local[0] == '.' || local[len(local)-1] == '.' || strings.Contains(local, "..") {
		return false
	}
	for i := 0; i < len(local); i++ {
		c := local[i]
		if !isASCIIAlnum(c) && c != '.' && !strings.ContainsRune("!#$%&'*+-/=?^_`{|}~", rune(c)) {
			return false
		}
	}
	return isDomainName(domain)
}

// isDomainName accepts a DNS name of at least two labels whose last label
// is not all digits (so that IP addresses are not domains).
func isDomainName(d string) bool {
	if len(d) > 253 {
		return false
	}
	labels := strings.Split(d, ".")
	if len(labels) < 2 {
		return false
	}
	for _, l := range labels {
		if len(l) == 0 || len(l) > 63 || l[0] == '-' || l[len(l)-1] == '-' {
			return false
		}
		for i := 0; i < len(l); i++ {
			if !isASCIIAlnum(l[i]) && l[i] != '-' {
				return false
			}
		}
	}
	tld := labels[len(labels)-1]
	return strings.TrimLeft(tld, "0123456789") != ""
}

func isASCIIAlnum(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
}

func ruleURL(in ruleInput) string {
	s, ok := in.v.(string)
	if ok && !strings.ContainsFunc(s, unicode.IsSpace) {
		if u, err := url.Parse(s); err == nil && u.Scheme != "" && u.Host != "" {
			return ""
		}
	}
	return "must be a valid URL"
}

func ruleIP(in ruleInput) string {
	if s, ok := in.v.(string); ok {
		if _, err := netip.ParseAddr(s); err == nil {
			return ""
		}
	}
	return "must be a valid IP address"
}

func ruleJSON(in ruleInput) string {
	if s, ok := in.v.(string); !ok || !json.Valid([]byte(s)) {
		return "must be a valid JSON string"
	}
	return ""
}

// ---- dates

// parseDate accepts a time.Time (from a custom Format) or a string in RFC
// 3339 (fractional seconds allowed) or YYYY-MM-DD, taken as midnight UTC.
func parseDate(v any) (time.Time, bool) {
	switch x := v.(type) {
	case time.Time:
		return x, true
	case string:
		if t, err := time.Parse(time.RFC3339, x); err == nil {
			return t, true
		}
		if t, err := time.Parse(time.DateOnly, x); err == nil {
			return t, true
		}
	}
	return time.Time{}, false
}

func ruleDate(in ruleInput) string {
	if _, ok := parseDate(in.v); !ok {
		return "must be a valid date (RFC 3339 or YYYY-MM-DD)"
	}
	return ""
}

// buildDateCompare builds before and after. The argument is a date, or
// else the name of another field holding one.
func buildDateCompare(before bool) func([]string, ruleOpts) (ruleFunc, error) {
	return func(args []string, _ ruleOpts) (ruleFunc, error) {
		arg := args[0]
		bound, literal := parseDate(arg)
		if !literal && arg[0] >= '0' && arg[0] <= '9' {
			return nil, fmt.Errorf("argument %q is neither a date (RFC 3339 or YYYY-MM-DD) nor a field name", arg)
		}
		word := "after"
		if before {
			word = "before"
		}
		msg := fmt.Sprintf("must be a date %s %s", word, arg)
		return func(in ruleInput) string {
			t, ok := parseDate(in.v)
			if !ok {
				return msg
			}
			b := bound
			if !literal {
				if b, ok = parseDate(in.params[arg]); !ok {
					return msg
				}
			}
			if (before && t.Before(b)) || (!before && t.After(b)) {
				return ""
			}
			return msg
		}, nil
	}
}

// ---- sizes

type sizeOp int

const (
	sizeMin sizeOp = iota
	sizeMax
	sizeExact
	sizeBetween
)

// sizeKind is how a value is measured.
type sizeKind int

const (
	kindNumber sizeKind = iota // by its value
	kindString                 // by its length in characters
	kindList                   // by its number of items
)

// measure returns the size of v for min, max, size and between.
func measure(v any, numeric bool) (float64, sizeKind, bool) {
	if s, ok := v.(string); ok {
		if numeric {
			if f, err := formatFloat(s); err == nil {
				return f.(float64), kindNumber, true
			}
		}
		return float64(utf8.RuneCountInString(s)), kindString, true
	}
	if f, ok := numberOf(v); ok {
		return f, kindNumber, true
	}
	if n, ok := listLen(v); ok {
		return float64(n), kindList, true
	}
	return 0, 0, false
}

func buildSize(op sizeOp) func([]string, ruleOpts) (ruleFunc, error) {
	return func(args []string, opts ruleOpts) (ruleFunc, error) {
		bounds := make([]float64, len(args))
		for i, a := range args {
			f, err := strconv.ParseFloat(a, 64)
			if err != nil || math.IsInf(f, 0) || math.IsNaN(f) {
				return nil, fmt.Errorf("argument %q is not a number", a)
			}
			bounds[i] = f
		}
		if op == sizeBetween && bounds[0] > bounds[1] {
			return nil, fmt.Errorf("min %s is greater than max %s", args[0], args[1])
		}
		return func(in ruleInput) string {
			n, kind, ok := measure(in.v, opts.numeric)
			if !ok {
				return "must be a string, a number or a list"
			}
			var pass bool
			switch op {
			case sizeMin:
				pass = n >= bounds[0]
			case sizeMax:
				pass = n <= bounds[0]
			case sizeExact:
				pass = n == bounds[0]
			case sizeBetween:
				pass = n >= bounds[0] && n <= bounds[1]
			}
			if pass {
				return ""
			}
			return sizeMessage(op, kind, args)
		}, nil
	}
}

func sizeMessage(op sizeOp, kind sizeKind, args []string) string {
	var verb, unit string
	switch kind {
	case kindNumber:
		verb = "be"
	case kindString:
		verb, unit = "be", "character"
	case kindList:
		verb, unit = "have", "item"
	}
	amount := func(a string) string {
		if unit == "" {
			return a
		}
		if a == "1" {
			return a + " " + unit
		}
		return a + " " + unit + "s"
	}
	switch op {
	case sizeMin:
		return fmt.Sprintf("must %s at least %s", verb, amount(args[0]))
	case sizeMax:
		return fmt.Sprintf("must %s at most %s", verb, amount(args[0]))
	case sizeExact:
		if kind == kindNumber {
			return "must be " + args[0]
		}
		return fmt.Sprintf("must %s exactly %s", verb, amount(args[0]))
	default:
		return fmt.Sprintf("must %s between %s and %s", verb, args[0], amount(args[1]))
	}
}

// buildDigits builds digits:n and digits_between:min,max.
func buildDigits(args []string, _ ruleOpts) (ruleFunc, error) {
	bounds := make([]int, len(args))
	for i, a := range args {
		n, err := strconv.Atoi(a)
		if err != nil || n < 1 {
			return nil, fmt.Errorf("argument %q is not a positive integer", a)
		}
		bounds[i] = n
	}
	lo, hi := bounds[0], bounds[0]
	msg := "must be " + plural(lo, "digit")
	if len(bounds) == 2 {
		hi = bounds[1]
		if lo > hi {
			return nil, fmt.Errorf("min %d is greater than max %d", lo, hi)
		}
		msg = fmt.Sprintf("must be between %d and %d digits", lo, hi)
	}
	return func(in ruleInput) string {
		s, ok := scalarText(in.v)
		if !ok || len(s) < lo || len(s) > hi {
			return msg
		}
		for i := 0; i < len(s); i++ {
			if s[i] < '0' || s[i] > '9' {
				return msg
			}
		}
		return ""
	}, nil
}

// ---- comparisons

// buildIn builds in (want=true) and not_in. A list value passes in when
// every item is listed, and not_in when none is.
func buildIn(want bool) func([]string, ruleOpts) (ruleFunc, error) {
	return func(values []string, _ ruleOpts) (ruleFunc, error) {
		msg := "must be one of: " + strings.Join(values, ", ")
		if !want {
			msg = "must not be one of: " + strings.Join(values, ", ")
		}
		return func(in ruleInput) string {
			items := []any{in.v}
			if n, ok := listLen(in.v); ok {
				rv := reflect.ValueOf(in.v)
				items = make([]any, n)
				for i := range items {
					items[i] = rv.Index(i).Interface()
				}
			}
			for _, it := range items {
				if matchesAny(it, values) != want {
					return msg
				}
			}
			return ""
		}, nil
	}
}

// buildSame builds same (want=true) and different. different passes when
// the other field is missing.
func buildSame(want bool) func([]string, ruleOpts) (ruleFunc, error) {
	return func(args []string, _ ruleOpts) (ruleFunc, error) {
		other := args[0]
		return func(in ruleInput) string {
			ov, ok := in.params[other]
			if want {
				if !ok || !equalValues(in.v, ov) {
					return "must match " + other
				}
				return ""
			}
			if ok && equalValues(in.v, ov) {
				return "must be different from " + other
			}
			return ""
		}, nil
	}
}

func ruleConfirmed(in ruleInput) string {
	name := in.field + "_confirmation"
	if ov, ok := in.params[name]; !ok || !equalValues(in.v, ov) {
		return "does not match " + name
	}
	return ""
}

func buildRegex(args []string, _ ruleOpts) (ruleFunc, error) {
	re, err := regexp.Compile(args[0])
	if err != nil {
		return nil, fmt.Errorf("bad pattern: %w", err)
	}
	return func(in ruleInput) string {
		if s, ok := scalarText(in.v); ok && re.MatchString(s) {
			return ""
		}
		return "has an invalid format"
	}, nil
}

// ---- value helpers

// numberOf returns the value of a Go number or a json.Number, never of a
// string.
func numberOf(v any) (float64, bool) {
	switch v.(type) {
	case string, bool:
		return 0, false
	}
	f, err := formatFloat(v)
	if err != nil {
		return 0, false
	}
	return f.(float64), true
}

// scalarText returns the text of a string or a number: what the
// character-class, digits and regex rules look at.
func scalarText(v any) (string, bool) {
	if _, ok := v.(bool); ok {
		return "", false
	}
	s, err := formatString(v)
	if err != nil {
		return "", false
	}
	return s.(string), true
}

// listLen returns the length of a slice or array, the Go form of a JSON
// array.
func listLen(v any) (int, bool) {
	if l, ok := v.([]any); ok {
		return len(l), true
	}
	if v == nil {
		return 0, false
	}
	switch rv := reflect.ValueOf(v); rv.Kind() {
	case reflect.Slice, reflect.Array:
		return rv.Len(), true
	}
	return 0, false
}

// matchesAny reports whether v equals one of values: by text, or by value
// when v is a number (so 1.0 matches "1") or a boolean (so true matches
// "1" and "yes").
func matchesAny(v any, values []string) bool {
	text, textErr := formatString(v)
	num, isNum := numberOf(v)
	b, isBool := v.(bool)
	for _, s := range values {
		switch {
		case textErr == nil && text.(string) == s:
			return true
		case isNum:
			if f, err := strconv.ParseFloat(s, 64); err == nil && f == num {
				return true
			}
		case isBool:
			if fb, err := formatBoolean(s); err == nil && fb.(bool) == b {
				return true
			}
		}
	}
	return false
}

// equalValues compares two parameters, one of which may be formatted and
// the other raw: equal Go values, equal numbers, or scalars with the same
// text are equal.
func equalValues(a, b any) bool {
	if reflect.DeepEqual(a, b) {
		return true
	}
	if fa, ok := numberOf(a); ok {
		if fb, ok := numberOf(b); ok {
			return fa == fb
		}
	}
	ta, errA := formatString(a)
	tb, errB := formatString(b)
	return errA == nil && errB == nil && ta == tb
}

func plural(n int, word string) string {
	if n == 1 {
		return "1 " + word
	}
	return strconv.Itoa(n) + " " + word + "s"
}

func isAre(n int) string {
	if n == 1 {
		return "is"
	}
	return "are"
}
