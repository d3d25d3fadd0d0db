package memory

import (
	"context"
	"errors"
	"slices"
	"sync"
	"time"

	"github.com/stellarfw/stellar-go/cache"
)

var _ cache.Store = (*CacheStore)(nil)

// errBadTTL is returned for a lock asked with no positive duration; the
// cache never asks for one.
var errBadTTL = errors.New("memory: lock ttl must be positive")

// CacheStore is the cache's store in memory. Obtain it from Backend.Cache.
type CacheStore struct {
	now func() time.Time

	mu       sync.Mutex
	keys     map[string]*item     // guarded by mu; entries and lists share the key space
	volatile map[string]struct{}  // guarded by mu; the keys that have an expiry
	locks    map[string]*heldLock // guarded by mu
}

// item is an entry or a list.
type item struct {
	list *queue // non-nil for a list

	value                   []byte
	created, read, expireAt time.Time
}

type heldLock struct {
	owner    string
	expireAt time.Time
}

func newCacheStore(now func() time.Time) *CacheStore {
	return &CacheStore{
		now:      now,
		keys:     make(map[string]*item),
		volatile: make(map[string]struct{}),
		locks:    make(map[string]*heldLock),
	}
}

func expired(at, now time.Time) bool { return !at.IsZero() && !now.Before(at) }

// get returns the live item under key, dropping it if it expired.
// Requires mu.
func (s *CacheStore) get(key string, now time.Time) *item {
	it := s.keys[key]
	if it != nil && expired(it.expireAt, now) {
		s.del(key)
		return nil
	}
	return it
}

// del removes key. Requires mu.
func (s *CacheStore) del(key string) {
	delete(s.keys, key)
	delete(s.volatile, key)
}

// lockOwner returns the live owner of the lock on key, "" if none.
// Requires mu.
func (s *CacheStore) lockOwner(key string, now time.Time) string {
	l := s.locks[key]
	if l == nil {
		return ""
	}
	if expired(l.expireAt, now) {
		delete(s.locks, key)
		return ""
	}
	return l.owner
}

// Save implements cache.Store.
func (s *CacheStore) Save(ctx context.Context, owner, key string, value []byte, ttl time.Duration) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	now := s.now()
	it := &item{value: slices.Clone(value), created: now}
	if ttl > 0 {
		it.expireAt = now.Add(ttl)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if o := s.lockOwner(key, now); o != "" && o != owner {
		return cache.ErrLocked
	}
	s.keys[key] = it
	if ttl > 0 {
		s.volatile[key] = struct{}{}
	} else {
		delete(s.volatile, key)
	}
	return nil
}

// Load implements cache.Store.
func (s *CacheStore) Load(ctx context.Context, key string, refresh time.Duration) (cache.Record, error) {
	if err := ctx.Err(); err != nil {
		return cache.Record{}, err
	}
	now := s.now()
	s.mu.Lock()
	defer s.mu.Unlock()
	it := s.get(key, now)
	if it == nil {
		return cache.Record{}, cache.ErrNotFound
	}
	if it.list != nil {
		return cache.Record{}, cache.ErrWrongType
	}
	r := cache.Record{Value: slices.Clone(it.value), CreatedAt: it.created, ReadAt: it.read}
	it.read = now
	if refresh > 0 {
		it.expireAt = now.Add(refresh)
		s.volatile[key] = struct{}{}
	}
	r.ExpireAt = it.expireAt
	return r, nil
}

// Destroy implements cache.Store.
func (s *CacheStore) Destroy(ctx context.Context, owner, key string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	now := s.now()
	s.mu.Lock()
	defer s.mu.Unlock()
	if o := s.lockOwner(key, now); o != "" && o != owner {
		return cache.ErrLocked
	}
	if s.get(key, now) == nil {
		return cache.ErrNotFound
	}
	s.del(key)
	return nil
}

// Keys implements cache.Store.
func (s *CacheStore) Keys(ctx context.Context, pattern string) ([]string, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	now := s.now()
	s.mu.Lock()
	defer s.mu.Unlock()
	keys := []string{}
	for k, it := range s.keys {
		if expired(it.expireAt, now) {
			continue
		}
		if pattern == "" || globMatch(pattern, k) {
			keys = append(keys, k)
		}
	}
	return keys, nil
}

// Size implements cache.Store.
func (s *CacheStore) Size(ctx context.Context) (int, error) {
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	now := s.now()
	s.mu.Lock()
	defer s.mu.Unlock()
	n := len(s.keys)
	for k := range s.volatile {
		if expired(s.keys[k].expireAt, now) {
			n--
		}
	}
	return n, nil
}

// Clear implements cache.Store.
func (s *CacheStore) Clear(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	clear(s.keys)
	clear(s.volatile)
	return nil
}

// Push implements cache.Store.
func (s *CacheStore) Push(ctx context.Context, list string, value []byte) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	now := s.now()
	s.mu.Lock()
	defer s.mu.Unlock()
	it := s.get(list, now)
	if it == nil {
		it = &item{list: &queue{}, created: now}
		s.keys[list] = it
	}
	if it.list == nil {
		return cache.ErrWrongType
	}
	it.list.push(slices.Clone(value))
	return nil
}

// Pop implements cache.Store.
func (s *CacheStore) Pop(ctx context.Context, list string) ([]byte, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	now := s.now()
	s.mu.Lock()
	defer s.mu.Unlock()
	it := s.get(list, now)
	if it == nil {
		return nil, cache.ErrNotFound
	}
	if it.list == nil {
		return nil, cache.ErrWrongType
	}
	v := it.list.pop()
	if it.list.len() == 0 {
		// As in Redis, an emptied list no longer exists.
		s.del(list)
	}
	return v, nil
}

// ListLength implements cache.Store.
func (s *CacheStore) ListLength(ctx context.Context, list string) (int, error) {
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	now := s.now()
	s.mu.Lock()
	defer s.mu.Unlock()
	it := s.get(list, now)
	if it == nil {
		return 0, nil
	}
	if it.list == nil {
		return 0, cache.ErrWrongType
	}
	return it.list.len(), nil
}

// Lock implements cache.Store.
func (s *CacheStore) Lock(ctx context.Context, owner, key string, ttl time.Duration) (bool, error) {
	if err := ctx.Err(); err != nil {
		return false, err
	}
	if ttl <= 0 {
		return false, errBadTTL
	}
	now := s.now()
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.lockOwner(key, now) != "" {
		return false, nil
	}
	s.locks[key] = &heldLock{owner: owner, expireAt: now.Add(ttl)}
	return true, nil
}

// Unlock implements cache.Store.
func (s *CacheStore) Unlock(ctx context.Context, owner, key string) (bool, error) {
	if err := ctx.Err(); err != nil {
		return false, err
	}
	now := s.now()
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.lockOwner(key, now) != owner {
		return false, nil
	}
	delete(s.locks, key)
	return true, nil
}

// LockOwner implements cache.Store.
func (s *CacheStore) LockOwner(ctx context.Context, key string) (string, error) {
	if err := ctx.Err(); err != nil {
		return "", err
	}
	now := s.now()
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.lockOwner(key, now), nil
}

// Locks implements cache.Store.
func (s *CacheStore) Locks(ctx context.Context) ([]cache.Lock, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	now := s.now()
	s.mu.Lock()
	defer s.mu.Unlock()
	locks := []cache.Lock{}
	for k, l := range s.locks {
		if !expired(l.expireAt, now) {
			locks = append(locks, cache.Lock{Key: k, Owner: l.owner, ExpireAt: l.expireAt})
		}
	}
	return locks, nil
}

// sweep examines up to batch volatile keys and up to batch locks, drops
// those that expired, and returns how many it examined and dropped. Go's
// randomised map iteration makes each round a fresh sample.
func (s *CacheStore) sweep(batch int) (examined, dropped int) {
	now := s.now()
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for k := range s.volatile {
		if n == batch {
			break
		}
		n++
		if expired(s.keys[k].expireAt, now) {
			s.del(k)
			dropped++
		}
	}
	examined = n
	n = 0
	for k, l := range s.locks {
		if n == batch {
			break
		}
		n++
		if expired(l.expireAt, now) {
			delete(s.locks, k)
			dropped++
		}
	}
	return examined + n, dropped
}

// len reports how many keys and locks are held, expired or not, for tests
// of the sweeper.
func (s *CacheStore) len() (keys, locks int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.keys), len(s.locks)
}

// queue is a FIFO of byte slices.
type queue struct {
	items [][]byte
	head  int
}

func (q *queue) push(v []byte) { q.items = append(q.items, v) }

func (q *queue) len() int { return len(q.items) - q.head }

func (q *queue) pop() []byte {
	v := q.items[q.head]
	q.items[q.head] = nil
	q.head++
	// Reclaim the consumed front once it is most of the slice.
	if q.head >= 64 && q.head*2 >= len(q.items) {
		q.items = slices.Clone(q.items[q.head:])
		q.head = 0
	}
	return v
}
