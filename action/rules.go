package action

import "fmt"

// ruleSet is a compiled Validator string.
type ruleSet []rule

// rule is one validator rule with its arguments.
type rule struct {
	name string
	args []string
}

// compileRules parses a Validator string such as "required|min:3|max:10".
func compileRules(spec string) (ruleSet, error) {
	if spec == "" {
		return nil, nil
	}
	return nil, fmt.Errorf("action: validator rules are not implemented yet: %q", spec)
}

// check returns "" when v passes every rule, else the message of the first
// rule it fails. present tells whether the client sent the field at all;
// params holds every formatted parameter of the call.
func (rs ruleSet) check(field string, v any, present bool, params Params) string {
	return ""
}
