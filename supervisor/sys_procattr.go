//go:build unix

package supervisor

import "syscall"

// sysProcAttr puts a worker in a process group of its own, so that a
// terminal's Ctrl-C reaches the supervisor alone and the workers stop in
// order.
//
// It sets no Pdeathsig: Linux sends that signal each time the thread the
// child hangs from exits, and a dying Go supervisor has many threads, so
// a worker would get SIGTERM several times, and a second SIGTERM stops a
// node at once, cutting its graceful stop short. The lifeline (see Link)
// tells a worker once, on every Unix, when the supervisor is gone.
func sysProcAttr() *syscall.SysProcAttr { return &syscall.SysProcAttr{Setpgid: true} }
