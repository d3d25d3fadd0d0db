//go:build !linux

package cluster

// thisMachine is "" where the system gives no boot and pid namespace to
// compare: a record's process is then never looked up by its pid.
func thisMachine() string { return "" }

// processStart does not know, on this system.
func processStart(int) (string, procState) { return "", procUnknown }
