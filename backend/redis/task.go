package redis

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/redis/rueidis"

	"github.com/stellarfw/stellar-go/task"
)

var (
	_ task.Store      = (*TaskStore)(nil)
	_ task.AdminStore = (*TaskStore)(nil)
)

// TaskStore keeps the task queues in Redis. Obtain it from Backend.Tasks.
//
// A queue is split into partitions (task.PartitionName); each partition
// is a store queue with its keys under one hash tag, so that every script
// touches a single Redis Cluster slot and names in KEYS the keys it
// touches and no others (taskScript), and the partitions of a queue land
// on different slots (and so shards). Partition 0 of queue NAME has the tag a queue had before
// partitions, PREFIX{q:NAME}:…; partition p > 0 has PREFIX{qp:P:S:NAME}:…,
// with S chosen so that the partitions of a queue sit at evenly spaced
// slots (partitionTag). The keys of a partition:
//
//	pending    list of ids, pushed left, popped right
//	delayed    zset id → due time (ms)
//	active     zset id → lease deadline (ms)
//	tasks      hash id → message (JSON)
//	attempts   hash id → runs started; it also fences a stale worker off
//	owner      hash id → "worker|started ms"
//	failed     zset id → failure time (ms)
//	errors     hash id → last error, or the failure (JSON) of a failed one
//	unique     hash unique key → id
//	recurrent  hash name → last fire time (ms); "stop:"+name → 1
//	stats      hash processed, failed
//	paused     "1" while the queue is paused: Fetch takes nothing from it;
//	           set in every partition, up to task.MaxPartitions
//
// PREFIX tasks:queues is the set of store queue names (partitions), PREFIX tasks:workers a
// hash of worker heartbeats. An enqueue into an empty partition publishes
// the partition's name on PREFIX tasks:wake, which idle workers subscribe
// to.
type TaskStore struct {
	b      *Backend
	now    func() time.Time
	prefix string
	known  sync.Map // queue names added to tasks:queues
	tags   sync.Map // store queue name → []string, its keys
}

// Tasks returns the store of the task queues: the task.Store a
// task.Manager starts on and the task.AdminStore of a task.Inspector.
func (b *Backend) Tasks() *TaskStore {
	return &TaskStore{b: b, now: b.cfg.Now, prefix: b.cfg.Prefix}
}

const (
	kPending = iota
	kDelayed
	kActive
	kTasks
	kAttempts
	kOwner
	kFailed
	kErrors
	kUnique
	kRecurrent
	kStats
	kPaused
	nKeys
)

var keyNames = [nKeys]string{"pending", "delayed", "active", "tasks", "attempts", "owner", "failed", "errors", "unique", "recurrent", "stats", "paused"}

// keys returns the keys of store queue name, a partition of a queue.
func (s *TaskStore) keys(name string) []string {
	if k, ok := s.tags.Load(name); ok {
		return k.([]string)
	}
	queue, p := task.SplitPartition(name)
	base := s.prefix + "{" + partitionTag(queue, p) + "}:"
	k := make([]string, nKeys)
	for i, n := range keyNames {
		k[i] = base + n
	}
	s.tags.Store(name, k)
	return k
}

// DefaultPartitions implements task.PartitionHinter: on a Redis Cluster
// (Config.ClusterAddrs) a queue is split into
// task.DefaultClusterPartitions partitions, which spread it over the
// masters; on one server (or a Sentinel set) it is one partition, as
// partitions there would only cost round trips. It goes by the
// configuration alone, never by what the connection found, so that every
// node configured alike gets the same number, connected yet or not.
func (s *TaskStore) DefaultPartitions() int {
	if len(s.b.cfg.ClusterAddrs) > 0 {
		return task.DefaultClusterPartitions
	}
	return 1
}

func (s *TaskStore) channel() string    { return s.prefix + "tasks:wake" }
func (s *TaskStore) queuesKey() string  { return s.prefix + "tasks:queues" }
func (s *TaskStore) workersKey() string { return s.prefix + "tasks:workers" }

// taskScript is a script on the keys of one partition that names in KEYS
// only the keys it reads or writes: while a slot moves, Redis answers
// TRYAGAIN to a script some of whose keys have moved and some not, which
// the fewer keys a script names, the less often happens. Its source
// opens with one local per key, named as in keyNames (local tasks =
// KEYS[1], …), and refers to its keys by those names only.
type taskScript struct {
	lua  *rueidis.Lua
	keys []int  // indexes into keyNames, in KEYS order
	body string // the source after the locals: helpers and script
}

// newTaskScript returns the script of body (helpers first) on keys.
func newTaskScript(keys []int, body ...string) *taskScript {
	var b strings.Builder
	for i, k := range keys {
		fmt.Fprintf(&b, "local %s = KEYS[%d]\n", keyNames[k], i+1)
	}
	sc := &taskScript{keys: keys, body: strings.Join(body, "")}
	sc.lua = rueidis.NewLuaScript(b.String() + sc.body)
	return sc
}

// keysOf returns the keys of store queue name that sc names, in its order.
func (s *TaskStore) keysOf(name string, sc *taskScript) []string {
	all := s.keys(name)
	out := make([]string, len(sc.keys))
	for i, k := range sc.keys {
		out[i] = all[k]
	}
	return out
}

// exec runs sc on the keys of store queue name.
func (s *TaskStore) exec(ctx context.Context, c rueidis.Client, name string, sc *taskScript, args []string) rueidis.RedisResult {
	return sc.lua.Exec(ctx, c, s.keysOf(name, sc), args)
}

// execDurable runs sc on the keys of store queue name as
// Backend.execDurable does.
func (s *TaskStore) execDurable(ctx context.Context, c rueidis.Client, op, name string, sc *taskScript, args []string) (rueidis.RedisResult, error) {
	return s.b.execDurable(ctx, c, op, sc.lua, s.keysOf(name, sc), args)
}

// Lua helpers shared by the scripts; a script that takes one names the
// keys it uses.
const (
	// release drops the unique key of task id if id holds it: tasks,
	// unique.
	luaRelease = `
local function release(id)
  local m = redis.call('HGET', tasks, id)
  if not m then return end
  local ok, t = pcall(cjson.decode, m)
  if ok and type(t) == 'table' and t.unique and t.unique ~= '' and redis.call('HGET', unique, t.unique) == id then
    redis.call('HDEL', unique, t.unique)
  end
end
`
	// forget releases task id and deletes its records (after luaRelease):
	// tasks, unique, attempts, owner, errors.
	luaForget = `
local function forget(id)
  release(id)
  redis.call('HDEL', tasks, id)
  redis.call('HDEL', attempts, id)
  redis.call('HDEL', owner, id)
  redis.call('HDEL', errors, id)
end
`
	// acked deletes the records of the task ARGV[1] whose run ARGV[2]
	// was acknowledged, and its unique key ARGV[3] if it holds it, and
	// counts it processed: tasks, attempts, owner, errors, unique, stats.
	// Inline, not a function: the acknowledgement is the hot path.
	luaAcked = `
if ARGV[3] ~= '' and redis.call('HGET', unique, ARGV[3]) == ARGV[1] then redis.call('HDEL', unique, ARGV[3]) end
redis.call('HDEL', tasks, ARGV[1])
redis.call('HDEL', attempts, ARGV[1])
redis.call('HDEL', owner, ARGV[1])
redis.call('HDEL', errors, ARGV[1])
redis.call('HINCRBY', stats, 'processed', 1)
`
	// held tells whether task id runs under attempt: active, attempts.
	luaHeld = `
local function held(id, attempt)
  return redis.call('ZSCORE', active, id) and redis.call('HGET', attempts, id) == attempt
end
`
)

var (
	// ARGV: id, msg, due, now, unique, channel, queue, periodic name, fire.
	// Returns 1 enqueued, 0 id exists or fire time done, -1 duplicate
	// unique key, -2 recurrent task stopped.
	enqueueScript = newTaskScript([]int{kPending, kDelayed, kTasks, kFailed, kUnique, kRecurrent}, `
if ARGV[8] ~= '' then
  if redis.call('HEXISTS', recurrent, 'stop:' .. ARGV[8]) == 1 then return -2 end
  local last = redis.call('HGET', recurrent, ARGV[8])
  if last and tonumber(last) >= tonumber(ARGV[9]) then return 0 end
  redis.call('HSET', recurrent, ARGV[8], ARGV[9])
end
if redis.call('HEXISTS', tasks, ARGV[1]) == 1 then return 0 end
if ARGV[5] ~= '' then
  local o = redis.call('HGET', unique, ARGV[5])
  if o and redis.call('HEXISTS', tasks, o) == 1 and not redis.call('ZSCORE', failed, o) then return -1 end
  redis.call('HSET', unique, ARGV[5], ARGV[1])
end
redis.call('HSET', tasks, ARGV[1], ARGV[2])
if tonumber(ARGV[3]) > tonumber(ARGV[4]) then
  redis.call('ZADD', delayed, ARGV[3], ARGV[1])
elseif redis.call('LPUSH', pending, ARGV[1]) == 1 then
  redis.call('PUBLISH', ARGV[6], ARGV[7])
end
return 1`)

	// ARGV: unique key. Returns 1 if a stored, unfailed task holds it.
	uniqueHeldScript = newTaskScript([]int{kTasks, kFailed, kUnique}, `
local o = redis.call('HGET', unique, ARGV[1])
if o and redis.call('HEXISTS', tasks, o) == 1 and not redis.call('ZSCORE', failed, o) then return 1 end
return 0`)

	// ARGV: deadline, worker, now. Returns {msg, attempt}, or nil when
	// the queue is empty or paused.
	fetchScript = newTaskScript([]int{kPending, kActive, kTasks, kAttempts, kOwner, kPaused}, `
if redis.call('EXISTS', paused) == 1 then return false end
while true do
  local id = redis.call('RPOP', pending)
  if not id then return false end
  local m = redis.call('HGET', tasks, id)
  if m then
    redis.call('ZADD', active, ARGV[1], id)
    redis.call('HSET', owner, id, ARGV[2] .. '|' .. ARGV[3])
    return {m, redis.call('HINCRBY', attempts, id, 1)}
  end
end`)

	// ARGV: deadline, then id and attempt for each lease. Returns 1 for
	// each lease renewed, 0 for each no longer held under that attempt.
	extendScript = newTaskScript([]int{kActive, kAttempts}, `
local out = {}
for i = 2, #ARGV, 2 do
  local id = ARGV[i]
  if redis.call('HGET', attempts, id) == ARGV[i+1] and redis.call('ZSCORE', active, id) then
    redis.call('ZADD', active, 'XX', ARGV[1], id)
    out[#out+1] = 1
  else
    out[#out+1] = 0
  end
end
return out`)

	// ARGV: id, attempt, unique key. Returns 1, or 0 if the lease was
	// lost. The hot path: no JSON decoding.
	ackScript = newTaskScript([]int{kActive, kTasks, kAttempts, kOwner, kErrors, kUnique, kStats}, `
if redis.call('HGET', attempts, ARGV[1]) ~= ARGV[2] or redis.call('ZREM', active, ARGV[1]) == 0 then return 0 end
`, luaAcked, `
return 1`)

	// ARGV: id, attempt, unique key, deadline, worker, now. Acknowledges
	// as ackScript, then fetches as fetchScript (nothing from a paused
	// queue). Returns {acked} or {acked, msg, attempt}.
	ackFetchScript = newTaskScript([]int{kPending, kActive, kTasks, kAttempts, kOwner, kErrors, kUnique, kStats, kPaused}, `
local acked = 0
if redis.call('HGET', attempts, ARGV[1]) == ARGV[2] and redis.call('ZREM', active, ARGV[1]) == 1 then
  acked = 1
`, luaAcked, `
end
if redis.call('EXISTS', paused) == 1 then return {acked} end
while true do
  local id = redis.call('RPOP', pending)
  if not id then return {acked} end
  local m = redis.call('HGET', tasks, id)
  if m then
    redis.call('ZADD', active, ARGV[4], id)
    redis.call('HSET', owner, id, ARGV[5] .. '|' .. ARGV[6])
    return {acked, m, redis.call('HINCRBY', attempts, id, 1)}
  end
end`)

	// ARGV: id, attempt, due, error.
	retryScript = newTaskScript([]int{kDelayed, kActive, kAttempts, kOwner, kErrors}, luaHeld, `
if not held(ARGV[1], ARGV[2]) then return 0 end
redis.call('ZREM', active, ARGV[1])
redis.call('HDEL', owner, ARGV[1])
redis.call('HSET', errors, ARGV[1], ARGV[4])
redis.call('ZADD', delayed, ARGV[3], ARGV[1])
return 1`)

	// ARGV: id, attempt, now, failure JSON.
	failScript = newTaskScript([]int{kActive, kTasks, kAttempts, kOwner, kFailed, kErrors, kUnique, kStats}, luaRelease, luaHeld, `
if not held(ARGV[1], ARGV[2]) then return 0 end
redis.call('ZREM', active, ARGV[1])
redis.call('HDEL', owner, ARGV[1])
release(ARGV[1])
redis.call('HSET', errors, ARGV[1], ARGV[4])
redis.call('ZADD', failed, ARGV[3], ARGV[1])
redis.call('HINCRBY', stats, 'failed', 1)
return 1`)

	// ARGV: id, attempt, channel, queue.
	requeueScript = newTaskScript([]int{kPending, kActive, kAttempts, kOwner}, luaHeld, `
if not held(ARGV[1], ARGV[2]) then return 0 end
redis.call('ZREM', active, ARGV[1])
redis.call('HDEL', owner, ARGV[1])
if redis.call('RPUSH', pending, ARGV[1]) == 1 then redis.call('PUBLISH', ARGV[3], ARGV[4]) end
return 1`)

	// ARGV: now, limit, channel, queue, recover lapsed leases (1 or 0).
	// Returns {moved, recovered}.
	forwardScript = newTaskScript([]int{kPending, kDelayed, kActive, kOwner}, `
local was = redis.call('LLEN', pending)
local due = redis.call('ZRANGEBYSCORE', delayed, '-inf', ARGV[1], 'LIMIT', 0, ARGV[2])
for _, id in ipairs(due) do
  redis.call('ZREM', delayed, id)
  redis.call('LPUSH', pending, id)
end
local lapsed = {}
if ARGV[5] == '1' then
  lapsed = redis.call('ZRANGEBYSCORE', active, '-inf', ARGV[1], 'LIMIT', 0, ARGV[2])
end
for _, id in ipairs(lapsed) do
  redis.call('ZREM', active, id)
  redis.call('HDEL', owner, id)
  redis.call('RPUSH', pending, id)
end
if was == 0 and #due + #lapsed > 0 then redis.call('PUBLISH', ARGV[3], ARGV[4]) end
return {#due, #lapsed}`)

	// ARGV: id, state. Returns 1 if removed.
	removeScript = newTaskScript([]int{kPending, kDelayed, kTasks, kAttempts, kOwner, kFailed, kErrors, kUnique}, luaRelease, luaForget, `
local n = 0
if ARGV[2] == 'pending' then n = redis.call('LREM', pending, 0, ARGV[1])
elseif ARGV[2] == 'delayed' then n = redis.call('ZREM', delayed, ARGV[1])
elseif ARGV[2] == 'failed' then n = redis.call('ZREM', failed, ARGV[1]) end
if n == 0 then return 0 end
if ARGV[2] ~= 'failed' then release(ARGV[1]) end
forget(ARGV[1])
return 1`)

	// Returns the number of pending tasks removed.
	removeQueueScript = newTaskScript([]int{kPending, kTasks, kAttempts, kOwner, kErrors, kUnique}, luaRelease, luaForget, `
local ids = redis.call('LRANGE', pending, 0, -1)
for _, id in ipairs(ids) do forget(id) end
redis.call('DEL', pending)
return #ids`)

	// ARGV: id, channel, queue. Returns 1 if the failed task was requeued.
	retryFailedScript = newTaskScript([]int{kPending, kTasks, kAttempts, kFailed, kErrors, kUnique}, `
if redis.call('ZREM', failed, ARGV[1]) == 0 then return 0 end
redis.call('HDEL', errors, ARGV[1])
redis.call('HDEL', attempts, ARGV[1])
local m = redis.call('HGET', tasks, ARGV[1])
if not m then return 0 end
local ok, t = pcall(cjson.decode, m)
if ok and type(t) == 'table' and t.unique and t.unique ~= '' then redis.call('HSET', unique, t.unique, ARGV[1]) end
if redis.call('LPUSH', pending, ARGV[1]) == 1 then redis.call('PUBLISH', ARGV[2], ARGV[3]) end
return 1`)

	// Returns {key, id, …} of the unique keys held by stored, unfailed
	// tasks.
	locksScript = newTaskScript([]int{kTasks, kFailed, kUnique}, `
local all = redis.call('HGETALL', unique)
local out = {}
for i = 1, #all, 2 do
  local id = all[i+1]
  if redis.call('HEXISTS', tasks, id) == 1 and not redis.call('ZSCORE', failed, id) then
    out[#out+1] = all[i]
    out[#out+1] = id
  end
end
return out`)

	// ARGV: key. Returns 1 if a held key was released.
	delLockScript = newTaskScript([]int{kTasks, kFailed, kUnique}, `
local id = redis.call('HGET', unique, ARGV[1])
if not id then return 0 end
redis.call('HDEL', unique, ARGV[1])
if redis.call('HEXISTS', tasks, id) == 1 and not redis.call('ZSCORE', failed, id) then return 1 end
return 0`)
)

// taskScripts are the scripts above by name, for the tests.
var taskScripts = map[string]*taskScript{
	"enqueue": enqueueScript, "fetch": fetchScript, "extend": extendScript, "ack": ackScript,
	"ackFetch": ackFetchScript, "retry": retryScript, "fail": failScript, "requeue": requeueScript,
	"forward": forwardScript, "remove": removeScript, "removeQueue": removeQueueScript,
	"retryFailed": retryFailedScript, "locks": locksScript, "delLock": delLockScript,
	"uniqueHeld": uniqueHeldScript,
}

func msStr(t time.Time) string { return strconv.FormatInt(t.UnixMilli(), 10) }

// addQueue records queue in tasks:queues once per store.
func (s *TaskStore) addQueue(ctx context.Context, c rueidis.Client, queue string) error {
	if _, ok := s.known.Load(queue); ok {
		return nil
	}
	if err := c.Do(ctx, c.B().Sadd().Key(s.queuesKey()).Member(queue).Build()).Error(); err != nil {
		return s.b.wrap(ctx, "task queues", err)
	}
	s.known.Store(queue, true)
	return nil
}

func (s *TaskStore) enqueue(ctx context.Context, m *task.Message, due time.Time, periodic bool) (bool, error) {
	c, err := s.b.conn(ctx)
	if err != nil {
		return false, err
	}
	queue := m.PartitionName()
	if err := s.addQueue(ctx, c, queue); err != nil {
		return false, err
	}
	body, err := json.Marshal(m)
	if err != nil {
		return false, err
	}
	name, fire := "", "0"
	if periodic {
		name, fire = m.Name, strconv.FormatInt(m.FireAt, 10)
	}
	if m.Unique != "" && m.Partition > 0 {
		// A task enqueued before the queue had partitions holds its
		// unique key in partition 0, whichever partition the key picks
		// now. Nodes with partitions take no such key there, so one
		// found free stays free (unless a node still on one partition
		// takes it: docs/scaling.md).
		held, err := s.exec(ctx, c, task.PartitionName(m.Queue, 0), uniqueHeldScript, []string{m.Unique}).AsInt64()
		if err != nil {
			return false, s.b.wrap(ctx, "enqueue", err)
		}
		if held == 1 {
			return false, task.ErrDuplicateTask
		}
	}
	dueMS := "0"
	if !due.IsZero() {
		dueMS = msStr(due)
	}
	res, err := s.execDurable(ctx, c, "enqueue", queue, enqueueScript, []string{
		m.ID, string(body), dueMS, msStr(s.now()), m.Unique, s.channel(), queue, name, fire,
	})
	if err != nil {
		return false, err
	}
	n, err := res.AsInt64()
	if err != nil {
		return false, s.b.wrap(ctx, "enqueue", err)
	}
	switch n {
	case -1:
		return false, task.ErrDuplicateTask
	case -2:
		return false, task.ErrRecurrentStopped
	}
	return n == 1, nil
}

// Enqueue implements task.Store.
func (s *TaskStore) Enqueue(ctx context.Context, m *task.Message, due time.Time) (bool, error) {
	return s.enqueue(ctx, m, due, false)
}

// EnqueuePeriodic implements task.Store.
func (s *TaskStore) EnqueuePeriodic(ctx context.Context, m *task.Message) (bool, error) {
	return s.enqueue(ctx, m, time.Time{}, true)
}

// SetRecurrent implements task.Store.
func (s *TaskStore) SetRecurrent(ctx context.Context, queue, name string, stopped bool) error {
	c, err := s.b.conn(ctx)
	if err != nil {
		return err
	}
	if err := s.addQueue(ctx, c, queue); err != nil {
		return err
	}
	key := s.keys(queue)[kRecurrent]
	cmd := c.B().Hdel().Key(key).Field("stop:" + name).Build()
	if stopped {
		cmd = c.B().Hset().Key(key).FieldValue().FieldValue("stop:"+name, "1").Build()
	}
	return s.b.wrap(ctx, "set recurrent", c.Do(ctx, cmd).Error())
}

// LastFire implements task.Store.
func (s *TaskStore) LastFire(ctx context.Context, queue, name string) (time.Time, error) {
	c, err := s.b.conn(ctx)
	if err != nil {
		return time.Time{}, err
	}
	ms, err := c.Do(ctx, c.B().Hget().Key(s.keys(queue)[kRecurrent]).Field(name).Build()).AsInt64()
	if rueidis.IsRedisNil(err) {
		return time.Time{}, nil
	}
	if err != nil {
		return time.Time{}, s.b.wrap(ctx, "last fire", err)
	}
	return time.UnixMilli(ms), nil
}

// RecurrentStopped implements task.AdminStore.
func (s *TaskStore) RecurrentStopped(ctx context.Context, queue, name string) (bool, error) {
	c, err := s.b.conn(ctx)
	if err != nil {
		return false, err
	}
	ok, err := c.Do(ctx, c.B().Hexists().Key(s.keys(queue)[kRecurrent]).Field("stop:"+name).Build()).AsBool()
	return ok, s.b.wrap(ctx, "recurrent", err)
}

// Fetch implements task.Store.
func (s *TaskStore) Fetch(ctx context.Context, queue, worker string, lease time.Duration) (*task.Delivery, error) {
	c, err := s.b.conn(ctx)
	if err != nil {
		return nil, err
	}
	now := s.now()
	until := now.Add(lease)
	r, err := s.execDurable(ctx, c, "fetch", queue, fetchScript, []string{msStr(until), worker, msStr(now)})
	if err != nil {
		return nil, err // taken, maybe: its lease lapses and it runs again
	}
	res, err := r.ToArray()
	if rueidis.IsRedisNil(err) {
		return nil, nil
	}
	if err != nil {
		return nil, s.b.wrap(ctx, "fetch", err)
	}
	if len(res) != 2 {
		return nil, fmt.Errorf("redis: fetch: unexpected reply of %d items", len(res))
	}
	return decodeDelivery("fetch", res[0], res[1], until)
}

// Extend implements task.Store.
func (s *TaskStore) Extend(ctx context.Context, queue string, leases []task.Lease, lease time.Duration) ([]bool, error) {
	if len(leases) == 0 {
		return nil, nil
	}
	c, err := s.b.conn(ctx)
	if err != nil {
		return nil, err
	}
	argv := make([]string, 1, 1+2*len(leases))
	argv[0] = msStr(s.now().Add(lease))
	for _, l := range leases {
		argv = append(argv, l.ID, strconv.Itoa(l.Attempt))
	}
	res, err := s.exec(ctx, c, queue, extendScript, argv).AsIntSlice()
	if err != nil {
		return nil, s.b.wrap(ctx, "extend", err)
	}
	if len(res) != len(leases) {
		return nil, fmt.Errorf("redis: extend: %d replies for %d leases", len(res), len(leases))
	}
	ok := make([]bool, len(res))
	for i, n := range res {
		ok[i] = n == 1
	}
	return ok, nil
}

// settle runs one of the scripts that end a delivery.
func (s *TaskStore) settle(ctx context.Context, op string, script *taskScript, d *task.Delivery, args ...string) error {
	c, err := s.b.conn(ctx)
	if err != nil {
		return err
	}
	argv := append([]string{d.ID, strconv.Itoa(d.Attempt)}, args...)
	res, err := s.execDurable(ctx, c, op, d.PartitionName(), script, argv)
	if err != nil {
		return err
	}
	n, err := res.AsInt64()
	if err != nil {
		return s.b.wrap(ctx, op, err)
	}
	if n == 0 {
		return task.ErrLeaseLost
	}
	return nil
}

// Ack implements task.Store.
func (s *TaskStore) Ack(ctx context.Context, d *task.Delivery) error {
	return s.settle(ctx, "ack", ackScript, d, d.Unique)
}

// AckFetch implements task.Store.
func (s *TaskStore) AckFetch(ctx context.Context, d *task.Delivery, worker string, lease time.Duration) (*task.Delivery, bool, error) {
	c, err := s.b.conn(ctx)
	if err != nil {
		return nil, false, err
	}
	now := s.now()
	until := now.Add(lease)
	r, err := s.execDurable(ctx, c, "ack and fetch", d.PartitionName(), ackFetchScript, []string{
		d.ID, strconv.Itoa(d.Attempt), d.Unique, msStr(until), worker, msStr(now),
	})
	if err != nil {
		return nil, false, err
	}
	res, err := r.ToArray()
	if err != nil {
		return nil, false, s.b.wrap(ctx, "ack and fetch", err)
	}
	if len(res) != 1 && len(res) != 3 {
		return nil, false, fmt.Errorf("redis: ack and fetch: unexpected reply of %d items", len(res))
	}
	acked, err := res[0].AsInt64()
	if err != nil {
		return nil, false, s.b.wrap(ctx, "ack and fetch", err)
	}
	if len(res) == 1 {
		return nil, acked == 1, nil
	}
	next, err := decodeDelivery("ack and fetch", res[1], res[2], until)
	return next, acked == 1, err
}

// decodeDelivery builds the delivery leased until until from the message
// and attempt number a fetching script (op) replied.
func decodeDelivery(op string, msg, attempt rueidis.RedisMessage, until time.Time) (*task.Delivery, error) {
	body, err := msg.AsBytes()
	if err != nil {
		return nil, fmt.Errorf("redis: %s: task message: %w", op, err)
	}
	n, err := attempt.AsInt64()
	if err != nil {
		return nil, fmt.Errorf("redis: %s: attempt number: %w", op, err)
	}
	d := &task.Delivery{Attempt: int(n), LeaseUntil: time.UnixMilli(until.UnixMilli())}
	if err := json.Unmarshal(body, &d.Message); err != nil {
		return nil, fmt.Errorf("redis: %s: decoding task: %w", op, err)
	}
	return d, nil
}

// Retry implements task.Store.
func (s *TaskStore) Retry(ctx context.Context, d *task.Delivery, due time.Time, errMsg string) error {
	return s.settle(ctx, "retry", retryScript, d, msStr(due), errMsg)
}

// Fail implements task.Store.
func (s *TaskStore) Fail(ctx context.Context, d *task.Delivery, f task.Failure) error {
	f.FailedAt = time.UnixMilli(f.FailedAt.UnixMilli())
	body, err := json.Marshal(f)
	if err != nil {
		return err
	}
	return s.settle(ctx, "fail", failScript, d, msStr(f.FailedAt), string(body))
}

// Requeue implements task.Store.
func (s *TaskStore) Requeue(ctx context.Context, d *task.Delivery) error {
	return s.settle(ctx, "requeue", requeueScript, d, s.channel(), d.PartitionName())
}

// forwardBatch bounds the tasks one Forward moves of each kind.
const forwardBatch = 1000

// Forward implements task.Store.
func (s *TaskStore) Forward(ctx context.Context, queue string, recoverLapsed bool) (moved, recovered int, err error) {
	c, err := s.b.conn(ctx)
	if err != nil {
		return 0, 0, err
	}
	rec := "0"
	if recoverLapsed {
		rec = "1"
	}
	res, err := s.exec(ctx, c, queue, forwardScript, []string{msStr(s.now()), strconv.Itoa(forwardBatch), s.channel(), queue, rec}).AsIntSlice()
	if err != nil {
		return 0, 0, s.b.wrap(ctx, "forward", err)
	}
	if len(res) != 2 {
		return 0, 0, errors.New("redis: forward: unexpected reply")
	}
	return int(res[0]), int(res[1]), nil
}

// Watch implements task.Store. It subscribes on a connection of its own
// and returns when ctx ends or the connection breaks (the caller
// resubscribes).
func (s *TaskStore) Watch(ctx context.Context, wake func(queue string)) error {
	c, err := s.b.conn(ctx)
	if err != nil {
		return err
	}
	// A wake-up sent while no one listened is not replayed: look at the
	// queues once now.
	wake("")
	err = c.Receive(ctx, routed(c, c.B().Subscribe().Channel(s.channel()).Build(), s.channel()), func(m rueidis.PubSubMessage) {
		wake(m.Message)
	})
	if ctx.Err() != nil {
		return ctx.Err()
	}
	if err == nil {
		err = errors.New("subscription ended")
	}
	return s.b.wrap(ctx, "watch", err)
}

// SetQueuePaused implements task.AdminStore: it sets (or deletes) the
// pause key of every partition the queue may have, up to
// task.MaxPartitions, so that the pause holds for partitions not used
// yet. Resuming publishes task.AllPartitions(queue) on the wake-up
// channel, so that idle workers look at the queue at once.
func (s *TaskStore) SetQueuePaused(ctx context.Context, queue string, paused bool) error {
	c, err := s.b.conn(ctx)
	if err != nil {
		return err
	}
	if err := s.addQueue(ctx, c, queue); err != nil {
		return err
	}
	cmds := make(rueidis.Commands, 0, task.MaxPartitions+1)
	for p := range task.MaxPartitions {
		key := s.keys(task.PartitionName(queue, p))[kPaused]
		if paused {
			cmds = append(cmds, c.B().Set().Key(key).Value("1").Build())
		} else {
			cmds = append(cmds, c.B().Del().Key(key).Build())
		}
	}
	op := "pause queue"
	if !paused {
		op = "resume queue"
	}
	for _, r := range c.DoMulti(ctx, cmds...) {
		if err := r.Error(); err != nil {
			return s.b.wrap(ctx, op, err)
		}
	}
	if paused {
		return nil
	}
	// A keyless command: not in the DoMulti of keyed ones on a cluster.
	return s.b.wrap(ctx, op, c.Do(ctx, c.B().Publish().Channel(s.channel()).Message(task.AllPartitions(queue)).Build()).Error())
}

// PausedQueues implements task.AdminStore: it looks at the pause key of
// partition 0 of each queue of tasks:queues.
func (s *TaskStore) PausedQueues(ctx context.Context) ([]string, error) {
	all, err := s.Queues(ctx)
	if err != nil || len(all) == 0 {
		return nil, err
	}
	var names []string
	for _, n := range all {
		if _, p := task.SplitPartition(n); p == 0 {
			names = append(names, n)
		}
	}
	if len(names) == 0 {
		return nil, nil
	}
	c, err := s.b.conn(ctx)
	if err != nil {
		return nil, err
	}
	cmds := make(rueidis.Commands, len(names))
	for i, name := range names {
		cmds[i] = c.B().Exists().Key(s.keys(name)[kPaused]).Build()
	}
	var out []string
	for i, r := range c.DoMulti(ctx, cmds...) {
		n, err := r.AsInt64()
		if err != nil {
			return nil, s.b.wrap(ctx, "paused queues", err)
		}
		if n == 1 {
			out = append(out, names[i])
		}
	}
	return out, nil
}

type workerRecord struct {
	task.WorkerInfo
	Expire int64 `json:"expire"`
}

// Heartbeat implements task.Store.
func (s *TaskStore) Heartbeat(ctx context.Context, w task.WorkerInfo, ttl time.Duration) error {
	c, err := s.b.conn(ctx)
	if err != nil {
		return err
	}
	body, err := json.Marshal(workerRecord{WorkerInfo: w, Expire: s.now().Add(ttl).UnixMilli()})
	if err != nil {
		return err
	}
	return s.b.wrap(ctx, "heartbeat", c.Do(ctx, c.B().Hset().Key(s.workersKey()).FieldValue().FieldValue(w.ID, string(body)).Build()).Error())
}

// RemoveWorker implements task.Store.
func (s *TaskStore) RemoveWorker(ctx context.Context, id string) error {
	c, err := s.b.conn(ctx)
	if err != nil {
		return err
	}
	return s.b.wrap(ctx, "remove worker", c.Do(ctx, c.B().Hdel().Key(s.workersKey()).Field(id).Build()).Error())
}

// Workers implements task.AdminStore. It forgets workers whose heartbeat
// lapsed.
func (s *TaskStore) Workers(ctx context.Context) ([]task.WorkerInfo, error) {
	c, err := s.b.conn(ctx)
	if err != nil {
		return nil, err
	}
	all, err := c.Do(ctx, c.B().Hgetall().Key(s.workersKey()).Build()).AsStrMap()
	if err != nil {
		return nil, s.b.wrap(ctx, "workers", err)
	}
	now := s.now().UnixMilli()
	var out []task.WorkerInfo
	for id, body := range all {
		var w workerRecord
		if json.Unmarshal([]byte(body), &w) != nil || w.Expire <= now {
			_ = c.Do(ctx, c.B().Hdel().Key(s.workersKey()).Field(id).Build()).Error()
			continue
		}
		out = append(out, w.WorkerInfo)
	}
	return out, nil
}

// Queues implements task.Store and task.AdminStore.
func (s *TaskStore) Queues(ctx context.Context) ([]string, error) {
	c, err := s.b.conn(ctx)
	if err != nil {
		return nil, err
	}
	names, err := c.Do(ctx, c.B().Smembers().Key(s.queuesKey()).Build()).AsStrSlice()
	if err != nil {
		return nil, s.b.wrap(ctx, "queues", err)
	}
	sort.Strings(names)
	return names, nil
}

// List implements task.Store and task.AdminStore.
func (s *TaskStore) List(ctx context.Context, queue string, state task.State, offset, limit int) ([]task.Info, error) {
	c, err := s.b.conn(ctx)
	if err != nil {
		return nil, err
	}
	k := s.keys(queue)
	offset = max(offset, 0)
	stop := int64(-1)
	if limit > 0 {
		stop = int64(offset + limit - 1)
	}
	var ids []string
	scores := map[string]int64{}
	switch state {
	case task.StatePending:
		// The next to run is at the right end.
		lo, hi := int64(-1-offset), int64(0)
		if limit > 0 {
			hi = int64(-offset - limit)
		} else {
			hi = -1 << 40
		}
		ids, err = c.Do(ctx, c.B().Lrange().Key(k[kPending]).Start(hi).Stop(lo).Build()).AsStrSlice()
		slices.Reverse(ids)
	case task.StateDelayed, task.StateRunning, task.StateFailed:
		key := map[task.State]string{task.StateDelayed: k[kDelayed], task.StateRunning: k[kActive], task.StateFailed: k[kFailed]}[state]
		var zs []rueidis.ZScore
		zs, err = c.Do(ctx, c.B().Zrange().Key(key).Min(strconv.Itoa(offset)).Max(strconv.FormatInt(stop, 10)).Withscores().Build()).AsZScores()
		for _, z := range zs {
			ids = append(ids, z.Member)
			scores[z.Member] = int64(z.Score)
		}
	default:
		return nil, fmt.Errorf("redis: list: unknown state %q", state)
	}
	if err != nil {
		return nil, s.b.wrap(ctx, "list", err)
	}
	if len(ids) == 0 {
		return nil, nil
	}
	res := c.DoMulti(ctx,
		c.B().Hmget().Key(k[kTasks]).Field(ids...).Build(),
		c.B().Hmget().Key(k[kAttempts]).Field(ids...).Build(),
		c.B().Hmget().Key(k[kOwner]).Field(ids...).Build(),
		c.B().Hmget().Key(k[kErrors]).Field(ids...).Build())
	cols := make([][]rueidis.RedisMessage, len(res))
	for i, r := range res {
		if cols[i], err = r.ToArray(); err != nil {
			return nil, s.b.wrap(ctx, "list", err)
		}
	}
	out := make([]task.Info, 0, len(ids))
	for i, id := range ids {
		body, err := cols[0][i].AsBytes()
		if err != nil {
			continue // removed meanwhile
		}
		in := task.Info{State: state}
		if json.Unmarshal(body, &in.Message) != nil {
			continue
		}
		if n, err := cols[1][i].AsInt64(); err == nil {
			in.Attempt = int(n)
		}
		errText, _ := cols[3][i].ToString()
		switch state {
		case task.StateDelayed:
			in.RunAt = time.UnixMilli(scores[id])
			in.LastError = errText
		case task.StateRunning:
			in.LeaseUntil = time.UnixMilli(scores[id])
			if o, err := cols[2][i].ToString(); err == nil {
				w, started, _ := strings.Cut(o, "|")
				in.Worker = w
				if ms, err := strconv.ParseInt(started, 10, 64); err == nil {
					in.StartedAt = time.UnixMilli(ms)
				}
			}
			in.LastError = errText
		case task.StateFailed:
			var f task.Failure
			if json.Unmarshal([]byte(errText), &f) == nil {
				f.FailedAt = time.UnixMilli(f.FailedAt.UnixMilli())
				in.Failure = &f
				in.LastError = f.Error
			} else {
				in.Failure = &task.Failure{Error: errText, FailedAt: time.UnixMilli(scores[id])}
			}
		default:
			in.LastError = errText
		}
		out = append(out, in)
	}
	return out, nil
}

// Counts implements task.AdminStore.
func (s *TaskStore) Counts(ctx context.Context, queue string) (task.QueueStats, error) {
	c, err := s.b.conn(ctx)
	if err != nil {
		return task.QueueStats{}, err
	}
	k := s.keys(queue)
	res := c.DoMulti(ctx,
		c.B().Llen().Key(k[kPending]).Build(),
		c.B().Zcard().Key(k[kDelayed]).Build(),
		c.B().Zcard().Key(k[kActive]).Build(),
		c.B().Zcard().Key(k[kFailed]).Build(),
		c.B().Hmget().Key(k[kStats]).Field("processed", "failed").Build(),
		c.B().Exists().Key(k[kPaused]).Build())
	n := make([]int64, 4)
	for i := range 4 {
		if n[i], err = res[i].AsInt64(); err != nil {
			return task.QueueStats{}, s.b.wrap(ctx, "counts", err)
		}
	}
	st, err := res[4].ToArray()
	if err != nil {
		return task.QueueStats{}, s.b.wrap(ctx, "counts", err)
	}
	paused, err := res[5].AsInt64()
	if err != nil {
		return task.QueueStats{}, s.b.wrap(ctx, "counts", err)
	}
	qs := task.QueueStats{Queue: queue, Pending: int(n[0]), Delayed: int(n[1]), Running: int(n[2]), Failed: int(n[3]), Paused: paused == 1}
	if len(st) == 2 {
		if v, err := st[0].AsInt64(); err == nil {
			qs.Processed = v
		}
		if v, err := st[1].AsInt64(); err == nil {
			qs.FailedTotal = v
		}
	}
	return qs, nil
}

// Remove implements task.Store and task.AdminStore.
func (s *TaskStore) Remove(ctx context.Context, queue, id string, state task.State) (bool, error) {
	if state == task.StateRunning {
		return false, nil
	}
	c, err := s.b.conn(ctx)
	if err != nil {
		return false, err
	}
	n, err := s.exec(ctx, c, queue, removeScript, []string{id, string(state)}).AsInt64()
	return n == 1, s.b.wrap(ctx, "remove", err)
}

// RemoveQueue implements task.AdminStore.
func (s *TaskStore) RemoveQueue(ctx context.Context, queue string) (int, error) {
	c, err := s.b.conn(ctx)
	if err != nil {
		return 0, err
	}
	n, err := s.exec(ctx, c, queue, removeQueueScript, nil).AsInt64()
	return int(n), s.b.wrap(ctx, "remove queue", err)
}

// RetryFailed implements task.AdminStore.
func (s *TaskStore) RetryFailed(ctx context.Context, queue, id string) (bool, error) {
	c, err := s.b.conn(ctx)
	if err != nil {
		return false, err
	}
	n, err := s.exec(ctx, c, queue, retryFailedScript, []string{id, s.channel(), queue}).AsInt64()
	return n == 1, s.b.wrap(ctx, "retry failed", err)
}

// Locks implements task.AdminStore.
func (s *TaskStore) Locks(ctx context.Context, queue string) ([]task.Lock, error) {
	c, err := s.b.conn(ctx)
	if err != nil {
		return nil, err
	}
	flat, err := s.exec(ctx, c, queue, locksScript, nil).AsStrSlice()
	if err != nil {
		return nil, s.b.wrap(ctx, "locks", err)
	}
	var out []task.Lock
	for i := 0; i+1 < len(flat); i += 2 {
		out = append(out, task.Lock{Key: flat[i], Queue: queue, TaskID: flat[i+1]})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Key < out[j].Key })
	return out, nil
}

// DelLock implements task.AdminStore.
func (s *TaskStore) DelLock(ctx context.Context, queue, key string) (bool, error) {
	c, err := s.b.conn(ctx)
	if err != nil {
		return false, err
	}
	n, err := s.exec(ctx, c, queue, delLockScript, []string{key}).AsInt64()
	return n == 1, s.b.wrap(ctx, "del lock", err)
}
