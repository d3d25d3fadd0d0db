package cluster_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stellarfw/stellar-go"

	"go.uber.org/goleak"

	"github.com/stellarfw/stellar-go/backend/memory"
	"github.com/stellarfw/stellar-go/cluster"
	"github.com/stellarfw/stellar-go/internal/lifecycle"
	"github.com/stellarfw/stellar-go/internal/poll"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// TestStartStop: one node on the memory backend talks to itself, refuses
// to run without a token, and stops cleanly (goleak checks the rest).
func TestStartStop(t *testing.T) {
	b := memory.New(memory.Config{})
	defer b.Close()
	ctx := context.Background()

	if err := cluster.New().Start(ctx, b.Cluster(), cluster.Config{ID: "n"}, lifecycle.Key{}); !errors.Is(err, cluster.ErrNoToken) {
		t.Fatalf("no token: %v", err)
	}
	insecure := cluster.New()
	if err := insecure.Start(ctx, b.Cluster(), cluster.Config{ID: "dev", Insecure: true}, lifecycle.Key{}); err != nil {
		t.Fatalf("insecure: %v", err)
	}
	if err := insecure.Stop(ctx, lifecycle.Key{}); err != nil {
		t.Fatal(err)
	}

	c := cluster.New()
	c.HandleFunc("echo", func(ctx context.Context, call *cluster.Call) (any, error) {
		var s string
		err := call.Decode(&s)
		return s, err
	})
	if _, err := c.Do(ctx, "echo", "x"); !errors.Is(err, cluster.ErrNotRunning) {
		t.Fatalf("Do before Start: %v", err)
	}
	if err := c.Start(ctx, b.Cluster(), cluster.Config{ID: "solo", Token: cluster.RandomToken()}, lifecycle.Key{}); err != nil {
		t.Fatal(err)
	}
	if err := c.Ready(); err != nil {
		t.Fatalf("not ready after Start: %v", err)
	}
	r, err := c.Do(ctx, "echo", "hello")
	var s string
	if err != nil || r.Decode(&s) != nil || s != "hello" || r.Node != "solo" {
		t.Fatalf("Do = %+v, %v", r, err)
	}
	for range 2 { // Stop is safe to call twice
		if err := c.Stop(ctx, lifecycle.Key{}); err != nil {
			t.Fatal(err)
		}
	}
	if c.Ready() == nil {
		t.Fatal("ready after Stop")
	}
}

// TestStopWaitsForHandlers: Stop lets a running handler finish and its
// reply go out.
func TestStopWaitsForHandlers(t *testing.T) {
	b := memory.New(memory.Config{})
	defer b.Close()
	ctx := context.Background()
	c := cluster.New()
	started := make(chan struct{})
	c.HandleFunc("slow", func(ctx context.Context, call *cluster.Call) (any, error) {
		close(started)
		time.Sleep(50 * time.Millisecond) // the work being waited for
		return "done", nil
	})
	if err := c.Start(ctx, b.Cluster(), cluster.Config{ID: "n", Token: "t"}, lifecycle.Key{}); err != nil {
		t.Fatal(err)
	}
	res := make(chan error, 1)
	go func() { _, err := c.Do(ctx, "slow", nil); res <- err }()
	<-started
	if err := c.Stop(ctx, lifecycle.Key{}); err != nil {
		t.Fatal(err)
	}
	if err := <-res; err != nil && !errors.Is(err, cluster.ErrNotRunning) {
		t.Fatalf("call during stop: %v", err)
	}
}

// TestLeaveAfterAnswers: a node that stops while answering a call sends
// the reply before it announces its leave, so the caller gets the result
// rather than "every node asked has left" (cluster api.stop relies on it).
func TestLeaveAfterAnswers(t *testing.T) {
	b := memory.New(memory.Config{})
	defer b.Close()
	ctx := context.Background()
	caller, callee := cluster.New(), cluster.New()
	started, release := make(chan struct{}), make(chan struct{})
	callee.HandleFunc("slow", func(ctx context.Context, call *cluster.Call) (any, error) {
		close(started)
		<-release
		return "done", nil
	})
	for _, n := range []struct {
		c  *cluster.Cluster
		id string
	}{{caller, "caller"}, {callee, "callee"}} {
		if err := n.c.Start(ctx, b.Cluster(), cluster.Config{ID: n.id, Token: "t"}, lifecycle.Key{}); err != nil {
			t.Fatal(err)
		}
	}
	defer caller.Stop(ctx, lifecycle.Key{})
	poll.Until(t, "the caller to see the callee", 0, func() bool { return slices.Contains(caller.Members(), "callee") })
	res := make(chan error, 1)
	var got string
	go func() {
		r, err := caller.Do(ctx, "slow", nil, cluster.ToNode("callee"))
		if err == nil {
			err = r.Decode(&got)
		}
		res <- err
	}()
	<-started
	stopped := make(chan error, 1)
	go func() { stopped <- callee.Stop(ctx, lifecycle.Key{}) }()
	poll.Until(t, "the stop to wait for the answer", 0, func() bool { return cluster.StopWaiting(callee) })
	close(release)
	if err := <-res; err != nil || got != "done" {
		t.Fatalf("call answered during the stop: %q, %v", got, err)
	}
	if err := <-stopped; err != nil {
		t.Fatal(err)
	}
	poll.Until(t, "the caller to see the leave", 0, func() bool { return !slices.Contains(caller.Members(), "callee") })
}

func Example() {
	cfg := stellar.Config{}
	cfg.HTTP.Addr, cfg.TCP.Addr = "off", "off"
	cfg.ID, cfg.Cluster.Token = "stellar-worker-1", "s3cret"
	app := stellar.New(cfg, stellar.WithLogger(slog.New(slog.DiscardHandler)))
	app.Cluster.HandleFunc("greet", func(ctx context.Context, call *cluster.Call) (any, error) {
		var name string
		if err := call.Decode(&name); err != nil {
			return nil, err
		}
		return "hello, " + name + ", from " + call.From, nil
	})
	ctx := context.Background()
	if err := app.Start(ctx); err != nil { // the node joins the cluster
		panic(err)
	}
	defer app.Shutdown(ctx)

	r, err := app.Cluster.Do(ctx, "greet", "world")
	if err != nil {
		panic(err)
	}
	var s string
	_ = r.Decode(&s)
	fmt.Println(r.Node+":", s)

	_, err = app.Cluster.Do(ctx, "missing", nil)
	fmt.Println(errors.Is(err, cluster.ErrUnknownMethod))
	// Output:
	// stellar-worker-1: hello, world, from stellar-worker-1
	// true
}

// TestStatsInMembership: the figures from Config.Stats reach the node's
// membership record at each heartbeat, signed with it.
func TestStatsInMembership(t *testing.T) {
	b := memory.New(memory.Config{})
	defer b.Close()
	ctx := context.Background()
	token := cluster.RandomToken()
	var running atomic.Int64
	c := cluster.New()
	if err := c.Start(ctx, b.Cluster(), cluster.Config{ID: "busy", Token: token, HeartbeatInterval: 10 * time.Millisecond,
		Stats: func() map[string]int64 { return map[string]int64{"tasksRunning": running.Load()} }}, lifecycle.Key{}); err != nil {
		t.Fatal(err)
	}
	defer c.Stop(ctx, lifecycle.Key{})
	running.Store(7)
	var nodes []cluster.Node
	if !poll.Wait(0, func() bool {
		var err error
		if nodes, err = cluster.ReadNodes(ctx, b.Cluster(), []byte(token)); err != nil {
			t.Fatal(err)
		}
		return len(nodes) == 1 && nodes[0].Stats["tasksRunning"] == 7
	}) {
		t.Fatalf("nodes = %+v, want tasksRunning 7", nodes)
	}
}

// ttlRecorder records the ttl of the membership records it carries.
type ttlRecorder struct {
	cluster.Transport
	ttl atomic.Int64
}

func (r *ttlRecorder) Join(ctx context.Context, id string, record []byte, ttl time.Duration) error {
	r.ttl.Store(int64(ttl))
	return r.Transport.Join(ctx, id, record, ttl)
}

// TestNodeTTLDefault: a zero NodeTTL is DefaultNodeTTLHeartbeats heartbeat
// intervals, DefaultNodeTTL at the default interval; a set one is kept.
func TestNodeTTLDefault(t *testing.T) {
	for _, tc := range []struct {
		name           string
		heartbeat, ttl time.Duration
		want           time.Duration
	}{
		{name: "defaults", want: cluster.DefaultNodeTTL},
		{name: "heartbeat set", heartbeat: 40 * time.Millisecond, want: 200 * time.Millisecond},
		{name: "ttl set", heartbeat: 40 * time.Millisecond, ttl: time.Second, want: time.Second},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := memory.New(memory.Config{})
			defer b.Close()
			ctx := context.Background()
			rec := &ttlRecorder{Transport: b.Cluster()}
			c := cluster.New()
			if err := c.Start(ctx, rec, cluster.Config{ID: "n", Token: "t", HeartbeatInterval: tc.heartbeat, NodeTTL: tc.ttl}, lifecycle.Key{}); err != nil {
				t.Fatal(err)
			}
			defer c.Stop(ctx, lifecycle.Key{})
			if got := time.Duration(rec.ttl.Load()); got != tc.want {
				t.Errorf("record ttl = %s, want %s", got, tc.want)
			}
		})
	}
	if cluster.DefaultNodeTTL != 5*time.Second {
		t.Errorf("DefaultNodeTTL = %s, want 5s", cluster.DefaultNodeTTL)
	}
}

// TestStartOnce: a started Cluster refuses a second Start, and one whose
// Start failed on its Config may start again.
func TestStartOnce(t *testing.T) {
	b := memory.New(memory.Config{})
	defer b.Close()
	ctx := context.Background()
	c := cluster.New()
	if err := c.Start(ctx, b.Cluster(), cluster.Config{Token: "t"}, lifecycle.Key{}); err == nil {
		t.Fatal("Start without an ID succeeded")
	}
	if err := c.Start(ctx, b.Cluster(), cluster.Config{ID: "n", Token: "t"}, lifecycle.Key{}); err != nil {
		t.Fatal(err)
	}
	defer c.Stop(ctx, lifecycle.Key{})
	if c.ID() != "n" {
		t.Errorf("ID = %q", c.ID())
	}
	if err := c.Start(ctx, b.Cluster(), cluster.Config{ID: "other", Token: "t"}, lifecycle.Key{}); err == nil {
		t.Error("second Start succeeded")
	}
	if c.ID() != "n" {
		t.Errorf("after a refused Start, ID = %q", c.ID())
	}
}

// TestReadNodesTokenMismatch: ReadNodes tells a wrong token (records
// exist, none signed with it) from an empty cluster (no records, or only
// expired ones).
func TestReadNodesTokenMismatch(t *testing.T) {
	ctx := context.Background()
	later, earlier := time.Now().Add(time.Hour), time.Now().Add(-time.Minute)
	signed := func(token, id string, expiresAt time.Time) []byte {
		return cluster.SignRecord(token, cluster.Node{ID: id, Instance: "i-" + id, WrittenAt: expiresAt.Add(-time.Second), ExpiresAt: expiresAt})
	}
	tests := []struct {
		name     string
		records  map[string][]byte
		wantIDs  string
		mismatch bool
	}{
		{"no records", nil, "[]", false},
		{"own record", map[string][]byte{"a": signed("right", "a", later)}, "[a]", false},
		{"only another token's", map[string][]byte{"a": signed("other", "a", later), "b": signed("other", "b", later)}, "[]", true},
		{"own and another token's", map[string][]byte{"a": signed("right", "a", later), "b": signed("other", "b", later)}, "[a]", false},
		{"own, expired", map[string][]byte{"a": signed("right", "a", earlier)}, "[]", false},
		{"malformed", map[string][]byte{"a": []byte("{")}, "[]", false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			b := memory.New(memory.Config{})
			defer b.Close()
			for id, raw := range tc.records {
				if err := b.Cluster().Heartbeat(ctx, id, nil, raw, time.Hour); err != nil {
					t.Fatal(err)
				}
			}
			nodes, err := cluster.ReadNodes(ctx, b.Cluster(), []byte("right"))
			if errors.Is(err, cluster.ErrTokenMismatch) != tc.mismatch || (err != nil && !tc.mismatch) {
				t.Fatalf("err = %v, want mismatch %v", err, tc.mismatch)
			}
			var ids []string
			for _, n := range nodes {
				ids = append(ids, n.ID)
			}
			if fmt.Sprint(ids) != tc.wantIDs {
				t.Errorf("nodes = %v, want %s", ids, tc.wantIDs)
			}
		})
	}
}

// slowHeartbeat is a transport whose heartbeats, once held, wait for
// release (whatever their context says) before they write, and which
// notes whether the node left while one was waiting.
type slowHeartbeat struct {
	cluster.Transport
	hold          atomic.Bool
	held          chan struct{} // a heartbeat is waiting
	release       chan struct{}
	leftWhileHeld atomic.Bool
	waiting       atomic.Bool
}

func (s *slowHeartbeat) Heartbeat(ctx context.Context, id string, prev, record []byte, ttl time.Duration) error {
	if s.hold.CompareAndSwap(true, false) {
		s.waiting.Store(true)
		close(s.held)
		<-s.release
		s.waiting.Store(false)
	}
	return s.Transport.Heartbeat(context.WithoutCancel(ctx), id, prev, record, ttl)
}

func (s *slowHeartbeat) Leave(ctx context.Context, id string, record []byte) error {
	if s.waiting.Load() {
		s.leftWhileHeld.Store(true)
	}
	return s.Transport.Leave(ctx, id, record)
}

// TestStopWaitsForHeartbeat: a node that stops while a heartbeat is slow
// removes its record only once that heartbeat has written, so that the
// record is gone after Stop, not written back by the late heartbeat (the
// node would look live after it stopped).
func TestStopWaitsForHeartbeat(t *testing.T) {
	b := memory.New(memory.Config{})
	defer b.Close()
	ctx := context.Background()
	tr := &slowHeartbeat{Transport: b.Cluster(), held: make(chan struct{}), release: make(chan struct{})}
	c := cluster.New()
	every := 10 * time.Millisecond
	if err := c.Start(ctx, tr, cluster.Config{ID: "n", Token: "t", HeartbeatInterval: every, NodeTTL: 5 * time.Second}, lifecycle.Key{}); err != nil {
		t.Fatal(err)
	}
	tr.hold.Store(true)
	<-tr.held
	stopped := make(chan error, 1)
	go func() { stopped <- c.Stop(ctx, lifecycle.Key{}) }()
	poll.Until(t, "the stop to begin", 0, func() bool { return c.Ready() != nil })
	// Longer than a heartbeat interval: a Stop that waited one interval
	// only would leave now, under the heartbeat.
	time.Sleep(5 * every)
	close(tr.release)
	if err := <-stopped; err != nil {
		t.Fatal(err)
	}
	if tr.leftWhileHeld.Load() {
		t.Fatal("the node removed its record while a heartbeat was still to write it")
	}
	if rec, err := b.Cluster().Record(ctx, "n"); err != nil || rec != nil {
		t.Fatalf("after Stop the backend holds a record of the node: %q, %v", rec, err)
	}
}
