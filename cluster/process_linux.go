//go:build linux

package cluster

import (
	"bytes"
	"errors"
	"os"
	"strconv"
	"strings"
	"syscall"
)

// thisMachine names the kernel boot and the pid namespace this process
// runs in: processes with the same name see the same pids, so a pid in a
// record of that name can be looked up here. "" when /proc does not tell.
func thisMachine() string {
	boot, err := os.ReadFile("/proc/sys/kernel/random/boot_id")
	if err != nil {
		return ""
	}
	ns, err := os.Readlink("/proc/self/ns/pid")
	if err != nil {
		return ""
	}
	b := strings.TrimSpace(string(boot))
	if b == "" || ns == "" {
		return ""
	}
	return "linux/" + b + "/" + ns
}

// processStart returns when process pid started (in clock ticks since
// boot, as /proc/PID/stat says) and whether it runs: procGone when no
// process has that pid or it is a zombie (dead, not yet reaped),
// procUnknown when the system does not say (a /proc that hides other
// users' processes).
func processStart(pid int) (string, procState) {
	if pid <= 0 {
		return "", procUnknown
	}
	stat, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		if errors.Is(err, os.ErrNotExist) && errors.Is(syscall.Kill(pid, 0), syscall.ESRCH) {
			return "", procGone
		}
		return "", procUnknown
	}
	// pid (comm) state ppid …: comm may hold anything, so the fields
	// start after the last ')'. The start time is field 22, the 20th
	// after comm.
	i := bytes.LastIndexByte(stat, ')')
	if i < 0 {
		return "", procUnknown
	}
	f := strings.Fields(string(stat[i+1:]))
	if len(f) < 20 {
		return "", procUnknown
	}
	if f[0] == "Z" || f[0] == "X" {
		return "", procGone
	}
	return f[19], procRuns
}
