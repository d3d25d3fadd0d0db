package redis

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"

	"github.com/redis/rueidis"

	"github.com/stellarfw/stellar-go/chat"
)

var _ chat.Store = (*ChatStore)(nil)

// ChatStore keeps the chat rooms and their members in Redis. Obtain it
// from Backend.Chat.
//
// The rooms are a set at PREFIX chat:{chat}rooms; the members of ROOM are
// a hash at PREFIX chat:{chat}room:ROOM, connection id → the member as
// JSON. The {chat} hash tag keeps them in one Cluster slot, so that the
// scripts that check a room and change its members are atomic.
type ChatStore struct {
	b      *Backend
	prefix string
}

// Chat returns the store of the chat rooms, for chat.Chat.Start.
func (b *Backend) Chat() *ChatStore { return &ChatStore{b: b, prefix: b.cfg.Prefix} }

func (s *ChatStore) roomsKey() string           { return s.prefix + "chat:{chat}rooms" }
func (s *ChatStore) roomKey(room string) string { return s.prefix + "chat:{chat}room:" + room }

var (
	// KEYS: rooms, room hash. ARGV: room, id, member JSON. Returns -1
	// when the room does not exist, 1 when added, 0 when a member already.
	chatJoinScript = rueidis.NewLuaScript(`
if redis.call('SISMEMBER', KEYS[1], ARGV[1]) == 0 then return -1 end
return redis.call('HSETNX', KEYS[2], ARGV[2], ARGV[3])`)

	// KEYS: rooms, room hash. ARGV: room, id. Returns -1 when the room
	// does not exist, else the number of members removed.
	chatLeaveScript = rueidis.NewLuaScript(`
if redis.call('SISMEMBER', KEYS[1], ARGV[1]) == 0 then return -1 end
return redis.call('HDEL', KEYS[2], ARGV[2])`)

	// KEYS: rooms, room hash. ARGV: room. Returns false when the room
	// does not exist, else its members as a flat id, JSON list.
	chatMembersScript = rueidis.NewLuaScript(`
if redis.call('SISMEMBER', KEYS[1], ARGV[1]) == 0 then return false end
return redis.call('HGETALL', KEYS[2])`)

	// KEYS: rooms, room hash. ARGV: room.
	chatDestroyScript = rueidis.NewLuaScript(`
redis.call('SREM', KEYS[1], ARGV[1])
return redis.call('DEL', KEYS[2])`)
)

func (s *ChatStore) client(ctx context.Context) (rueidis.Client, error) { return s.b.conn(ctx) }

// Create implements chat.Store.
func (s *ChatStore) Create(ctx context.Context, room string) (bool, error) {
	c, err := s.client(ctx)
	if err != nil {
		return false, err
	}
	n, err := c.Do(ctx, c.B().Sadd().Key(s.roomsKey()).Member(room).Build()).AsInt64()
	return n == 1, s.b.wrap(ctx, "chat create", err)
}

// Destroy implements chat.Store.
func (s *ChatStore) Destroy(ctx context.Context, room string) error {
	c, err := s.client(ctx)
	if err != nil {
		return err
	}
	err = chatDestroyScript.Exec(ctx, c, []string{s.roomsKey(), s.roomKey(room)}, []string{room}).Error()
	return s.b.wrap(ctx, "chat destroy", err)
}

// Exists implements chat.Store.
func (s *ChatStore) Exists(ctx context.Context, room string) (bool, error) {
	c, err := s.client(ctx)
	if err != nil {
		return false, err
	}
	ok, err := c.Do(ctx, c.B().Sismember().Key(s.roomsKey()).Member(room).Build()).AsBool()
	return ok, s.b.wrap(ctx, "chat exists", err)
}

// List implements chat.Store.
func (s *ChatStore) List(ctx context.Context) ([]string, error) {
	c, err := s.client(ctx)
	if err != nil {
		return nil, err
	}
	rooms, err := c.Do(ctx, c.B().Smembers().Key(s.roomsKey()).Build()).AsStrSlice()
	if err != nil {
		return nil, s.b.wrap(ctx, "chat list", err)
	}
	slices.Sort(rooms)
	return rooms, nil
}

// Join implements chat.Store.
func (s *ChatStore) Join(ctx context.Context, room string, m chat.Member) (bool, error) {
	c, err := s.client(ctx)
	if err != nil {
		return false, err
	}
	js, err := json.Marshal(m)
	if err != nil {
		return false, err
	}
	n, err := chatJoinScript.Exec(ctx, c, []string{s.roomsKey(), s.roomKey(room)}, []string{room, m.ID, string(js)}).AsInt64()
	if err != nil {
		return false, s.b.wrap(ctx, "chat join", err)
	}
	if n < 0 {
		return false, fmt.Errorf("%w: %q", chat.ErrNoRoom, room)
	}
	return n == 1, nil
}

// Leave implements chat.Store.
func (s *ChatStore) Leave(ctx context.Context, room, id string) (bool, error) {
	c, err := s.client(ctx)
	if err != nil {
		return false, err
	}
	n, err := chatLeaveScript.Exec(ctx, c, []string{s.roomsKey(), s.roomKey(room)}, []string{room, id}).AsInt64()
	if err != nil {
		return false, s.b.wrap(ctx, "chat leave", err)
	}
	if n < 0 {
		return false, fmt.Errorf("%w: %q", chat.ErrNoRoom, room)
	}
	return n == 1, nil
}

// Members implements chat.Store.
func (s *ChatStore) Members(ctx context.Context, room string) ([]chat.Member, error) {
	c, err := s.client(ctx)
	if err != nil {
		return nil, err
	}
	res := chatMembersScript.Exec(ctx, c, []string{s.roomsKey(), s.roomKey(room)}, []string{room})
	if rueidis.IsRedisNil(res.Error()) {
		return nil, fmt.Errorf("%w: %q", chat.ErrNoRoom, room)
	}
	flat, err := res.AsStrSlice()
	if err != nil {
		return nil, s.b.wrap(ctx, "chat members", err)
	}
	out := make([]chat.Member, 0, len(flat)/2)
	for i := 0; i+1 < len(flat); i += 2 {
		var m chat.Member
		if json.Unmarshal([]byte(flat[i+1]), &m) != nil {
			m = chat.Member{ID: flat[i]}
		}
		out = append(out, m)
	}
	slices.SortFunc(out, func(a, b chat.Member) int { return strings.Compare(a.ID, b.ID) })
	return out, nil
}

// Sweep implements chat.Store. It reads each room's members and removes
// the gone ones with HDEL, which is safe against concurrent joins: a
// member that joined since the read is not named.
func (s *ChatStore) Sweep(ctx context.Context, gone func(chat.Member) bool) (int, error) {
	rooms, err := s.List(ctx)
	if err != nil {
		return 0, err
	}
	c, err := s.client(ctx)
	if err != nil {
		return 0, err
	}
	removed := 0
	for _, room := range rooms {
		all, err := c.Do(ctx, c.B().Hgetall().Key(s.roomKey(room)).Build()).AsStrMap()
		if err != nil {
			return removed, s.b.wrap(ctx, "chat sweep", err)
		}
		var ids []string
		for id, js := range all {
			var m chat.Member
			if json.Unmarshal([]byte(js), &m) != nil {
				m = chat.Member{ID: id}
			}
			if gone(m) {
				ids = append(ids, id)
			}
		}
		if len(ids) == 0 {
			continue
		}
		n, err := c.Do(ctx, c.B().Hdel().Key(s.roomKey(room)).Field(ids...).Build()).AsInt64()
		if err != nil {
			return removed, s.b.wrap(ctx, "chat sweep", err)
		}
		removed += int(n)
	}
	return removed, nil
}
