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
// Each room has its own hash tag, so that rooms spread over the slots
// (and the shards of a Redis Cluster), and so does each node's index of
// its memberships; only the list of rooms and of nodes share one:
//
//	chat:{chat:r:ROOM}:meta     hash: ttl (ms, 0 for a permanent room) and,
//	                            while a temporary room is empty, exp: when
//	                            it goes, in Unix ms of that server's clock
//	chat:{chat:r:ROOM}:members  hash of ROOM's members: connection id → the
//	                            member as JSON
//	chat:{chat:n:NODE}:members  set of the memberships NODE recorded,
//	                            "ROOM\x00ID"
//	chat:{chat}:rooms           set of the room names (a superset: readers
//	                            check each room)
//	chat:{chat}:expiring        sorted set of the empty temporary rooms →
//	                            when they go
//	chat:{chat}:nodes           hash of the nodes whose index is not empty
//
// all under PREFIX. A room's state (whether it exists, its TTL, its
// members) changes in one script on the room's slot, so it is always
// consistent. The indexes on other slots (the list of rooms, the
// expiring rooms, a node's memberships) are updated in the steps around
// it, in an order that leaves them a superset of the truth if a step is
// lost: a membership is indexed before the join (and again after it, for
// a RemoveNode that ran in between), unindexed after the leave; a room is
// listed before it is created; a node is listed before its first
// membership is indexed and unlisted once its index is empty. A lost step
// leaves an entry that names something gone, which the readers skip
// (RemoveNode checks each member's node, List each room) and the next
// change cleans up.
type ChatStore struct {
	b      *Backend
	prefix string
}

// Chat returns the store of the chat rooms, for chat.Chat.Start.
func (b *Backend) Chat() *ChatStore { return &ChatStore{b: b, prefix: b.cfg.Prefix} }

func (s *ChatStore) key(name string) string { return s.prefix + "chat:{chat}:" + name }
func (s *ChatStore) roomsKey() string       { return s.key("rooms") }
func (s *ChatStore) nodesKey() string       { return s.key("nodes") }
func (s *ChatStore) expiringKey() string    { return s.key("expiring") }

// roomKeys are KEYS of the room scripts: the room's meta and members.
func (s *ChatStore) roomKeys(room string) []string {
	base := s.prefix + "chat:{chat:r:" + room + "}:"
	return []string{base + "meta", base + "members"}
}

func (s *ChatStore) nodeKey(node string) string {
	return s.prefix + "chat:{chat:n:" + node + "}:members"
}

// membership is the entry of a node's index for member id of room.
func membership(room, id string) string { return room + "\x00" + id }

// chatLib starts every room script: KEYS[1] is the room's meta, KEYS[2]
// its members.
const chatLib = `
local function now_ms()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end
-- live reports whether the room exists; one whose time is up goes here.
local function live()
  local exp = redis.call('HGET', KEYS[1], 'exp')
  if exp then
    if tonumber(exp) <= now_ms() then
      redis.call('DEL', KEYS[1], KEYS[2])
      return false
    end
    return true
  end
  return redis.call('EXISTS', KEYS[1]) == 1
end
-- emptied starts the count of a temporary room left without members,
-- and returns when it goes (0 for none).
local function emptied()
  if redis.call('EXISTS', KEYS[2]) == 1 then return 0 end
  local ttl = tonumber(redis.call('HGET', KEYS[1], 'ttl'))
  if not ttl or ttl <= 0 then return 0 end
  local at = now_ms() + ttl
  redis.call('HSET', KEYS[1], 'exp', at)
  return at
end
local function nodeof(js)
  local ok, m = pcall(cjson.decode, js)
  if ok and type(m) == 'table' and type(m.node) == 'string' then return m.node end
  return ''
end
`

// expireBatch bounds the rooms one Expire step removes, and
// removeNodeBatch the memberships one RemoveNode step removes.
const (
	expireBatch     = 1000
	removeNodeBatch = 500
)

var (
	// ARGV: TTL in ms. Returns {created, expires at (0 for none)}.
	chatCreateScript = rueidis.NewLuaScript(chatLib + `
if live() then return {0, 0} end
local ttl = tonumber(ARGV[1])
redis.call('HSET', KEYS[1], 'ttl', ttl)
if ttl > 0 then
  local at = now_ms() + ttl
  redis.call('HSET', KEYS[1], 'exp', at)
  return {1, at}
end
return {1, 0}`)

	// Returns 1 when the room exists.
	chatExistsScript = rueidis.NewLuaScript(chatLib + `
if live() then return 1 end
return 0`)

	// ARGV: id, member JSON. Returns -1 when the room does not exist, 1
	// when added, 0 when a member already.
	chatJoinScript = rueidis.NewLuaScript(chatLib + `
if not live() then return -1 end
if redis.call('HSETNX', KEYS[2], ARGV[1], ARGV[2]) == 0 then return 0 end
redis.call('HDEL', KEYS[1], 'exp')
return 1`)

	// ARGV: id, and the node it must belong to ('' for any). Returns
	// {-1} when the room does not exist, {0} when id is not a member (of
	// that node), else {1, its node, expires at}.
	chatLeaveScript = rueidis.NewLuaScript(chatLib + `
if not live() then return {-1} end
local js = redis.call('HGET', KEYS[2], ARGV[1])
if not js then return {0} end
local node = nodeof(js)
if ARGV[2] ~= '' and node ~= '' and node ~= ARGV[2] then return {0} end
redis.call('HDEL', KEYS[2], ARGV[1])
return {1, node, emptied()}`)

	// Returns false when the room does not exist, else its members as a
	// flat id, JSON list.
	chatMembersScript = rueidis.NewLuaScript(chatLib + `
if not live() then return false end
return redis.call('HGETALL', KEYS[2])`)

	// Removes the room; returns its members as a flat id, node list.
	chatDestroyScript = rueidis.NewLuaScript(`
local all = redis.call('HGETALL', KEYS[2])
local out = {}
for i = 1, #all, 2 do
  out[#out+1] = all[i]
  local ok, m = pcall(cjson.decode, all[i+1])
  if ok and type(m) == 'table' and type(m.node) == 'string' then out[#out+1] = m.node else out[#out+1] = '' end
end
redis.call('DEL', KEYS[1], KEYS[2])
return out`)

	// Removes the room if its time is up. Returns 1 when it did, 0 when
	// it was gone already, -1 when it lives.
	chatExpireRoomScript = rueidis.NewLuaScript(chatLib + `
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
if live() then return -1 end
return 1`)

	// On the {chat} slot, KEYS[1] the expiring rooms. ARGV: at most how
	// many. Returns the rooms whose time is up, and their times, flat.
	chatDueScript = rueidis.NewLuaScript(`
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
return redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', now, 'WITHSCORES', 'LIMIT', 0, tonumber(ARGV[1]))`)

	// On the {chat} slot, KEYS[1] the expiring rooms. ARGV: room, score
	// pairs: each room leaves the set if its score is still that one.
	chatUnexpireScript = rueidis.NewLuaScript(`
for i = 1, #ARGV, 2 do
  local at = redis.call('ZSCORE', KEYS[1], ARGV[i])
  if at and tonumber(at) == tonumber(ARGV[i+1]) then redis.call('ZREM', KEYS[1], ARGV[i]) end
end
return 0`)
)

func (s *ChatStore) client(ctx context.Context) (rueidis.Client, error) { return s.b.conn(ctx) }

// do runs cmds, on any slots, and returns the first error.
func (s *ChatStore) do(ctx context.Context, c rueidis.Client, op string, cmds ...rueidis.Completed) error {
	if len(cmds) == 0 {
		return nil
	}
	for _, r := range c.DoMulti(ctx, cmds...) {
		if err := r.Error(); err != nil {
			return s.b.wrap(ctx, op, err)
		}
	}
	return nil
}

// expiring records that room goes at (Unix ms), when at is set.
func (s *ChatStore) expiring(ctx context.Context, c rueidis.Client, op string, room string, at int64) error {
	if at <= 0 {
		return nil
	}
	return s.do(ctx, c, op, c.B().Zadd().Key(s.expiringKey()).ScoreMember().ScoreMember(float64(at), room).Build())
}

// unlist takes rooms, removed, out of the list of rooms; then it lists
// again those of them that a Create made anew meanwhile.
func (s *ChatStore) unlist(ctx context.Context, c rueidis.Client, op string, rooms ...string) error {
	if len(rooms) == 0 {
		return nil
	}
	if err := s.do(ctx, c, op, c.B().Srem().Key(s.roomsKey()).Member(rooms...).Build()); err != nil {
		return err
	}
	live, err := s.live(ctx, c, rooms)
	if err != nil {
		return err
	}
	var back []string
	for i, ok := range live {
		if ok {
			back = append(back, rooms[i])
		}
	}
	if len(back) == 0 {
		return nil
	}
	return s.do(ctx, c, op, c.B().Sadd().Key(s.roomsKey()).Member(back...).Build())
}

// live reports, for each room, whether it exists.
func (s *ChatStore) live(ctx context.Context, c rueidis.Client, rooms []string) ([]bool, error) {
	execs := make([]rueidis.LuaExec, len(rooms))
	for i, r := range rooms {
		execs[i] = rueidis.LuaExec{Keys: s.roomKeys(r)}
	}
	out := make([]bool, len(rooms))
	for i, r := range chatExistsScript.ExecMulti(ctx, c, execs...) {
		n, err := r.AsInt64()
		if err != nil {
			return nil, s.b.wrap(ctx, "chat exists", err)
		}
		out[i] = n == 1
	}
	return out, nil
}

// Create implements chat.Store. The room is listed first, then made.
func (s *ChatStore) Create(ctx context.Context, room string, emptyTTL time.Duration) (bool, error) {
	c, err := s.client(ctx)
	if err != nil {
		return false, err
	}
	ms := max(emptyTTL.Milliseconds(), 0)
	if emptyTTL > 0 && ms == 0 {
		ms = 1
	}
	if err := s.do(ctx, c, "chat create", c.B().Sadd().Key(s.roomsKey()).Member(room).Build()); err != nil {
		return false, err
	}
	res, err := chatCreateScript.Exec(ctx, c, s.roomKeys(room), []string{strconv.FormatInt(ms, 10)}).AsIntSlice()
	if err != nil {
		return false, s.b.wrap(ctx, "chat create", err)
	}
	if len(res) != 2 {
		return false, fmt.Errorf("redis: chat create: unexpected reply %v", res)
	}
	return res[0] == 1, s.expiring(ctx, c, "chat create", room, res[1])
}

// Destroy implements chat.Store: the room goes, then its members from
// their nodes' indexes, then its name from the list.
func (s *ChatStore) Destroy(ctx context.Context, room string) error {
	c, err := s.client(ctx)
	if err != nil {
		return err
	}
	flat, err := chatDestroyScript.Exec(ctx, c, s.roomKeys(room), nil).AsStrSlice()
	if err != nil {
		return s.b.wrap(ctx, "chat destroy", err)
	}
	byNode := map[string][]string{}
	for i := 0; i+1 < len(flat); i += 2 {
		if node := flat[i+1]; node != "" {
			byNode[node] = append(byNode[node], membership(room, flat[i]))
		}
	}
	for node, entries := range byNode {
		if err := s.unindex(ctx, c, "chat destroy", node, entries...); err != nil {
			return err
		}
	}
	if err := s.do(ctx, c, "chat destroy", c.B().Zrem().Key(s.expiringKey()).Member(room).Build()); err != nil {
		return err
	}
	return s.unlist(ctx, c, "chat destroy", room)
}

// Exists implements chat.Store.
func (s *ChatStore) Exists(ctx context.Context, room string) (bool, error) {
	c, err := s.client(ctx)
	if err != nil {
		return false, err
	}
	n, err := chatExistsScript.Exec(ctx, c, s.roomKeys(room), nil).AsInt64()
	return n == 1, s.b.wrap(ctx, "chat exists", err)
}

// List implements chat.Store: the listed rooms that exist; those that do
// not leave the list.
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
	if len(rooms) == 0 {
		return nil, nil
	}
	live, err := s.live(ctx, c, rooms)
	if err != nil {
		return nil, err
	}
	var out, gone []string
	for i, ok := range live {
		if ok {
			out = append(out, rooms[i])
		} else {
			gone = append(gone, rooms[i])
		}
	}
	if err := s.unlist(ctx, c, "chat list", gone...); err != nil {
		return nil, err
	}
	slices.Sort(out)
	return out, nil
}

// Join implements chat.Store: the membership is indexed under its node
// first, then recorded in the room (and unindexed if it was not).
func (s *ChatStore) Join(ctx context.Context, room string, m chat.Member) (bool, error) {
	c, err := s.client(ctx)
	if err != nil {
		return false, err
	}
	js, err := json.Marshal(m)
	if err != nil {
		return false, err
	}
	entry := membership(room, m.ID)
	// The index entry lands before the node is listed (forgetNode relies
	// on it).
	added, err := c.Do(ctx, c.B().Sadd().Key(s.nodeKey(m.Node)).Member(entry).Build()).AsInt64()
	if err != nil {
		return false, s.b.wrap(ctx, "chat join", err)
	}
	if err := s.do(ctx, c, "chat join", c.B().Hset().Key(s.nodesKey()).FieldValue().FieldValue(m.Node, "1").Build()); err != nil {
		return false, err
	}
	n, err := chatJoinScript.Exec(ctx, c, s.roomKeys(room), []string{m.ID, string(js)}).AsInt64()
	if err != nil {
		return false, s.b.wrap(ctx, "chat join", err)
	}
	if n != 1 && added == 1 {
		if err := s.unindex(ctx, c, "chat join", m.Node, entry); err != nil {
			return false, err
		}
	}
	if n < 0 {
		return false, fmt.Errorf("%w: %q", chat.ErrNoRoom, room)
	}
	if n == 1 {
		// Indexed again: a RemoveNode that looked at the room between the
		// first index write and the join took the entry out (see
		// RemoveNode). And no longer empty: not expiring (a lost step
		// leaves an entry that Expire finds alive).
		if err := s.do(ctx, c, "chat join",
			c.B().Sadd().Key(s.nodeKey(m.Node)).Member(entry).Build(),
			c.B().Zrem().Key(s.expiringKey()).Member(room).Build()); err != nil {
			return true, err
		}
	}
	return n == 1, nil
}

// leave removes id (of node, or any node when node is "") from room and
// then from its node's index; it returns -1 when the room does not
// exist, else how many members it removed.
func (s *ChatStore) leave(ctx context.Context, c rueidis.Client, room, id, node string) (int, error) {
	res, err := chatLeaveScript.Exec(ctx, c, s.roomKeys(room), []string{id, node}).ToArray()
	if err != nil {
		return 0, s.b.wrap(ctx, "chat leave", err)
	}
	n, err := res[0].AsInt64()
	if err != nil || n != 1 {
		return int(n), s.b.wrap(ctx, "chat leave", err)
	}
	if len(res) != 3 {
		return 0, fmt.Errorf("redis: chat leave: unexpected reply of %d items", len(res))
	}
	of, _ := res[1].ToString()
	at, _ := res[2].AsInt64()
	if of != "" {
		if err := s.unindex(ctx, c, "chat leave", of, membership(room, id)); err != nil {
			return 1, err
		}
	}
	return 1, s.expiring(ctx, c, "chat leave", room, at)
}

// Leave implements chat.Store.
func (s *ChatStore) Leave(ctx context.Context, room, id string) (bool, error) {
	c, err := s.client(ctx)
	if err != nil {
		return false, err
	}
	n, err := s.leave(ctx, c, room, id, "")
	if err != nil {
		return false, err
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
	res := chatMembersScript.Exec(ctx, c, s.roomKeys(room), nil)
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

// Nodes implements chat.Store: the nodes that recorded members, each
// with the size of its index; a node whose index is empty leaves the
// list.
func (s *ChatStore) Nodes(ctx context.Context) (map[string]int, error) {
	c, err := s.client(ctx)
	if err != nil {
		return nil, err
	}
	nodes, err := c.Do(ctx, c.B().Hkeys().Key(s.nodesKey()).Build()).AsStrSlice()
	if err != nil {
		return nil, s.b.wrap(ctx, "chat nodes", err)
	}
	out := make(map[string]int, len(nodes))
	if len(nodes) == 0 {
		return out, nil
	}
	cmds := make(rueidis.Commands, len(nodes))
	for i, node := range nodes {
		cmds[i] = c.B().Scard().Key(s.nodeKey(node)).Build()
	}
	for i, r := range c.DoMulti(ctx, cmds...) {
		n, err := r.AsInt64()
		if err != nil {
			return nil, s.b.wrap(ctx, "chat nodes", err)
		}
		if n > 0 {
			out[nodes[i]] = int(n)
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

// RemoveNode implements chat.Store: a batch of the node's index at a
// time, each membership removed from its room by that room's script
// (only while the member still belongs to the node), the batch's scripts
// sent together.
func (s *ChatStore) RemoveNode(ctx context.Context, node string) (int, error) {
	c, err := s.client(ctx)
	if err != nil {
		return 0, err
	}
	removed := 0
	for {
		entries, err := c.Do(ctx, c.B().Srandmember().Key(s.nodeKey(node)).Count(removeNodeBatch).Build()).AsStrSlice()
		if err != nil {
			return removed, s.b.wrap(ctx, "chat remove node", err)
		}
		if len(entries) == 0 {
			break
		}
		type ms struct{ room, id string }
		var parts []ms
		var execs []rueidis.LuaExec
		for _, e := range entries {
			if i := strings.LastIndexByte(e, 0); i >= 0 {
				parts = append(parts, ms{e[:i], e[i+1:]})
				execs = append(execs, rueidis.LuaExec{Keys: s.roomKeys(e[:i]), Args: []string{e[i+1:], node}})
			}
		}
		var cmds rueidis.Commands
		var again []rueidis.LuaExec
		var againRooms []string
		leave := func(execs []rueidis.LuaExec, rooms []string, retry bool) error {
			for i, r := range chatLeaveScript.ExecMulti(ctx, c, execs...) {
				res, err := r.ToArray()
				if err != nil {
					return s.b.wrap(ctx, "chat remove node", err)
				}
				n, _ := res[0].AsInt64()
				switch {
				case n == 1 && len(res) == 3:
					removed++
					if at, _ := res[2].AsInt64(); at > 0 {
						cmds = append(cmds, c.B().Zadd().Key(s.expiringKey()).ScoreMember().ScoreMember(float64(at), rooms[i]).Build())
					}
				case n == 0 && retry:
					again, againRooms = append(again, execs[i]), append(againRooms, rooms[i])
				}
			}
			return nil
		}
		rooms := make([]string, len(parts))
		for i, p := range parts {
			rooms[i] = p.room
		}
		if err := leave(execs, rooms, true); err != nil {
			return removed, err
		}
		// Then the batch leaves the index. An entry whose member was not in
		// its room is stale (a lost step) or a join under way, which wrote
		// the entry first and writes it again after the join: such rooms
		// are looked at once more after the entry is gone, so that the
		// member goes now or is indexed again by its join.
		cmds = append(cmds, c.B().Srem().Key(s.nodeKey(node)).Member(entries...).Build())
		if err := s.do(ctx, c, "chat remove node", cmds...); err != nil {
			return removed, err
		}
		cmds = nil
		if len(again) > 0 {
			if err := leave(again, againRooms, false); err != nil {
				return removed, err
			}
			if err := s.do(ctx, c, "chat remove node", cmds...); err != nil {
				return removed, err
			}
		}
	}
	return removed, s.unindex(ctx, c, "chat remove node", node)
}

// unindex removes entries from node's index, and the node from the list
// of nodes once its index is empty. A join of the node meanwhile indexes
// its membership before it lists the node: if the index is no longer
// empty once the node is unlisted, it is listed again.
func (s *ChatStore) unindex(ctx context.Context, c rueidis.Client, op, node string, entries ...string) error {
	key := s.nodeKey(node)
	var cmds rueidis.Commands
	if len(entries) > 0 {
		cmds = append(cmds, c.B().Srem().Key(key).Member(entries...).Build())
	}
	cmds = append(cmds, c.B().Scard().Key(key).Build())
	res := c.DoMulti(ctx, cmds...)
	left, err := res[len(res)-1].AsInt64()
	if err == nil && len(res) > 1 {
		err = res[0].Error()
	}
	if err != nil || left > 0 {
		return s.b.wrap(ctx, op, err)
	}
	if err := s.do(ctx, c, op, c.B().Hdel().Key(s.nodesKey()).Field(node).Build()); err != nil {
		return err
	}
	if left, err = c.Do(ctx, c.B().Scard().Key(key).Build()).AsInt64(); err != nil || left == 0 {
		return s.b.wrap(ctx, op, err)
	}
	return s.do(ctx, c, op, c.B().Hset().Key(s.nodesKey()).FieldValue().FieldValue(node, "1").Build())
}

// Expire implements chat.Store: one script on the list of expiring rooms
// when none is due; for those that are, each room's own script, which
// decides.
func (s *ChatStore) Expire(ctx context.Context) (int, error) {
	c, err := s.client(ctx)
	if err != nil {
		return 0, err
	}
	total := 0
	for {
		flat, err := chatDueScript.Exec(ctx, c, []string{s.expiringKey()}, []string{strconv.Itoa(expireBatch)}).AsStrSlice()
		if err != nil {
			return total, s.b.wrap(ctx, "chat expire", err)
		}
		if len(flat) == 0 {
			return total, nil
		}
		var rooms, pairs []string
		var execs []rueidis.LuaExec
		for i := 0; i+1 < len(flat); i += 2 {
			rooms = append(rooms, flat[i])
			pairs = append(pairs, flat[i], flat[i+1])
			execs = append(execs, rueidis.LuaExec{Keys: s.roomKeys(flat[i])})
		}
		var gone []string
		for i, r := range chatExpireRoomScript.ExecMulti(ctx, c, execs...) {
			n, err := r.AsInt64()
			if err != nil {
				return total, s.b.wrap(ctx, "chat expire", err)
			}
			if n == 1 {
				total++
			}
			if n >= 0 {
				gone = append(gone, rooms[i])
			}
		}
		// Every due entry leaves the set (one that a Leave set again
		// meanwhile, with a later time, stays).
		if err := chatUnexpireScript.Exec(ctx, c, []string{s.expiringKey()}, pairs).Error(); err != nil {
			return total, s.b.wrap(ctx, "chat expire", err)
		}
		if err := s.unlist(ctx, c, "chat expire", gone...); err != nil {
			return total, err
		}
		if len(flat)/2 < expireBatch {
			return total, nil
		}
	}
}
