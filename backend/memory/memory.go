// Package memory is the embedded in-memory backend: what a single node runs
// on when no Redis is configured. It keeps the same semantics as
// backend/redis (both pass internal/backendtest), so a program behaves the
// same on one node as in a cluster.
//
// A Backend owns the state of every feature (the cache, the task queues,
// the cluster's pub/sub and membership, and the chat rooms) together with
// one clock and one background sweeper that reclaims expired items. Expiry
// is lazy (an expired item is never returned) plus a bounded sweep, as in
// Redis.
package memory

import (
	"sync"
	"time"
)

// Config configures a Backend. A zero field means its default.
type Config struct {
	// Now is the clock that stamps and expires items. Default time.Now.
	// Tests inject a fake one so that expiry needs no sleeping.
	Now func() time.Time
	// ClusterNow is the clock that expires the cluster's membership
	// records. Default Now. A test that moves Now by hours keeps real
	// time here, so that a live node's record does not lapse between
	// two of its heartbeats.
	ClusterNow func() time.Time
	// SweepInterval is how often the sweeper reclaims expired items.
	// Default 1s.
	SweepInterval time.Duration
	// SweepBatch bounds the items one sweep round examines, so that a
	// sweep never holds a lock for long. Default 256.
	SweepBatch int
}

func (c *Config) setDefaults() {
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.ClusterNow == nil {
		c.ClusterNow = c.Now
	}
	if c.SweepInterval <= 0 {
		c.SweepInterval = time.Second
	}
	if c.SweepBatch <= 0 {
		c.SweepBatch = 256
	}
}

// Backend is the in-memory backend of one node. Close it to stop its
// sweeper.
type Backend struct {
	cfg     Config
	cache   *CacheStore
	cluster *ClusterTransport
	tasks   *TaskStore
	chat    *ChatStore

	stop      chan struct{}
	closeOnce sync.Once
	wg        sync.WaitGroup
}

// New returns a running Backend.
func New(cfg Config) *Backend {
	cfg.setDefaults()
	b := &Backend{
		cfg:     cfg,
		cache:   newCacheStore(cfg.Now),
		cluster: newClusterTransport(cfg.ClusterNow),
		tasks:   newTaskStore(cfg.Now),
		chat:    newChatStore(cfg.Now),
		stop:    make(chan struct{}),
	}
	b.wg.Add(1)
	go b.sweepLoop()
	return b
}

// Cache returns the store of the shared cache, for cache.New.
func (b *Backend) Cache() *CacheStore { return b.cache }

// Tasks returns the store of the task queues: the task.Store a
// task.Manager starts on and the task.AdminStore of a task.Inspector.
func (b *Backend) Tasks() *TaskStore { return b.tasks }

// Close stops the sweeper and waits for it. The stores keep answering,
// with lazy expiry only. Close is safe to call more than once.
func (b *Backend) Close() error {
	b.closeOnce.Do(func() { close(b.stop) })
	b.wg.Wait()
	return nil
}

func (b *Backend) sweepLoop() {
	defer b.wg.Done()
	t := time.NewTicker(b.cfg.SweepInterval)
	defer t.Stop()
	for {
		select {
		case <-b.stop:
			return
		case <-t.C:
			b.sweep()
		}
	}
}

// maxSweepRounds bounds one sweep: like Redis's active expiry, a round that
// finds many expired items is followed by another, but never forever.
const maxSweepRounds = 16

// sweep reclaims expired items, SweepBatch at a time, while a round finds
// at least a quarter of what it examined expired.
func (b *Backend) sweep() {
	for range maxSweepRounds {
		examined, expired := b.cache.sweep(b.cfg.SweepBatch)
		if examined == 0 || expired*4 < examined {
			return
		}
	}
}
