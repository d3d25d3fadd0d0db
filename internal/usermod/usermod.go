// Package usermod builds a program as a module of its own that uses this
// one, as a user's main.go would: for tests of what a program outside
// the module can and cannot compile.
package usermod

import (
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"testing"
)

// Build writes src as the main.go of a module that requires this one
// (replaced by the checkout, with its go.sum, offline) and builds it into
// a binary in a temporary directory. It returns the binary's path and
// the go command's output, and err when the build failed.
func Build(t testing.TB, src string) (bin string, out []byte, err error) {
	t.Helper()
	_, file, _, _ := runtime.Caller(0)
	repo := filepath.Join(filepath.Dir(file), "..", "..")
	sum, err := os.ReadFile(filepath.Join(repo, "go.sum"))
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	mod := "module example.com/user\n\ngo 1.26\n\nrequire github.com/stellarfw/stellar-go v0.0.0\n\nreplace github.com/stellarfw/stellar-go => " + repo + "\n"
	for name, data := range map[string]string{"go.mod": mod, "go.sum": string(sum), "main.go": src} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(data), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	bin = filepath.Join(dir, "program")
	cmd := exec.Command("go", "build", "-o", bin, ".")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "GOFLAGS=-mod=mod", "GOPROXY=off", "GOSUMDB=off", "GOWORK=off")
	out, err = cmd.CombinedOutput()
	return bin, out, err
}
