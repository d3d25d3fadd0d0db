// Package redis is the Redis backend: what the nodes of a cluster share.
// It speaks to a single server (redis://, rediss:// for TLS, unix://),
// to a master found through Sentinel, or to a Redis Cluster, using the
// rueidis client, whose automatic pipelining carries many concurrent
// callers over few connections.
//
// Every key starts with the configured prefix (default "stellar:"). Keys
// that one atomic operation touches together share a hash tag, so that
// they live in the same slot of a Redis Cluster. Lua scripts run by SHA
// (EVALSHA), falling back to EVAL when the server does not know them.
//
// While Redis is unreachable calls fail fast with ErrUnavailable (a short
// dial timeout, bounded retries); the backend reconnects by itself when
// Redis returns, including when it was down at Open.
package redis

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/rueidis"

	"github.com/stellarfw/stellar-go/cache"
)

// Errors of the backend. Errors from Redis itself are wrapped as they are.
var (
	// ErrUnavailable means Redis could not be reached or the connection
	// failed during the call.
	ErrUnavailable = errors.New("redis: unavailable")
	// ErrClosed means the Backend was closed.
	ErrClosed = errors.New("redis: backend closed")
	// ErrConfig means the configuration cannot be used.
	ErrConfig = errors.New("redis: invalid configuration")
)

// Defaults of Config.
const (
	DefaultPrefix           = "stellar:"
	DefaultDialTimeout      = 2 * time.Second
	DefaultIOTimeout        = 5 * time.Second
	DefaultReconnectBackoff = 250 * time.Millisecond
)

// Config configures a Backend. A zero field means its default. Exactly one
// of URL, SentinelAddrs and ClusterAddrs says where Redis is.
type Config struct {
	// URL is redis://[user:password@]host:port/db, rediss:// for TLS, or
	// unix:///path/to/socket?db=N: a single server.
	URL string
	// SentinelMaster is the master name when using Redis Sentinel.
	SentinelMaster string
	// SentinelAddrs lists sentinel host:port addresses.
	SentinelAddrs []string
	// ClusterAddrs lists seed host:port addresses of a Redis Cluster.
	ClusterAddrs []string
	// Password for Sentinel or Cluster set-ups (a URL carries its own).
	Password string
	// Prefix starts every key, so several apps can share one Redis.
	// Default "stellar:" (DefaultPrefix).
	Prefix string
	// TLSConfig, if set, is used for TLS connections (rediss://) instead
	// of verifying the server against the system's roots, and turns TLS
	// on for Sentinel and Cluster addresses.
	TLSConfig *tls.Config
	// DialTimeout bounds opening a connection. Default 2s.
	DialTimeout time.Duration
	// IOTimeout bounds waiting for a reply on a connection before it is
	// deemed dead. Default 5s.
	IOTimeout time.Duration
	// ReconnectBackoff is how long after a failed first connection the
	// next call tries again; calls in between fail at once. Default 250ms.
	ReconnectBackoff time.Duration
	// ReplicaWait bounds how long the scripts that add a task, take one
	// or record an outcome wait for a replica of their master to confirm
	// the write (WAIT 1), when that master has a replica online; see
	// docs/tasks.md for what it does and does not guarantee. Default 1s
	// (DefaultReplicaWait); negative: never wait.
	ReplicaWait time.Duration
	// ClientCache, if positive, turns on client-side caching for the
	// cache's Load: an entry read once is kept in this node's memory for
	// up to ClientCache (never past its expiry), and Redis tells the
	// client (RESP3 CLIENT TRACKING) to drop it as soon as any node
	// changes or deletes the key, so that repeated Loads of a hot key do
	// not reach Redis. Such a Load records no read: Entry.ReadAt is the
	// read recorded by a Load made without it (a Load with RefreshTTL
	// still goes to Redis and records one). Needs Redis 6 or later.
	// Default 0: off, every Load is one script on the server.
	ClientCache time.Duration
	// Now stamps CreatedAt, ReadAt and lock times. Expiry itself is
	// counted by the Redis server. Default time.Now.
	Now func() time.Time
}

func (c *Config) setDefaults() {
	if c.Prefix == "" {
		c.Prefix = DefaultPrefix
	}
	if c.DialTimeout <= 0 {
		c.DialTimeout = DefaultDialTimeout
	}
	if c.IOTimeout <= 0 {
		c.IOTimeout = DefaultIOTimeout
	}
	if c.ReconnectBackoff <= 0 {
		c.ReconnectBackoff = DefaultReconnectBackoff
	}
	if c.ReplicaWait == 0 {
		c.ReplicaWait = DefaultReplicaWait
	}
	if c.Now == nil {
		c.Now = time.Now
	}
}

// maxFlushDelay lets rueidis wait this long for more commands before it
// writes a pipeline: measured in bench/redisclient, it doubles throughput
// at 64 concurrent callers and costs nothing visible at 1.
const maxFlushDelay = 20 * time.Microsecond

// Backend is a connection to Redis shared by the stores of one node.
type Backend struct {
	cfg   Config
	opt   rueidis.ClientOption
	cache *CacheStore

	client atomic.Pointer[rueidis.Client] // set once connected

	replyErrors       atomic.Uint64 // error replies from Redis
	unavailable       atomic.Uint64 // calls that failed because Redis was unreachable
	subscriptionsLost atomic.Uint64
	replicaConfirmed  atomic.Uint64 // writes a replica confirmed
	replicaLagged     atomic.Uint64 // writes no replica confirmed in time
	unconfirmed       atomic.Uint64 // writes whose confirmation failed

	replicas replicas // of the masters the durable scripts ran on

	mu      sync.Mutex
	closed  bool      // guarded by mu
	lastTry time.Time // guarded by mu; of the last failed connection
	lastErr error     // guarded by mu
}

// Open returns a Backend for cfg. It fails only on a configuration error:
// the connection is made on first use (Ping to check it), so that a node
// may start while Redis is down.
func Open(cfg Config) (*Backend, error) {
	cfg.setDefaults()
	if err := checkPrefix(cfg.Prefix); err != nil {
		return nil, err
	}
	opt, err := clientOption(cfg)
	if err != nil {
		return nil, err
	}
	b := &Backend{cfg: cfg, opt: opt}
	b.cache = &CacheStore{b: b, now: cfg.Now, prefix: cfg.Prefix, local: cfg.ClientCache}
	return b, nil
}

// clientOption turns the configuration into rueidis options.
func clientOption(cfg Config) (rueidis.ClientOption, error) {
	n := 0
	for _, set := range []bool{cfg.URL != "", len(cfg.SentinelAddrs) > 0, len(cfg.ClusterAddrs) > 0} {
		if set {
			n++
		}
	}
	var opt rueidis.ClientOption
	switch {
	case n == 0:
		return opt, fmt.Errorf("%w: no url, sentinel_addrs or cluster_addrs", ErrConfig)
	case n > 1:
		return opt, fmt.Errorf("%w: set only one of url, sentinel_addrs and cluster_addrs", ErrConfig)
	case cfg.URL != "":
		var err error
		if opt, err = rueidis.ParseURL(cfg.URL); err != nil {
			return opt, fmt.Errorf("%w: url: %w", ErrConfig, err)
		}
		// One address and no sentinel: a single server. Saying so spares
		// a CLUSTER probe at each connection.
		opt.ForceSingleClient = len(opt.InitAddress) == 1 && opt.Sentinel.MasterSet == ""
	case len(cfg.SentinelAddrs) > 0:
		if cfg.SentinelMaster == "" {
			return opt, fmt.Errorf("%w: sentinel_addrs needs sentinel_master", ErrConfig)
		}
		opt.InitAddress = cfg.SentinelAddrs
		opt.Sentinel.MasterSet = cfg.SentinelMaster
		opt.Password = cfg.Password
	default:
		opt.InitAddress = cfg.ClusterAddrs
		opt.Password = cfg.Password
	}
	if cfg.TLSConfig != nil {
		tc := cfg.TLSConfig.Clone()
		if tc.ServerName == "" && opt.TLSConfig != nil {
			tc.ServerName = opt.TLSConfig.ServerName
		}
		opt.TLSConfig = tc
		opt.Sentinel.TLSConfig = tc
	}
	opt.ClientName = "stellar"
	opt.DisableCache = cfg.ClientCache <= 0
	opt.MaxFlushDelay = maxFlushDelay
	opt.Dialer.Timeout = cfg.DialTimeout
	opt.Sentinel.Dialer.Timeout = cfg.DialTimeout
	opt.ConnWriteTimeout = cfg.IOTimeout
	// rueidis retries read-only commands on network errors; bound it, so
	// that a call fails fast while Redis is down.
	opt.RetryDelay = func(attempts int, cmd rueidis.Completed, _ error) time.Duration {
		if attempts >= 2 || isSubscribe(cmd) {
			return -1
		}
		return time.Duration(attempts+1) * 20 * time.Millisecond
	}
	return opt, nil
}

// isSubscribe reports whether cmd starts a subscription. The client
// would otherwise make a broken subscription again by itself, and after a
// Redis restart such a subscription was seen delivering nothing while it
// looked alive; instead the subscriber gets the error at once and makes a
// new one (see subscribe).
func isSubscribe(cmd rueidis.Completed) bool {
	c := cmd.Commands()
	if len(c) == 0 {
		return false
	}
	switch strings.ToUpper(c[0]) {
	case "SUBSCRIBE", "PSUBSCRIBE", "SSUBSCRIBE":
		return true
	}
	return false
}

// checkPrefix refuses a prefix whose braces would make Redis Cluster hash
// related keys to different slots: a '{' must open a non-empty tag that
// the prefix itself closes (then every key shares that one slot).
func checkPrefix(p string) error {
	open := strings.IndexByte(p, '{')
	if open < 0 {
		return nil
	}
	end := strings.IndexByte(p[open+1:], '}')
	if end <= 0 {
		return fmt.Errorf("%w: prefix %q: a '{' must open a non-empty hash tag closed in the prefix", ErrConfig, p)
	}
	return nil
}

// Prefix returns the prefix of every key the backend writes.
func (b *Backend) Prefix() string { return b.cfg.Prefix }

// Cache returns the store of the shared cache, for cache.New.
func (b *Backend) Cache() *CacheStore { return b.cache }

// conn returns the client, connecting first if needed. After a failed
// attempt, calls fail at once with the same error until ReconnectBackoff
// has passed.
func (b *Backend) conn(ctx context.Context) (rueidis.Client, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if c := b.client.Load(); c != nil {
		return *c, nil
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		return nil, ErrClosed
	}
	if c := b.client.Load(); c != nil {
		return *c, nil
	}
	if b.lastErr != nil && time.Since(b.lastTry) < b.cfg.ReconnectBackoff {
		return nil, b.lastErr
	}
	c, err := rueidis.NewClient(b.opt)
	if err != nil {
		if authError(err) {
			// Redis answered and refused us: waiting will not mend it.
			b.lastTry, b.lastErr = time.Now(), fmt.Errorf("%w: authentication failed (check the password in the Redis URL or redis.password): %w", ErrConfig, err)
		} else {
			b.lastTry, b.lastErr = time.Now(), temporaryError{fmt.Errorf("%w: connect: %w", ErrUnavailable, err)}
		}
		return nil, b.lastErr
	}
	b.lastErr = nil
	b.client.Store(&c)
	return c, nil
}

// authError reports whether err is Redis refusing the credentials (or
// their absence) while connecting.
func authError(err error) bool {
	rerr, ok := rueidis.IsRedisErr(err)
	if !ok {
		return false
	}
	msg := rerr.Error()
	return strings.HasPrefix(msg, "WRONGPASS") || strings.HasPrefix(msg, "NOAUTH") ||
		strings.HasPrefix(msg, "NOPERM") || strings.Contains(msg, "invalid password")
}

// Ping checks that Redis answers, for readiness. On a Redis Cluster it
// checks that every master this node would send a key to answers: a PING
// for each of pingSlots slots spread over the whole range, each sent to
// the master the client holds for that slot, so that neither a dead seed
// nor a dead master whose slots moved counts.
func (b *Backend) Ping(ctx context.Context) error {
	c, err := b.conn(ctx)
	if err != nil {
		return err
	}
	if c.Mode() != rueidis.ClientModeCluster {
		return b.wrap(ctx, "ping", c.Do(ctx, c.B().Ping().Build()).Error())
	}
	keys := slotKeys()
	cmds := make(rueidis.Commands, len(keys))
	for i, k := range keys {
		cmds[i] = c.B().Ping().Build().SetSlot(k)
	}
	for _, r := range c.DoMulti(ctx, cmds...) {
		if err := r.Error(); err != nil {
			return b.wrap(ctx, "ping", err)
		}
	}
	return nil
}

// routed returns cmd, a command without a key (PUBLISH, SUBSCRIBE), sent
// on a Redis Cluster to the master that serves key's slot rather than to
// any connection the client holds: those include the configured seeds,
// which the client keeps even when they are dead or no longer in the
// cluster. A master that fails is replaced in the client's slot map once
// the cluster promoted its replica.
func routed(c rueidis.Client, cmd rueidis.Completed, key string) rueidis.Completed {
	if c.Mode() != rueidis.ClientModeCluster {
		return cmd
	}
	return cmd.SetSlot(key)
}

// Close closes the connections. Calls after it fail with ErrClosed. It is
// safe to call more than once.
func (b *Backend) Close() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		return nil
	}
	b.closed = true
	if c := b.client.Swap(nil); c != nil {
		(*c).Close()
	}
	return nil
}

// wrap classifies an error of operation op: the caller's context ending,
// an error reply from Redis, or Redis being unreachable. Redis being
// unreachable and the replies that say "not now" are temporary (see
// temporaryError).
func (b *Backend) wrap(ctx context.Context, op string, err error) error {
	if err == nil {
		return nil
	}
	if ctxErr := ctx.Err(); ctxErr != nil && errors.Is(err, ctxErr) {
		return fmt.Errorf("redis: %s: %w", op, err)
	}
	if rerr, ok := rueidis.IsRedisErr(err); ok {
		if !rerr.IsNil() {
			b.replyErrors.Add(1)
		}
		if strings.HasPrefix(rerr.Error(), "WRONGTYPE") {
			return fmt.Errorf("redis: %s: %w", op, cache.ErrWrongType)
		}
		if temporaryReply(rerr.Error()) {
			return temporaryError{fmt.Errorf("redis: %s: %w", op, err)}
		}
		return fmt.Errorf("redis: %s: %w", op, err)
	}
	if errors.Is(err, rueidis.ErrClosing) {
		b.mu.Lock()
		closed := b.closed
		b.mu.Unlock()
		if closed {
			return ErrClosed
		}
	}
	b.unavailable.Add(1)
	return temporaryError{fmt.Errorf("%w: %s: %w", ErrUnavailable, op, err)}
}

// Stats are the backend's counters since Open.
type Stats struct {
	// ReplyErrors counts the error replies from Redis.
	ReplyErrors uint64
	// Unavailable counts the calls that failed because Redis could not
	// be reached (refused, timed out, failed over).
	Unavailable uint64
	// SubscriptionsLost counts the subscriptions that failed and were
	// made again.
	SubscriptionsLost uint64
	// ReplicaConfirmed counts the writes (task added, taken or settled)
	// that a replica confirmed; ReplicaLagged those that no replica
	// confirmed within ReplicaWait, though one was online; Unconfirmed
	// those whose connection failed before the confirmation came (they
	// are made again).
	ReplicaConfirmed, ReplicaLagged, Unconfirmed uint64
}

// Stats returns the backend's counters. It takes no lock.
func (b *Backend) Stats() Stats {
	return Stats{
		ReplyErrors:       b.replyErrors.Load(),
		Unavailable:       b.unavailable.Load(),
		SubscriptionsLost: b.subscriptionsLost.Load(),
		ReplicaConfirmed:  b.replicaConfirmed.Load(),
		ReplicaLagged:     b.replicaLagged.Load(),
		Unconfirmed:       b.unconfirmed.Load(),
	}
}
