//go:build linux

package cluster

import (
	"os"
	"os/exec"
	"strings"
	"testing"

	"github.com/stellarfw/stellar-go/internal/poll"
)

// TestProcessStart: this process runs, with a start time; a pid no
// process has, and a child that exited (a zombie until it is waited for,
// then nothing) are gone.
func TestProcessStart(t *testing.T) {
	if m := thisMachine(); !strings.HasPrefix(m, "linux/") || !strings.Contains(m, "/pid:[") {
		t.Fatalf("thisMachine = %q", m)
	}
	start, st := processStart(os.Getpid())
	if st != procRuns || start == "" {
		t.Fatalf("this process: %q, %d", start, st)
	}
	if again, _ := processStart(os.Getpid()); again != start {
		t.Fatalf("this process's start time changed: %q, then %q", start, again)
	}
	if _, st := processStart(1<<22 + 1); st != procGone {
		t.Fatalf("a pid no process has: %d", st)
	}
	if _, st := processStart(0); st != procUnknown {
		t.Fatalf("pid 0: %d", st)
	}
	child := exec.Command("true")
	if err := child.Start(); err != nil {
		t.Fatal(err)
	}
	pid := child.Process.Pid
	poll.Until(t, "the child to be a zombie", 0, func() bool {
		_, st := processStart(pid)
		return st == procGone
	})
	if err := child.Wait(); err != nil {
		t.Fatal(err)
	}
	if _, st := processStart(pid); st != procGone {
		t.Fatalf("a child waited for: %d", st)
	}
}
