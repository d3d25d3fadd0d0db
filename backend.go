package stellar

import (
	"context"
	"time"

	"github.com/stellarfw/stellar-go/backend/memory"
	redisb "github.com/stellarfw/stellar-go/backend/redis"
	"github.com/stellarfw/stellar-go/cache"
	"github.com/stellarfw/stellar-go/config"
	"github.com/stellarfw/stellar-go/internal/node"
	"github.com/stellarfw/stellar-go/task"
)

// readyPingTimeout bounds the backend check behind /readyz.
const readyPingTimeout = time.Second

// backend is the shared state a node runs on: the embedded memory backend
// when no Redis is configured, Redis otherwise. Exactly one of mem and
// redis is set.
type backend struct {
	name  string
	mem   *memory.Backend
	redis *redisb.Backend
}

// openBackend chooses the backend from the configuration. Opening Redis
// does not connect: a node may start while Redis is down, and reports
// itself not ready until it answers.
func openBackend(cfg config.Config) (*backend, error) {
	if !cfg.Redis.Enabled() {
		return &backend{name: "memory", mem: memory.New(memory.Config{})}, nil
	}
	rb, err := redisb.Open(node.RedisConfig(cfg))
	if err != nil {
		return nil, err
	}
	return &backend{name: "redis", redis: rb}, nil
}

// cacheStore is the store behind App.Cache.
func (b *backend) cacheStore() cache.Store {
	if b.redis != nil {
		return b.redis.Cache()
	}
	return b.mem.Cache()
}

// taskStore is what a backend's Tasks() returns: the store of
// App.Tasks and of App.Inspector.
type taskStore interface {
	task.Store
	task.AdminStore
}

// taskStore is the store behind App.Tasks and App.Inspector.
func (b *backend) taskStore() taskStore {
	if b.redis != nil {
		return b.redis.Tasks()
	}
	return b.mem.Tasks()
}

// ping reports whether the backend answers.
func (b *backend) ping(ctx context.Context) error {
	if b.redis == nil {
		return nil
	}
	ctx, cancel := context.WithTimeout(ctx, readyPingTimeout)
	defer cancel()
	return b.redis.Ping(ctx)
}

func (b *backend) close() error {
	if b.redis != nil {
		return b.redis.Close()
	}
	return b.mem.Close()
}

// part is a component of the node that runs on the backend (cluster
// membership, task workers, …). Parts start in order after the backend is
// open and before the listeners, and stop in reverse order after the
// listeners have drained.
type part struct {
	name string
	// start brings the part up on b.
	start func(ctx context.Context, b *backend) error
	// stop brings it down, bounded by ctx.
	stop func(ctx context.Context) error
	// ready, when set, reports whether the part can serve; /readyz fails
	// while it returns an error.
	ready func(ctx context.Context) error
	// status, when set, adds the part's figures to the status action.
	status func(ctx context.Context, out map[string]any)
}
