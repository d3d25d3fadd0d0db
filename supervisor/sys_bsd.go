//go:build unix && !linux

package supervisor

import "syscall"

// sysProcAttr puts a worker in a process group of its own, so that a
// terminal's Ctrl-C reaches the supervisor alone and the workers stop in
// order. The lifeline stops a worker whose supervisor died.
func sysProcAttr() *syscall.SysProcAttr { return &syscall.SysProcAttr{Setpgid: true} }
