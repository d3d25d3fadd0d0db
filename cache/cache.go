// Package cache is Stellar's shared cache (api.cache): JSON values with an
// optional expiry, FIFO lists, and locks that belong to the node that took
// them. Every node of a cluster sees the same cache; a single node with no
// Redis keeps it in memory, with the same semantics.
//
// The cache runs on a Store, the small interface a backend implements
// (backend/memory, backend/redis). The mapping to Stellar:
//
//	api.cache.save(key, value, ms)     Save(ctx, key, value, cache.TTL(d))
//	api.cache.load(key, {expireTimeMS}) Load(ctx, key, cache.RefreshTTL(d)); typed: cache.Load[T]
//	api.cache.destroy(key)             Destroy(ctx, key)
//	api.cache.push/pop/listLength      Push, Pop (typed: cache.Pop[T]), ListLength
//	api.cache.lock/unlock/checkLock    Lock, Unlock, CheckLock
//	api.cache.locks()                  Locks
//	(ActionHero) keys, size, clear     Keys, Size, Clear
//
// Differences from Stellar: a missing or expired key is ErrNotFound rather
// than a null value; Load does not fail on a key locked by another node
// (locks guard writes, not reads); RefreshTTL sets an expiry even on an
// entry that had none; Lock is not re-entrant, so a node that already
// holds a lock gets false, as with Stellar's SETNX.
package cache

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"
)

// Errors returned by the cache. Backends return them too, wrapped or not;
// test with errors.Is.
var (
	// ErrNotFound means the key does not exist or has expired, or the list
	// is empty.
	ErrNotFound = errors.New("cache: not found")
	// ErrLocked means another node holds the lock on the key.
	ErrLocked = errors.New("cache: locked by another node")
	// ErrWrongType means a value operation met a list, or the reverse.
	ErrWrongType = errors.New("cache: key holds the other kind of value (entry or list)")
	// ErrInvalidKey means the key is empty.
	ErrInvalidKey = errors.New("cache: invalid key")
)

// Config configures a Cache. A zero field means its default.
type Config struct {
	// NodeID names the node that owns the locks this Cache takes. Required.
	NodeID string
	// LockDuration is the lock time to live when Lock is given none,
	// Stellar's general.lockDuration. Default 10s.
	LockDuration time.Duration
	// LockRetry is how often CheckLock polls a lock when asked to retry,
	// Stellar's general.lockRetry. Default 100ms.
	LockRetry time.Duration
}

func (c *Config) setDefaults() {
	if c.LockDuration <= 0 {
		c.LockDuration = 10 * time.Second
	}
	if c.LockRetry <= 0 {
		c.LockRetry = 100 * time.Millisecond
	}
}

// Cache is the cache as one node sees it. It is safe for concurrent use.
type Cache struct {
	store Store
	cfg   Config
}

// New returns the cache of node cfg.NodeID on store. It panics if NodeID is
// empty: locks must have an owner.
func New(store Store, cfg Config) *Cache {
	if store == nil {
		panic("cache: New with a nil Store")
	}
	if cfg.NodeID == "" {
		panic("cache: Config.NodeID is required")
	}
	cfg.setDefaults()
	return &Cache{store: store, cfg: cfg}
}

// NodeID returns the node that owns this cache's locks.
func (c *Cache) NodeID() string { return c.cfg.NodeID }

// Entry is a value loaded from the cache, with its metadata.
type Entry struct {
	Key       string          // the key it was loaded from
	Value     json.RawMessage // the value as JSON
	CreatedAt time.Time       // when it was saved
	ReadAt    time.Time       // the read before this one, zero if none
	ExpireAt  time.Time       // when it expires, zero if never
}

// Decode unmarshals the value into v.
func (e Entry) Decode(v any) error {
	if err := json.Unmarshal(e.Value, v); err != nil {
		return fmt.Errorf("cache: decode %q: %w", e.Key, err)
	}
	return nil
}

// SaveOption is an option of Save.
type SaveOption func(*saveOptions)

type saveOptions struct{ ttl time.Duration }

// TTL makes the entry expire d after it is saved. Zero or negative means
// never, the default.
func TTL(d time.Duration) SaveOption {
	return func(o *saveOptions) { o.ttl = d }
}

// LoadOption is an option of Load.
type LoadOption func(*loadOptions)

type loadOptions struct {
	refresh time.Duration
	entry   *Entry
}

// WithEntry makes a load also store the entry it read, its metadata
// (CreatedAt, ReadAt, ExpireAt) and its value as JSON, in *e: the typed
// Load[T] returns the value only.
func WithEntry(e *Entry) LoadOption {
	return func(o *loadOptions) { o.entry = e }
}

// RefreshTTL resets the entry's expiry to d after this read, Stellar's
// expireTimeMS option of load.
func RefreshTTL(d time.Duration) LoadOption {
	return func(o *loadOptions) { o.refresh = d }
}

func checkKey(key string) error {
	if key == "" {
		return ErrInvalidKey
	}
	return nil
}

// Save stores value, encoded as JSON, under key, replacing what was there.
// It fails with ErrLocked if another node holds the lock on key.
func (c *Cache) Save(ctx context.Context, key string, value any, opts ...SaveOption) error {
	if err := checkKey(key); err != nil {
		return err
	}
	var o saveOptions
	for _, opt := range opts {
		opt(&o)
	}
	b, err := json.Marshal(value)
	if err != nil {
		return fmt.Errorf("cache: encode %q: %w", key, err)
	}
	return c.store.Save(ctx, c.cfg.NodeID, key, b, max(o.ttl, 0))
}

// Load returns the entry under key, and records this read. It fails with
// ErrNotFound if the key does not exist or has expired.
func (c *Cache) Load(ctx context.Context, key string, opts ...LoadOption) (Entry, error) {
	if err := checkKey(key); err != nil {
		return Entry{}, err
	}
	var o loadOptions
	for _, opt := range opts {
		opt(&o)
	}
	r, err := c.store.Load(ctx, key, max(o.refresh, 0))
	if err != nil {
		return Entry{}, err
	}
	e := Entry{Key: key, Value: r.Value, CreatedAt: r.CreatedAt, ReadAt: r.ReadAt, ExpireAt: r.ExpireAt}
	if o.entry != nil {
		*o.entry = e
	}
	return e, nil
}

// Load loads the value under key as a T (Load, then Decode). It fails
// with ErrNotFound if the key does not exist or has expired, and with a
// decode error if the value is not a T. WithEntry also returns the
// entry's metadata.
func Load[T any](ctx context.Context, c *Cache, key string, opts ...LoadOption) (T, error) {
	var v T
	e, err := c.Load(ctx, key, opts...)
	if err != nil {
		return v, err
	}
	return v, e.Decode(&v)
}

// LoadAs loads the entry under key and decodes its value as a T.
//
// Deprecated: use Load[T], with WithEntry for the metadata.
func LoadAs[T any](ctx context.Context, c *Cache, key string, opts ...LoadOption) (T, Entry, error) {
	var e Entry
	v, err := Load[T](ctx, c, key, append(opts, WithEntry(&e))...)
	return v, e, err
}

// Destroy removes key, an entry or a list. It fails with ErrNotFound if
// there is no such key and with ErrLocked if another node holds its lock.
func (c *Cache) Destroy(ctx context.Context, key string) error {
	if err := checkKey(key); err != nil {
		return err
	}
	return c.store.Destroy(ctx, c.cfg.NodeID, key)
}

// Keys lists the keys of entries and lists that match pattern, a Redis
// glob (* ? [abc] [^a] [a-z], \ escapes), sorted; "" lists them all. On
// Redis it scans, so a key written meanwhile may or may not appear.
func (c *Cache) Keys(ctx context.Context, pattern string) ([]string, error) {
	keys, err := c.store.Keys(ctx, pattern)
	if err != nil {
		return nil, err
	}
	slices.Sort(keys)
	return keys, nil
}

// Size returns the number of entries and lists.
func (c *Cache) Size(ctx context.Context) (int, error) {
	return c.store.Size(ctx)
}

// Clear removes every entry and list, locked or not. Locks stay.
func (c *Cache) Clear(ctx context.Context) error {
	return c.store.Clear(ctx)
}

// Push appends value, encoded as JSON, at the tail of list, creating the
// list if needed.
func (c *Cache) Push(ctx context.Context, list string, value any) error {
	if err := checkKey(list); err != nil {
		return err
	}
	b, err := json.Marshal(value)
	if err != nil {
		return fmt.Errorf("cache: encode item of %q: %w", list, err)
	}
	return c.store.Push(ctx, list, b)
}

// Pop removes and returns the head of list, the oldest item pushed. It
// fails with ErrNotFound if the list is empty or does not exist.
func (c *Cache) Pop(ctx context.Context, list string) (json.RawMessage, error) {
	if err := checkKey(list); err != nil {
		return nil, err
	}
	b, err := c.store.Pop(ctx, list)
	if err != nil {
		return nil, err
	}
	return json.RawMessage(b), nil
}

// Pop pops the head of list, the oldest item pushed, as a T. It fails
// with ErrNotFound if the list is empty or does not exist, and with a
// decode error if the item is not a T (the item is gone all the same).
func Pop[T any](ctx context.Context, c *Cache, list string) (T, error) {
	var v T
	b, err := c.Pop(ctx, list)
	if err != nil {
		return v, err
	}
	if err := json.Unmarshal(b, &v); err != nil {
		return v, fmt.Errorf("cache: decode item of %q: %w", list, err)
	}
	return v, nil
}

// PopAs pops the head of list and decodes it as a T.
//
// Deprecated: use Pop[T], which it is.
func PopAs[T any](ctx context.Context, c *Cache, list string) (T, error) { return Pop[T](ctx, c, list) }

// ListLength returns the number of items in list, 0 if it does not exist.
func (c *Cache) ListLength(ctx context.Context, list string) (int, error) {
	if err := checkKey(list); err != nil {
		return 0, err
	}
	return c.store.ListLength(ctx, list)
}

// Lock takes the lock on key for this node, for ttl (Config.LockDuration
// if zero), and reports whether it did: false if any node, this one
// included, already holds it. While locked, other nodes can neither save
// nor destroy key, nor unlock it. The lock lapses after ttl.
func (c *Cache) Lock(ctx context.Context, key string, ttl time.Duration) (bool, error) {
	if err := checkKey(key); err != nil {
		return false, err
	}
	if ttl <= 0 {
		ttl = c.cfg.LockDuration
	}
	return c.store.Lock(ctx, c.cfg.NodeID, key, ttl)
}

// Unlock releases this node's lock on key and reports whether it did: false
// if the key is not locked or another node holds the lock.
func (c *Cache) Unlock(ctx context.Context, key string) (bool, error) {
	if err := checkKey(key); err != nil {
		return false, err
	}
	return c.store.Unlock(ctx, c.cfg.NodeID, key)
}

// CheckLock reports whether this node may act on key: true if it is not
// locked or this node holds the lock. With retry, it polls every
// Config.LockRetry until the key is free or ctx ends (then it returns false
// and the context's error).
func (c *Cache) CheckLock(ctx context.Context, key string, retry bool) (bool, error) {
	if err := checkKey(key); err != nil {
		return false, err
	}
	var tick *time.Ticker
	for {
		owner, err := c.store.LockOwner(ctx, key)
		if err != nil {
			return false, err
		}
		if owner == "" || owner == c.cfg.NodeID {
			return true, nil
		}
		if !retry {
			return false, nil
		}
		if tick == nil {
			tick = time.NewTicker(c.cfg.LockRetry)
			defer tick.Stop()
		}
		select {
		case <-ctx.Done():
			return false, ctx.Err()
		case <-tick.C:
		}
	}
}

// Locks lists the locks held by any node.
func (c *Cache) Locks(ctx context.Context) ([]Lock, error) {
	return c.store.Locks(ctx)
}
