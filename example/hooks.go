package main

import (
	"context"
	"errors"
	"maps"
	"sync"

	"github.com/stellarfw/stellar-go"
	"github.com/stellarfw/stellar-go/chat"
	"github.com/stellarfw/stellar-go/event"
)

// LobbyRoom is the chat room the start hook creates.
const LobbyRoom = "lobby"

// setupLifecycle shows the application's own start code and an event
// listener.
//
// The start hook (Stellar's satellites, ActionHero's initializers) runs as
// the node starts, once its cache, chat, tasks and cluster work and
// before it reports itself ready: here it makes sure that the chat room
// "lobby" exists, so that clients can join it at once. Every node runs
// it, and the room outlives a node on Redis: "already exists" is success.
// (The chat.starting_rooms setting does as much from the configuration; a
// hook is where start code that needs the app goes.)
//
// The listener (Stellar's api.events.listener) hears event.ActionAfter,
// which the framework fires after every call of an action, and counts the
// calls and the failures of each action on this node. A listener runs on
// the goroutine of the call it hears about, so it keeps its counts in
// memory instead of doing I/O; the actionCalls action reports them.
//
//	curl localhost:8080/api/chatRooms     # lobby is there from the start
//	curl localhost:8080/api/actionCalls
func setupLifecycle(app *stellar.App) error {
	if err := app.OnStart("lobby", 0, func(ctx context.Context) error {
		err := app.Chat.Create(ctx, LobbyRoom)
		if errors.Is(err, chat.ErrRoomExists) {
			return nil
		}
		return err
	}); err != nil {
		return err
	}
	calls := &callCounts{calls: map[string]int64{}, failed: map[string]int64{}}
	event.On(app.Events, event.ActionAfter, 0, func(ctx context.Context, a *event.Action) error {
		calls.add(a.Name, a.Err != nil)
		return nil
	})
	return app.Actions.Register(&stellar.Action{
		Name:        "actionCalls",
		Description: "How many times each action was called on this node, and how many of the calls failed (counted by an event listener)",
		Run: func(ctx context.Context, r *stellar.Request) error {
			r.Response["calls"], r.Response["failed"] = calls.snapshot()
			return nil
		},
	})
}

// callCounts counts calls per action name.
type callCounts struct {
	mu     sync.Mutex
	calls  map[string]int64 // guarded by mu
	failed map[string]int64 // guarded by mu
}

func (c *callCounts) add(action string, failed bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.calls[action]++
	if failed {
		c.failed[action]++
	}
}

func (c *callCounts) snapshot() (calls, failed map[string]int64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return maps.Clone(c.calls), maps.Clone(c.failed)
}
