package redis

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"strconv"
	"strings"
	"time"

	"github.com/redis/rueidis"

	"github.com/stellarfw/stellar-go/cache"
)

var _ cache.Store = (*CacheStore)(nil)

// CacheStore is the cache's store in Redis. Obtain it from Backend.Cache.
//
// An entry is a hash (v: value, c: created, r: last read, e: expiry, in
// Unix milliseconds) with the same expiry as a Redis TTL; a list is a
// Redis list; both live at PREFIX cache:{TAG}KEY. The lock on KEY is a
// string holding the owner's node id at PREFIX lock:{TAG}KEY, with a TTL.
// TAG is a hash of KEY: the entry and its lock share a Cluster slot
// whatever characters KEY holds.
type CacheStore struct {
	b      *Backend
	now    func() time.Time
	prefix string
}

// The scripts make each write atomic: the lock check and the write, or the
// read and the read-time update, happen as one.
var (
	// KEYS: entry, lock. ARGV: owner, value, now, ttl, expireAt (ms).
	// Returns 1, or 0 if another node holds the lock.
	saveScript = rueidis.NewLuaScript(`
local o = redis.call('GET', KEYS[2])
if o and o ~= ARGV[1] then return 0 end
redis.call('DEL', KEYS[1])
if ARGV[4] ~= '0' then
  redis.call('HSET', KEYS[1], 'v', ARGV[2], 'c', ARGV[3], 'e', ARGV[5])
  redis.call('PEXPIRE', KEYS[1], ARGV[4])
else
  redis.call('HSET', KEYS[1], 'v', ARGV[2], 'c', ARGV[3])
end
return 1`)

	// KEYS: entry. ARGV: now, refresh ttl, new expireAt (ms).
	// Returns {value, created, previous read, expireAt} or nil.
	loadScript = rueidis.NewLuaScript(`
local r = redis.call('HMGET', KEYS[1], 'v', 'c', 'r', 'e')
if not r[1] then return false end
if ARGV[2] ~= '0' then
  redis.call('HSET', KEYS[1], 'r', ARGV[1], 'e', ARGV[3])
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
  r[4] = ARGV[3]
else
  redis.call('HSET', KEYS[1], 'r', ARGV[1])
end
return r`)

	// KEYS: entry, lock. ARGV: owner.
	// Returns the number of keys deleted, or -1 if another node holds the
	// lock.
	destroyScript = rueidis.NewLuaScript(`
local o = redis.call('GET', KEYS[2])
if o and o ~= ARGV[1] then return -1 end
return redis.call('DEL', KEYS[1])`)

	// KEYS: lock. ARGV: owner. Deletes the lock only if owner holds it.
	unlockScript = rueidis.NewLuaScript(`
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0`)
)

// tag returns the hash tag of a user key: 8 hex digits, never empty and
// never holding a brace.
func tag(key string) string {
	h := fnv.New32a()
	_, _ = h.Write([]byte(key))
	const digits = "0123456789abcdef"
	v := h.Sum32()
	var b [8]byte
	for i := 7; i >= 0; i-- {
		b[i] = digits[v&0xf]
		v >>= 4
	}
	return string(b[:])
}

// tagLen is the length of "{TAG}".
const tagLen = 10

func (s *CacheStore) entryKey(key string) string {
	return s.prefix + "cache:{" + tag(key) + "}" + key
}

func (s *CacheStore) lockKey(key string) string {
	return s.prefix + "lock:{" + tag(key) + "}" + key
}

// userKey returns the user key of a Redis key that starts with
// prefix+kind, or false if it is not one.
func (s *CacheStore) userKey(kind, redisKey string) (string, bool) {
	head := s.prefix + kind
	if !strings.HasPrefix(redisKey, head) || len(redisKey) < len(head)+tagLen {
		return "", false
	}
	return redisKey[len(head)+tagLen:], true
}

func ms(t time.Time) string { return strconv.FormatInt(t.UnixMilli(), 10) }

func durMS(d time.Duration) string { return strconv.FormatInt(d.Milliseconds(), 10) }

// parseMS reads a time stored in ms; "" or absent is the zero time.
func parseMS(m rueidis.RedisMessage) (time.Time, error) {
	if m.IsNil() {
		return time.Time{}, nil
	}
	s, err := m.ToString()
	if err != nil {
		return time.Time{}, err
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		return time.Time{}, err
	}
	return time.UnixMilli(n), nil
}

// Save implements cache.Store.
func (s *CacheStore) Save(ctx context.Context, owner, key string, value []byte, ttl time.Duration) error {
	c, err := s.b.conn(ctx)
	if err != nil {
		return err
	}
	now := s.now()
	ttlMS, expireAt := "0", "0"
	if ttl > 0 {
		// Redis counts in milliseconds; never round a TTL down to none.
		ttl = max(ttl.Truncate(time.Millisecond), time.Millisecond)
		ttlMS, expireAt = durMS(ttl), strconv.FormatInt(now.UnixMilli()+ttl.Milliseconds(), 10)
	}
	n, err := saveScript.Exec(ctx, c,
		[]string{s.entryKey(key), s.lockKey(key)},
		[]string{owner, string(value), ms(now), ttlMS, expireAt}).AsInt64()
	if err != nil {
		return s.b.wrap(ctx, "save", err)
	}
	if n == 0 {
		return cache.ErrLocked
	}
	return nil
}

// Load implements cache.Store.
func (s *CacheStore) Load(ctx context.Context, key string, refresh time.Duration) (cache.Record, error) {
	c, err := s.b.conn(ctx)
	if err != nil {
		return cache.Record{}, err
	}
	now := s.now()
	refreshMS, expireAt := "0", "0"
	if refresh > 0 {
		refresh = max(refresh.Truncate(time.Millisecond), time.Millisecond)
		refreshMS, expireAt = durMS(refresh), strconv.FormatInt(now.UnixMilli()+refresh.Milliseconds(), 10)
	}
	fields, err := loadScript.Exec(ctx, c, []string{s.entryKey(key)}, []string{ms(now), refreshMS, expireAt}).ToArray()
	if rueidis.IsRedisNil(err) {
		return cache.Record{}, cache.ErrNotFound
	}
	if err != nil {
		return cache.Record{}, s.b.wrap(ctx, "load", err)
	}
	if len(fields) != 4 {
		return cache.Record{}, fmt.Errorf("redis: load: reply of %d fields, want 4", len(fields))
	}
	var r cache.Record
	v, err := fields[0].ToString()
	if err == nil {
		r.Value = []byte(v)
		r.CreatedAt, err = parseMS(fields[1])
	}
	if err == nil {
		r.ReadAt, err = parseMS(fields[2])
	}
	if err == nil {
		r.ExpireAt, err = parseMS(fields[3])
	}
	if err != nil {
		return cache.Record{}, fmt.Errorf("redis: load %q: malformed entry: %w", key, err)
	}
	return r, nil
}

// Destroy implements cache.Store.
func (s *CacheStore) Destroy(ctx context.Context, owner, key string) error {
	c, err := s.b.conn(ctx)
	if err != nil {
		return err
	}
	n, err := destroyScript.Exec(ctx, c, []string{s.entryKey(key), s.lockKey(key)}, []string{owner}).AsInt64()
	switch {
	case err != nil:
		return s.b.wrap(ctx, "destroy", err)
	case n < 0:
		return cache.ErrLocked
	case n == 0:
		return cache.ErrNotFound
	}
	return nil
}

// escapeGlob escapes the glob characters of s, so that a pattern matches
// it literally.
func escapeGlob(s string) string {
	if !strings.ContainsAny(s, `*?[]\`) {
		return s
	}
	var b strings.Builder
	for i := range len(s) {
		switch s[i] {
		case '*', '?', '[', ']', '\\':
			b.WriteByte('\\')
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// scan calls fn with every key matching match on every node, each once,
// batch by batch. SCAN may return a key twice, and a cluster has several
// nodes (replicas included): fn sees each key once all the same.
func (s *CacheStore) scan(ctx context.Context, c rueidis.Client, match string, fn func(keys []string) error) error {
	seen := make(map[string]struct{})
	for _, node := range c.Nodes() {
		var cursor uint64
		for {
			e, err := node.Do(ctx, node.B().Scan().Cursor(cursor).Match(match).Count(1000).Build()).AsScanEntry()
			if err != nil {
				return s.b.wrap(ctx, "scan", err)
			}
			fresh := e.Elements[:0]
			for _, k := range e.Elements {
				if _, dup := seen[k]; !dup {
					seen[k] = struct{}{}
					fresh = append(fresh, k)
				}
			}
			if len(fresh) > 0 {
				if err := fn(fresh); err != nil {
					return err
				}
			}
			if cursor = e.Cursor; cursor == 0 {
				break
			}
		}
	}
	return nil
}

// cacheMatch returns the SCAN pattern of the cache keys matching pattern.
func (s *CacheStore) cacheMatch(kind, pattern string) string {
	if pattern == "" {
		pattern = "*"
	}
	return escapeGlob(s.prefix+kind) + "{????????}" + pattern
}

// Keys implements cache.Store.
func (s *CacheStore) Keys(ctx context.Context, pattern string) ([]string, error) {
	c, err := s.b.conn(ctx)
	if err != nil {
		return nil, err
	}
	keys := []string{}
	err = s.scan(ctx, c, s.cacheMatch("cache:", pattern), func(batch []string) error {
		for _, k := range batch {
			if uk, ok := s.userKey("cache:", k); ok {
				keys = append(keys, uk)
			}
		}
		return nil
	})
	return keys, err
}

// Size implements cache.Store.
func (s *CacheStore) Size(ctx context.Context) (int, error) {
	c, err := s.b.conn(ctx)
	if err != nil {
		return 0, err
	}
	n := 0
	err = s.scan(ctx, c, s.cacheMatch("cache:", ""), func(batch []string) error {
		n += len(batch)
		return nil
	})
	return n, err
}

// Clear implements cache.Store.
func (s *CacheStore) Clear(ctx context.Context) error {
	c, err := s.b.conn(ctx)
	if err != nil {
		return err
	}
	return s.scan(ctx, c, s.cacheMatch("cache:", ""), func(batch []string) error {
		// One UNLINK per key: in a cluster, the keys of a batch live in
		// many slots.
		cmds := make(rueidis.Commands, len(batch))
		for i, k := range batch {
			cmds[i] = c.B().Unlink().Key(k).Build()
		}
		for _, r := range c.DoMulti(ctx, cmds...) {
			if err := r.Error(); err != nil {
				return s.b.wrap(ctx, "clear", err)
			}
		}
		return nil
	})
}

// Push implements cache.Store.
func (s *CacheStore) Push(ctx context.Context, list string, value []byte) error {
	c, err := s.b.conn(ctx)
	if err != nil {
		return err
	}
	err = c.Do(ctx, c.B().Rpush().Key(s.entryKey(list)).Element(string(value)).Build()).Error()
	return s.b.wrap(ctx, "push", err)
}

// Pop implements cache.Store.
func (s *CacheStore) Pop(ctx context.Context, list string) ([]byte, error) {
	c, err := s.b.conn(ctx)
	if err != nil {
		return nil, err
	}
	v, err := c.Do(ctx, c.B().Lpop().Key(s.entryKey(list)).Build()).AsBytes()
	if rueidis.IsRedisNil(err) {
		return nil, cache.ErrNotFound
	}
	if err != nil {
		return nil, s.b.wrap(ctx, "pop", err)
	}
	return v, nil
}

// ListLength implements cache.Store.
func (s *CacheStore) ListLength(ctx context.Context, list string) (int, error) {
	c, err := s.b.conn(ctx)
	if err != nil {
		return 0, err
	}
	n, err := c.Do(ctx, c.B().Llen().Key(s.entryKey(list)).Build()).AsInt64()
	if err != nil {
		return 0, s.b.wrap(ctx, "list length", err)
	}
	return int(n), nil
}

// Lock implements cache.Store.
func (s *CacheStore) Lock(ctx context.Context, owner, key string, ttl time.Duration) (bool, error) {
	if ttl <= 0 {
		return false, errors.New("redis: lock ttl must be positive")
	}
	c, err := s.b.conn(ctx)
	if err != nil {
		return false, err
	}
	ttl = max(ttl.Truncate(time.Millisecond), time.Millisecond)
	err = c.Do(ctx, c.B().Set().Key(s.lockKey(key)).Value(owner).Nx().PxMilliseconds(ttl.Milliseconds()).Build()).Error()
	if rueidis.IsRedisNil(err) {
		return false, nil
	}
	if err != nil {
		return false, s.b.wrap(ctx, "lock", err)
	}
	return true, nil
}

// Unlock implements cache.Store.
func (s *CacheStore) Unlock(ctx context.Context, owner, key string) (bool, error) {
	c, err := s.b.conn(ctx)
	if err != nil {
		return false, err
	}
	n, err := unlockScript.Exec(ctx, c, []string{s.lockKey(key)}, []string{owner}).AsInt64()
	if err != nil {
		return false, s.b.wrap(ctx, "unlock", err)
	}
	return n == 1, nil
}

// LockOwner implements cache.Store.
func (s *CacheStore) LockOwner(ctx context.Context, key string) (string, error) {
	c, err := s.b.conn(ctx)
	if err != nil {
		return "", err
	}
	owner, err := c.Do(ctx, c.B().Get().Key(s.lockKey(key)).Build()).ToString()
	if rueidis.IsRedisNil(err) {
		return "", nil
	}
	if err != nil {
		return "", s.b.wrap(ctx, "check lock", err)
	}
	return owner, nil
}

// Locks implements cache.Store.
func (s *CacheStore) Locks(ctx context.Context) ([]cache.Lock, error) {
	c, err := s.b.conn(ctx)
	if err != nil {
		return nil, err
	}
	locks := []cache.Lock{}
	err = s.scan(ctx, c, s.cacheMatch("lock:", ""), func(batch []string) error {
		// PEXPIRETIME (Redis 7) gives the server's own expiry time; on an
		// older server fall back to PTTL, read against our clock.
		cmds := make(rueidis.Commands, 0, 2*len(batch))
		for _, k := range batch {
			cmds = append(cmds, c.B().Get().Key(k).Build(), c.B().Pexpiretime().Key(k).Build())
		}
		res := c.DoMulti(ctx, cmds...)
		absolute := true
		var now time.Time
		if len(res) > 1 && isUnknownCommand(res[1].Error()) {
			absolute = false
			cmds = cmds[:0]
			for _, k := range batch {
				cmds = append(cmds, c.B().Get().Key(k).Build(), c.B().Pttl().Key(k).Build())
			}
			now = s.now()
			res = c.DoMulti(ctx, cmds...)
		}
		for i, k := range batch {
			owner, err := res[2*i].ToString()
			if rueidis.IsRedisNil(err) {
				continue // released since the scan
			}
			if err != nil {
				return s.b.wrap(ctx, "locks", err)
			}
			ms, err := res[2*i+1].AsInt64()
			if err != nil {
				return s.b.wrap(ctx, "locks", err)
			}
			if ms < 0 {
				continue // gone (-2), or a stray key without TTL (-1)
			}
			uk, ok := s.userKey("lock:", k)
			if !ok {
				continue
			}
			if !absolute {
				ms += now.UnixMilli()
			}
			locks = append(locks, cache.Lock{Key: uk, Owner: owner, ExpireAt: time.UnixMilli(ms)})
		}
		return nil
	})
	return locks, err
}

// isUnknownCommand reports whether err is Redis refusing a command it does
// not know, as servers older than the command do.
func isUnknownCommand(err error) bool {
	var re *rueidis.RedisError
	return errors.As(err, &re) && strings.HasPrefix(re.Error(), "ERR unknown command")
}
