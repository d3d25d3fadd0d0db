package cluster_test

import (
	"context"
	"encoding/json"
	"fmt"
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

// logRecorder is a slog handler that keeps what it is given.
type logRecorder struct {
	mu    sync.Mutex
	lines []slog.Record
}

func (r *logRecorder) Enabled(context.Context, slog.Level) bool { return true }
func (r *logRecorder) Handle(_ context.Context, rec slog.Record) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.lines = append(r.lines, rec.Clone())
	return nil
}
func (r *logRecorder) WithAttrs([]slog.Attr) slog.Handler { return r }
func (r *logRecorder) WithGroup(string) slog.Handler      { return r }

// matching returns the records with message msg, each as its attributes.
func (r *logRecorder) matching(msg string) []map[string]string {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []map[string]string
	for _, rec := range r.lines {
		if rec.Message != msg {
			continue
		}
		attrs := map[string]string{"level": rec.Level.String()}
		rec.Attrs(func(a slog.Attr) bool { attrs[a.Key] = a.Value.String(); return true })
		out = append(out, attrs)
	}
	return out
}

// offsetClock is time.Now moved by an offset the test sets.
type offsetClock struct{ offset atomic.Int64 }

func (c *offsetClock) Now() time.Time          { return time.Now().Add(time.Duration(c.offset.Load())) }
func (c *offsetClock) Advance(d time.Duration) { c.offset.Add(int64(d)) }
func startNode(t *testing.T, c *cluster.Cluster, cfg cluster.Config) *memory.Backend {
	t.Helper()
	b := memory.New(memory.Config{})
	t.Cleanup(func() { _ = b.Close() })
	if cfg.Token == "" {
		cfg.Token = "t"
	}
	if err := c.Start(context.Background(), b.Cluster(), cfg, lifecycle.Key{}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Stop(context.Background(), lifecycle.Key{}) })
	return b
}

func publish(t *testing.T, b *memory.Backend, channel string, raw []byte) {
	t.Helper()
	if err := b.Cluster().Publish(context.Background(), channel, raw); err != nil {
		t.Fatal(err)
	}
}

// TestExpiredCallNotRun: a call that arrives after its deadline is
// dropped and counted as expired, and its handler never runs; one that
// arrives in time runs, with a context that ends at the caller's
// deadline.
func TestExpiredCallNotRun(t *testing.T) {
	c := cluster.New()
	var ran atomic.Int64
	gotDeadline := make(chan time.Time, 4)
	c.HandleFunc("api.stop", func(ctx context.Context, call *cluster.Call) (any, error) {
		ran.Add(1)
		d, _ := ctx.Deadline()
		gotDeadline <- d
		return nil, nil
	})
	b := startNode(t, c, cluster.Config{ID: "n", Token: "t"})
	now := time.Now()
	for i, ch := range []string{"all", "node:n"} {
		publish(t, b, ch, cluster.SignCall("t", "caller", "", fmt.Sprint("late-", i), now, now.Add(-time.Millisecond), "api.stop", json.RawMessage(`null`)))
	}
	poll.Until(t, "two expired calls counted", 0, func() bool { return c.Dropped()[cluster.DropExpired] == 2 })
	if n := ran.Load(); n != 0 {
		t.Fatalf("the handler ran %d times for calls past their deadline", n)
	}

	deadline := time.Now().Add(time.Minute).Truncate(time.Millisecond)
	publish(t, b, "all", cluster.SignCall("t", "caller", "", "in-time", time.Now(), deadline, "api.stop", json.RawMessage(`null`)))
	select {
	case d := <-gotDeadline:
		if !d.Equal(deadline) {
			t.Fatalf("handler's deadline = %s, want the caller's %s", d, deadline)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("a call in time did not run")
	}
	if d := c.Dropped()[cluster.DropExpired]; d != 2 {
		t.Fatalf("dropped as expired: %d, want 2", d)
	}

	// A call through Do carries the caller's deadline.
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	want, _ := ctx.Deadline()
	if _, err := c.Do(ctx, "api.stop", nil); err != nil {
		t.Fatal(err)
	}
	if d := <-gotDeadline; d.UnixMilli() != want.UnixMilli() {
		t.Fatalf("Do: handler's deadline = %s, want %s", d, want)
	}
}

// TestCallWithoutDeadlineRefused: a call signed with the token but with
// no deadline is malformed: no handler runs unbounded.
func TestCallWithoutDeadlineRefused(t *testing.T) {
	c := cluster.New()
	var ran atomic.Int64
	c.HandleFunc("api.stop", func(ctx context.Context, call *cluster.Call) (any, error) { ran.Add(1); return nil, nil })
	b := startNode(t, c, cluster.Config{ID: "n", Token: "t"})
	publish(t, b, "all", cluster.SignMessage("t", "stellar.rpc.request", "caller", "no-dl", time.Now(), json.RawMessage(`{"m":"api.stop","a":null}`)))
	poll.Until(t, "the call counted as malformed", 0, func() bool { return c.Dropped()[cluster.DropMalformed] == 1 })
	if ran.Load() != 0 {
		t.Fatal("a call without a deadline ran")
	}
}

// TestDropLogRateLimited: a flood of forged messages is counted in full
// but logged once per reason per 10 s, the next line saying how many
// were held back.
func TestDropLogRateLimited(t *testing.T) {
	rec := &logRecorder{}
	clock := &offsetClock{}
	c := cluster.New()
	b := startNode(t, c, cluster.Config{ID: "n", Token: "t", Logger: slog.New(rec), Now: clock.Now})
	forge := func(i int) []byte {
		return cluster.SignMessage("wrong", "chat", "intruder", fmt.Sprint("f-", i), time.Now(), json.RawMessage(`{}`))
	}
	for i := range 50 {
		publish(t, b, "all", forge(i))
	}
	publish(t, b, "all", []byte(`{not json`))
	poll.Until(t, "every forged message counted", 0, func() bool {
		d := c.Dropped()
		return d[cluster.DropBadSignature] == 50 && d[cluster.DropMalformed] == 1
	})
	lines := rec.matching("cluster message dropped")
	if len(lines) != 2 || lines[0]["reason"] != cluster.DropBadSignature || lines[1]["reason"] != cluster.DropMalformed {
		t.Fatalf("log lines for 51 dropped messages: %v; want one per reason", lines)
	}
	if _, ok := lines[0]["suppressed"]; ok {
		t.Fatalf("the first line claims suppressed lines: %v", lines[0])
	}

	clock.Advance(11 * time.Second)
	publish(t, b, "all", forge(50))
	poll.Until(t, "the next forged message counted", 0, func() bool { return c.Dropped()[cluster.DropBadSignature] == 51 })
	lines = rec.matching("cluster message dropped")
	if len(lines) != 3 || lines[2]["reason"] != cluster.DropBadSignature || lines[2]["suppressed"] != "49" {
		t.Fatalf("after 10 s: %v; want a third line with suppressed=49", lines)
	}
}

// TestUnknownMethodLogged: the node asked for a method it lacks logs the
// method's name at info: the caller's mistake, not the node's error.
func TestUnknownMethodLogged(t *testing.T) {
	rec := &logRecorder{}
	c := cluster.New()
	startNode(t, c, cluster.Config{ID: "n", Token: "t", Logger: slog.New(rec)})
	if _, err := c.Do(context.Background(), "cache.flushh", nil); err == nil {
		t.Fatal("an unknown method answered")
	}
	lines := rec.matching("cluster call to an unknown method")
	if len(lines) != 1 || lines[0]["method"] != "cache.flushh" || lines[0]["from"] != "n" || lines[0]["level"] != "INFO" {
		t.Fatalf("log lines: %v; want one at INFO naming the method", lines)
	}
}

// TestReplayMemoryFlood: with its replay memory full, a node refuses a
// replay of a message it had to forget (replay_full), never takes it
// again, and still takes new messages.
func TestReplayMemoryFlood(t *testing.T) {
	c := cluster.New()
	var handled atomic.Int64
	c.Subscribe("chat", func(ctx context.Context, m cluster.Message) { handled.Add(1) })
	b := startNode(t, c, cluster.Config{ID: "n", Token: "t", ReplayMemory: 8})
	start := time.Now()
	var first []byte
	for i := range 40 {
		raw := cluster.SignMessage("t", "chat", "other", fmt.Sprint("m-", i), start.Add(time.Duration(i)*time.Millisecond), json.RawMessage(`{}`))
		if i == 0 {
			first = raw
		}
		publish(t, b, "all", raw)
	}
	poll.Until(t, "the 40 messages handled", 0, func() bool { return handled.Load() == 40 })
	publish(t, b, "all", first)
	publish(t, b, "all", cluster.SignMessage("t", "chat", "other", "late", start, json.RawMessage(`{}`)))
	poll.Until(t, "the replay and the late message refused", 0, func() bool { return c.Dropped()[cluster.DropReplayFull] == 2 })
	publish(t, b, "all", cluster.SignMessage("t", "chat", "other", "new", time.Now().Add(time.Second), json.RawMessage(`{}`)))
	poll.Until(t, "a new message handled", 0, func() bool { return handled.Load() == 41 })
	if d := c.Dropped(); d[cluster.DropReplayed] != 0 || d[cluster.DropReplayFull] != 2 {
		t.Fatalf("dropped %v", d)
	}
}

// TestRestartGetsNewInstance: each start of a node has its own instance
// id, in its membership record.
func TestRestartGetsNewInstance(t *testing.T) {
	b := memory.New(memory.Config{})
	defer b.Close()
	ctx := context.Background()
	var seen []string
	for range 2 {
		c := cluster.New()
		if err := c.Start(ctx, b.Cluster(), cluster.Config{ID: "n", Token: "t"}, lifecycle.Key{}); err != nil {
			t.Fatal(err)
		}
		nodes, err := c.Nodes(ctx)
		if err != nil || len(nodes) != 1 || nodes[0].Instance != c.Instance() || c.Instance() == "" {
			t.Fatalf("nodes %+v, instance %q: %v", nodes, c.Instance(), err)
		}
		if !nodes[0].ExpiresAt.After(nodes[0].WrittenAt) || nodes[0].ExpiresAt.Sub(nodes[0].WrittenAt) != cluster.DefaultNodeTTL {
			t.Fatalf("record written %s, expires %s: want the node TTL apart", nodes[0].WrittenAt, nodes[0].ExpiresAt)
		}
		seen = append(seen, c.Instance())
		if err := c.Stop(ctx, lifecycle.Key{}); err != nil {
			t.Fatal(err)
		}
	}
	if seen[0] == seen[1] {
		t.Fatalf("two starts share instance %q", seen[0])
	}
}
