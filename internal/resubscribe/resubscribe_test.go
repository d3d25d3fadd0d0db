package resubscribe

import (
	"testing"
	"time"
)

// TestWait: the waits double from MinWait, never pass MaxWait, and start
// over after a subscription that held.
func TestWait(t *testing.T) {
	var got []time.Duration
	w := time.Duration(0)
	for range 7 {
		w = Wait(w, false)
		got = append(got, w)
	}
	want := []time.Duration{50, 100, 200, 400, 500, 500, 500}
	for i := range want {
		if got[i] != want[i]*time.Millisecond {
			t.Fatalf("waits = %v, want %v ms", got, want)
		}
	}
	if w := Wait(MaxWait, true); w != MinWait {
		t.Errorf("after a subscription that held: %s, want %s", w, MinWait)
	}
}
