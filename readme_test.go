package stellar_test

import (
	"os"
	"os/exec"
	"regexp"
	"strings"
	"testing"

	"github.com/stellarfw/stellar-go/internal/usermod"
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
	bin, out, err := usermod.Build(t, src)
	if err != nil {
		t.Fatalf("the README's program does not build: %v\n%s\n%s", err, out, src)
	}
	out, err = exec.Command(bin, "version").CombinedOutput()
	if err != nil || !strings.Contains(string(out), "stellar") {
		t.Fatalf("readme version: %v\n%s", err, out)
	}
}
