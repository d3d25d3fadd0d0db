package backendtest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stellarfw/stellar-go/cache"
)

// CacheBackend is what RunCache needs from a backend under test.
type CacheBackend struct {
	// NewStores returns n stores on the same fresh, empty data, as n nodes
	// of one cluster would open them, released when t ends. A backend that
	// takes an injected clock runs them on clock.Now when clock is not nil.
	NewStores func(t *testing.T, n int, clock *Clock) []cache.Store
	// FakeClock says the backend honours the clock: the TTL tests then
	// advance it. Otherwise they use short real TTLs and poll.
	FakeClock bool
}

// RunCache runs the cache conformance suite against a backend.
func RunCache(t *testing.T, b CacheBackend) {
	t.Helper()
	tests := []struct {
		name string
		fn   func(t *testing.T, e *cacheEnv)
	}{
		{"SaveLoadValues", testSaveLoadValues},
		{"LoadMetadata", testLoadMetadata},
		{"LoadTyped", testLoadTyped},
		{"MissingKeys", testMissingKeys},
		{"Destroy", testDestroy},
		{"TTL", testTTL},
		{"RefreshTTL", testRefreshTTL},
		{"KeysSizeClear", testKeysSizeClear},
		{"KeysPattern", testKeysPattern},
		{"KeysMany", testKeysMany},
		{"Lists", testLists},
		{"WrongType", testWrongType},
		{"LockOwnership", testLockOwnership},
		{"LockTTL", testLockTTL},
		{"CheckLockRetry", testCheckLockRetry},
		{"Locks", testLocks},
		{"LockContention", testLockContention},
		{"AtomicSaveLoad", testAtomicSaveLoad},
		{"CanceledContext", testCanceledContext},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			tc.fn(t, newCacheEnv(t, b, 2))
		})
	}
}

// cacheEnv is one test's view: caches of several nodes on the same data.
type cacheEnv struct {
	clock  *Clock // nil on real time
	stores []cache.Store
	nodes  []*cache.Cache // node-1 on stores[0], node-2 on stores[1], ...
}

func newCacheEnv(t *testing.T, b CacheBackend, n int) *cacheEnv {
	t.Helper()
	e := &cacheEnv{}
	if b.FakeClock {
		e.clock = NewClock()
	}
	e.stores = b.NewStores(t, n, e.clock)
	if len(e.stores) != n {
		t.Fatalf("NewStores returned %d stores, want %d", len(e.stores), n)
	}
	for i, s := range e.stores {
		e.nodes = append(e.nodes, cache.New(s, cache.Config{
			NodeID:    "node-" + strconv.Itoa(i+1),
			LockRetry: 10 * time.Millisecond,
		}))
	}
	return e
}

// a and b are two nodes of the cluster.
func (e *cacheEnv) a() *cache.Cache { return e.nodes[0] }
func (e *cacheEnv) b() *cache.Cache { return e.nodes[1] }

func (e *cacheEnv) now() time.Time {
	if e.clock != nil {
		return e.clock.Now()
	}
	return time.Now()
}

// checkTime fails unless got lies in [lo, hi], lo taken down to the
// millisecond, the precision Redis keeps. On real time it allows a few
// milliseconds more either side, for times a backend derives from a
// remaining TTL.
func (e *cacheEnv) checkTime(t *testing.T, what string, got, lo, hi time.Time) {
	t.Helper()
	lo = lo.Truncate(time.Millisecond)
	if e.clock == nil {
		lo, hi = lo.Add(-5*time.Millisecond), hi.Add(5*time.Millisecond)
	}
	if got.Before(lo) || got.After(hi) {
		t.Errorf("%s = %v, want within [%v, %v]", what, got, lo, hi)
	}
}

// eventually polls cond until it holds, failing the test at a deadline.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func mustLock(t *testing.T, c *cache.Cache, key string, ttl time.Duration) {
	t.Helper()
	ok, err := c.Lock(t.Context(), key, ttl)
	must(t, err)
	if !ok {
		t.Fatalf("%s: Lock(%q) = false, want true", c.NodeID(), key)
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func wantErr(t *testing.T, what string, err, want error) {
	t.Helper()
	if !errors.Is(err, want) {
		t.Fatalf("%s: err = %v, want %v", what, err, want)
	}
}

func testSaveLoadValues(t *testing.T, e *cacheEnv) {
	ctx := t.Context()
	type obj struct {
		Name string         `json:"name"`
		Tags []string       `json:"tags"`
		Meta map[string]int `json:"meta"`
	}
	tests := []struct {
		name  string
		value any
		want  string
	}{
		{"string", "XPTO Website", `"XPTO Website"`},
		{"number", 42.5, `42.5`},
		{"bool", true, `true`},
		{"null", nil, `null`},
		{"array", []int{1, 2, 3}, `[1,2,3]`},
		{"object", obj{Name: "a", Tags: []string{"x"}, Meta: map[string]int{"n": 1}}, `{"name":"a","tags":["x"],"meta":{"n":1}}`},
		{"empty string", "", `""`},
		{"binary-ish", "\x00\xff\n\"{}", `"\u0000\ufffd\n\"{}"`},
	}
	for _, tc := range tests {
		key := "value:" + tc.name
		must(t, e.a().Save(ctx, key, tc.value))
		// Another node sees the same value.
		got, err := e.b().Load(ctx, key)
		must(t, err)
		if string(got.Value) != tc.want {
			t.Errorf("%s: Load = %s, want %s", tc.name, got.Value, tc.want)
		}
		if got.Key != key {
			t.Errorf("%s: Entry.Key = %q, want %q", tc.name, got.Key, key)
		}
	}
	// Save replaces.
	must(t, e.a().Save(ctx, "value:string", "second"))
	got, err := e.a().Load(ctx, "value:string")
	must(t, err)
	if string(got.Value) != `"second"` {
		t.Errorf("after second Save, Load = %s", got.Value)
	}
	// Keys of any shape, including hash-tag braces and glob characters.
	for _, key := range []string{"{tag}", "}", "{", "a{b}c", "with space", "ключ", "*", "a:b:c", "\\"} {
		must(t, e.a().Save(ctx, key, key))
		var v string
		got, err := e.b().Load(ctx, key)
		must(t, err)
		must(t, got.Decode(&v))
		if v != key {
			t.Errorf("key %q: Load = %q", key, v)
		}
	}
	// A value that JSON cannot encode is refused, and nothing is stored.
	if err := e.a().Save(ctx, "bad", make(chan int)); err == nil {
		t.Error("Save(chan) succeeded")
	}
	_, err = e.a().Load(ctx, "bad")
	wantErr(t, "Load after failed Save", err, cache.ErrNotFound)
	// The empty key is invalid everywhere.
	wantErr(t, "Save empty key", e.a().Save(ctx, "", 1), cache.ErrInvalidKey)
	_, err = e.a().Load(ctx, "")
	wantErr(t, "Load empty key", err, cache.ErrInvalidKey)
}

func testLoadMetadata(t *testing.T, e *cacheEnv) {
	ctx := t.Context()
	before := e.now()
	must(t, e.a().Save(ctx, "meta", "v"))
	after := e.now()

	first, err := e.a().Load(ctx, "meta")
	must(t, err)
	e.checkTime(t, "CreatedAt", first.CreatedAt, before, after)
	if !first.ReadAt.IsZero() {
		t.Errorf("first Load: ReadAt = %v, want zero (never read)", first.ReadAt)
	}
	if !first.ExpireAt.IsZero() {
		t.Errorf("ExpireAt = %v, want zero (no TTL)", first.ExpireAt)
	}
	firstReadLo := e.now()
	if e.clock != nil {
		e.clock.Advance(1500 * time.Millisecond)
	}
	// ReadAt is the previous read, whichever node made it.
	secondLo := e.now()
	second, err := e.b().Load(ctx, "meta")
	must(t, err)
	secondHi := e.now()
	e.checkTime(t, "second Load ReadAt", second.ReadAt, after, firstReadLo.Add(time.Millisecond))
	if !second.CreatedAt.Equal(first.CreatedAt) {
		t.Errorf("CreatedAt changed from %v to %v on read", first.CreatedAt, second.CreatedAt)
	}
	third, err := e.a().Load(ctx, "meta")
	must(t, err)
	e.checkTime(t, "third Load ReadAt", third.ReadAt, secondLo, secondHi)

	// Saving again makes a new entry: new CreatedAt, no reads.
	if e.clock != nil {
		e.clock.Advance(time.Second)
	}
	before = e.now()
	must(t, e.a().Save(ctx, "meta", "v2", cache.TTL(time.Hour)))
	after = e.now()
	got, err := e.a().Load(ctx, "meta")
	must(t, err)
	e.checkTime(t, "CreatedAt after re-Save", got.CreatedAt, before, after)
	if !got.ReadAt.IsZero() {
		t.Errorf("ReadAt after re-Save = %v, want zero", got.ReadAt)
	}
	if d := got.ExpireAt.Sub(got.CreatedAt); d != time.Hour {
		t.Errorf("ExpireAt - CreatedAt = %v, want 1h", d)
	}
}

func testLoadTyped(t *testing.T, e *cacheEnv) {
	ctx := t.Context()
	type user struct {
		ID   int    `json:"id"`
		Name string `json:"name"`
	}
	must(t, e.a().Save(ctx, "user:1", user{ID: 1, Name: "Ada"}))
	var entry cache.Entry
	u, err := cache.Load[user](ctx, e.b(), "user:1", cache.WithEntry(&entry))
	must(t, err)
	if u != (user{ID: 1, Name: "Ada"}) || entry.Key != "user:1" {
		t.Errorf("Load[user] = %+v, %+v", u, entry)
	}
	// A value of another shape is a decode error, not a zero value.
	must(t, e.a().Save(ctx, "notuser", "just a string"))
	if _, err := cache.Load[user](ctx, e.a(), "notuser"); err == nil || errors.Is(err, cache.ErrNotFound) {
		t.Errorf("Load[user] of a string: err = %v, want a decode error", err)
	}
	_, err = cache.Load[user](ctx, e.a(), "nobody")
	wantErr(t, "Load[user] missing", err, cache.ErrNotFound)
}

func testMissingKeys(t *testing.T, e *cacheEnv) {
	ctx := t.Context()
	_, err := e.a().Load(ctx, "missing")
	wantErr(t, "Load missing", err, cache.ErrNotFound)
	wantErr(t, "Destroy missing", e.a().Destroy(ctx, "missing"), cache.ErrNotFound)
	_, err = e.a().Pop(ctx, "missing")
	wantErr(t, "Pop missing", err, cache.ErrNotFound)
	n, err := e.a().ListLength(ctx, "missing")
	must(t, err)
	if n != 0 {
		t.Errorf("ListLength missing = %d", n)
	}
	ok, err := e.a().Unlock(ctx, "missing")
	must(t, err)
	if ok {
		t.Error("Unlock of a key nobody locked reported true")
	}
	ok, err = e.a().CheckLock(ctx, "missing", false)
	must(t, err)
	if !ok {
		t.Error("CheckLock of an unlocked key = false")
	}
}

func testDestroy(t *testing.T, e *cacheEnv) {
	ctx := t.Context()
	must(t, e.a().Save(ctx, "gone", 1))
	must(t, e.b().Destroy(ctx, "gone"))
	_, err := e.a().Load(ctx, "gone")
	wantErr(t, "Load destroyed", err, cache.ErrNotFound)
	wantErr(t, "Destroy twice", e.a().Destroy(ctx, "gone"), cache.ErrNotFound)
	// Destroy removes lists too.
	must(t, e.a().Push(ctx, "q", 1))
	must(t, e.a().Destroy(ctx, "q"))
	n, err := e.a().ListLength(ctx, "q")
	must(t, err)
	if n != 0 {
		t.Errorf("ListLength of destroyed list = %d", n)
	}
}

func testTTL(t *testing.T, e *cacheEnv) {
	ctx := t.Context()
	ttl := 10 * time.Second
	if e.clock == nil {
		ttl = time.Second
	}
	before := e.now()
	must(t, e.a().Save(ctx, "ttl", "v", cache.TTL(ttl)))
	after := e.now()
	must(t, e.a().Save(ctx, "forever", "v"))
	got, err := e.b().Load(ctx, "ttl")
	must(t, err)
	e.checkTime(t, "ExpireAt", got.ExpireAt, before.Add(ttl), after.Add(ttl))

	if e.clock != nil {
		e.clock.Advance(ttl - time.Millisecond)
		if _, err := e.a().Load(ctx, "ttl"); err != nil {
			t.Fatalf("Load 1ms before expiry: %v", err)
		}
		e.clock.Advance(time.Millisecond)
		_, err := e.a().Load(ctx, "ttl")
		wantErr(t, "Load at expiry", err, cache.ErrNotFound)
	} else {
		eventually(t, "the entry to expire", func() bool {
			_, err := e.a().Load(ctx, "ttl")
			if err != nil && !errors.Is(err, cache.ErrNotFound) {
				t.Fatal(err)
			}
			return err != nil
		})
		if gone := time.Now(); gone.Before(before.Add(ttl).Truncate(time.Millisecond)) {
			t.Fatalf("entry expired at %v, before its expiry %v", gone, before.Add(ttl))
		}
	}
	// Expired keys are gone everywhere.
	keys, err := e.a().Keys(ctx, "")
	must(t, err)
	if !slices.Equal(keys, []string{"forever"}) {
		t.Errorf("Keys after expiry = %q, want [forever]", keys)
	}
	n, err := e.a().Size(ctx)
	must(t, err)
	if n != 1 {
		t.Errorf("Size after expiry = %d, want 1", n)
	}
	wantErr(t, "Destroy expired", e.a().Destroy(ctx, "ttl"), cache.ErrNotFound)
	if _, err := e.a().Load(ctx, "forever"); err != nil {
		t.Errorf("entry without TTL: %v", err)
	}
	// A zero or negative TTL means none.
	must(t, e.a().Save(ctx, "zero", "v", cache.TTL(0)))
	must(t, e.a().Save(ctx, "negative", "v", cache.TTL(-time.Second)))
	for _, k := range []string{"zero", "negative"} {
		got, err := e.a().Load(ctx, k)
		must(t, err)
		if !got.ExpireAt.IsZero() {
			t.Errorf("%s TTL: ExpireAt = %v, want none", k, got.ExpireAt)
		}
	}
}

func testRefreshTTL(t *testing.T, e *cacheEnv) {
	ctx := t.Context()
	if e.clock != nil {
		must(t, e.a().Save(ctx, "r", "v", cache.TTL(10*time.Second)))
		e.clock.Advance(8 * time.Second)
		got, err := e.b().Load(ctx, "r", cache.RefreshTTL(10*time.Second))
		must(t, err)
		if want := e.clock.Now().Add(10 * time.Second); !got.ExpireAt.Equal(want) {
			t.Errorf("ExpireAt after refresh = %v, want %v", got.ExpireAt, want)
		}
		e.clock.Advance(8 * time.Second) // past the first expiry
		got, err = e.a().Load(ctx, "r")
		must(t, err)
		if want := e.clock.Now().Add(2 * time.Second); !got.ExpireAt.Equal(want) {
			t.Errorf("a plain Load changed ExpireAt to %v, want %v", got.ExpireAt, want)
		}
		e.clock.Advance(2 * time.Second)
		_, err = e.a().Load(ctx, "r")
		wantErr(t, "Load after refreshed expiry", err, cache.ErrNotFound)

		// Refresh gives an expiry to an entry that had none.
		must(t, e.a().Save(ctx, "r2", "v"))
		_, err = e.a().Load(ctx, "r2", cache.RefreshTTL(time.Second))
		must(t, err)
		e.clock.Advance(time.Second)
		_, err = e.a().Load(ctx, "r2")
		wantErr(t, "Load after refresh of an entry without TTL", err, cache.ErrNotFound)
		return
	}

	start := time.Now()
	must(t, e.a().Save(ctx, "r", "v", cache.TTL(time.Second)))
	before := time.Now()
	got, err := e.b().Load(ctx, "r", cache.RefreshTTL(time.Hour))
	must(t, err)
	e.checkTime(t, "ExpireAt after refresh", got.ExpireAt, before.Add(time.Hour), time.Now().Add(time.Hour))
	// Past the first expiry, the entry is still there.
	time.Sleep(time.Until(start.Add(1200 * time.Millisecond)))
	if _, err := e.a().Load(ctx, "r"); err != nil {
		t.Fatalf("Load past the original TTL of a refreshed entry: %v", err)
	}
	// Refresh to a short TTL, and to an entry without one: both expire.
	must(t, e.a().Save(ctx, "r2", "v"))
	for _, k := range []string{"r", "r2"} {
		_, err := e.a().Load(ctx, k, cache.RefreshTTL(200*time.Millisecond))
		must(t, err)
	}
	eventually(t, "refreshed entries to expire", func() bool {
		n, err := e.a().Size(ctx)
		must(t, err)
		return n == 0
	})
}

func testKeysSizeClear(t *testing.T, e *cacheEnv) {
	ctx := t.Context()
	keys, err := e.a().Keys(ctx, "")
	must(t, err)
	if len(keys) != 0 {
		t.Fatalf("Keys of a fresh store = %q", keys)
	}
	must(t, e.a().Save(ctx, "k1", 1))
	must(t, e.b().Save(ctx, "k2", 2))
	must(t, e.a().Push(ctx, "list", "x"))
	mustLock(t, e.a(), "locked", time.Minute)
	keys, err = e.b().Keys(ctx, "")
	must(t, err)
	if want := []string{"k1", "k2", "list"}; !slices.Equal(keys, want) {
		t.Errorf("Keys = %q, want %q (sorted, locks not included)", keys, want)
	}
	n, err := e.a().Size(ctx)
	must(t, err)
	if n != 3 {
		t.Errorf("Size = %d, want 3", n)
	}
	// Clear removes entries and lists, even locked ones, but not locks.
	mustLock(t, e.a(), "k1", time.Minute)
	must(t, e.b().Clear(ctx))
	n, err = e.a().Size(ctx)
	must(t, err)
	if n != 0 {
		t.Errorf("Size after Clear = %d", n)
	}
	_, err = e.a().Load(ctx, "k1")
	wantErr(t, "Load after Clear", err, cache.ErrNotFound)
	locks, err := e.a().Locks(ctx)
	must(t, err)
	if len(locks) != 2 {
		t.Errorf("Locks after Clear = %v, want the 2 locks kept", locks)
	}
	must(t, e.a().Clear(ctx)) // clearing an empty cache is fine
}

func testKeysPattern(t *testing.T, e *cacheEnv) {
	ctx := t.Context()
	all := []string{"user:1", "user:2", "user:10", "session:1", "a*b", "axb", "h?llo", "hello", "{tag}:x", "[x]"}
	for _, k := range all {
		must(t, e.a().Save(ctx, k, k))
	}
	tests := []struct {
		pattern string
		want    []string
	}{
		{"", all},
		{"*", all},
		{"user:*", []string{"user:1", "user:10", "user:2"}},
		{"user:?", []string{"user:1", "user:2"}},
		{"*:1", []string{"session:1", "user:1"}},
		{"user:[12]", []string{"user:1", "user:2"}},
		{"user:[^1]", []string{"user:2"}},
		{"user:[0-1]*", []string{"user:1", "user:10"}},
		{`a\*b`, []string{"a*b"}},
		{"a*b", []string{"a*b", "axb"}},
		{`h\?llo`, []string{"h?llo"}},
		{"h?llo", []string{"h?llo", "hello"}},
		{"{tag}*", []string{"{tag}:x"}},
		{`\[x\]`, []string{"[x]"}},
		{"nothing*", nil},
	}
	for _, tc := range tests {
		got, err := e.b().Keys(ctx, tc.pattern)
		must(t, err)
		want := slices.Sorted(slices.Values(tc.want))
		if !slices.Equal(got, want) {
			t.Errorf("Keys(%q) = %q, want %q", tc.pattern, got, want)
		}
	}
}

// testKeysMany checks that Keys, Size and Clear see every key, however many
// pages a scan takes.
func testKeysMany(t *testing.T, e *cacheEnv) {
	ctx := t.Context()
	const n = 600
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for w := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := w; i < n; i += 8 {
				if err := e.nodes[i%2].Save(ctx, fmt.Sprintf("many:%04d", i), i); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	keys, err := e.a().Keys(ctx, "many:*")
	must(t, err)
	if len(keys) != n {
		t.Fatalf("Keys = %d keys, want %d", len(keys), n)
	}
	for i, k := range keys {
		if want := fmt.Sprintf("many:%04d", i); k != want {
			t.Fatalf("Keys[%d] = %q, want %q", i, k, want)
		}
	}
	size, err := e.b().Size(ctx)
	must(t, err)
	if size != n {
		t.Errorf("Size = %d, want %d", size, n)
	}
	must(t, e.a().Clear(ctx))
	size, err = e.b().Size(ctx)
	must(t, err)
	if size != 0 {
		t.Errorf("Size after Clear = %d", size)
	}
}

func testLists(t *testing.T, e *cacheEnv) {
	ctx := t.Context()
	for i := range 10 {
		must(t, e.nodes[i%2].Push(ctx, "fifo", map[string]int{"n": i}))
	}
	n, err := e.a().ListLength(ctx, "fifo")
	must(t, err)
	if n != 10 {
		t.Fatalf("ListLength = %d, want 10", n)
	}
	for i := range 10 {
		v, err := cache.Pop[map[string]int](ctx, e.nodes[(i+1)%2], "fifo")
		must(t, err)
		if v["n"] != i {
			t.Fatalf("pop %d = %v, want n=%d (first in, first out)", i, v, i)
		}
	}
	_, err = e.a().Pop(ctx, "fifo")
	wantErr(t, "Pop empty list", err, cache.ErrNotFound)
	n, err = e.a().ListLength(ctx, "fifo")
	must(t, err)
	if n != 0 {
		t.Errorf("ListLength of emptied list = %d", n)
	}
	// An emptied list no longer exists, as in Redis.
	keys, err := e.a().Keys(ctx, "")
	must(t, err)
	if len(keys) != 0 {
		t.Errorf("Keys after emptying the list = %q", keys)
	}
	// Raw Pop returns the JSON pushed.
	must(t, e.a().Push(ctx, "raw", []string{"a", "b"}))
	raw, err := e.b().Pop(ctx, "raw")
	must(t, err)
	if string(raw) != `["a","b"]` {
		t.Errorf("Pop = %s", raw)
	}
	// Many items, interleaved pushes and pops, keep their order.
	next, want := 0, 0
	for round := range 50 {
		for range round % 7 {
			must(t, e.a().Push(ctx, "long", next))
			next++
		}
		for range round % 5 {
			v, err := cache.Pop[int](ctx, e.b(), "long")
			if want == next {
				wantErr(t, "Pop drained list", err, cache.ErrNotFound)
				break
			}
			must(t, err)
			if v != want {
				t.Fatalf("Pop = %d, want %d", v, want)
			}
			want++
		}
	}
	n, err = e.a().ListLength(ctx, "long")
	must(t, err)
	if n != next-want {
		t.Errorf("ListLength = %d, want %d", n, next-want)
	}
	// Unencodable items are refused.
	if err := e.a().Push(ctx, "bad", func() {}); err == nil {
		t.Error("Push(func) succeeded")
	}
}

func testWrongType(t *testing.T, e *cacheEnv) {
	ctx := t.Context()
	must(t, e.a().Save(ctx, "entry", 1))
	must(t, e.a().Push(ctx, "list", 1))
	_, err := e.a().Load(ctx, "list")
	wantErr(t, "Load of a list", err, cache.ErrWrongType)
	wantErr(t, "Push on an entry", e.a().Push(ctx, "entry", 2), cache.ErrWrongType)
	_, err = e.a().Pop(ctx, "entry")
	wantErr(t, "Pop of an entry", err, cache.ErrWrongType)
	_, err = e.a().ListLength(ctx, "entry")
	wantErr(t, "ListLength of an entry", err, cache.ErrWrongType)
	// The failed calls changed nothing.
	got, err := e.a().Load(ctx, "entry")
	must(t, err)
	if string(got.Value) != "1" {
		t.Errorf("entry = %s after wrong-type calls", got.Value)
	}
	// Save replaces a list, as SET does in Redis.
	must(t, e.a().Save(ctx, "list", "now a value"))
	got, err = e.a().Load(ctx, "list")
	must(t, err)
	if string(got.Value) != `"now a value"` {
		t.Errorf("Load after Save over a list = %s", got.Value)
	}
}

func testLockOwnership(t *testing.T, e *cacheEnv) {
	ctx := t.Context()
	a, b := e.a(), e.b()
	must(t, a.Save(ctx, "doc", "v1"))
	mustLock(t, a, "doc", time.Minute)

	// Nobody, the owner included, can take a held lock.
	for _, c := range []*cache.Cache{a, b} {
		ok, err := c.Lock(ctx, "doc", time.Minute)
		must(t, err)
		if ok {
			t.Errorf("%s took a lock already held by node-1", c.NodeID())
		}
	}
	// Another node can neither unlock, save nor destroy.
	ok, err := b.Unlock(ctx, "doc")
	must(t, err)
	if ok {
		t.Error("node-2 unlocked node-1's lock")
	}
	wantErr(t, "Save by another node", b.Save(ctx, "doc", "v2"), cache.ErrLocked)
	wantErr(t, "Save with TTL by another node", b.Save(ctx, "doc", "v2", cache.TTL(time.Hour)), cache.ErrLocked)
	wantErr(t, "Destroy by another node", b.Destroy(ctx, "doc"), cache.ErrLocked)
	// A lock on a key that does not exist yet guards its creation.
	mustLock(t, a, "future", time.Minute)
	wantErr(t, "Save of a locked new key", b.Save(ctx, "future", 1), cache.ErrLocked)
	_, err = b.Load(ctx, "future")
	wantErr(t, "Load of the locked new key", err, cache.ErrNotFound)

	// Reads are not blocked, and the value is untouched.
	got, err := b.Load(ctx, "doc")
	must(t, err)
	if string(got.Value) != `"v1"` {
		t.Errorf("value = %s after refused writes", got.Value)
	}
	ok, err = b.CheckLock(ctx, "doc", false)
	must(t, err)
	if ok {
		t.Error("CheckLock on node-2 = true for node-1's lock")
	}
	ok, err = a.CheckLock(ctx, "doc", false)
	must(t, err)
	if !ok {
		t.Error("CheckLock on node-1 = false for its own lock")
	}
	// The owner acts freely.
	must(t, a.Save(ctx, "doc", "v3"))
	got, err = b.Load(ctx, "doc")
	must(t, err)
	if string(got.Value) != `"v3"` {
		t.Errorf("value = %s, want the owner's save", got.Value)
	}
	ok, err = a.Unlock(ctx, "doc")
	must(t, err)
	if !ok {
		t.Fatal("owner could not unlock")
	}
	ok, err = a.Unlock(ctx, "doc")
	must(t, err)
	if ok {
		t.Error("second Unlock reported true")
	}
	// Unlocked, anyone writes.
	must(t, b.Save(ctx, "doc", "v4"))
	must(t, b.Destroy(ctx, "doc"))
	// A lock by node-2 is node-2's.
	mustLock(t, b, "doc", time.Minute)
	must(t, b.Save(ctx, "doc", "v5"))
	wantErr(t, "Save by node-1 of node-2's locked key", a.Save(ctx, "doc", "v6"), cache.ErrLocked)
	wantErr(t, "Destroy by node-1 of node-2's locked key", a.Destroy(ctx, "doc"), cache.ErrLocked)
	// The lock is checked before existence: a locked key is not probed.
	must(t, b.Destroy(ctx, "doc"))
	wantErr(t, "Destroy of a locked missing key", a.Destroy(ctx, "doc"), cache.ErrLocked)
}

func testLockTTL(t *testing.T, e *cacheEnv) {
	ctx := t.Context()
	a, b := e.a(), e.b()
	ttl := 10 * time.Second
	if e.clock == nil {
		ttl = time.Second
	}
	start := e.now()
	mustLock(t, a, "lease", ttl)
	ok, err := b.Lock(ctx, "lease", ttl)
	must(t, err)
	if ok {
		t.Fatal("node-2 took a held lock")
	}
	if e.clock != nil {
		e.clock.Advance(ttl - time.Millisecond)
		ok, err := b.Lock(ctx, "lease", ttl)
		must(t, err)
		if ok {
			t.Fatal("node-2 took the lock 1ms before it lapsed")
		}
		e.clock.Advance(time.Millisecond)
		mustLock(t, b, "lease", ttl)
	} else {
		eventually(t, "the lock to lapse", func() bool {
			ok, err := b.Lock(ctx, "lease", ttl)
			must(t, err)
			return ok
		})
		if got := time.Now(); got.Before(start.Add(ttl).Truncate(time.Millisecond)) {
			t.Fatalf("lock lapsed at %v, before %v", got, start.Add(ttl))
		}
	}
	// node-1's lock lapsed: it cannot unlock node-2's.
	ok, err = a.Unlock(ctx, "lease")
	must(t, err)
	if ok {
		t.Error("node-1 unlocked the lock node-2 took after node-1's lapsed")
	}
	locks, err := a.Locks(ctx)
	must(t, err)
	if len(locks) != 1 || locks[0].Owner != "node-2" {
		t.Errorf("Locks = %+v, want one held by node-2", locks)
	}

	// Lock with no TTL takes the configured default (10s).
	before := e.now()
	mustLock(t, a, "default", 0)
	after := e.now()
	locks, err = a.Locks(ctx)
	must(t, err)
	for _, l := range locks {
		if l.Key == "default" {
			e.checkTime(t, "default lock ExpireAt", l.ExpireAt, before.Add(10*time.Second), after.Add(10*time.Second))
		}
	}
}

func testCheckLockRetry(t *testing.T, e *cacheEnv) {
	ctx := t.Context()
	a, b := e.a(), e.b()
	mustLock(t, a, "busy", time.Minute)

	// While held, a retrying check waits until its context ends.
	short, cancel := context.WithTimeout(ctx, 150*time.Millisecond)
	defer cancel()
	ok, err := b.CheckLock(short, "busy", true)
	if ok || !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("CheckLock(retry) on a held lock = %v, %v; want false, deadline exceeded", ok, err)
	}
	// It returns true once the owner releases it.
	type result struct {
		ok  bool
		err error
	}
	done := make(chan result, 1)
	waitCtx, cancelWait := context.WithTimeout(ctx, 10*time.Second)
	defer cancelWait()
	go func() {
		ok, err := b.CheckLock(waitCtx, "busy", true)
		done <- result{ok, err}
	}()
	select {
	case r := <-done:
		t.Fatalf("CheckLock(retry) returned %v, %v while the lock was held", r.ok, r.err)
	case <-time.After(50 * time.Millisecond):
	}
	unlocked, err := a.Unlock(ctx, "busy")
	must(t, err)
	if !unlocked {
		t.Fatal("Unlock failed")
	}
	r := <-done
	if !r.ok || r.err != nil {
		t.Fatalf("CheckLock(retry) after unlock = %v, %v; want true", r.ok, r.err)
	}
	// The owner's retrying check does not wait for itself.
	mustLock(t, a, "mine", time.Minute)
	ok, err = a.CheckLock(ctx, "mine", true)
	if !ok || err != nil {
		t.Fatalf("owner CheckLock(retry) = %v, %v", ok, err)
	}
}

func testLocks(t *testing.T, e *cacheEnv) {
	ctx := t.Context()
	locks, err := e.a().Locks(ctx)
	must(t, err)
	if len(locks) != 0 {
		t.Fatalf("Locks of a fresh store = %+v", locks)
	}
	before := e.now()
	mustLock(t, e.a(), "x", time.Hour)
	mustLock(t, e.b(), "y", 2*time.Hour)
	mustLock(t, e.a(), "{z}", time.Hour)
	after := e.now()
	locks, err = e.b().Locks(ctx)
	must(t, err)
	slices.SortFunc(locks, func(p, q cache.Lock) int {
		if p.Key < q.Key {
			return -1
		}
		return 1
	})
	want := []struct {
		key, owner string
		ttl        time.Duration
	}{{"x", "node-1", time.Hour}, {"y", "node-2", 2 * time.Hour}, {"{z}", "node-1", time.Hour}}
	if len(locks) != len(want) {
		t.Fatalf("Locks = %+v, want %d", locks, len(want))
	}
	for i, w := range want {
		if locks[i].Key != w.key || locks[i].Owner != w.owner {
			t.Errorf("lock %d = %s by %s, want %s by %s", i, locks[i].Key, locks[i].Owner, w.key, w.owner)
		}
		e.checkTime(t, "lock "+w.key+" ExpireAt", locks[i].ExpireAt, before.Add(w.ttl), after.Add(w.ttl))
	}
	// Locks do not show up as cache keys.
	n, err := e.a().Size(ctx)
	must(t, err)
	if n != 0 {
		t.Errorf("Size with only locks = %d", n)
	}
	ok, err := e.a().Unlock(ctx, "x")
	must(t, err)
	if !ok {
		t.Fatal("Unlock failed")
	}
	locks, err = e.a().Locks(ctx)
	must(t, err)
	if len(locks) != 2 {
		t.Errorf("Locks after one unlock = %+v", locks)
	}
}

// testLockContention has 100 goroutines race for one lock, on one node and
// across many nodes: exactly one wins.
func testLockContention(t *testing.T, e *cacheEnv) {
	ctx := t.Context()
	const racers = 100
	race := func(t *testing.T, key string, node func(i int) *cache.Cache) {
		var wins atomic.Int32
		var wg sync.WaitGroup
		start := make(chan struct{})
		errs := make(chan error, racers)
		for i := range racers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-start
				ok, err := node(i).Lock(ctx, key, time.Minute)
				if err != nil {
					errs <- err
				}
				if ok {
					wins.Add(1)
				}
			}()
		}
		close(start)
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Fatal(err)
		}
		if n := wins.Load(); n != 1 {
			t.Fatalf("%d goroutines won the lock, want exactly 1", n)
		}
	}
	t.Run("OneNode", func(t *testing.T) {
		race(t, "contended-1", func(int) *cache.Cache { return e.a() })
	})
	t.Run("ManyNodes", func(t *testing.T) {
		// 100 node ids spread over the stores (connections) of the env.
		nodes := make([]*cache.Cache, racers)
		for i := range nodes {
			nodes[i] = cache.New(e.stores[i%len(e.stores)], cache.Config{NodeID: "racer-" + strconv.Itoa(i)})
		}
		race(t, "contended-n", func(i int) *cache.Cache { return nodes[i] })
		// Only the winner can unlock it.
		unlocked := 0
		for _, c := range nodes {
			ok, err := c.Unlock(ctx, "contended-n")
			must(t, err)
			if ok {
				unlocked++
			}
		}
		if unlocked != 1 {
			t.Errorf("%d nodes unlocked the lock, want 1", unlocked)
		}
	})
}

// testAtomicSaveLoad has writers replace an entry while readers load it:
// every read must see a value and metadata from one single save.
func testAtomicSaveLoad(t *testing.T, e *cacheEnv) {
	ctx := t.Context()
	type payload struct {
		Seq   int    `json:"seq"`
		Copy  int    `json:"copy"`
		Block string `json:"block"`
	}
	ttlOf := func(seq int) time.Duration { return time.Duration(seq%7+1) * time.Hour }
	save := func(c *cache.Cache, seq int) error {
		p := payload{Seq: seq, Copy: seq, Block: string(rune('a'+seq%26)) + fmt.Sprint(make([]int, 64+seq%64))}
		return c.Save(ctx, "atomic", p, cache.TTL(ttlOf(seq)))
	}
	must(t, save(e.a(), 0))
	deadline := time.Now().Add(300 * time.Millisecond)
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	var reads atomic.Int64
	for w := range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for seq := w + 1; time.Now().Before(deadline); seq += 2 {
				if err := save(e.nodes[w], seq); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	for r := range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for time.Now().Before(deadline) {
				var entry cache.Entry
				p, err := cache.Load[payload](ctx, e.nodes[r], "atomic", cache.WithEntry(&entry))
				if err != nil {
					errs <- err
					return
				}
				reads.Add(1)
				want := string(rune('a'+p.Seq%26)) + fmt.Sprint(make([]int, 64+p.Seq%64))
				if p.Copy != p.Seq || p.Block != want {
					errs <- fmt.Errorf("torn value: %+v", p)
					return
				}
				if got := entry.ExpireAt.Sub(entry.CreatedAt); got != ttlOf(p.Seq) {
					errs <- fmt.Errorf("value of save %d with the metadata of another: ExpireAt-CreatedAt = %v, want %v", p.Seq, got, ttlOf(p.Seq))
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	if reads.Load() == 0 {
		t.Fatal("no read completed")
	}
	// The raw bytes decode as the JSON saved.
	entry, err := e.a().Load(ctx, "atomic")
	must(t, err)
	if !json.Valid(entry.Value) {
		t.Errorf("stored value is not JSON: %q", entry.Value)
	}
}

func testCanceledContext(t *testing.T, e *cacheEnv) {
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if err := e.a().Save(ctx, "c", 1); !errors.Is(err, context.Canceled) {
		t.Errorf("Save with a canceled context: %v", err)
	}
	if _, err := e.a().Load(ctx, "c"); !errors.Is(err, context.Canceled) {
		t.Errorf("Load with a canceled context: %v", err)
	}
	if _, err := e.a().Lock(ctx, "c", time.Second); !errors.Is(err, context.Canceled) {
		t.Errorf("Lock with a canceled context: %v", err)
	}
	if _, err := e.a().Keys(ctx, ""); !errors.Is(err, context.Canceled) {
		t.Errorf("Keys with a canceled context: %v", err)
	}
}
