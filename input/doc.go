// Package input validates the parameters of a call, the inputs of an
// action or a task, as Stellar does: defaults, formats, validator rules and
// custom validators. Compile turns a map of Input declarations into a Set
// once; Set.Process then checks each call's raw parameters and returns
// them as Params.
//
// Packages action and task use it for Action.Inputs and
// Definition.Inputs; package action and the root package stellar alias
// its types (action.Input, stellar.Input, …), so most programs never
// import it by name.
//
// # Inputs
//
// Each call's parameters go through the Set in this order:
//
//  1. A missing or empty parameter (absent, null or "") takes its Default,
//     a value or a DefaultFunc; without one, a Required input fails.
//  2. Format converts the value: String, Integer, Float, Boolean or a
//     function of your own.
//  3. The Validator rules run, then the Validators functions.
//
// Every failing input is reported at once, in one validation_failed (422)
// *apierror.Error whose Fields map each bad input to its message.
//
// # Validation rules
//
// Input.Validator holds Stellar's (and Laravel's) rule syntax: rules are
// separated by "|", a rule's arguments follow ":" and are separated by ",":
//
//	"required|alpha_num|min:3|max:20"
//	"in:red,green,blue"
//	"required_with:street,city|string"
//
// The rules, with the message the client sees after the field name:
//
//	Rule                         Passes when the value…                              Message
//	required                     is present and not empty                            is required
//	required_if:f,v1,v2…         is not empty, or field f equals none of v1, v2…     is required when f is v1 or v2
//	required_unless:f,v1,v2…     is not empty, or field f equals one of v1, v2…      is required unless f is v1 or v2
//	required_with:f1,f2…         is not empty, or all of f1, f2… are empty           is required when f1 or f2 is present
//	required_with_all:f1,f2…     is not empty, or one of f1, f2… is empty            is required when f1 and f2 are present
//	required_without:f1,f2…      is not empty, or none of f1, f2… is empty           is required when f1 or f2 is missing
//	required_without_all:f1,f2…  is not empty, or one of f1, f2… is not empty        is required when f1 and f2 are missing
//	filled                       is not empty, when the client sent the field        must not be empty
//	alpha                        has only letters (Unicode)                          must contain only letters
//	alpha_dash                   has only letters, digits, "-" and "_"               must contain only letters, numbers, dashes and underscores
//	alpha_num                    has only letters and digits                         must contain only letters and numbers
//	array                        is a list (a JSON array, a Go slice)                must be a list
//	boolean                      is accepted by the Boolean format                   must be a boolean (true or false)
//	integer                      is accepted by the Integer format                   must be an integer
//	numeric                      is accepted by the Float format                     must be a number
//	string                       is a string                                         must be a string
//	email                        is an address like user.name+tag@example.com        must be a valid email address
//	url                          is an absolute URL with a scheme and a host         must be a valid URL
//	ip                           is an IPv4 or IPv6 address                          must be a valid IP address
//	json                         is a string holding valid JSON                      must be a valid JSON string
//	date                         is a date: RFC 3339 or YYYY-MM-DD (or a time.Time)  must be a valid date (RFC 3339 or YYYY-MM-DD)
//	before:d                     is a date before d                                  must be a date before d
//	after:d                      is a date after d                                   must be a date after d
//	between:min,max              has a size from min to max, inclusive               must be between min and max (characters, items)
//	min:n                        has a size of at least n                            must be at least n (characters) / must have at least n items
//	max:n                        has a size of at most n                             must be at most n (characters) / must have at most n items
//	size:n                       has a size of exactly n                             must be n / must be exactly n characters / must have exactly n items
//	digits:n                     has exactly n digits (0-9) and nothing else         must be n digits
//	digits_between:min,max       has from min to max digits and nothing else         must be between min and max digits
//	in:v1,v2…                    equals one of v1, v2… (a list: each of its items)   must be one of: v1, v2
//	not_in:v1,v2…                equals none of v1, v2… (a list: none of its items)  must not be one of: v1, v2
//	same:f                       equals field f                                      must match f
//	different:f                  differs from field f, or f is empty                 must be different from f
//	confirmed                    equals the field <name>_confirmation                does not match <name>_confirmation
//	regex:pattern                matches pattern (Go RE2 syntax, unanchored)         has an invalid format
//
// Empty means absent, null or the empty string. The presence rules
// (required and the required_* rules) and filled run on every call; every
// other rule runs only when the value is not empty, so "email" alone
// accepts a missing field. The rule required behaves exactly like
// Input.Required: a Default satisfies both.
//
// Rules see the value after Default and Format. The size of a value is its
// number of characters (runes) for a string, its value for a number and
// its number of items for a list; when the rules include numeric or
// integer, a numeric string is sized by its value, so "numeric|min:18"
// accepts "21" sent as text. in, not_in, required_if and required_unless
// compare by text, and numbers and booleans also by value: 1.0 matches
// "1", and true matches "true", "1" or "yes".
//
// Rules that name fields (required_*, same, different, confirmed, and
// before and after given a field) see every parameter of the call: the
// declared inputs after defaults and formats, and the undeclared ones as
// sent, although only declared inputs are in the Params that Process
// returns. A field with a Default counts as present.
//
// The argument of before and after is a date in RFC 3339 or YYYY-MM-DD;
// anything else not starting with a digit names a field holding a date
// ("after:start"). Relative dates such as "today" are not supported: the
// word would name a field.
//
// The argument of regex is the rest of its rule, commas included, in Go's
// RE2 syntax. It is not anchored: write ^ and $ to match the whole value,
// and (?i) for a case-insensitive match. A "|" ends a rule everywhere, so
// write "\|" to put an alternation in a pattern: the backslash is removed
// and the "|" kept ("regex:^(cat\|dog)$"). For a literal "|" character,
// use [\x7c] in the pattern. Whitespace around each rule and argument is
// ignored; use \s or \x20 for a pattern that must end in a space.
//
// An unknown rule, a wrong number of arguments, a bad argument ("min:abc",
// "between:5,1") or a pattern that does not compile is an error from
// Compile that names the input and the rule; action.Registry.Register and
// task.Manager.Register add the action's or task's name.
//
// # Typed inputs
//
// StructOf (or For) derives the inputs from a struct type, once: each
// exported field is one Input, declared by its tags. action.Typed and
// task.Typed use it, so that a handler receives its inputs as a struct.
//
//	type Signup struct {
//		Name  string        `validate:"required|alpha_dash|max:20"`
//		Email string        `param:"email" validate:"required|email"`
//		Age   *int          `validate:"min:18" desc:"in years"`
//		Tags  []string      `default:"new" validate:"in:new,vip"`
//		Wait  time.Duration `default:"30s"`
//	}
//
// The tags:
//
//	param:"name"      the parameter name; "-" skips the field. Without it, the
//	                  name of the json tag, else the field's name with its leading
//	                  capitals lowered (Name → name, UserID → userID, ID → id)
//	default:"text"    the default, converted to the field's type at StructOf;
//	                  a list's items are separated by commas
//	validate:"rules"  the Validator rules, as above ("required" makes it required)
//	desc:"text"       the Description, for documentation
//	format:"layout"   a time layout (Go's reference time) for a time.Time field;
//	                  without it, RFC 3339 or YYYY-MM-DD
//
// The field's type gives the Format, which converts what the client sent
// into that type with the built-in formats' rules: string (String), bool
// (Boolean), int64 (Integer), float64 (Float); the other integer and float
// types also refuse values out of their range ("must be an integer between
// 0 and 255"); time.Duration takes Go durations ("1m30s"); time.Time takes
// dates as above; any takes the value as sent. A slice of one of those is a
// list: each item is converted ("item 2 must be an integer"), and a single
// value is a list of one, as a query string sends a key given once. A
// pointer makes a field optional: nil when the parameter is missing and
// has no default; a field that is not a pointer is then its zero value.
// Named types (type Color string) work as their underlying type. The
// fields of an embedded struct are promoted, as in encoding/json.
//
// Params hold each value in the Go type of its field's kind (int8 for an
// int8 or a named type over it, []string for a []Color), so that the rules
// see what the map form's formats give; Bind then sets the fields. Params
// turns a struct back into the parameters that bind to it, durations and
// times as text: what a caller sends to a typed action or task.
//
// StructOf refuses, naming the field: a field of another type (a map, a
// nested struct, a list of lists, []byte), a malformed tag (the
// key:"value" syntax of reflect.StructTag, checked where StructTag.Get
// would silently ignore the rest), one of these keys given twice, a
// default that does not convert, a bad validator rule, a format tag on a
// field that is not a time, two fields with one parameter name, and one
// of these tags on an unexported field.
package input
