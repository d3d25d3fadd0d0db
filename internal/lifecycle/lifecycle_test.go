package lifecycle_test

import (
	"strings"
	"testing"

	"github.com/stellarfw/stellar-go/internal/usermod"
)

// TestProgramsCannotStartParts builds, as a module of its own that uses
// this one, programs that try to start or stop a part of a node behind
// its back: each must fail to compile, for the reason given.
func TestProgramsCannotStartParts(t *testing.T) {
	for _, tc := range []struct {
		name, body, want string
	}{
		{"no key", `var m task.Manager; _ = m.Start(context.Background(), nil, task.Config{})`,
			"not enough arguments in call to m.Start"},
		{"a look-alike key", `var c chat.Chat; _ = c.Stop(context.Background(), struct{ _ struct{} }{})`,
			"as lifecycle.Key value in argument to c.Stop"},
		{"the key's package", `_ = lifecycle.Key{}; var c cluster.Cluster; _ = c.Stop(context.Background(), lifecycle.Key{})`,
			"use of internal package"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			imports := `"context"; "github.com/stellarfw/stellar-go/task"; "github.com/stellarfw/stellar-go/chat"; "github.com/stellarfw/stellar-go/cluster"`
			if strings.Contains(tc.body, "lifecycle.") {
				imports += `; "github.com/stellarfw/stellar-go/internal/lifecycle"`
			}
			src := "package main\n\nimport (" + imports + ")\n\nvar _ = task.New\nvar _ = chat.New\nvar _ = cluster.New\nvar _ = context.Background\n\nfunc main() { " + tc.body + " }\n"
			_, out, err := usermod.Build(t, src)
			if err == nil {
				t.Fatalf("the program compiled:\n%s", src)
			}
			if !strings.Contains(string(out), tc.want) {
				t.Fatalf("it failed, but not because %q:\n%s", tc.want, out)
			}
		})
	}
}
