// Package child starts the benchmark programs' own servers: the running
// program again, in a process of its own, with other flags.
package child

import (
	"bufio"
	"io"
	"log"
	"os"
	"os/exec"
	"strings"
)

// Proc is a started child.
type Proc struct {
	// Line is what the child announced itself with: its first line on
	// stdout, without the newline.
	Line string
	// Pid is the child's process id.
	Pid int

	cmd *exec.Cmd
	in  io.Closer
}

// Start runs this program again with args and waits for its first line.
// The child serves until its stdin closes (Stop). Start exits the program
// if the child cannot start.
func Start(args ...string) *Proc {
	exe, err := os.Executable()
	if err != nil {
		log.Fatal(err)
	}
	cmd := exec.Command(exe, args...)
	cmd.Stderr = os.Stderr
	in, err := cmd.StdinPipe()
	if err != nil {
		log.Fatal(err)
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		log.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		log.Fatal(err)
	}
	line, err := bufio.NewReader(out).ReadString('\n')
	if err != nil {
		log.Fatalf("the child %v did not start: %v", args, err)
	}
	return &Proc{Line: strings.TrimSpace(line), Pid: cmd.Process.Pid, cmd: cmd, in: in}
}

// Stop closes the child's stdin and waits for it to exit.
func (p *Proc) Stop() {
	_ = p.in.Close()
	_ = p.cmd.Wait()
}
