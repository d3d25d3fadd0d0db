package supervisor

import "syscall"

// sysProcAttr puts a worker in a process group of its own, so that a
// terminal's Ctrl-C reaches the supervisor alone and the workers stop in
// order; and has the kernel send the worker SIGTERM if the supervisor
// dies without stopping it (the lifeline does the same on other systems).
func sysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGTERM}
}
