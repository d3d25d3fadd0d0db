// Package sessiontest builds what the persistent transports need to run
// sessions in a test: actions, a connection registry and chat rooms on
// the memory backend, one node alone in its cluster.
package sessiontest

import (
	"context"
	"log/slog"
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
