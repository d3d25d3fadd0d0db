package main

import (
	"context"
	"errors"
	"net/http"
	"strings"

	"github.com/stellarfw/stellar-go"
)

// setupChat shows the chat rooms: a say middleware, and actions that
// manage rooms and members from the server. Clients join and talk with
// the verbs, over TCP or WebSocket (public/chat.html, served at /chat.html, is a
// browser client). The room
// "lobby" exists from the start (the start hook in hooks.go creates it):
//
//	curl -X POST 'localhost:8080/api/chatCreate?room=games'
//	printf 'roomAdd lobby\nsay lobby hello\n' | nc localhost 5000
//	curl -X POST 'localhost:8080/api/chatJoin?connection=ID&room=lobby'
//	curl 'localhost:8080/api/chatStatus?room=lobby'
func setupChat(app *stellar.App) error {
	if err := app.Chat.Use(&stellar.ChatMiddleware{
		Name: "censor",
		Say: func(ctx context.Context, from *stellar.Conn, m *stellar.ChatMessage) error {
			if s, ok := m.Message.(string); ok {
				m.Message = strings.ReplaceAll(s, "darn", "****")
			}
			return nil
		},
	}); err != nil {
		return err
	}
	room := map[string]stellar.Input{"room": {Required: true, Validator: "max:256"}}
	return app.Actions.Register(
		&stellar.Action{
			Name: "chatCreate", Description: "Create a chat room", Inputs: room,
			Run: func(ctx context.Context, r *stellar.Request) error {
				r.Response["created"] = app.Chat.Create(ctx, r.Params.String("room")) == nil
				return nil
			},
		},
		&stellar.Action{
			Name: "chatStatus", Description: "The members of a chat room", Inputs: room,
			Run: func(ctx context.Context, r *stellar.Request) error {
				st, err := app.Chat.Status(ctx, r.Params.String("room"))
				if err != nil {
					return err
				}
				r.Response["room"] = st
				return nil
			},
		},
		&stellar.Action{
			Name: "chatRooms", Description: "The chat rooms",
			Run: func(ctx context.Context, r *stellar.Request) error {
				rooms, err := app.Chat.List(ctx)
				r.Response["rooms"] = rooms
				return err
			},
		},
		&stellar.Action{
			Name:        "chatJoin",
			Description: "Join a connection of any node to a room (through RPC to its node)",
			Inputs: map[string]stellar.Input{
				"room":       {Required: true},
				"connection": {Required: true},
			},
			Run: func(ctx context.Context, r *stellar.Request) error {
				added, err := app.Chat.Join(ctx, r.Params.String("connection"), r.Params.String("room"))
				switch {
				case errors.Is(err, stellar.ErrNoConnection):
					// The caller named a connection that no node holds: its
					// mistake, not the server's.
					return stellar.NewError("connection_not_found", http.StatusNotFound, err.Error())
				case errors.Is(err, stellar.ErrNoRoom):
					return stellar.NewError("room_not_found", http.StatusNotFound, err.Error())
				}
				r.Response["added"] = added
				return err
			},
		},
		&stellar.Action{
			Name:        "chatBroadcast",
			Description: "Say something in a room, from the server",
			Inputs: map[string]stellar.Input{
				"room":    {Required: true},
				"message": {Required: true},
			},
			Run: func(ctx context.Context, r *stellar.Request) error {
				return app.Chat.Broadcast(ctx, nil, r.Params.String("room"), r.Params.String("message"))
			},
		},
	)
}
