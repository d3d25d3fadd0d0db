package chat

import (
	"context"
	"errors"
	"time"
)

// Errors of the chat API. Use errors.Is: they come wrapped with details.
var (
	// ErrNoRoom means the room does not exist.
	ErrNoRoom = errors.New("chat: no such room")
	// ErrRoomName means a room name is empty or too long.
	ErrRoomName = errors.New("chat: invalid room name")
	// ErrNoConnection means no live node owns the connection.
	ErrNoConnection = errors.New("chat: no node owns the connection")
	// ErrRoomExists means Create was given a room that exists.
	ErrRoomExists = errors.New("chat: room exists")
	// ErrNotMember means a connection said something in a room it is
	// not in.
	ErrNotMember = errors.New("chat: the connection is not in the room")
	// ErrNotRunning means the chat is not started, or is stopping.
	ErrNotRunning = errors.New("chat: not running")
)

// MaxRoomName bounds the length of a room name, in bytes.
const MaxRoomName = 256

// Member is a connection's membership of a room, as the backend keeps it.
type Member struct {
	// ID is the connection id.
	ID string `json:"id"`
	// Node is the id of the node that owns the connection.
	Node string `json:"node"`
	// JoinedAt is when the connection joined.
	JoinedAt time.Time `json:"joinedAt"`
}

// Store keeps the rooms and their members, shared by every node of the
// cluster. The memory and Redis backends implement it, and both pass
// internal/backendtest.RunChat.
type Store interface {
	// Create creates room; it reports false when the room existed.
	Create(ctx context.Context, room string) (bool, error)
	// Destroy removes room and its members; a missing room is no error.
	Destroy(ctx context.Context, room string) error
	// Exists reports whether room exists.
	Exists(ctx context.Context, room string) (bool, error)
	// List returns the rooms, sorted.
	List(ctx context.Context) ([]string, error)
	// Join records m in room; it reports false when m.ID was a member
	// already, and fails with ErrNoRoom when the room does not exist.
	Join(ctx context.Context, room string, m Member) (bool, error)
	// Leave removes the connection id from room; it reports false when it
	// was not a member. A missing room fails with ErrNoRoom.
	Leave(ctx context.Context, room, id string) (bool, error)
	// Members returns the members of room sorted by id, or ErrNoRoom.
	Members(ctx context.Context, room string) ([]Member, error)
	// Sweep removes, from every room, the members for which gone reports
	// true, and returns how many it removed.
	Sweep(ctx context.Context, gone func(m Member) bool) (int, error)
}

// CheckRoom returns ErrRoomName for a name that is empty or too long.
func CheckRoom(room string) error {
	if room == "" || len(room) > MaxRoomName {
		return ErrRoomName
	}
	return nil
}
