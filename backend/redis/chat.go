package redis

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/redis/rueidis"

	"github.com/stellarfw/stellar-go/chat"
)

var _ chat.Store = (*ChatStore)(nil)

// ChatStore keeps the chat rooms and their members in Redis. Obtain it
// from Backend.Chat.
//
// Under PREFIX chat:{chat}:
//
//	rooms        set of the room names
//	room:ROOM    hash of ROOM's members: connection id → the member as JSON
//	node:NODE    set of the memberships NODE recorded, "ROOM\x00ID"
//	nodes        hash of the nodes that have members → how many
//	ttls         hash of the temporary rooms → their TTL in milliseconds
//	expiring     sorted set of the empty temporary rooms → when they go,
//	             in Unix milliseconds of the Redis server's clock
//
// Every change is one Lua script, so that the rooms, their members and
// the index by node always agree. The {chat} hash tag keeps every key in
// one Cluster slot, which lets the scripts reach the keys they derive
// from what they read (a member's node, a membership's room).
type ChatStore struct {
	b      *Backend
	prefix string
}

// Chat returns the store of the chat rooms, for chat.Chat.Start.
func (b *Backend) Chat() *ChatStore { return &ChatStore{b: b, prefix: b.cfg.Prefix} }

func (s *ChatStore) key(name string) string     { return s.prefix + "chat:{chat}" + name }
func (s *ChatStore) roomsKey() string           { return s.key("rooms") }
func (s *ChatStore) roomKey(room string) string { return s.key("room:" + room) }
func (s *ChatStore) nodeKey(node string) string { return s.key("node:" + node) }
func (s *ChatStore) nodesKey() string           { return s.key("nodes") }
func (s *ChatStore) ttlsKey() string            { return s.key("ttls") }
func (s *ChatStore) expiringKey() string        { return s.key("expiring") }

// roomKeys are the keys of the scripts that check a room: KEYS[1] to
// KEYS[4], then KEYS[5] the room's hash.
func (s *ChatStore) roomKeys(room string) []string {
	return []string{s.roomsKey(), s.ttlsKey(), s.expiringKey(), s.nodesKey(), s.roomKey(room)}
}

// chatLib starts every chat script. KEYS[1] to KEYS[4] are rooms, ttls,
// expiring and nodes.
const chatLib = `
local function now_ms()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end
-- live reports whether room exists; one whose time is up goes here.
local function live(room)
  if redis.call('SISMEMBER', KEYS[1], room) == 0 then return false end
  local at = redis.call('ZSCORE', KEYS[3], room)
  if not at or tonumber(at) > now_ms() then return true end
  redis.call('SREM', KEYS[1], room)
  redis.call('HDEL', KEYS[2], room)
  redis.call('ZREM', KEYS[3], room)
  return false
end
-- emptied starts the count of a temporary room whose hash is gone.
local function emptied(roomkey, room)
  if redis.call('EXISTS', roomkey) == 1 then return end
  local ttl = tonumber(redis.call('HGET', KEYS[2], room))
  if ttl and ttl > 0 then redis.call('ZADD', KEYS[3], now_ms() + ttl, room) end
end
local function nodeof(js)
  local ok, m = pcall(cjson.decode, js)
  if ok and type(m) == 'table' and type(m.node) == 'string' then return m.node end
  return nil
end
-- unindex removes a membership from the set of its node.
local function unindex(nodebase, node, room, id)
  if redis.call('SREM', nodebase .. node, room .. '\0' .. id) == 1 then
    if redis.call('HINCRBY', KEYS[4], node, -1) <= 0 then redis.call('HDEL', KEYS[4], node) end
  end
end
`

// expireBatch bounds the rooms one Expire call removes, and
// removeNodeBatch the memberships one RemoveNode script removes, so that
// no script holds Redis for long.
const (
	expireBatch     = 1000
	removeNodeBatch = 500
)

var (
	// ARGV: room, TTL in ms. Returns 1 when created.
	chatCreateScript = rueidis.NewLuaScript(chatLib + `
if live(ARGV[1]) then return 0 end
redis.call('SADD', KEYS[1], ARGV[1])
local ttl = tonumber(ARGV[2])
if ttl > 0 then
  redis.call('HSET', KEYS[2], ARGV[1], ttl)
  redis.call('ZADD', KEYS[3], now_ms() + ttl, ARGV[1])
else
  redis.call('HDEL', KEYS[2], ARGV[1])
end
return 1`)

	// ARGV: room. Returns 1 when the room exists.
	chatExistsScript = rueidis.NewLuaScript(chatLib + `
if live(ARGV[1]) then return 1 end
return 0`)

	// KEYS[6]: the node's set. ARGV: room, id, member JSON, node. Returns
	// -1 when the room does not exist, 1 when added, 0 when a member
	// already.
	chatJoinScript = rueidis.NewLuaScript(chatLib + `
if not live(ARGV[1]) then return -1 end
if redis.call('HSETNX', KEYS[5], ARGV[2], ARGV[3]) == 0 then return 0 end
redis.call('ZREM', KEYS[3], ARGV[1])
if redis.call('SADD', KEYS[6], ARGV[1] .. '\0' .. ARGV[2]) == 1 then
  redis.call('HINCRBY', KEYS[4], ARGV[4], 1)
end
return 1`)

	// ARGV: room, id, the node keys' base. Returns -1 when the room does
	// not exist, else the number of members removed.
	chatLeaveScript = rueidis.NewLuaScript(chatLib + `
if not live(ARGV[1]) then return -1 end
local js = redis.call('HGET', KEYS[5], ARGV[2])
if not js then return 0 end
redis.call('HDEL', KEYS[5], ARGV[2])
local node = nodeof(js)
if node then unindex(ARGV[3], node, ARGV[1], ARGV[2]) end
emptied(KEYS[5], ARGV[1])
return 1`)

	// ARGV: room. Returns false when the room does not exist, else its
	// members as a flat id, JSON list.
	chatMembersScript = rueidis.NewLuaScript(chatLib + `
if not live(ARGV[1]) then return false end
return redis.call('HGETALL', KEYS[5])`)

	// ARGV: room, the node keys' base.
	chatDestroyScript = rueidis.NewLuaScript(chatLib + `
local all = redis.call('HGETALL', KEYS[5])
for i = 1, #all, 2 do
  local node = nodeof(all[i + 1])
  if node then unindex(ARGV[2], node, ARGV[1], all[i]) end
end
redis.call('SREM', KEYS[1], ARGV[1])
redis.call('HDEL', KEYS[2], ARGV[1])
redis.call('ZREM', KEYS[3], ARGV[1])
return redis.call('DEL', KEYS[5])`)

	// ARGV: at most how many. Removes the rooms whose time is up and
	// returns how many.
	chatExpireScript = rueidis.NewLuaScript(chatLib + `
local gone = redis.call('ZRANGEBYSCORE', KEYS[3], '-inf', now_ms(), 'LIMIT', 0, tonumber(ARGV[1]))
for _, room in ipairs(gone) do
  redis.call('SREM', KEYS[1], room)
  redis.call('HDEL', KEYS[2], room)
  redis.call('ZREM', KEYS[3], room)
end
return #gone`)

	// KEYS[5]: the node's set. ARGV: node, the room keys' base, batch.
	// Removes up to batch of the node's memberships and returns how many
	// members it removed and how many memberships are left.
	chatRemoveNodeScript = rueidis.NewLuaScript(chatLib + `
local removed = 0
for _, e in ipairs(redis.call('SPOP', KEYS[5], tonumber(ARGV[3]))) do
  local room, id = string.match(e, '^(.*)%z(.*)$')
  if room then
    local rk = ARGV[2] .. room
    local js = redis.call('HGET', rk, id)
    if js then
      local node = nodeof(js)
      if node == nil or node == ARGV[1] then
        redis.call('HDEL', rk, id)
        removed = removed + 1
        emptied(rk, room)
      end
    end
  end
end
local left = redis.call('SCARD', KEYS[5])
if left == 0 then
  redis.call('HDEL', KEYS[4], ARGV[1])
else
  redis.call('HSET', KEYS[4], ARGV[1], left)
end
return {removed, left}`)
)

func (s *ChatStore) client(ctx context.Context) (rueidis.Client, error) { return s.b.conn(ctx) }

// Create implements chat.Store.
func (s *ChatStore) Create(ctx context.Context, room string, emptyTTL time.Duration) (bool, error) {
	c, err := s.client(ctx)
	if err != nil {
		return false, err
	}
	ms := max(emptyTTL.Milliseconds(), 0)
	if emptyTTL > 0 && ms == 0 {
		ms = 1
	}
	n, err := chatCreateScript.Exec(ctx, c, s.roomKeys(room), []string{room, strconv.FormatInt(ms, 10)}).AsInt64()
	return n == 1, s.b.wrap(ctx, "chat create", err)
}

// Destroy implements chat.Store.
func (s *ChatStore) Destroy(ctx context.Context, room string) error {
	c, err := s.client(ctx)
	if err != nil {
		return err
	}
	err = chatDestroyScript.Exec(ctx, c, s.roomKeys(room), []string{room, s.nodeKey("")}).Error()
	return s.b.wrap(ctx, "chat destroy", err)
}

// Exists implements chat.Store.
func (s *ChatStore) Exists(ctx context.Context, room string) (bool, error) {
	c, err := s.client(ctx)
	if err != nil {
		return false, err
	}
	n, err := chatExistsScript.Exec(ctx, c, s.roomKeys(room), []string{room}).AsInt64()
	return n == 1, s.b.wrap(ctx, "chat exists", err)
}

// List implements chat.Store.
func (s *ChatStore) List(ctx context.Context) ([]string, error) {
	if _, err := s.Expire(ctx); err != nil {
		return nil, err
	}
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
	keys := append(s.roomKeys(room), s.nodeKey(m.Node))
	n, err := chatJoinScript.Exec(ctx, c, keys, []string{room, m.ID, string(js), m.Node}).AsInt64()
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
	n, err := chatLeaveScript.Exec(ctx, c, s.roomKeys(room), []string{room, id, s.nodeKey("")}).AsInt64()
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
	res := chatMembersScript.Exec(ctx, c, s.roomKeys(room), []string{room})
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

// Nodes implements chat.Store, with one HGETALL.
func (s *ChatStore) Nodes(ctx context.Context) (map[string]int, error) {
	c, err := s.client(ctx)
	if err != nil {
		return nil, err
	}
	all, err := c.Do(ctx, c.B().Hgetall().Key(s.nodesKey()).Build()).AsIntMap()
	if err != nil {
		return nil, s.b.wrap(ctx, "chat nodes", err)
	}
	out := make(map[string]int, len(all))
	for node, n := range all {
		if n > 0 {
			out[node] = int(n)
		}
	}
	return out, nil
}

// NodeMembers implements chat.Store.
func (s *ChatStore) NodeMembers(ctx context.Context, node string) ([]chat.Membership, error) {
	c, err := s.client(ctx)
	if err != nil {
		return nil, err
	}
	all, err := c.Do(ctx, c.B().Smembers().Key(s.nodeKey(node)).Build()).AsStrSlice()
	if err != nil {
		return nil, s.b.wrap(ctx, "chat node members", err)
	}
	out := make([]chat.Membership, 0, len(all))
	for _, e := range all {
		// A connection id has no NUL; a room name may.
		if i := strings.LastIndexByte(e, 0); i >= 0 {
			out = append(out, chat.Membership{Room: e[:i], ID: e[i+1:]})
		}
	}
	slices.SortFunc(out, func(a, b chat.Membership) int {
		return cmp.Or(strings.Compare(a.Room, b.Room), strings.Compare(a.ID, b.ID))
	})
	return out, nil
}

// RemoveNode implements chat.Store, a batch of memberships per script.
func (s *ChatStore) RemoveNode(ctx context.Context, node string) (int, error) {
	c, err := s.client(ctx)
	if err != nil {
		return 0, err
	}
	keys := []string{s.roomsKey(), s.ttlsKey(), s.expiringKey(), s.nodesKey(), s.nodeKey(node)}
	args := []string{node, s.roomKey(""), strconv.Itoa(removeNodeBatch)}
	removed := 0
	for {
		res, err := chatRemoveNodeScript.Exec(ctx, c, keys, args).AsIntSlice()
		if err != nil {
			return removed, s.b.wrap(ctx, "chat remove node", err)
		}
		if len(res) != 2 {
			return removed, fmt.Errorf("redis: chat remove node: unexpected reply %v", res)
		}
		removed += int(res[0])
		if res[1] == 0 {
			return removed, nil
		}
	}
}

// Expire implements chat.Store: one script, which reads only the rooms
// whose time is up.
func (s *ChatStore) Expire(ctx context.Context) (int, error) {
	c, err := s.client(ctx)
	if err != nil {
		return 0, err
	}
	keys := []string{s.roomsKey(), s.ttlsKey(), s.expiringKey(), s.nodesKey()}
	total := 0
	for {
		n, err := chatExpireScript.Exec(ctx, c, keys, []string{strconv.Itoa(expireBatch)}).AsInt64()
		if err != nil {
			return total, s.b.wrap(ctx, "chat expire", err)
		}
		total += int(n)
		if n < expireBatch {
			return total, nil
		}
	}
}
