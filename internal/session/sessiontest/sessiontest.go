// Package sessiontest builds what the persistent transports need to run
// sessions in a test: actions, a connection registry and chat rooms on
// the memory backend, one node alone in its cluster.
package sessiontest

import (
	"context"
	"log/slog"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stellarfw/stellar-go/action"
	"github.com/stellarfw/stellar-go/backend/memory"
	"github.com/stellarfw/stellar-go/chat"
	"github.com/stellarfw/stellar-go/cluster"
	"github.com/stellarfw/stellar-go/connection"
	"github.com/stellarfw/stellar-go/internal/lifecycle"
	"github.com/stellarfw/stellar-go/internal/logging"
	"github.com/stellarfw/stellar-go/internal/session"
)

// NodeID is the node the sessions belong to.
const NodeID = "node-test"

// Options returns session options for node NodeID with the actions
// registered, logging to logger (nothing when nil). What it starts is
// stopped when t ends.
func Options(t testing.TB, logger *slog.Logger, actions ...*action.Action) *session.Options {
	t.Helper()
	return OptionsOnStore(t, logger, nil, actions...)
}

// OptionsOnStore is Options with the chat on wrap(the memory store), for
// tests of a failing backend; a nil wrap keeps the memory store.
func OptionsOnStore(t testing.TB, logger *slog.Logger, wrap func(chat.Store) chat.Store, actions ...*action.Action) *session.Options {
	t.Helper()
	if logger == nil {
		logger = logging.Discard()
	}
	reg := action.NewRegistry(logger, NodeID)
	if err := reg.Register(actions...); err != nil {
		t.Fatal(err)
	}
	b := memory.New(memory.Config{})
	t.Cleanup(func() { _ = b.Close() })
	ctx := context.Background()
	cl := cluster.New()
	conns := connection.NewRegistry()
	ch := chat.New(conns, cl)
	if err := cl.Start(ctx, b.Cluster(), cluster.Config{ID: NodeID, Token: "t", Logger: logging.Discard(),
		HeartbeatInterval: 50 * time.Millisecond, OwnsConnection: conns.Owns}, lifecycle.Key{}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cl.Stop(ctx, lifecycle.Key{}) })
	var store chat.Store = b.Chat()
	if wrap != nil {
		store = wrap(store)
	}
	if err := ch.Start(ctx, store, chat.Config{NodeID: NodeID, Logger: logging.Discard()}, lifecycle.Key{}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = ch.Stop(ctx, lifecycle.Key{}) })
	return &session.Options{NodeID: NodeID, Actions: reg, Chat: ch, Conns: conns, Logger: logger}
}

// Sink is a session's client in a test: Out receives each message the
// session writes. Stick makes it a client that reads nothing: Send keeps
// what it gets, as a full socket would, and Flush waits until Unstick.
type Sink struct {
	// Out receives the messages, in the order written; it holds 4096.
	Out chan []byte

	mu    sync.Mutex
	sess  *session.Session // guarded by mu
	stuck chan struct{}    // guarded by mu; non-nil while stuck, closed by Unstick
	kept  [][]byte         // guarded by mu
}

// New returns a session of connection type typ from remote on a new
// Sink; the sink is unstuck when t ends, so that no writer goroutine is
// left waiting.
func New(t testing.TB, opts *session.Options, typ, remote string) (*session.Session, *Sink) {
	t.Helper()
	k := &Sink{Out: make(chan []byte, 4096)}
	s := session.New(opts, typ, remote, k)
	k.mu.Lock()
	k.sess = s
	k.mu.Unlock()
	t.Cleanup(func() { k.Unstick(); s.Wait() })
	return s, k
}

// Send implements session.Sink.
func (k *Sink) Send(b []byte) error {
	k.mu.Lock()
	if k.stuck != nil || len(k.kept) > 0 { // after what was kept, as a socket's bytes
		k.kept = append(k.kept, b)
		s := k.sess
		k.mu.Unlock()
		s.Kept()
		return nil
	}
	k.mu.Unlock()
	k.put(b)
	return nil
}

func (k *Sink) put(b []byte) {
	select {
	case k.Out <- b:
	default:
		panic("sessiontest: Sink.Out is full; read it")
	}
}

// Flush implements session.Sink: it waits while the sink is stuck.
func (k *Sink) Flush() error {
	k.mu.Lock()
	stuck := k.stuck
	k.mu.Unlock()
	if stuck != nil {
		<-stuck
	}
	k.mu.Lock()
	kept := k.kept
	k.kept = nil
	k.mu.Unlock()
	for _, b := range kept {
		k.put(b)
	}
	return nil
}

// Stick makes the client stop reading.
func (k *Sink) Stick() {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.stuck == nil {
		k.stuck = make(chan struct{})
	}
}

// Unstick makes the client read again: what was kept reaches Out.
func (k *Sink) Unstick() {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.stuck != nil {
		close(k.stuck)
		k.stuck = nil
	}
}

// Kept is the number of messages the stuck client has not read.
func (k *Sink) Kept() int {
	k.mu.Lock()
	defer k.mu.Unlock()
	return len(k.kept)
}

// Goroutines counts the goroutines whose stack has a call of fn, a
// function's name as a stack trace writes it: "session.(*Session).writeLoop".
func Goroutines(fn string) int {
	buf := make([]byte, 1<<20)
	for {
		n := runtime.Stack(buf, true)
		if n < len(buf) {
			buf = buf[:n]
			break
		}
		buf = make([]byte, 2*len(buf))
	}
	n := 0
	for _, g := range strings.Split(string(buf), "\n\n") {
		if strings.Contains(g, fn+"(") {
			n++
		}
	}
	return n
}

// Writers counts the writer goroutines of sessions: those that wait for
// a client to take what was written to it.
func Writers() int { return Goroutines("session.(*Session).writeLoop") }
