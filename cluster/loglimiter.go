package cluster

import (
	"sync"
	"time"
)

// dropLogInterval is the least time between two log lines of one reason
// for dropping messages (or one kind of refused call).
const dropLogInterval = 10 * time.Second

// logLimiter lets one log line per key through every dropLogInterval and
// counts the ones it holds back. Its keys are a fixed few.
type logLimiter struct {
	mu   sync.Mutex
	keys map[string]*limitedKey // guarded by mu
}

type limitedKey struct {
	last       time.Time
	suppressed uint64
}

// allow reports whether a line of key may be logged at now and, if so,
// how many were held back since the last one.
func (l *logLimiter) allow(key string, now time.Time) (bool, uint64) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.keys == nil {
		l.keys = map[string]*limitedKey{}
	}
	k, ok := l.keys[key]
	if !ok {
		k = &limitedKey{}
		l.keys[key] = k
	} else if now.Sub(k.last) < dropLogInterval {
		k.suppressed++
		return false, 0
	}
	n := k.suppressed
	k.last, k.suppressed = now, 0
	return true, n
}
