package lifecycle_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

// TestProgramsCannotStartParts builds, as a module of its own that uses
// this one, programs that try to start or stop a part of a node behind
// its back: each must fail to compile, for the reason given.
func TestProgramsCannotStartParts(t *testing.T) {
	_, file, _, _ := runtime.Caller(0)
	repo := filepath.Join(filepath.Dir(file), "..", "..")
	sum, err := os.ReadFile(filepath.Join(repo, "go.sum"))
	if err != nil {
		t.Fatal(err)
	}
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
			dir := t.TempDir()
			mod := "module example.com/user\n\ngo 1.26\n\nrequire github.com/stellarfw/stellar-go v0.0.0\n\nreplace github.com/stellarfw/stellar-go => " + repo + "\n"
			imports := `"context"; "github.com/stellarfw/stellar-go/task"; "github.com/stellarfw/stellar-go/chat"; "github.com/stellarfw/stellar-go/cluster"`
			if strings.Contains(tc.body, "lifecycle.") {
				imports += `; "github.com/stellarfw/stellar-go/internal/lifecycle"`
			}
			src := "package main\n\nimport (" + imports + ")\n\nvar _ = task.New\nvar _ = chat.New\nvar _ = cluster.New\nvar _ = context.Background\n\nfunc main() { " + tc.body + " }\n"
			for name, data := range map[string]string{"go.mod": mod, "go.sum": string(sum), "main.go": src} {
				if err := os.WriteFile(filepath.Join(dir, name), []byte(data), 0o600); err != nil {
					t.Fatal(err)
				}
			}
			cmd := exec.Command("go", "build", "-mod=mod", "-o", os.DevNull, ".")
			cmd.Dir = dir
			cmd.Env = append(os.Environ(), "GOFLAGS=-mod=mod", "GOPROXY=off", "GOSUMDB=off", "GOWORK=off")
			out, err := cmd.CombinedOutput()
			if err == nil {
				t.Fatalf("the program compiled:\n%s", src)
			}
			if !strings.Contains(string(out), tc.want) {
				t.Fatalf("it failed, but not because %q:\n%s", tc.want, out)
			}
		})
	}
}
