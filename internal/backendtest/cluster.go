package backendtest

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stellarfw/stellar-go/cluster"
	"github.com/stellarfw/stellar-go/internal/lifecycle"
)

// ClusterBackend is what RunCluster needs from a backend under test.
type ClusterBackend struct {
	// NewTransports returns n transports on the same fresh bus and
	// membership table, as n nodes of one cluster would open them,
	// released when t ends.
	NewTransports func(t *testing.T, n int) []cluster.Transport
	// Publish publishes raw bytes on a channel of the bus, as a client
	// outside the cluster would (an attacker, say), using transport tr.
	Publish func(t *testing.T, tr cluster.Transport, channel string, raw []byte)
}

// ClusterToken is the token the suite's nodes share.
const ClusterToken = "conformance-token"

// RunCluster runs the cluster conformance suite against a backend: the
// Cluster API running on its Transport.
func RunCluster(t *testing.T, b ClusterBackend) {
	t.Helper()
	tests := []struct {
		name string
		fn   func(t *testing.T, b ClusterBackend)
	}{
		{"Membership", testMembership},
		{"DuplicateID", testDuplicateID},
		{"PublishSubscribe", testPublishSubscribe},
		{"DoFirstReply", testDoFirstReply},
		{"DoToNode", testDoToNode},
		{"DoToConnection", testDoToConnection},
		{"DoToConnectionOfNewcomer", testDoToConnectionOfNewcomer},
		{"DoToConnectionRemembersOwner", testDoToConnectionRemembersOwner},
		{"RemoteErrors", testRemoteErrors},
		{"UnknownMethodIsFast", testUnknownMethodIsFast},
		{"Timeout", testTimeout},
		{"DoAll", testDoAll},
		{"ForgedMessagesDropped", testForgedMessages},
		{"WrongToken", testWrongToken},
		{"ReplayAfterRestart", testReplayAfterRestart},
		{"GhostRecord", testGhostRecord},
		{"Records", func(t *testing.T, b ClusterBackend) { RunClusterRecords(t, b.NewTransports) }},
		{"TakeoverDeadProcess", testTakeoverDeadProcess},
		{"TakeoverStaleRecord", testTakeoverStaleRecord},
		{"RenewedRecordRefused", testRenewedRecordRefused},
		{"TakeoverRace", testTakeoverRace},
		{"TakenOverStepsDown", testTakenOverStepsDown},
		{"EarlierRunWrittenBack", testEarlierRunWrittenBack},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			tc.fn(t, b)
		})
	}
}

// clusterConfig is a node's configuration with short timers.
func clusterConfig(id string) cluster.Config {
	return cluster.Config{
		ID:                id,
		Token:             ClusterToken,
		HeartbeatInterval: 50 * time.Millisecond,
		NodeTTL:           time.Second,
		RPCTimeout:        2 * time.Second,
	}
}

// startNodes starts one Cluster per transport, named node-1 … node-n, and
// waits until every one sees them all.
func startNodes(t *testing.T, trs []cluster.Transport, setup func(i int, c *cluster.Cluster, cfg *cluster.Config)) []*cluster.Cluster {
	t.Helper()
	nodes := make([]*cluster.Cluster, len(trs))
	for i, tr := range trs {
		c := cluster.New()
		cfg := clusterConfig("node-" + strconv.Itoa(i+1))
		if setup != nil {
			setup(i, c, &cfg)
		}
		if err := c.Start(context.Background(), tr, cfg, lifecycle.Key{}); err != nil {
			t.Fatalf("start node-%d: %v", i+1, err)
		}
		t.Cleanup(func() { _ = c.Stop(context.Background(), lifecycle.Key{}) })
		nodes[i] = c
	}
	waitFor(t, "every node sees every node", func() bool {
		for _, c := range nodes {
			if len(c.Members()) != len(nodes) || c.Ready() != nil {
				return false
			}
		}
		return true
	})
	return nodes
}

// slowConfig is a node's configuration with a long heartbeat interval:
// a node that watched a record before taking it over would take seconds
// to start, one that decided at once does not.
func slowConfig(id string) cluster.Config {
	cfg := clusterConfig(id)
	cfg.HeartbeatInterval = 5 * time.Second
	cfg.NodeTTL = 20 * time.Second
	return cfg
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting until %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func ids(nodes []cluster.Node) []string {
	out := make([]string, len(nodes))
	for i, n := range nodes {
		out[i] = n.ID
	}
	return out
}

func testMembership(t *testing.T, b ClusterBackend) {
	nodes := startNodes(t, b.NewTransports(t, 3), nil)
	ctx := context.Background()
	got, err := nodes[0].Nodes(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"node-1", "node-2", "node-3"}; !slices.Equal(ids(got), want) {
		t.Fatalf("Nodes = %v, want %v", ids(got), want)
	}
	for _, n := range got {
		if n.PID == 0 || n.StartedAt.IsZero() {
			t.Errorf("record %+v lacks pid or start time", n)
		}
	}
	// A graceful stop announces the leave: the others drop it at once,
	// well before its record would expire.
	if err := nodes[2].Stop(ctx, lifecycle.Key{}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "node-3 leaves the others' view", func() bool {
		return !slices.Contains(nodes[0].Members(), "node-3") && !slices.Contains(nodes[1].Members(), "node-3")
	})
	got, err = nodes[1].Nodes(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"node-1", "node-2"}; !slices.Equal(ids(got), want) {
		t.Fatalf("after leave, Nodes = %v, want %v", ids(got), want)
	}
}

// testDuplicateID: a second node-1 is refused while node-1 runs; on
// Linux at once, since node-1's process runs on this machine (a watch
// would take TakeoverHeartbeats of its long heartbeat intervals).
func testDuplicateID(t *testing.T, b ClusterBackend) {
	trs := b.NewTransports(t, 2)
	startNodes(t, trs[:1], nil)
	dup := cluster.New()
	start := time.Now()
	err := dup.Start(context.Background(), trs[1], slowConfig("node-1"), lifecycle.Key{})
	if !errors.Is(err, cluster.ErrDuplicateNode) {
		t.Fatalf("second node-1 started: %v", err)
	}
	if d := time.Since(start); runtime.GOOS == "linux" && d >= slowConfig("").HeartbeatInterval {
		t.Fatalf("refused after %s: the running process should have been seen at once", d)
	}
	t.Logf("refused: %v", err)
	_ = dup.Stop(context.Background(), lifecycle.Key{})
}

func testPublishSubscribe(t *testing.T, b ClusterBackend) {
	type got struct{ from, text string }
	chans := []chan got{make(chan got, 10), make(chan got, 10)}
	nodes := startNodes(t, b.NewTransports(t, 2), func(i int, c *cluster.Cluster, cfg *cluster.Config) {
		c.Subscribe("greeting", func(ctx context.Context, m cluster.Message) {
			var p struct{ Text string }
			if err := m.Decode(&p); err != nil {
				t.Errorf("decode: %v", err)
			}
			chans[i] <- got{m.From, p.Text}
		})
	})
	if err := nodes[0].Publish(context.Background(), "greeting", map[string]string{"text": "hello"}); err != nil {
		t.Fatal(err)
	}
	for i, ch := range chans { // the sender hears itself too
		select {
		case g := <-ch:
			if g != (got{"node-1", "hello"}) {
				t.Errorf("node-%d got %+v", i+1, g)
			}
		case <-time.After(5 * time.Second):
			t.Fatalf("node-%d got nothing", i+1)
		}
	}
	if err := nodes[0].Publish(context.Background(), "stellar.rpc.request", 1); err == nil {
		t.Error("publishing a reserved type succeeded")
	}
}

func whoAmI(c *cluster.Cluster) cluster.HandlerFunc {
	return func(ctx context.Context, call *cluster.Call) (any, error) {
		return map[string]string{"id": c.ID(), "from": call.From}, nil
	}
}

func testDoFirstReply(t *testing.T, b ClusterBackend) {
	nodes := startNodes(t, b.NewTransports(t, 3), func(i int, c *cluster.Cluster, cfg *cluster.Config) {
		if i == 2 {
			c.Handle("who", whoAmI(c)) // only node-3 has it
		}
	})
	for _, c := range nodes {
		r, err := c.Do(context.Background(), "who", nil)
		if err != nil {
			t.Fatalf("%s: %v", c.ID(), err)
		}
		var out map[string]string
		if err := r.Decode(&out); err != nil || out["id"] != "node-3" || r.Node != "node-3" || out["from"] != c.ID() {
			t.Fatalf("%s: reply %+v %v, %v", c.ID(), r, out, err)
		}
	}
}

func testDoToNode(t *testing.T, b ClusterBackend) {
	nodes := startNodes(t, b.NewTransports(t, 3), func(i int, c *cluster.Cluster, cfg *cluster.Config) { c.Handle("who", whoAmI(c)) })
	for _, target := range []string{"node-1", "node-2", "node-3"} {
		r, err := nodes[0].Do(context.Background(), "who", nil, cluster.ToNode(target))
		if err != nil || r.Node != target {
			t.Fatalf("ToNode(%s): %+v, %v", target, r, err)
		}
	}
	// To all, every node answers: the first reply wins, the later two are
	// discarded and counted.
	if _, err := nodes[0].Do(context.Background(), "who", nil); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "two late replies counted", func() bool { return nodes[0].LateReplies() == 2 })
	start := time.Now()
	_, err := nodes[0].Do(context.Background(), "who", nil, cluster.ToNode("node-9"))
	if !errors.Is(err, cluster.ErrUnknownNode) || time.Since(start) > time.Second {
		t.Fatalf("ToNode(missing) = %v after %s, want ErrUnknownNode at once", err, time.Since(start))
	}
}

func testDoToConnection(t *testing.T, b ClusterBackend) {
	nodes := startNodes(t, b.NewTransports(t, 3), func(i int, c *cluster.Cluster, cfg *cluster.Config) {
		c.Handle("who", whoAmI(c))
		id := "conn-" + strconv.Itoa(i+1)
		cfg.OwnsConnection = func(conn string) bool { return conn == id }
	})
	for i, c := range nodes {
		conn := "conn-" + strconv.Itoa(3-i) // ask from another node
		r, err := c.Do(context.Background(), "who", nil, cluster.ToConnection(conn))
		if err != nil {
			t.Fatalf("ToConnection(%s): %v", conn, err)
		}
		if want := "node-" + strconv.Itoa(3-i); r.Node != want {
			t.Fatalf("ToConnection(%s) answered by %s, want %s", conn, r.Node, want)
		}
	}
	start := time.Now()
	_, err := nodes[0].Do(context.Background(), "who", nil, cluster.ToConnection("conn-nobody"))
	if !errors.Is(err, cluster.ErrNoOwner) || time.Since(start) > time.Second {
		t.Fatalf("ToConnection(unowned) = %v after %s, want ErrNoOwner at once", err, time.Since(start))
	}
}

// testDoToConnectionOfNewcomer: a call for a connection owned by a node
// that has only just joined (the caller's view may not list it yet; its
// own heartbeat never refreshes here) is answered, not refused with
// ErrNoOwner.
func testDoToConnectionOfNewcomer(t *testing.T, b ClusterBackend) {
	trs := b.NewTransports(t, 2)
	cfg := clusterConfig("node-1")
	cfg.HeartbeatInterval = time.Hour // node-1 never refreshes on its own
	cfg.NodeTTL = time.Hour
	first := cluster.New()
	if err := first.Start(context.Background(), trs[0], cfg, lifecycle.Key{}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = first.Stop(context.Background(), lifecycle.Key{}) })
	second := cluster.New()
	second.Handle("who", whoAmI(second))
	secondCfg := clusterConfig("node-2")
	secondCfg.OwnsConnection = func(conn string) bool { return conn == "conn-2" }
	if err := second.Start(context.Background(), trs[1], secondCfg, lifecycle.Key{}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = second.Stop(context.Background(), lifecycle.Key{}) })
	// No waiting for node-1 to list node-2: the call races node-2's join
	// announcement, as a client's request does right after a node starts.
	r, err := first.Do(context.Background(), "who", nil, cluster.ToConnection("conn-2"))
	if err != nil || r.Node != "node-2" {
		t.Fatalf("ToConnection(conn-2) from a stale view = %+v, %v; want node-2's answer", r, err)
	}
}

// testDoToConnectionRemembersOwner: once a node answered a call to a
// connection, the next calls to it ask that node alone (the other nodes
// do not even see them); when the connection's owner changes, the call
// still reaches the new owner.
func testDoToConnectionRemembersOwner(t *testing.T, b ClusterBackend) {
	var owner atomic.Int32 // index of the node that owns "conn"
	owner.Store(1)
	asked := make([]atomic.Int32, 3) // ToConnection requests seen per node
	nodes := startNodes(t, b.NewTransports(t, 3), func(i int, c *cluster.Cluster, cfg *cluster.Config) {
		c.Handle("who", whoAmI(c))
		cfg.OwnsConnection = func(conn string) bool {
			asked[i].Add(1)
			return conn == "conn" && owner.Load() == int32(i)
		}
	})
	ctx := context.Background()
	call := func(want string) {
		t.Helper()
		r, err := nodes[0].Do(ctx, "who", nil, cluster.ToConnection("conn"))
		if err != nil || r.Node != want {
			t.Fatalf("ToConnection(conn) = %+v, %v; want %s's answer", r, err, want)
		}
	}
	call("node-2") // asks every node
	waitFor(t, "node-3 to have seen the first call", func() bool { return asked[2].Load() == 1 })
	for range 20 {
		call("node-2")
	}
	// A call node-3 sees after any call made before it: had one of the
	// 20 gone to every node, node-3 would have seen it by now.
	if _, err := nodes[0].Do(ctx, "who", nil, cluster.ToNode("node-3")); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "node-1 to have seen the first call", func() bool { return asked[0].Load() == 1 })
	if n := asked[2].Load(); n != 1 {
		t.Errorf("node-3 saw %d ToConnection requests, want 1: the calls after the first went to every node", n)
	}
	if n := asked[1].Load(); n != 21 {
		t.Errorf("node-2 (the owner) saw %d requests, want 21", n)
	}
	owner.Store(2)
	call("node-3")
	call("node-3")
	owner.Store(-1)
	if _, err := nodes[0].Do(ctx, "who", nil, cluster.ToConnection("conn")); !errors.Is(err, cluster.ErrNoOwner) {
		t.Fatalf("ToConnection after the connection left: %v, want ErrNoOwner", err)
	}
}

func testRemoteErrors(t *testing.T, b ClusterBackend) {
	nodes := startNodes(t, b.NewTransports(t, 2), func(i int, c *cluster.Cluster, cfg *cluster.Config) {
		c.HandleFunc("fail", func(ctx context.Context, call *cluster.Call) (any, error) {
			return nil, fmt.Errorf("disk full on %s", c.ID())
		})
		c.HandleFunc("panic", func(ctx context.Context, call *cluster.Call) (any, error) {
			panic("boom")
		})
	})
	start := time.Now()
	_, err := nodes[0].Do(context.Background(), "fail", nil, cluster.ToNode("node-2"))
	var re *cluster.RemoteError
	if !errors.As(err, &re) || re.Node != "node-2" || re.Message != "disk full on node-2" {
		t.Fatalf("err = %v, want a RemoteError from node-2", err)
	}
	if errors.Is(err, cluster.ErrTimeout) || time.Since(start) > time.Second {
		t.Fatalf("a remote error must not wait for the timeout: %v after %s", err, time.Since(start))
	}
	// To all: every node failed, so the call fails with one of their errors.
	if _, err := nodes[0].Do(context.Background(), "fail", nil); !errors.As(err, &re) {
		t.Fatalf("Do(all failing) = %v", err)
	}
	_, err = nodes[1].Do(context.Background(), "panic", nil, cluster.ToNode("node-1"))
	if !errors.As(err, &re) || re.Node != "node-1" || re.Message != "panic: boom" {
		t.Fatalf("panic: err = %v", err)
	}
	// The panicking node still serves.
	if _, err := nodes[1].Do(context.Background(), "fail", nil, cluster.ToNode("node-1")); !errors.As(err, &re) {
		t.Fatalf("after panic: %v", err)
	}
}

func testUnknownMethodIsFast(t *testing.T, b ClusterBackend) {
	nodes := startNodes(t, b.NewTransports(t, 2), nil)
	for _, opts := range [][]cluster.CallOption{nil, {cluster.ToNode("node-2")}} {
		start := time.Now()
		_, err := nodes[0].Do(context.Background(), "nope", nil, opts...)
		var re *cluster.RemoteError
		if !errors.Is(err, cluster.ErrUnknownMethod) || !errors.As(err, &re) {
			t.Fatalf("err = %v, want ErrUnknownMethod", err)
		}
		if d := time.Since(start); d > time.Second {
			t.Fatalf("unknown method answered after %s: it must not wait for the timeout", d)
		}
	}
}

func testTimeout(t *testing.T, b ClusterBackend) {
	nodes := startNodes(t, b.NewTransports(t, 2), func(i int, c *cluster.Cluster, cfg *cluster.Config) {
		c.HandleFunc("slow", func(ctx context.Context, call *cluster.Call) (any, error) {
			<-ctx.Done() // the caller's deadline travels with the call
			return nil, ctx.Err()
		})
	})
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	_, err := nodes[0].Do(ctx, "slow", nil)
	var te *cluster.TimeoutError
	if !errors.Is(err, cluster.ErrTimeout) || !errors.As(err, &te) || te.Method != "slow" {
		t.Fatalf("err = %v, want ErrTimeout naming the method", err)
	}
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("a timeout should also unwrap to context.DeadlineExceeded: %v", err)
	}
}

func testDoAll(t *testing.T, b ClusterBackend) {
	var slowOn atomic.Bool
	nodes := startNodes(t, b.NewTransports(t, 3), func(i int, c *cluster.Cluster, cfg *cluster.Config) {
		c.Handle("who", whoAmI(c))
		c.HandleFunc("maybeSlow", func(ctx context.Context, call *cluster.Call) (any, error) {
			if c.ID() == "node-3" && slowOn.Load() {
				<-ctx.Done()
			}
			if c.ID() == "node-2" {
				return nil, errors.New("nope")
			}
			return c.ID(), nil
		})
	})
	replies, err := nodes[0].DoAll(context.Background(), "who", nil)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, r := range replies {
		var out map[string]string
		if err := r.Decode(&out); err != nil || out["id"] != r.Node || r.Err != nil {
			t.Fatalf("reply %+v: %v", r, err)
		}
		got = append(got, r.Node)
	}
	if want := []string{"node-1", "node-2", "node-3"}; !slices.Equal(got, want) {
		t.Fatalf("DoAll answered by %v, want %v", got, want)
	}

	slowOn.Store(true)
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	replies, err = nodes[0].DoAll(ctx, "maybeSlow", nil)
	var pe *cluster.PartialError
	if !errors.As(err, &pe) || !errors.Is(err, cluster.ErrTimeout) {
		t.Fatalf("err = %v, want a PartialError", err)
	}
	if !slices.Equal(pe.Missing, []string{"node-3"}) || len(replies) != 2 || len(pe.Replies) != 2 {
		t.Fatalf("missing %v, replies %+v", pe.Missing, replies)
	}
	var re *cluster.RemoteError
	if replies[0].Node != "node-1" || replies[0].Err != nil || replies[1].Node != "node-2" || !errors.As(replies[1].Err, &re) {
		t.Fatalf("replies %+v", replies)
	}
}

// signedMessage builds a message signed with token: what a node with
// that token would send.
func signedMessage(token, typ, from, id string, at time.Time, payload string) []byte {
	return cluster.SignMessage(token, typ, from, id, at, json.RawMessage(payload))
}

func testForgedMessages(t *testing.T, b ClusterBackend) {
	var handled atomic.Int64
	trs := b.NewTransports(t, 2)
	nodes := startNodes(t, trs[:1], func(i int, c *cluster.Cluster, cfg *cluster.Config) {
		c.Subscribe("chat", func(ctx context.Context, m cluster.Message) { handled.Add(1) })
		c.HandleFunc("api.stop", func(ctx context.Context, call *cluster.Call) (any, error) {
			handled.Add(1000)
			return nil, nil
		})
	})
	c := nodes[0]
	now := time.Now()
	good := signedMessage(ClusterToken, "chat", "intruder", "id-good", now, `{"text":"hi"}`)
	big := `"` + strings.Repeat("x", 2<<20) + `"`
	cases := []struct {
		reason string
		raw    []byte
	}{
		{cluster.DropBadSignature, signedMessage("wrong-token", "chat", "intruder", "id-1", now, `{}`)},
		{cluster.DropBadSignature, signedMessage("wrong-token", "stellar.rpc.request", "intruder", "id-2", now, `{"m":"api.stop","a":null,"d":0}`)},
		{cluster.DropBadSignature, tamper(good)},
		{cluster.DropStale, signedMessage(ClusterToken, "chat", "intruder", "id-3", now.Add(-time.Hour), `{}`)},
		{cluster.DropStale, signedMessage(ClusterToken, "chat", "intruder", "id-4", now.Add(time.Hour), `{}`)},
		{cluster.DropMalformed, []byte(`{not json`)},
		{cluster.DropMalformed, []byte(`{"v":1,"type":"chat"}`)},
		{cluster.DropMalformed, []byte(`{"v":9,"type":"chat","from":"x","at":1,"id":"x","payload":{},"sig":"AAAA"}`)},
		{cluster.DropOversize, []byte(big)},
		{cluster.DropUnknownType, signedMessage(ClusterToken, "nobody-listens", "intruder", "id-5", now, `{}`)},
		// Fresh, but signed before the node started: it may have reached
		// the node's previous run.
		{cluster.DropBeforeStart, signedMessage(ClusterToken, "chat", "intruder", "id-7", now.Add(-10*time.Second), `{}`)},
	}
	want := map[string]uint64{}
	for _, tc := range cases {
		b.Publish(t, trs[1], "all", tc.raw)
		want[tc.reason]++
	}
	// A forged call sent to the node's own channel.
	b.Publish(t, trs[1], "node:node-1", signedMessage("wrong-token", "stellar.rpc.request", "intruder", "id-6", now, `{"m":"api.stop","a":null,"d":0}`))
	want[cluster.DropBadSignature]++
	// A genuine message, sent twice: the second is a replay.
	b.Publish(t, trs[1], "all", good)
	b.Publish(t, trs[1], "all", good)
	want[cluster.DropReplayed]++
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("dropped %v, want %v; handled %d", c.Dropped(), want, handled.Load())
		}
	})
	waitFor(t, "every forged message is counted", func() bool {
		d := c.Dropped()
		for r, n := range want {
			if d[r] != n {
				return false
			}
		}
		return handled.Load() == 1
	})
	d := c.Dropped()
	for _, r := range []string{cluster.DropBadSignature, cluster.DropStale, cluster.DropReplayed, cluster.DropMalformed, cluster.DropOversize, cluster.DropUnknownType, cluster.DropBeforeStart} {
		if d[r] != want[r] {
			t.Errorf("dropped[%s] = %d, want %d", r, d[r], want[r])
		}
	}
	if n := handled.Load(); n != 1 {
		t.Fatalf("handlers ran %d times (1000 per forged call), want only the genuine message once", n)
	}
}

// tamper changes the payload of a signed message, keeping its signature.
func tamper(raw []byte) []byte {
	out := slices.Clone(raw)
	i := slices.Index(out, 'h') // the "hi" of the payload
	for j := i; j < len(out); j++ {
		if out[j] == 'h' && out[j+1] == 'i' {
			out[j] = 'H'
			break
		}
	}
	return out
}

func testWrongToken(t *testing.T, b ClusterBackend) {
	trs := b.NewTransports(t, 2)
	var heard atomic.Int64
	nodes := startNodes(t, trs[:1], func(i int, c *cluster.Cluster, cfg *cluster.Config) {
		c.Handle("who", whoAmI(c))
		c.Subscribe("chat", func(ctx context.Context, m cluster.Message) {
			if m.From == "rogue" {
				heard.Add(1)
			}
		})
	})
	cfg := clusterConfig("rogue")
	cfg.Token = "not-the-token"
	rogue := cluster.New()
	var rogueHeard atomic.Int64
	rogue.Subscribe("chat", func(ctx context.Context, m cluster.Message) {
		if m.From != "rogue" {
			rogueHeard.Add(1)
		}
	})
	if err := rogue.Start(context.Background(), trs[1], cfg, lifecycle.Key{}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = rogue.Stop(context.Background(), lifecycle.Key{}) })
	ctx := context.Background()
	waitFor(t, "the rogue sees itself only", func() bool { return slices.Equal(rogue.Members(), []string{"rogue"}) })

	// It cannot call into the cluster: node-1 is not a member it can see.
	if _, err := rogue.Do(ctx, "who", nil, cluster.ToNode("node-1")); !errors.Is(err, cluster.ErrUnknownNode) {
		t.Fatalf("rogue ToNode(node-1) = %v", err)
	}
	// What it sends is dropped; what the cluster sends, it drops.
	if err := rogue.Publish(ctx, "chat", "hi"); err != nil {
		t.Fatal(err)
	}
	if err := nodes[0].Publish(ctx, "chat", "hi"); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "both sides drop the other's messages", func() bool {
		return nodes[0].Dropped()[cluster.DropBadSignature] >= 2 && rogue.Dropped()[cluster.DropBadSignature] >= 1
	})
	if heard.Load() != 0 || rogueHeard.Load() != 0 {
		t.Fatalf("a message crossed the token boundary: cluster heard %d, rogue heard %d", heard.Load(), rogueHeard.Load())
	}
	// And it is no member of the cluster.
	got, err := nodes[0].Nodes(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if slices.Contains(ids(got), "rogue") || slices.Contains(nodes[0].Members(), "rogue") {
		t.Fatalf("the rogue node is listed: %v", ids(got))
	}
}

// spy subscribes to channels of the bus through tr, as an attacker who
// can read the backend would, and returns the messages it captures.
func spy(t *testing.T, tr cluster.Transport, channels ...string) <-chan []byte {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	got := make(chan []byte, 64)
	up := make(chan struct{})
	var once sync.Once
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = tr.Subscribe(ctx, channels, func() { once.Do(func() { close(up) }) }, func(_ string, raw []byte) {
			select {
			case got <- slices.Clone(raw):
			default:
			}
		})
	}()
	t.Cleanup(func() { cancel(); <-done })
	select {
	case <-up:
	case <-time.After(10 * time.Second):
		t.Fatal("the spy could not subscribe")
	}
	return got
}

// testReplayAfterRestart: a call captured on its way to a node, sent
// again after that node restarted (within the message window, with its
// replay memory empty), is dropped and counted, not run again.
func testReplayAfterRestart(t *testing.T, b ClusterBackend) {
	trs := b.NewTransports(t, 3)
	var stops atomic.Int64
	stop := func(c *cluster.Cluster) {
		c.HandleFunc("api.stop", func(ctx context.Context, call *cluster.Call) (any, error) {
			stops.Add(1)
			return "stopping", nil
		})
	}
	nodes := startNodes(t, trs[:2], func(i int, c *cluster.Cluster, cfg *cluster.Config) {
		if i == 1 {
			stop(c)
		}
	})
	captured := spy(t, trs[2], "node:node-2")
	if _, err := nodes[0].Do(context.Background(), "api.stop", nil, cluster.ToNode("node-2")); err != nil {
		t.Fatal(err)
	}
	var call []byte
	var sentAt int64
	for call == nil {
		select {
		case raw := <-captured:
			var e struct {
				Type string `json:"type"`
				At   int64  `json:"at"`
			}
			if json.Unmarshal(raw, &e) == nil && e.Type == "stellar.rpc.request" {
				call, sentAt = raw, e.At
			}
		case <-time.After(10 * time.Second):
			t.Fatal("the spy captured no call")
		}
	}
	if n := stops.Load(); n != 1 {
		t.Fatalf("api.stop ran %d times, want 1", n)
	}
	// Sent again to the running node: a replay, dropped.
	b.Publish(t, trs[2], "node:node-2", call)
	waitFor(t, "the replay dropped", func() bool { return nodes[1].Dropped()[cluster.DropReplayed] == 1 })

	// The node restarts, in a later millisecond than the capture (a new
	// process takes far longer), and well within the message window.
	if err := nodes[1].Stop(context.Background(), lifecycle.Key{}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the clock passes the capture", func() bool { return time.Now().UnixMilli() > sentAt })
	again := cluster.New()
	stop(again)
	if err := again.Start(context.Background(), trs[1], clusterConfig("node-2"), lifecycle.Key{}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = again.Stop(context.Background(), lifecycle.Key{}) })
	waitFor(t, "the restarted node is ready", func() bool { return again.Ready() == nil })

	// Messages sent before the restart and delivered late (pub/sub on Redis
	// Cluster crosses the cluster bus) are dropped for the same reason, so
	// the count only has to grow; the run count below proves the capture
	// never ran.
	before := again.Dropped()[cluster.DropBeforeStart]
	b.Publish(t, trs[2], "node:node-2", call)
	deadline := time.Now().Add(10 * time.Second)
	for again.Dropped()[cluster.DropBeforeStart] <= before {
		if time.Now().After(deadline) {
			t.Fatalf("the restarted node did not drop the capture as signed before its start; its drops: %v", again.Dropped())
		}
		time.Sleep(5 * time.Millisecond)
	}
	if n := stops.Load(); n != 1 {
		t.Fatalf("api.stop ran %d times: the capture was taken after the restart", n)
	}
	// The restarted node still answers genuine calls.
	if _, err := nodes[0].Do(context.Background(), "api.stop", nil, cluster.ToNode("node-2")); err != nil {
		t.Fatal(err)
	}
	if n := stops.Load(); n != 2 {
		t.Fatalf("api.stop ran %d times, want 2", n)
	}
}

// testGhostRecord: a dead node's signed record, written back into the
// backend with no expiry (no token needed for that), stops counting at
// the expiry it was signed with: the node leaves every view, calls to
// all do not wait for it, and its id may start again.
func testGhostRecord(t *testing.T, b ClusterBackend) {
	trs := b.NewTransports(t, 2)
	nodes := startNodes(t, trs, func(i int, c *cluster.Cluster, cfg *cluster.Config) { c.Handle("who", whoAmI(c)) })
	ctx := context.Background()
	recs, err := trs[0].Nodes(ctx)
	if err != nil {
		t.Fatal(err)
	}
	ghost := recs["node-2"]
	if err := nodes[1].Stop(ctx, lifecycle.Key{}); err != nil {
		t.Fatal(err)
	}
	// Written back for an hour: as good as no expiry for this test.
	if err := trs[0].Join(ctx, "node-2", ghost, time.Hour); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the ghost no member", func() bool {
		listed, err := cluster.ReadNodes(ctx, trs[0], []byte(ClusterToken))
		if err != nil || slices.Contains(ids(listed), "node-2") {
			return false
		}
		own, err := nodes[0].Nodes(ctx)
		return err == nil && !slices.Contains(ids(own), "node-2") && !slices.Contains(nodes[0].Members(), "node-2")
	})
	recs, err = trs[0].Nodes(ctx)
	if err != nil || !bytes.Equal(recs["node-2"], ghost) {
		t.Fatalf("the backend no longer holds the ghost (%v): the test proves nothing", err)
	}
	replies, err := nodes[0].DoAll(ctx, "who", nil)
	if err != nil || len(replies) != 1 || replies[0].Node != "node-1" {
		t.Fatalf("DoAll with a ghost in the backend: %+v, %v", replies, err)
	}
	// The id is free: the ghost does not keep its node out.
	again := cluster.New()
	again.Handle("who", whoAmI(again))
	if err := again.Start(ctx, trs[1], clusterConfig("node-2"), lifecycle.Key{}); err != nil {
		t.Fatalf("restart under the ghost's id: %v", err)
	}
	t.Cleanup(func() { _ = again.Stop(ctx, lifecycle.Key{}) })
	waitFor(t, "node-2 a member again", func() bool { return slices.Contains(nodes[0].Members(), "node-2") })
	if r, err := nodes[0].Do(ctx, "who", nil, cluster.ToNode("node-2")); err != nil || r.Node != "node-2" {
		t.Fatalf("call to the restarted node-2: %+v, %v", r, err)
	}
}

// noSuchPID is a pid no process has: Linux hands out pids below
// PID_MAX_LIMIT, 1<<22.
const noSuchPID = 1<<22 + 1

// otherMachine is a Node.Process written on another machine: no node of
// this test can look its pid up.
const otherMachine = "linux/00000000-0000-0000-0000-000000000000/pid:[1]/12345"

// runRecord is a signed record of a run of id that no Cluster of the
// test runs, started at startedAt, with process and pid as its Node
// says; written now and counting for an hour unless replaced.
func runRecord(id, instance, process string, pid int, startedAt time.Time) []byte {
	now := time.Now().UTC().Truncate(time.Millisecond)
	return cluster.SignRecord(ClusterToken, cluster.Node{ID: id, Instance: instance, Host: "elsewhere", PID: pid, Process: process,
		StartedAt: startedAt.UTC().Truncate(time.Millisecond), Version: "test", WrittenAt: now, ExpiresAt: now.Add(time.Hour)})
}

// member returns id's membership record as the cluster reads it.
func member(t *testing.T, tr cluster.Transport, id string) (cluster.Node, bool) {
	t.Helper()
	nodes, err := cluster.ReadNodes(context.Background(), tr, []byte(ClusterToken))
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range nodes {
		if n.ID == id {
			return n, true
		}
	}
	return cluster.Node{}, false
}

// storedRecord returns the bytes stored under id.
func storedRecord(t *testing.T, tr cluster.Transport, id string) []byte {
	t.Helper()
	recs, err := tr.Nodes(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return recs[id]
}

// startNode starts a Cluster with cfg on tr, stopped when t ends.
func startNode(t *testing.T, tr cluster.Transport, cfg cluster.Config) (*cluster.Cluster, error) {
	t.Helper()
	c := cluster.New()
	err := c.Start(context.Background(), tr, cfg, lifecycle.Key{})
	if err == nil {
		t.Cleanup(func() { _ = c.Stop(context.Background(), lifecycle.Key{}) })
	}
	return c, err
}

// RunClusterRecords runs the conformance cases of a Transport's
// membership records: Join refuses a stored id; Replace, Heartbeat and
// Leave write only over the record they expect, atomically, so that of
// several nodes replacing one record exactly one wins.
func RunClusterRecords(t *testing.T, newTransports func(t *testing.T, n int) []cluster.Transport) {
	t.Helper()
	trs := newTransports(t, 4)
	ctx := context.Background()
	tr := trs[0]
	rec := func(s string) []byte { return []byte(`{"r":"` + s + `"}`) }
	is := func(id string, want []byte) {
		t.Helper()
		if got := storedRecord(t, tr, id); !bytes.Equal(got, want) {
			t.Fatalf("listed under %s: %q, want %q", id, got, want)
		}
		got, err := trs[3].Record(ctx, id)
		if err != nil || !bytes.Equal(got, want) || (want == nil) != (got == nil) {
			t.Fatalf("Record(%s) = %q, %v; want %q", id, got, err, want)
		}
	}
	must := func(what string, err error) {
		t.Helper()
		if err != nil {
			t.Fatalf("%s: %v", what, err)
		}
	}
	changed := func(what string, err error) {
		t.Helper()
		if !errors.Is(err, cluster.ErrRecordChanged) {
			t.Fatalf("%s = %v, want ErrRecordChanged", what, err)
		}
	}
	must("Join", tr.Join(ctx, "n", rec("a"), time.Minute))
	if err := trs[1].Join(ctx, "n", rec("x"), time.Minute); !errors.Is(err, cluster.ErrDuplicateNode) {
		t.Fatalf("Join over a stored record = %v, want ErrDuplicateNode", err)
	}
	is("n", rec("a"))
	changed("Replace of a record not stored", trs[1].Replace(ctx, "n", rec("x"), rec("b"), time.Minute))
	is("n", rec("a"))
	must("Replace", trs[1].Replace(ctx, "n", rec("a"), rec("b"), time.Minute))
	is("n", rec("b"))
	changed("Heartbeat over another run's record", tr.Heartbeat(ctx, "n", rec("a"), rec("c"), time.Minute))
	is("n", rec("b"))
	must("Heartbeat", trs[1].Heartbeat(ctx, "n", rec("b"), rec("c"), time.Minute))
	is("n", rec("c"))
	must("Leave of another run's record", tr.Leave(ctx, "n", rec("b")))
	is("n", rec("c"))
	must("Leave", trs[1].Leave(ctx, "n", rec("c")))
	is("n", nil)
	changed("Replace of no record", tr.Replace(ctx, "n", rec("c"), rec("d"), time.Minute))
	is("n", nil)
	must("Heartbeat of no record (the server restarted empty)", tr.Heartbeat(ctx, "n", rec("c"), rec("d"), time.Minute))
	is("n", rec("d"))

	// A record that expired is none.
	must("Join", tr.Join(ctx, "brief", rec("e"), 100*time.Millisecond))
	waitFor(t, "the record to expire", func() bool { return storedRecord(t, tr, "brief") == nil })
	changed("Replace of an expired record", tr.Replace(ctx, "brief", rec("e"), rec("f"), time.Minute))
	must("Join after expiry", tr.Join(ctx, "brief", rec("g"), time.Minute))

	// Many replace one record at once: exactly one wins.
	for round := range 5 {
		id := "race-" + strconv.Itoa(round)
		must("Join", tr.Join(ctx, id, rec("old"), time.Minute))
		const racers = 8
		errs := make([]error, racers)
		var wg sync.WaitGroup
		gate := make(chan struct{})
		for i := range racers {
			wg.Go(func() {
				<-gate
				errs[i] = trs[i%len(trs)].Replace(ctx, id, rec("old"), rec("new-"+strconv.Itoa(i)), time.Minute)
			})
		}
		close(gate)
		wg.Wait()
		winner := -1
		for i, err := range errs {
			switch {
			case err == nil && winner >= 0:
				t.Fatalf("round %d: racers %d and %d both replaced the record", round, winner, i)
			case err == nil:
				winner = i
			default:
				changed("a racer that lost", err)
			}
		}
		if winner < 0 {
			t.Fatalf("round %d: no racer replaced the record: %v", round, errs)
		}
		is(id, rec("new-"+strconv.Itoa(winner)))
	}
}

// testTakeoverDeadProcess: a record whose process ran on this machine
// and is gone (a node killed a moment ago) is taken over at once, long
// before the record expires and without watching it.
func testTakeoverDeadProcess(t *testing.T, b ClusterBackend) {
	trs := b.NewTransports(t, 2)
	startNodes(t, trs[:1], nil)
	self, _ := member(t, trs[0], "node-1") // this process, as a record says it
	if runtime.GOOS == "linux" && self.Process == "" {
		t.Fatalf("a node on Linux records no process identity: %+v", self)
	}
	ctx := context.Background()
	dead := runRecord("node-9", "killed-run", self.Process, noSuchPID, time.Now().Add(-time.Minute))
	if err := trs[1].Join(ctx, "node-9", dead, time.Hour); err != nil {
		t.Fatal(err)
	}
	cfg := slowConfig("node-9")
	if self.Process == "" {
		cfg = clusterConfig("node-9") // no pids to look up: it watches
	}
	start := time.Now()
	again, err := startNode(t, trs[1], cfg)
	took := time.Since(start)
	if err != nil {
		t.Fatalf("restart under the id of a dead process: %v", err)
	}
	if self.Process != "" && took >= cfg.HeartbeatInterval {
		t.Fatalf("took the id over after %s: it watched the record instead of seeing its process gone", took)
	}
	if n, ok := member(t, trs[0], "node-9"); !ok || n.Instance != again.Instance() {
		t.Fatalf("node-9's record is %+v (listed: %v), want the new run's (%s)", n, ok, again.Instance())
	}
	t.Logf("took a dead process's id over in %s", took)
}

// testTakeoverStaleRecord: a record from another machine that nobody
// renews (its node died there) is taken over once it has not been
// renewed for TakeoverHeartbeats intervals, not at its expiry an hour on.
func testTakeoverStaleRecord(t *testing.T, b ClusterBackend) {
	trs := b.NewTransports(t, 1)
	ctx := context.Background()
	stale := runRecord("node-9", "frozen-run", otherMachine, 4242, time.Now().Add(-time.Minute))
	if err := trs[0].Join(ctx, "node-9", stale, time.Hour); err != nil {
		t.Fatal(err)
	}
	cfg := clusterConfig("node-9")
	start := time.Now()
	again, err := startNode(t, trs[0], cfg)
	took := time.Since(start)
	if err != nil {
		t.Fatalf("restart under the id of a stale record: %v", err)
	}
	if want := cluster.TakeoverHeartbeats * cfg.HeartbeatInterval; took < want {
		t.Fatalf("took the id over after %s, before the record could have been renewed (%s)", took, want)
	}
	if took > 10*time.Second {
		t.Fatalf("took the id over after %s", took)
	}
	if n, ok := member(t, trs[0], "node-9"); !ok || n.Instance != again.Instance() {
		t.Fatalf("node-9's record is %+v (listed: %v), want the new run's", n, ok)
	}
	t.Logf("took a stale record over in %s", took)
}

// testRenewedRecordRefused: a record from another machine that its run
// keeps renewing is a live node: refused, and never written over.
func testRenewedRecordRefused(t *testing.T, b ClusterBackend) {
	trs := b.NewTransports(t, 2)
	ctx := context.Background()
	started := time.Now().Add(-time.Minute)
	prev := runRecord("node-9", "live-run", otherMachine, 4242, started)
	if err := trs[0].Join(ctx, "node-9", prev, time.Hour); err != nil {
		t.Fatal(err)
	}
	stop := make(chan struct{})
	renewErr := make(chan error, 1)
	go func() {
		// Renewed more often than the starting node's interval.
		tick := time.NewTicker(20 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-stop:
				renewErr <- nil
				return
			case <-tick.C:
			}
			next := runRecord("node-9", "live-run", otherMachine, 4242, started)
			if err := trs[0].Heartbeat(ctx, "node-9", prev, next, time.Hour); err != nil {
				renewErr <- err
				return
			}
			prev = next
		}
	}()
	start := time.Now()
	_, err := startNode(t, trs[1], clusterConfig("node-9"))
	took := time.Since(start)
	close(stop)
	if err := <-renewErr; err != nil {
		t.Fatalf("the live run could not renew its record: the starting node wrote over it: %v", err)
	}
	if !errors.Is(err, cluster.ErrDuplicateNode) {
		t.Fatalf("start under a renewed record = %v, want ErrDuplicateNode", err)
	}
	if n, ok := member(t, trs[0], "node-9"); !ok || n.Instance != "live-run" {
		t.Fatalf("node-9's record is %+v (listed: %v), want the live run's", n, ok)
	}
	t.Logf("refused after %s: %v", took, err)
}

// testTakeoverRace: two nodes start at once under the id of a dead run:
// one takes it over, the other is refused (the winner is live).
func testTakeoverRace(t *testing.T, b ClusterBackend) {
	trs := b.NewTransports(t, 3)
	startNodes(t, trs[:1], nil)
	self, _ := member(t, trs[0], "node-1")
	ctx := context.Background()
	for round := range 3 {
		id := "race-" + strconv.Itoa(round)
		dead := runRecord(id, "killed-run", self.Process, noSuchPID, time.Now().Add(-time.Minute))
		if err := trs[0].Join(ctx, id, dead, time.Hour); err != nil {
			t.Fatal(err)
		}
		var nodes [2]*cluster.Cluster
		var errs [2]error
		var wg sync.WaitGroup
		gate := make(chan struct{})
		for i := range nodes {
			wg.Go(func() {
				<-gate
				nodes[i], errs[i] = startNode(t, trs[1+i], clusterConfig(id))
			})
		}
		close(gate)
		wg.Wait()
		var winner *cluster.Cluster
		for i, err := range errs {
			switch {
			case err == nil && winner != nil:
				t.Fatalf("%s: both nodes took the id over", id)
			case err == nil:
				winner = nodes[i]
			case !errors.Is(err, cluster.ErrDuplicateNode):
				t.Fatalf("%s: the loser failed with %v, want ErrDuplicateNode", id, err)
			}
		}
		if winner == nil {
			t.Fatalf("%s: neither node took the id over: %v", id, errs)
		}
		if n, ok := member(t, trs[0], id); !ok || n.Instance != winner.Instance() {
			t.Fatalf("%s: the record is %+v, want the winner's", id, n)
		}
	}
}

// replaceStored replaces whatever tr stores under id with rec, as
// another run of the node taking the id over would, trying again while
// the running node's heartbeat changes it under the compare and set.
func replaceStored(t *testing.T, tr cluster.Transport, id string, rec []byte) {
	t.Helper()
	waitFor(t, "the record replaced", func() bool {
		err := tr.Replace(context.Background(), id, storedRecord(t, tr, id), rec, time.Hour)
		if err != nil && !errors.Is(err, cluster.ErrRecordChanged) {
			t.Fatal(err)
		}
		return err == nil
	})
}

// testTakenOverStepsDown: a node whose id a later run took over (it was
// frozen meanwhile, say) stops claiming the id at its next heartbeat: not
// ready, and it writes nothing over the later run's record, answers no
// calls under the id and leaves nothing when it stops.
func testTakenOverStepsDown(t *testing.T, b ClusterBackend) {
	trs := b.NewTransports(t, 2)
	nodes := startNodes(t, trs, func(i int, c *cluster.Cluster, cfg *cluster.Config) { c.Handle("who", whoAmI(c)) })
	old := nodes[0]
	ctx := context.Background()
	later := runRecord("node-1", "later-run", otherMachine, 4242, time.Now().Add(time.Second))
	replaceStored(t, trs[1], "node-1", later)
	waitFor(t, "node-1 steps down", func() bool { return errors.Is(old.Ready(), cluster.ErrTakenOver) })
	t.Logf("stepped down: %v", old.Ready())
	unchanged := func(what string) {
		t.Helper()
		for end := time.Now().Add(10 * clusterConfig("").HeartbeatInterval); time.Now().Before(end); time.Sleep(10 * time.Millisecond) {
			if got := storedRecord(t, trs[1], "node-1"); !bytes.Equal(got, later) {
				t.Fatalf("%s: node-1's record is %q, want the later run's", what, got)
			}
		}
	}
	unchanged("after stepping down")
	cctx, cancel := context.WithTimeout(ctx, 300*time.Millisecond)
	defer cancel()
	if r, err := nodes[1].Do(cctx, "who", nil, cluster.ToNode("node-1")); !errors.Is(err, cluster.ErrTimeout) {
		t.Fatalf("a call to node-1 = %+v, %v: the node that stepped down answered it", r, err)
	}
	if err := old.Stop(ctx, lifecycle.Key{}); err != nil {
		t.Fatal(err)
	}
	unchanged("after it stopped")
	if !slices.Contains(nodes[1].Members(), "node-1") {
		t.Fatalf("node-2 dropped node-1, the later run: %v", nodes[1].Members())
	}
}

// testEarlierRunWrittenBack: a record of an earlier run written back
// over a running node's (which needs no token, only the backend) does
// not put it out: it writes its own back at its next heartbeat.
func testEarlierRunWrittenBack(t *testing.T, b ClusterBackend) {
	trs := b.NewTransports(t, 1)
	n := startNodes(t, trs, nil)[0]
	earlier := runRecord("node-1", "earlier-run", otherMachine, 4242, time.Now().Add(-time.Hour))
	replaceStored(t, trs[0], "node-1", earlier)
	waitFor(t, "node-1's own record back", func() bool {
		m, ok := member(t, trs[0], "node-1")
		return ok && m.Instance == n.Instance()
	})
	if err := n.Ready(); err != nil {
		t.Fatalf("node-1 not ready after an earlier run's record was written back: %v", err)
	}
}
