// Package poll is the module's one way for a test to wait for a
// condition: ask again and again until it holds or a deadline passes,
// never sleep and hope.
package poll

import (
	"testing"
	"time"
)

// DefaultTimeout is how long Until waits unless told otherwise. It is
// generous because CI machines are small and busy: a condition that
// holds returns at once whatever the timeout.
const DefaultTimeout = 15 * time.Second

// interval is the pause between two checks.
const interval = 10 * time.Millisecond

// Until calls cond until it returns true, failing t with "timed out
// waiting for WHAT" once timeout (DefaultTimeout when zero) has passed.
func Until(t testing.TB, what string, timeout time.Duration, cond func() bool) {
	t.Helper()
	if !Wait(timeout, cond) {
		t.Fatalf("timed out waiting for %s", what)
	}
}

// Wait calls cond until it returns true or timeout (DefaultTimeout when
// zero) has passed, and reports whether it returned true. For callers
// that want to say more than Until does when the wait fails.
func Wait(timeout time.Duration, cond func() bool) bool {
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	deadline := time.Now().Add(timeout)
	for {
		if cond() {
			return true
		}
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(interval)
	}
}
