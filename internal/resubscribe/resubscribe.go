// Package resubscribe paces the tries to make a lost pub/sub subscription
// again, shared by the cluster's subscription and the task wake-ups.
package resubscribe

import "time"

// The waits between tries: from MinWait, doubling up to MaxWait. At most
// half a second: a subscription is cheap, and after a failover the node
// should take calls and wake-ups again as soon as one holds.
const (
	MinWait = 50 * time.Millisecond
	MaxWait = 500 * time.Millisecond
)

// Wait returns how long to wait before the next try, given the wait
// before it (0 for none yet) and whether the subscription that was lost
// had held (delivered, or lasted a while): one that held starts the
// waits from MinWait again.
func Wait(prev time.Duration, held bool) time.Duration {
	if prev == 0 || held {
		return MinWait
	}
	return min(2*prev, MaxWait)
}
