package poll

import (
	"testing"
	"time"
)

func TestWait(t *testing.T) {
	n := 0
	if !Wait(time.Second, func() bool { n++; return n == 3 }) || n != 3 {
		t.Fatalf("Wait stopped after %d calls", n)
	}
	start := time.Now()
	if Wait(30*time.Millisecond, func() bool { return false }) {
		t.Fatal("Wait reported true for a condition that never held")
	}
	if time.Since(start) < 30*time.Millisecond {
		t.Fatal("Wait gave up before its timeout")
	}
}
