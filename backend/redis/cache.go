package redis

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/redis/rueidis"

	"github.com/stellarfw/stellar-go/cache"
)

var _ cache.Store = (*CacheStore)(nil)

// CacheStore is the cache's store in Redis. Obtain it from Backend.Cache.
//
// An entry is a string: a header of three times in Unix milliseconds, each
// 16 hexadecimal digits (last read, created, expiry; all zeros for none),
// then the value; it has the same expiry as a Redis TTL. A list is a Redis
// list. Both live at PREFIX cache:{TAG}KEY. The lock on KEY is a string
// holding the owner's node id at PREFIX lock:{TAG}KEY, with a TTL. TAG is
// a hash of KEY: the entry and its lock share a Cluster slot whatever
// characters KEY holds.
//
// With Config.ClientCache, Load reads the entry with a GET that the
// client keeps in its memory, invalidated by the server when the key
// changes (RESP3 client-side caching), and records no read.
type CacheStore struct {
	b      *Backend
	now    func() time.Time
	prefix string
	local  time.Duration // Config.ClientCache
}

// headerLen is the length of an entry's header: three times of 16 hex
// digits.
const headerLen = 48

// The scripts make each write atomic: the lock check and the write, or the
// read and the read-time update, happen as one. Each makes as few calls as
// it can: Redis spends more on a script's calls than on running it.
var (
	// KEYS: entry, lock. ARGV: owner, entry (header and value), ttl (ms).
	// Returns 1, or 0 if another node holds the lock.
	saveScript = rueidis.NewLuaScript(`
local o = redis.call('GET', KEYS[2])
if o and o ~= ARGV[1] then return 0 end
if ARGV[3] ~= '0' then
  redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[3])
else
  redis.call('SET', KEYS[1], ARGV[2])
end
return 1`)

	// KEYS: entry. ARGV: now (16 hex), refresh ttl (ms), new expireAt (16
	// hex). Records the read in the header in place; returns the entry as
	// it was before, or nil.
	loadScript = rueidis.NewLuaScript(`
local v = redis.call('GET', KEYS[1])
if not v then return false end
if ARGV[2] ~= '0' then
  redis.call('SETRANGE', KEYS[1], 0, ARGV[1] .. string.sub(v, 17, 32) .. ARGV[3])
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
else
  redis.call('SETRANGE', KEYS[1], 0, ARGV[1])
end
return v`)

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

// appendHex appends t (Unix ms; the zero time as 0) as 16 hex digits.
func appendHex(b []byte, t time.Time) []byte {
	var n uint64
	if !t.IsZero() {
		n = uint64(t.UnixMilli())
	}
	const digits = "0123456789abcdef"
	for shift := 60; shift >= 0; shift -= 4 {
		b = append(b, digits[(n>>uint(shift))&0xf])
	}
	return b
}

func hexTime(t time.Time) string { return string(appendHex(make([]byte, 0, 16), t)) }

// parseHex reads 16 hex digits written by appendHex.
func parseHex(s string) (time.Time, error) {
	if len(s) != 16 {
		return time.Time{}, fmt.Errorf("bad time %q", s)
	}
	var n uint64
	for i := range 16 {
		c := s[i]
		switch {
		case '0' <= c && c <= '9':
			c -= '0'
		case 'a' <= c && c <= 'f':
			c -= 'a' - 10
		default:
			return time.Time{}, fmt.Errorf("bad time %q", s)
		}
		n = n<<4 | uint64(c)
	}
	if n == 0 {
		return time.Time{}, nil
	}
	return time.UnixMilli(int64(n)), nil
}

// parseEntry splits an entry into its record.
func parseEntry(s string) (cache.Record, error) {
	if len(s) < headerLen {
		return cache.Record{}, fmt.Errorf("entry of %d bytes, shorter than its header", len(s))
	}
	var r cache.Record
	var err error
	if r.ReadAt, err = parseHex(s[0:16]); err != nil {
		return r, err
	}
	if r.CreatedAt, err = parseHex(s[16:32]); err != nil {
		return r, err
	}
	if r.ExpireAt, err = parseHex(s[32:48]); err != nil {
		return r, err
	}
	r.Value = []byte(s[headerLen:])
	return r, nil
}

// tag returns the hash tag of a user key: 8 hex digits of its 32-bit
// FNV-1a hash, never empty and never holding a brace.
func tag(key string) string {
	const offset, prime = 2166136261, 16777619
	v := uint32(offset)
	for i := range len(key) {
		v ^= uint32(key[i])
		v *= prime
	}
	const digits = "0123456789abcdef"
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

func durMS(d time.Duration) string { return strconv.FormatInt(d.Milliseconds(), 10) }

// Save implements cache.Store: one script, whose only calls are the check
// of the lock and the SET of the entry.
func (s *CacheStore) Save(ctx context.Context, owner, key string, value []byte, ttl time.Duration) error {
	c, err := s.b.conn(ctx)
	if err != nil {
		return err
	}
	now := s.now()
	ttlMS := "0"
	var expireAt time.Time
	if ttl > 0 {
		// Redis counts in milliseconds; never round a TTL down to none.
		ttl = max(ttl.Truncate(time.Millisecond), time.Millisecond)
		ttlMS, expireAt = durMS(ttl), time.UnixMilli(now.UnixMilli()+ttl.Milliseconds())
	}
	entry := make([]byte, 0, headerLen+len(value))
	entry = appendHex(entry, time.Time{})
	entry = appendHex(entry, now)
	entry = appendHex(entry, expireAt)
	entry = append(entry, value...)
	var n int64
	err = again(ctx, func() error {
		n, err = saveScript.Exec(ctx, c,
			[]string{s.entryKey(key), s.lockKey(key)},
			[]string{owner, string(entry), ttlMS}).AsInt64()
		return err
	})
	if err != nil {
		return s.b.wrap(ctx, "save", err)
	}
	if n == 0 {
		return cache.ErrLocked
	}
	return nil
}

// Load implements cache.Store: one script that reads the entry and records
// the read in its header in place; or, with Config.ClientCache and no
// refresh, a GET served from this client's memory while the key has not
// changed, which records no read.
func (s *CacheStore) Load(ctx context.Context, key string, refresh time.Duration) (cache.Record, error) {
	c, err := s.b.conn(ctx)
	if err != nil {
		return cache.Record{}, err
	}
	var v string
	if s.local > 0 && refresh <= 0 {
		v, err = c.DoCache(ctx, c.B().Get().Key(s.entryKey(key)).Cache(), s.local).ToString()
	} else {
		now := s.now()
		refreshMS, expireAt := "0", ""
		if refresh > 0 {
			refresh = max(refresh.Truncate(time.Millisecond), time.Millisecond)
			refreshMS, expireAt = durMS(refresh), hexTime(time.UnixMilli(now.UnixMilli()+refresh.Milliseconds()))
		}
		err = again(ctx, func() error {
			v, err = loadScript.Exec(ctx, c, []string{s.entryKey(key)}, []string{hexTime(now), refreshMS, expireAt}).ToString()
			return err
		})
		if err == nil && refresh > 0 && len(v) >= headerLen {
			v = v[:32] + expireAt + v[headerLen:]
		}
	}
	if rueidis.IsRedisNil(err) {
		return cache.Record{}, cache.ErrNotFound
	}
	if err != nil {
		return cache.Record{}, s.b.wrap(ctx, "load", err)
	}
	r, err := parseEntry(v)
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

// again runs an idempotent call, and once more when it failed on the
// connection rather than with a reply of Redis: after Redis restarts,
// each of the client's pipelined connections learns it only when a
// write fails on it, and the client retries only read-only commands by
// itself. A Save or a Load made again does what it would have done.
func again(ctx context.Context, call func() error) error {
	err := call()
	if err == nil || rueidis.IsRedisNil(err) || ctx.Err() != nil {
		return err
	}
	if _, reply := rueidis.IsRedisErr(err); reply {
		return err
	}
	return call()
}
