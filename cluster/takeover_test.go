package cluster_test

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stellarfw/stellar-go/backend/memory"
	"github.com/stellarfw/stellar-go/cluster"
	"github.com/stellarfw/stellar-go/internal/lifecycle"
	"github.com/stellarfw/stellar-go/internal/poll"
)

// freezable is a transport whose heartbeats can be held, as SIGSTOP
// holds a process: a heartbeat under way waits, and completes with the
// record it had once the transport thaws.
type freezable struct {
	cluster.Transport
	mu     sync.Mutex
	frozen chan struct{} // closed to thaw; nil when not frozen
	held   chan struct{} // receives when a heartbeat is held
}

func (f *freezable) freeze() {
	f.mu.Lock()
	f.frozen = make(chan struct{})
	f.mu.Unlock()
}

func (f *freezable) thaw() {
	f.mu.Lock()
	close(f.frozen)
	f.frozen = nil
	f.mu.Unlock()
}

func (f *freezable) Heartbeat(ctx context.Context, id string, prev, record []byte, ttl time.Duration) error {
	f.mu.Lock()
	frozen := f.frozen
	f.mu.Unlock()
	if frozen != nil {
		select {
		case f.held <- struct{}{}:
		default:
		}
		select {
		case <-frozen:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	return f.Transport.Heartbeat(ctx, id, prev, record, ttl)
}

// logCounter counts the records logged at each level.
type logCounter struct {
	mu     sync.Mutex
	counts map[slog.Level]int
	lines  bytes.Buffer
}

func (l *logCounter) Enabled(context.Context, slog.Level) bool { return true }
func (l *logCounter) Handle(_ context.Context, r slog.Record) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.counts[r.Level]++
	l.lines.WriteString(r.Level.String() + " " + r.Message + "\n")
	return nil
}
func (l *logCounter) WithAttrs([]slog.Attr) slog.Handler { return l }
func (l *logCounter) WithGroup(string) slog.Handler      { return l }
func (l *logCounter) count(level slog.Level) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.counts[level]
}

// TestFrozenRunTakenOver: a node on one machine is frozen (its heartbeat
// held); a new run of it starts on another machine, watches the record
// go unrenewed and takes the id over. When the old run thaws, its next
// heartbeat finds the new run's record: it logs one error, reports
// itself not ready, and writes nothing over the new record, nor answers
// calls, nor leaves under the id when it stops.
func TestFrozenRunTakenOver(t *testing.T) {
	b := memory.New(memory.Config{})
	defer b.Close()
	ctx := context.Background()
	const every = 20 * time.Millisecond
	cfg := func(logger *slog.Logger) cluster.Config {
		return cluster.Config{ID: "phoenix", Token: "t", HeartbeatInterval: every, NodeTTL: time.Minute, Logger: logger}
	}
	whoami := func(c *cluster.Cluster) cluster.HandlerFunc {
		return func(context.Context, *cluster.Call) (any, error) { return c.Instance(), nil }
	}

	oldLog := &logCounter{counts: map[slog.Level]int{}}
	ft := &freezable{Transport: b.Cluster(), held: make(chan struct{}, 1)}
	old := cluster.New()
	cluster.SetMachine(old, "machine-a")
	old.Handle("whoami", whoami(old))
	if err := old.Start(ctx, ft, cfg(slog.New(oldLog)), lifecycle.Key{}); err != nil {
		t.Fatal(err)
	}
	defer old.Stop(ctx, lifecycle.Key{})
	ft.freeze()
	<-ft.held

	fresh := cluster.New()
	cluster.SetMachine(fresh, "machine-b")
	fresh.Handle("whoami", whoami(fresh))
	start := time.Now()
	if err := fresh.Start(ctx, b.Cluster(), cfg(nil), lifecycle.Key{}); err != nil {
		t.Fatalf("the new run was refused: %v", err)
	}
	defer fresh.Stop(ctx, lifecycle.Key{})
	if took := time.Since(start); took < cluster.TakeoverHeartbeats*every || took > 30*time.Second {
		t.Fatalf("the new run took the id over after %s, want after %s of watching", took, cluster.TakeoverHeartbeats*every)
	}
	ownedByFresh := func() bool {
		nodes, err := fresh.Nodes(ctx)
		return err == nil && len(nodes) == 1 && nodes[0].Instance == fresh.Instance()
	}
	if !ownedByFresh() {
		t.Fatal("the new run's record is not stored")
	}

	ft.thaw()
	poll.Until(t, "the old run to step down", 0, func() bool { return errors.Is(old.Ready(), cluster.ErrTakenOver) })
	for end := time.Now().Add(10 * every); time.Now().Before(end); time.Sleep(every / 2) {
		if !ownedByFresh() {
			t.Fatal("the old run wrote over the new run's record")
		}
		if err := fresh.Ready(); err != nil {
			t.Fatalf("the new run is not ready: %v", err)
		}
		if !errors.Is(old.Ready(), cluster.ErrTakenOver) {
			t.Fatalf("the old run claims the id again: %v", old.Ready())
		}
	}
	if n := oldLog.count(slog.LevelError); n != 1 {
		t.Fatalf("the old run logged %d errors, want 1:\n%s", n, oldLog.lines.String())
	}
	// Calls to the id reach the new run only.
	for range 5 {
		r, err := fresh.Do(ctx, "whoami", nil, cluster.ToNode("phoenix"))
		var who string
		if err != nil || r.Decode(&who) != nil || who != fresh.Instance() {
			t.Fatalf("call to phoenix: %q, %v; want the new run (%s)", who, err, fresh.Instance())
		}
	}
	if err := old.Stop(ctx, lifecycle.Key{}); err != nil {
		t.Fatal(err)
	}
	if !ownedByFresh() || fresh.Ready() != nil {
		t.Fatalf("the old run's stop removed the new run's record: ready %v", fresh.Ready())
	}
}

// lostReply is a transport whose first Join is carried out but answers
// with an error, as when the connection drops before the reply.
type lostReply struct {
	cluster.Transport
	lost atomic.Bool
}

func (l *lostReply) Join(ctx context.Context, id string, record []byte, ttl time.Duration) error {
	err := l.Transport.Join(ctx, id, record, ttl)
	if err == nil && l.lost.CompareAndSwap(false, true) {
		return errors.New("connection reset before the reply")
	}
	return err
}

// TestOwnRecordAfterLostReply: a node whose join was recorded but not
// answered finds its own record under its id when it joins again from
// its heartbeat: it takes it, instead of refusing itself as a live
// duplicate.
func TestOwnRecordAfterLostReply(t *testing.T) {
	b := memory.New(memory.Config{})
	defer b.Close()
	ctx := context.Background()
	tr := &lostReply{Transport: b.Cluster()}
	c := cluster.New()
	if err := c.Start(ctx, tr, cluster.Config{ID: "n", Token: "t", HeartbeatInterval: 20 * time.Millisecond, NodeTTL: time.Minute}, lifecycle.Key{}); err != nil {
		t.Fatal(err)
	}
	defer c.Stop(ctx, lifecycle.Key{})
	if !tr.lost.Load() {
		t.Fatal("the join's reply was not lost: the test proves nothing")
	}
	poll.Until(t, "the node to be ready", 0, func() bool { return c.Ready() == nil })
	nodes, err := c.Nodes(ctx)
	if err != nil || len(nodes) != 1 || nodes[0].Instance != c.Instance() {
		t.Fatalf("nodes = %+v, %v", nodes, err)
	}
}
