// Package backend opens the shared state a node runs on: the embedded
// memory backend when no Redis is configured, Redis otherwise. It makes
// that choice once, in Open, and hands out each feature's store through
// the interface its consumer defines (cache.Store, task.Store,
// chat.Store, cluster.Transport), so that nothing else in the program
// asks which backend it runs on.
//
// The implementations live in backend/memory and backend/redis; both pass
// the conformance suite in internal/backendtest.
package backend

import (
	"context"

	"github.com/stellarfw/stellar-go/backend/memory"
	redisb "github.com/stellarfw/stellar-go/backend/redis"
	"github.com/stellarfw/stellar-go/cache"
	"github.com/stellarfw/stellar-go/chat"
	"github.com/stellarfw/stellar-go/cluster"
	"github.com/stellarfw/stellar-go/task"
)

// The names Backend.Name returns.
const (
	NameMemory = "memory"
	NameRedis  = "redis"
)

// RedisConfig configures the Redis backend; see package backend/redis.
type RedisConfig = redisb.Config

// RedisStats are the Redis backend's counters; see Backend.RedisStats.
type RedisStats = redisb.Stats

// DefaultRedisPrefix starts every key the Redis backend writes unless
// redis.prefix says otherwise.
const DefaultRedisPrefix = redisb.DefaultPrefix

// DefaultRedisReplicaWait bounds how long a task write waits for a
// replica to confirm it, unless RedisConfig.ReplicaWait says otherwise.
const DefaultRedisReplicaWait = redisb.DefaultReplicaWait

// Errors of Open and of the stores' calls, whichever backend.
var (
	// ErrUnavailable means the backend could not be reached: a call may
	// succeed later, and a node waits for it.
	ErrUnavailable = redisb.ErrUnavailable
	// ErrConfig means the backend's configuration cannot work (a
	// malformed URL, a wrong password): waiting will not mend it.
	ErrConfig = redisb.ErrConfig
)

// Config chooses and configures the backend.
type Config struct {
	// Redis, when set, puts the node on Redis. Nil runs it on the
	// embedded memory backend.
	Redis *RedisConfig
	// Memory configures the memory backend; tests inject a clock here.
	Memory memory.Config
}

// Backend is an open backend. Its stores stay valid until Close.
type Backend struct {
	name      string
	local     bool
	cache     cache.Store
	tasks     task.Store
	taskAdmin task.AdminStore
	chat      chat.Store
	cluster   cluster.Transport
	ping      func(ctx context.Context) error
	close     func() error
	stats     func() RedisStats // nil on memory
}

// Open opens the backend cfg chooses. Opening Redis does not connect: a
// node may start while Redis is down, and Ping fails until it answers.
// A malformed Redis configuration is an error here.
func Open(cfg Config) (*Backend, error) {
	if cfg.Redis == nil {
		m := memory.New(cfg.Memory)
		return &Backend{
			name:      NameMemory,
			local:     true,
			cache:     m.Cache(),
			tasks:     m.Tasks(),
			taskAdmin: m.Tasks(),
			chat:      m.Chat(),
			cluster:   m.Cluster(),
			ping:      func(context.Context) error { return nil },
			close:     m.Close,
		}, nil
	}
	r, err := redisb.Open(*cfg.Redis)
	if err != nil {
		return nil, err
	}
	tasks := r.Tasks()
	return &Backend{
		name:      NameRedis,
		cache:     r.Cache(),
		tasks:     tasks,
		taskAdmin: tasks,
		chat:      r.Chat(),
		cluster:   r.Cluster(),
		ping:      r.Ping,
		close:     r.Close,
		stats:     r.Stats,
	}, nil
}

// Name is NameMemory or NameRedis, for logs and the status action.
func (b *Backend) Name() string { return b.name }

// Local reports whether the state lives in this process only (the memory
// backend): nothing leaves it, so there is no cluster to join and no
// message to sign for anyone else.
func (b *Backend) Local() bool { return b.local }

// Cache is the store behind the cache.
func (b *Backend) Cache() cache.Store { return b.cache }

// Tasks is the store task workers and enqueuers use.
func (b *Backend) Tasks() task.Store { return b.tasks }

// TaskAdmin is the store the task Inspector reads and changes.
func (b *Backend) TaskAdmin() task.AdminStore { return b.taskAdmin }

// Chat is the store of chat rooms and their members.
func (b *Backend) Chat() chat.Store { return b.chat }

// Cluster is the transport of cluster messages and membership.
func (b *Backend) Cluster() cluster.Transport { return b.cluster }

// Ping reports whether the backend answers, bounded by ctx.
func (b *Backend) Ping(ctx context.Context) error { return b.ping(ctx) }

// Close releases the backend. Stop everything that uses its stores first.
func (b *Backend) Close() error { return b.close() }

// RedisStats returns the Redis backend's counters (error replies, calls
// that found Redis unreachable, subscriptions lost), and false on the
// memory backend, which has none.
func (b *Backend) RedisStats() (RedisStats, bool) {
	if b.stats == nil {
		return RedisStats{}, false
	}
	return b.stats(), true
}
