package node

import (
	"context"
	"fmt"
	"os"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/stellarfw/stellar-go/action"
	"github.com/stellarfw/stellar-go/chat"
	"github.com/stellarfw/stellar-go/cluster"
	"github.com/stellarfw/stellar-go/config"
	"github.com/stellarfw/stellar-go/connection"
	"github.com/stellarfw/stellar-go/event"
	"github.com/stellarfw/stellar-go/internal/logging"
	"github.com/stellarfw/stellar-go/internal/poll"
	"github.com/stellarfw/stellar-go/internal/redistest"
	"github.com/stellarfw/stellar-go/task"
	httpt "github.com/stellarfw/stellar-go/transport/http"
)

// lifeEvents records node.ready and node.stopping, and whether the node
// was ready as each fired.
type lifeEvents struct {
	mu  sync.Mutex
	got []string // guarded by mu
}

func (l *lifeEvents) add(s string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.got = append(l.got, s)
}

func (l *lifeEvents) list() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return slices.Clone(l.got)
}

// testNode opens a node with the parts an app would give it and a bus
// that records the node's own events.
func testNode(t *testing.T, cfg config.Config) (*Node, *lifeEvents) {
	t.Helper()
	config.Defaults(&cfg)
	bus := event.NewBus()
	conns := connection.NewRegistry()
	cl := cluster.New()
	p := Parts{
		Actions:     action.NewRegistry(logging.Discard(), ""),
		Routes:      &httpt.Routes{},
		Cluster:     cl,
		Tasks:       task.New(),
		Chat:        chat.New(conns, cl),
		Connections: conns,
		Events:      bus,
	}
	n, err := Open(cfg, logging.Discard(), p)
	if err != nil {
		t.Fatal(err)
	}
	rec := &lifeEvents{}
	host, _ := os.Hostname()
	want := event.Node{ID: cfg.ID, Host: host, PID: os.Getpid()}
	for what, ev := range map[string]event.Event[event.Node]{"ready": event.NodeReady, "stopping": event.NodeStopping} {
		event.On(bus, ev, 0, func(ctx context.Context, got *event.Node) error {
			line := what
			if *got != want {
				line += fmt.Sprintf(" payload %+v", *got)
			}
			if err := n.Ready(ctx); err != nil {
				line += " (not ready: " + err.Error() + ")"
			}
			rec.add(line)
			return nil
		})
	}
	return n, rec
}

// TestNodeReadyAndStopping: node.ready fires once, when the parts are up
// and the listeners serve; node.stopping once, as Stop begins, while
// every part still runs.
func TestNodeReadyAndStopping(t *testing.T) {
	n, rec := testNode(t, config.Config{ID: "life", HTTP: config.HTTP{Addr: "127.0.0.1:0"}, TCP: config.TCP{Addr: "off"}})
	ctx := context.Background()
	if err := n.Start(ctx); err != nil {
		t.Fatal(err)
	}
	if got := rec.list(); !slices.Equal(got, []string{"ready"}) {
		t.Fatalf("events after Start = %v, want [ready]", got)
	}
	stopCtx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := n.Stop(stopCtx); err != nil {
		t.Fatal(err)
	}
	if got := rec.list(); !slices.Equal(got, []string{"ready", "stopping"}) {
		t.Fatalf("events after Stop = %v, want [ready stopping]", got)
	}
}

// TestNodeReadyAfterBackend: a node started while Redis is down fires
// node.ready once Redis answers and its parts came up, not before.
func TestNodeReadyAfterBackend(t *testing.T) {
	srv := redistest.StartOwn(t)
	srv.Stop(t)
	n, rec := testNode(t, config.Config{
		ID:      "late",
		HTTP:    config.HTTP{Addr: "127.0.0.1:0"},
		TCP:     config.TCP{Addr: "off"},
		Redis:   config.Redis{URL: srv.URL(), Prefix: redistest.Prefix(t)},
		Cluster: config.Cluster{Token: "t0ken", HeartbeatInterval: 50 * time.Millisecond},
	})
	ctx := context.Background()
	if err := n.Start(ctx); err != nil {
		t.Fatal(err)
	}
	defer func() {
		stopCtx, cancel := context.WithTimeout(ctx, 10*time.Second)
		defer cancel()
		_ = n.Stop(stopCtx)
	}()
	if got := rec.list(); len(got) != 0 {
		t.Fatalf("events while Redis is down = %v", got)
	}
	srv.Restart(t)
	poll.Until(t, "node.ready", 0, func() bool { return len(rec.list()) > 0 })
	if got := rec.list(); !slices.Equal(got, []string{"ready"}) {
		t.Fatalf("events once Redis answers = %v, want [ready]", got)
	}
}
