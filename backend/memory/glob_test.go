package memory

import "testing"

func TestGlobMatch(t *testing.T) {
	tests := []struct {
		pattern, s string
		want       bool
	}{
		{"*", "", false}, // as Redis's stringmatchlen; cache keys are never empty
		{"*", "anything", true},
		{"", "", true},
		{"", "a", false},
		{"a", "", false},
		{"abc", "abc", true},
		{"abc", "abd", false},
		{"a*", "a", true},
		{"a*c", "abbbc", true},
		{"a*c", "abbbd", false},
		{"a**c", "ac", true},
		{"*a*b*", "xxaxxbxx", true},
		{"*a*b*", "xxbxxaxx", false},
		{"?", "x", true},
		{"?", "", false},
		{"??", "x", false},
		{"h?llo", "hello", true},
		{"h[ae]llo", "hallo", true},
		{"h[ae]llo", "hillo", false},
		{"h[^e]llo", "hallo", true},
		{"h[^e]llo", "hello", false},
		{"h[a-b]llo", "hbllo", true},
		{"h[b-a]llo", "hbllo", true}, // reversed ranges are accepted
		{"h[a-b]llo", "hcllo", false},
		{`h\[llo`, "h[llo", true},
		{`a\*b`, "a*b", true},
		{`a\*b`, "axb", false},
		{`[\]]`, "]", true},
		{`[\-]`, "-", true},
		{"[abc", "a", true}, // an unterminated class ends at the pattern's end
		{"[abc", "d", false},
		{`\`, `\`, true}, // a trailing backslash is literal
		{"user:*", "user:1", true},
		{"user:*", "session:1", false},
		{"*:1", "user:1", true},
		{"{tag}*", "{tag}:x", true},
	}
	for _, tc := range tests {
		if got := globMatch(tc.pattern, tc.s); got != tc.want {
			t.Errorf("globMatch(%q, %q) = %v, want %v", tc.pattern, tc.s, got, tc.want)
		}
	}
}

// FuzzGlobMatch checks that no pattern makes the matcher panic, and that an
// escaped string matches exactly itself.
func FuzzGlobMatch(f *testing.F) {
	f.Add("a*b?[c-d][^e]\\f", "axbcxf")
	f.Add("[", "")
	f.Add("\\", "\\")
	f.Fuzz(func(t *testing.T, pattern, s string) {
		globMatch(pattern, s)
		escaped := make([]byte, 0, 2*len(s))
		for i := range len(s) {
			switch s[i] {
			case '*', '?', '[', ']', '\\':
				escaped = append(escaped, '\\')
			}
			escaped = append(escaped, s[i])
		}
		if !globMatch(string(escaped), s) {
			t.Fatalf("escaped %q does not match itself", s)
		}
		if s != "" && globMatch(string(escaped), s+"x") {
			t.Fatalf("escaped %q matches %q", s, s+"x")
		}
	})
}
