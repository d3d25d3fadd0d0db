package redis

import (
	"os"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"
)

// luaKeyRefs returns the key names (keyNames) that Lua source src refers
// to as variables, and whether it reads KEYS itself. Comments and string
// literals are skipped, and so are field names (t.unique).
func luaKeyRefs(src string) (refs []string, usesKEYS bool) {
	var code strings.Builder
	for i := 0; i < len(src); i++ {
		switch c := src[i]; {
		case c == '-' && strings.HasPrefix(src[i:], "--"):
			for i < len(src) && src[i] != '\n' {
				i++
			}
			code.WriteByte('\n')
		case c == '\'' || c == '"':
			for i++; i < len(src) && src[i] != c; i++ {
				if src[i] == '\\' {
					i++
				}
			}
			code.WriteString(" '' ")
		default:
			code.WriteByte(c)
		}
	}
	s := code.String()
	names := map[string]bool{}
	for _, n := range keyNames {
		names[n] = true
	}
	seen := map[string]bool{}
	for _, m := range regexp.MustCompile(`[A-Za-z_][A-Za-z0-9_]*`).FindAllStringIndex(s, -1) {
		word := s[m[0]:m[1]]
		if prev := strings.TrimRight(s[:m[0]], " \t"); strings.HasSuffix(prev, ".") && !strings.HasSuffix(prev, "..") || strings.HasSuffix(prev, ":") {
			continue // a field or a method, not a variable
		}
		if word == "KEYS" {
			usesKEYS = true
		}
		if names[word] && !seen[word] {
			seen[word] = true
			refs = append(refs, word)
		}
	}
	sort.Strings(refs)
	return refs, usesKEYS
}

// declared returns the key names sc puts in KEYS, sorted, and whether one
// is there twice.
func (sc *taskScript) declared() ([]string, bool) {
	var out []string
	for _, k := range sc.keys {
		out = append(out, keyNames[k])
	}
	sort.Strings(out)
	return out, len(slices.Compact(slices.Clone(out))) != len(out)
}

// TestScriptsNameTheirKeys: each task script names in KEYS exactly the
// keys its source (helpers included) refers to, each once, and refers to
// none through KEYS itself. (A script that referred to a key it does not
// name would also fail at run time, on an undefined global, in the
// conformance suite.)
func TestScriptsNameTheirKeys(t *testing.T) {
	src, err := os.ReadFile("task.go")
	if err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(string(src), "= newTaskScript("); n != len(taskScripts) {
		t.Fatalf("task.go makes %d scripts, taskScripts lists %d", n, len(taskScripts))
	}
	for name, sc := range taskScripts {
		t.Run(name, func(t *testing.T) {
			used, usesKEYS := luaKeyRefs(sc.body)
			if usesKEYS {
				t.Errorf("the source reads KEYS itself; use the key's name")
			}
			decl, twice := sc.declared()
			if twice {
				t.Errorf("KEYS names a key twice: %v", decl)
			}
			if !slices.Equal(used, decl) {
				t.Errorf("KEYS names %v; the source uses %v", decl, used)
			}
			t.Logf("%d of %d keys: %v", len(decl), nKeys, decl)
		})
	}
}

// TestLuaKeyRefs: the check above sees a key used as a variable, and not
// one in a string, a comment or a field name.
func TestLuaKeyRefs(t *testing.T) {
	tests := []struct {
		src  string
		want []string
		keys bool
	}{
		{"redis.call('HGET', tasks, id)", []string{"tasks"}, false},
		{"redis.call('HINCRBY', stats, 'failed', 1) -- the failed count", []string{"stats"}, false},
		{`if t.unique ~= "pending" then return unique end`, []string{"unique"}, false},
		{"local x = 'a\\'paused' .. owner", []string{"owner"}, false},
		{"redis.call('LPUSH', KEYS[1], id)", nil, true},
	}
	for _, tc := range tests {
		got, keys := luaKeyRefs(tc.src)
		if !slices.Equal(got, tc.want) || keys != tc.keys {
			t.Errorf("luaKeyRefs(%q) = %v, %v; want %v, %v", tc.src, got, keys, tc.want, tc.keys)
		}
	}
}
