package redis

import (
	"hash/fnv"
	"testing"
	"time"
)

// TestTagIsFNV1a: the hash tag is the FNV-1a hash of the key, as it has
// always been: entries written before keep their slot and their name.
func TestTagIsFNV1a(t *testing.T) {
	for _, k := range []string{"", "a", "session:42", "{braces}", "é\xff"} {
		h := fnv.New32a()
		_, _ = h.Write([]byte(k))
		v := h.Sum32()
		const digits = "0123456789abcdef"
		var b [8]byte
		for i := 7; i >= 0; i-- {
			b[i] = digits[v&0xf]
			v >>= 4
		}
		if got := tag(k); got != string(b[:]) {
			t.Errorf("tag(%q) = %s, want %s", k, got, b)
		}
	}
}

// FuzzParseEntry: any string is parsed or refused, never a panic, and a
// header written by appendHex reads back.
func FuzzParseEntry(f *testing.F) {
	f.Add("0000000000000000000001900000000000000000000000000value", int64(1796126680623))
	f.Add("", int64(0))
	f.Add("ffffffffffffffffffffffffffffffffffffffffffffffff", int64(-1))
	f.Fuzz(func(t *testing.T, s string, ms int64) {
		_, _ = parseEntry(s)
		var at time.Time
		if ms != 0 {
			at = time.UnixMilli(ms)
		}
		e := string(appendHex(appendHex(appendHex(nil, at), at), time.Time{})) + s
		r, err := parseEntry(e)
		if err != nil || !r.ReadAt.Equal(at) || !r.CreatedAt.Equal(at) || !r.ExpireAt.IsZero() || string(r.Value) != s {
			t.Fatalf("parseEntry(%q) = %+v, %v", e, r, err)
		}
	})
}
