package cluster

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"testing"
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
