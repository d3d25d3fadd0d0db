package cluster

import (
	"errors"
	"testing"
	"time"
)

// TestJudge: what a node starting under an id does about the record
// stored there, by the rules of judge.
func TestJudge(t *testing.T) {
	s := newSigner([]byte("token"))
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	const machine = "linux/boot-1/pid:[1]"
	procs := map[int]struct {
		start string
		st    procState
	}{
		10: {"500", procRuns},  // runs, started at 500
		11: {"", procGone},     // no such process, or a zombie
		12: {"", procUnknown},  // hidden from this process
		13: {"9000", procRuns}, // the pid of a process started at 500 before, reused
		14: {"500", procRuns},
	}
	procStart := func(pid int) (string, procState) { p := procs[pid]; return p.start, p.st }
	rec := func(mut func(*Node)) []byte {
		n := Node{ID: "n", Instance: "old", Host: "h", PID: 10, Process: machine + "/500", StartedAt: now.Add(-time.Hour),
			WrittenAt: now.Add(-time.Second), ExpiresAt: now.Add(4 * time.Second)}
		if mut != nil {
			mut(&n)
		}
		return s.signRecord(n)
	}
	tests := []struct {
		name    string
		raw     []byte
		machine string
		want    verdict
	}{
		{"process of this machine runs", rec(nil), machine, refuse},
		{"process of this machine gone", rec(func(n *Node) { n.PID = 11 }), machine, takeOver},
		{"pid of this machine reused by a later process", rec(func(n *Node) { n.PID = 13 }), machine, takeOver},
		{"this machine cannot see the process", rec(func(n *Node) { n.PID = 12 }), machine, watch},
		{"another machine", rec(func(n *Node) { n.Process = "linux/boot-2/pid:[1]/500" }), machine, watch},
		{"another pid namespace of this boot", rec(func(n *Node) { n.Process = "linux/boot-1/pid:[12]/500"; n.PID = 14 }), machine, watch},
		{"a record that names no process", rec(func(n *Node) { n.Process = "" }), machine, watch},
		{"a node that cannot look pids up", rec(func(n *Node) { n.PID = 11 }), "", watch},
		{"past its signed expiry", rec(func(n *Node) { n.WrittenAt, n.ExpiresAt = now.Add(-9*time.Second), now.Add(-4*time.Second) }), machine, takeOver},
		{"another cluster's", newSigner([]byte("other")).signRecord(Node{ID: "n", Instance: "x", WrittenAt: now, ExpiresAt: now.Add(time.Second)}), machine, refuse},
		{"not a record", []byte("{"), machine, refuse},
		{"this run's own, from a write whose answer was lost", rec(func(n *Node) { n.Instance = "this-run"; n.PID = 14 }), machine, takeOver},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			v, _, why := judge(s, "n", tc.raw, now, tc.machine, "this-run", procStart)
			if v != tc.want {
				t.Fatalf("verdict %d (%s), want %d", v, why, tc.want)
			}
			if v != watch && why == "" {
				t.Fatal("no reason given")
			}
		})
	}
}

// TestLater: of two runs of a node exactly one is the later: by start
// time, then by instance; a run is not later than itself.
func TestLater(t *testing.T) {
	at := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	a := Node{Instance: "a", StartedAt: at}
	b := Node{Instance: "b", StartedAt: at.Add(time.Millisecond)}
	tie := Node{Instance: "c", StartedAt: at}
	for _, tc := range []struct {
		n, self Node
		want    bool
	}{
		{b, a, true}, {a, b, false}, {tie, a, true}, {a, tie, false}, {a, a, false},
	} {
		if got := later(tc.n, tc.self); got != tc.want {
			t.Errorf("later(%s, %s) = %v", tc.n.Instance, tc.self.Instance, got)
		}
	}
	if !errors.Is(duplicateError("n", "why"), ErrDuplicateNode) {
		t.Error("duplicateError does not wrap ErrDuplicateNode")
	}
}
