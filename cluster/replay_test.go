package cluster

import (
	"crypto/sha256"
	"encoding/binary"
	"slices"
	"testing"
)

func sigOf(i int) [sha256.Size]byte {
	var b [8]byte
	binary.BigEndian.PutUint64(b[:], uint64(i))
	return sha256.Sum256(b[:])
}

// TestReplayMemoryBounded: the memory never holds more than its limit;
// when full it forgets the oldest message and refuses whatever is not
// younger, so that no replay gets through; it refuses what was signed
// before the start, and forgets what is stale.
func TestReplayMemoryBounded(t *testing.T) {
	const start = 10_000
	m := newReplayMemory(start, 3)
	steps := []struct {
		name   string
		sig    int
		at     int64
		forget int64
		want   string
	}{
		{"first", 1, start + 1, 0, ""},
		{"second", 2, start + 2, 0, ""},
		{"third", 3, start + 3, 0, ""},
		{"a replay", 1, start + 1, 0, DropReplayed},
		{"a fourth evicts the oldest", 4, start + 4, 0, ""},
		{"the evicted one, replayed", 1, start + 1, 0, DropReplayFull},
		{"a new one as old as the evicted", 5, start + 1, 0, DropReplayFull},
		{"the oldest held, replayed", 2, start + 2, 0, DropReplayed},
		{"signed before the start", 6, start - 1, 0, DropBeforeStart},
		{"a later one", 7, start + 9, 0, ""},
		{"the evicted second, replayed", 2, start + 2, 0, DropReplayFull},
	}
	for _, s := range steps {
		if got := m.check(sigOf(s.sig), s.at, s.forget); got != s.want {
			t.Fatalf("%s: check = %q, want %q", s.name, got, s.want)
		}
		if n := m.len(); n > 3 {
			t.Fatalf("%s: the memory holds %d, more than its limit 3", s.name, n)
		}
	}
	// Stale entries are forgotten without raising the floor.
	if got := m.check(sigOf(8), start+100, start+50); got != "" || m.len() != 1 {
		t.Fatalf("after the window passed: check = %q, memory holds %d, want 1", got, m.len())
	}

	// A flood of unique messages: memory stays at the limit.
	f := newReplayMemory(0, 1000)
	for i := range 100_000 {
		f.check(sigOf(i), int64(i), 0)
	}
	if n := f.len(); n != 1000 {
		t.Fatalf("after a flood the memory holds %d, want its limit 1000", n)
	}
	if got := f.check(sigOf(5), 5, 0); got != DropReplayFull {
		t.Fatalf("an early message of the flood, replayed: %q, want %q", got, DropReplayFull)
	}
}

// TestReplayHeapOrder: the replay memory's heap pops entries oldest
// first, whatever order they came in.
func TestReplayHeapOrder(t *testing.T) {
	var h replayHeap
	ats := []int64{5, 3, 9, 1, 1, 7, 2, 8, 6, 4, 0, 10, 3}
	for _, at := range ats {
		h.push(replayEntry{at: at})
	}
	want := slices.Sorted(slices.Values(ats))
	for i, w := range want {
		if got := h.pop().at; got != w {
			t.Fatalf("pop %d = %d, want %d", i, got, w)
		}
	}
	if len(h) != 0 {
		t.Fatalf("%d left", len(h))
	}
}
