//go:build unix

package supervisor

import (
	"os"
	"syscall"
)

const supported = true

// The signals a supervisor acts on, besides SIGINT and SIGTERM.
var (
	sigGrow   os.Signal = syscall.SIGTTIN
	sigShrink os.Signal = syscall.SIGTTOU
	sigRoll   os.Signal = syscall.SIGUSR2
	sigReload os.Signal = syscall.SIGHUP
	sigTerm   os.Signal = syscall.SIGTERM
)

func setNonblock(fd int) { _ = syscall.SetNonblock(fd, true) }

// alive reports whether a process with this pid exists.
func alive(pid int) bool {
	err := syscall.Kill(pid, 0)
	return err == nil || err == syscall.EPERM
}
