package cache

import (
	"context"
	"time"
)

// Store is what the cache needs from a backend. The memory and Redis
// backends implement it; internal/backendtest defines its semantics as a
// conformance suite that both pass.
//
// Values are opaque bytes (the Cache encodes them as JSON). Entries and lists
// share one key space, as in Redis: Save replaces whatever a key held, and a
// value operation on a list key (or the reverse) fails with ErrWrongType.
// Locks live in a key space of their own: locking key "a" does not create
// an entry "a".
//
// The store owns time: it stamps CreatedAt and ReadAt with its clock and
// expires entries and locks by it. Every method is safe for concurrent use,
// and each one is atomic: a reader never sees half of a write.
type Store interface {
	// Save stores value under key with the given time to live (0: none),
	// CreatedAt now and no ReadAt, unless key is locked by a node other than
	// owner (ErrLocked).
	Save(ctx context.Context, owner, key string, value []byte, ttl time.Duration) error
	// Load returns the entry under key with ReadAt set to the time of the
	// previous read (zero if none), and records now as the last read. If
	// refresh is positive the entry's expiry is reset to now+refresh.
	// ErrNotFound if there is no entry (or it expired).
	Load(ctx context.Context, key string, refresh time.Duration) (Record, error)
	// Destroy removes key (entry or list) unless it is locked by a node
	// other than owner (ErrLocked). ErrNotFound if there is no such key.
	Destroy(ctx context.Context, owner, key string) error

	// Keys lists the keys (entries and lists) matching a Redis glob
	// pattern (* ? [abc] [^a] [a-z] and \ to escape); "" matches all.
	Keys(ctx context.Context, pattern string) ([]string, error)
	// Size counts the keys (entries and lists).
	Size(ctx context.Context) (int, error)
	// Clear removes every entry and list, locked or not; locks stay.
	Clear(ctx context.Context) error

	// Push appends value at the tail of list, creating it if needed.
	Push(ctx context.Context, list string, value []byte) error
	// Pop removes and returns the head of list; ErrNotFound if the list is
	// empty or absent.
	Pop(ctx context.Context, list string) ([]byte, error)
	// ListLength returns the length of list, 0 if absent.
	ListLength(ctx context.Context, list string) (int, error)

	// Lock takes the lock on key for owner for ttl (positive) if nobody
	// holds it, and reports whether it did. A lock is not re-entrant: a
	// second Lock by its owner reports false too.
	Lock(ctx context.Context, owner, key string, ttl time.Duration) (bool, error)
	// Unlock releases the lock on key if owner holds it, and reports
	// whether it did.
	Unlock(ctx context.Context, owner, key string) (bool, error)
	// LockOwner returns the node holding the lock on key, "" if none.
	LockOwner(ctx context.Context, key string) (string, error)
	// Locks lists the locks held, in no particular order.
	Locks(ctx context.Context) ([]Lock, error)
}

// Record is an entry as a Store holds it.
type Record struct {
	Value     []byte    // the encoded value
	CreatedAt time.Time // when it was saved
	ReadAt    time.Time // the previous read, zero if none
	ExpireAt  time.Time // zero if it does not expire
}

// Lock is a lock on a cache key.
type Lock struct {
	Key      string    // the locked key
	Owner    string    // the node that holds it
	ExpireAt time.Time // when it lapses unless released before
}
