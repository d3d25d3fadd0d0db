package redis

import "strings"

// temporaryError marks an error that a retry may not meet: Redis could
// not be reached, or replied that it cannot run the command now (a
// failover, a restart loading its data, a script running too long).
// Callers see it through its Temporary method, as task.Manager does,
// without importing this package.
type temporaryError struct{ error }

func (e temporaryError) Unwrap() error { return e.error }

// Temporary reports true: the call may work if made again.
func (temporaryError) Temporary() bool { return true }

// temporaryReply reports whether an error reply of Redis says the
// command was not run for a passing reason.
func temporaryReply(msg string) bool {
	code, _, _ := strings.Cut(msg, " ")
	switch code {
	case "TRYAGAIN", "CLUSTERDOWN", "LOADING", "READONLY", "MASTERDOWN", "BUSY":
		return true
	}
	return false
}
