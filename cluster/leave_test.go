package cluster

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"testing"
	"time"
)

// TestLateLeaveKeepsNewRun: Redis Cluster's pub/sub does not keep order
// between publishers, so a restarted node's join can arrive before its
// old run's leave. That leave names the old run and must not remove the
// new one; the new run's own leave does.
func TestLateLeaveKeepsNewRun(t *testing.T) {
	c := New()
	c.cfg.ID = "n-0"
	c.cfg.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	c.members = map[string]Node{"n-1": {ID: "n-1", Instance: "run-2"}}
	c.left = map[string]string{}
	leave := func(instance string) {
		p, _ := json.Marshal(leavePayload{Instance: instance})
		c.handle(context.Background(), &envelope{Type: typeLeave, From: "n-1", Payload: p})
	}
	leave("run-1")
	if got := c.Members(); len(got) != 1 {
		t.Fatalf("after the old run's late leave, members = %v, want the new run still listed", got)
	}
	leave("run-2")
	if got := c.Members(); len(got) != 0 {
		t.Fatalf("after the new run's leave, members = %v, want none", got)
	}
	if c.left["n-1"] != "run-2" {
		t.Fatalf("left = %v, want the new run remembered as gone", c.left)
	}
}

// listing is a Transport whose Nodes lists fixed records; nothing else
// is called in TestLeaveOfRestartedNode.
type listing struct {
	Transport
	recs map[string][]byte
}

func (l listing) Nodes(context.Context) (map[string][]byte, error) { return l.recs, nil }

// TestLeaveOfRestartedNode: the leave of a node's old run, handled while
// this node still lists that old run but after the node restarted (the
// backend lists the new run), keeps the node and the call waiting on it:
// the new run answers on the same channel.
func TestLeaveOfRestartedNode(t *testing.T) {
	s := newSigner([]byte("token"))
	now := time.Now()
	newRun := Node{ID: "n-1", Instance: "run-2", WrittenAt: now.Truncate(time.Millisecond), ExpiresAt: now.Add(time.Minute)}
	c := New()
	c.cfg.ID = "n-0"
	c.cfg.NodeTTL = time.Second
	c.cfg.Now = time.Now
	c.cfg.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	c.sign = s
	c.t = listing{recs: map[string][]byte{"n-1": s.signRecord(newRun)}}
	c.members = map[string]Node{"n-1": {ID: "n-1", Instance: "run-1"}}
	c.left = map[string]string{}
	p := &call{ch: make(chan reply, 1)}
	c.pending = map[string]*call{"x": p}

	leave, _ := json.Marshal(leavePayload{Instance: "run-1"})
	c.handle(context.Background(), &envelope{Type: typeLeave, From: "n-1", Payload: leave})
	if got := c.members["n-1"].Instance; got != "run-2" {
		t.Fatalf("members list n-1 as %q, want the new run", got)
	}
	select {
	case r := <-p.ch:
		t.Fatalf("the waiting call got %+v, want nothing: the new run answers it", r)
	default:
	}
}
