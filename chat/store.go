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

// Membership is one connection's membership of one room, as the index of
// a node's members holds it.
type Membership struct {
	Room string `json:"room"`
	// ID is the connection id.
	ID string `json:"id"`
}

// Store keeps the rooms and their members, shared by every node of the
// cluster. The memory and Redis backends implement it, and both pass
// internal/backendtest.RunChat.
//
// Besides the members of each room, a Store indexes the memberships by
// the node that recorded them, so that removing what a dead node left
// costs in proportion to that node's members, and checking for dead nodes
// costs the same whatever the number of rooms.
type Store interface {
	// Create creates room; it reports false when the room existed, and
	// leaves that room as it is. emptyTTL 0 makes a permanent room, which
	// lives until destroyed; a positive emptyTTL makes a temporary room,
	// which goes once it has had no members for that long, counted from
	// its creation or from the moment its last member left.
	Create(ctx context.Context, room string, emptyTTL time.Duration) (bool, error)
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
	// Nodes returns the ids of the nodes that have members in any room,
	// each with its number of memberships.
	Nodes(ctx context.Context) (map[string]int, error)
	// NodeMembers returns the memberships that node recorded, sorted by
	// room, then by connection id.
	NodeMembers(ctx context.Context, node string) ([]Membership, error)
	// RemoveNode removes, from every room, the members that node
	// recorded, and returns how many it removed.
	RemoveNode(ctx context.Context, node string) (int, error)
	// Expire removes the temporary rooms that have been empty for their
	// TTL and returns how many it removed. The other methods treat such a
	// room as gone already; Expire reclaims its space.
	Expire(ctx context.Context) (int, error)
}

// CheckRoom returns ErrRoomName for a name that is empty or too long.
func CheckRoom(room string) error {
	if room == "" || len(room) > MaxRoomName {
		return ErrRoomName
	}
	return nil
}
