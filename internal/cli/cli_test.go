package cli

import (
	"fmt"
	"slices"
	"testing"
)

func TestSplitArgs(t *testing.T) {
	flags, pos := splitArgs([]string{"send", "--queue", "mail", `{"a":1}`, "--json", "--in=5s", "--", "-x"}, map[string]bool{"json": true})
	if fmt.Sprint(flags) != "[--queue mail --json --in=5s]" || !slices.Equal(pos, []string{"send", `{"a":1}`, "-x"}) {
		t.Fatalf("flags %q, pos %q", flags, pos)
	}
}
