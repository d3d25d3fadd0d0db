package stellar_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// TestREADMEExample builds the README's program as a module of its own
// that uses this one, as a user would copy it, and runs its version
// command: the README's code keeps compiling, with one import.
func TestREADMEExample(t *testing.T) {
	readme, err := os.ReadFile("README.md")
	if err != nil {
		t.Fatal(err)
	}
	blocks := regexp.MustCompile("(?s)```go\n(.*?)```").FindAllSubmatch(readme, -1)
	if len(blocks) == 0 {
		t.Fatal("the README has no Go block")
	}
	src := string(blocks[0][1])
	if n := strings.Count(src, `"github.com/stellarfw/stellar-go`); n != 1 {
		t.Fatalf("the README's program imports %d packages of this module, want one", n)
	}
	repo, err := filepath.Abs(".")
	if err != nil {
		t.Fatal(err)
	}
	sum, err := os.ReadFile("go.sum")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	mod := "module example.com/readme\n\ngo 1.26\n\nrequire github.com/stellarfw/stellar-go v0.0.0\n\nreplace github.com/stellarfw/stellar-go => " + repo + "\n"
	for name, data := range map[string]string{"go.mod": mod, "go.sum": string(sum), "main.go": src} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(data), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	bin := filepath.Join(dir, "readme")
	build := exec.Command("go", "build", "-o", bin, ".")
	build.Dir = dir
	build.Env = append(os.Environ(), "GOFLAGS=-mod=mod", "GOPROXY=off", "GOSUMDB=off", "GOWORK=off")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("the README's program does not build: %v\n%s\n%s", err, out, src)
	}
	out, err := exec.Command(bin, "version").CombinedOutput()
	if err != nil || !strings.Contains(string(out), "stellar") {
		t.Fatalf("readme version: %v\n%s", err, out)
	}
}
