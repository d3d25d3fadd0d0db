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

// blockingFile returns a copy of f that os/exec can pass to workers
// without touching the socket's mode. os/exec takes a file's descriptor
// with Fd, which puts a pollable file back into blocking mode; on a
// listening socket shared with running workers that would leave them
// blocked in accept(2), deaf to Close. A file made from a descriptor that
// is blocking already is not pollable, and Fd leaves it alone; the
// workers make their own copies non-blocking.
func blockingFile(f *os.File) (*os.File, error) {
	fd, err := syscall.Dup(int(f.Fd())) // Fd: blocking now, once, before any worker runs
	if err != nil {
		return nil, err
	}
	syscall.CloseOnExec(fd)
	return os.NewFile(uintptr(fd), f.Name()), nil
}
