package redis

import (
	"context"
	"strconv"
	"strings"
	"time"

	"github.com/redis/rueidis"

	"github.com/stellarfw/stellar-go/cluster"
)

var _ cluster.Transport = (*ClusterTransport)(nil)

// ClusterTransport carries a cluster on Redis: messages on PUBLISH and
// SUBSCRIBE channels named prefix+"cluster:db"+N+":"+channel, and
// membership as one key per node (prefix+"cluster:node:"+id) that expires
// unless its node renews it, plus a set of ids to find them without SCAN.
//
// Keys live in the database the URL selects, but pub/sub channels are
// global to the server: the database number in the channel names keeps
// clusters on different databases of one server from hearing each other,
// as the prefix keeps apart those on one database. (Redis Cluster has
// database 0 only; Sentinel set-ups use database 0.)
type ClusterTransport struct {
	b        *Backend
	channels string // prefix of every channel name
}

// Cluster returns the backend's cluster transport.
func (b *Backend) Cluster() *ClusterTransport {
	return &ClusterTransport{b: b, channels: b.cfg.Prefix + "cluster:db" + strconv.Itoa(b.opt.SelectDB) + ":"}
}

// Channel returns the Redis channel that carries the cluster's channel
// name ("all", "node:<id>"), for an operator watching with SUBSCRIBE.
func (t *ClusterTransport) Channel(name string) string { return t.channels + name }

func (t *ClusterTransport) nodeKey(id string) string { return t.b.cfg.Prefix + "cluster:node:" + id }
func (t *ClusterTransport) nodesKey() string         { return t.b.cfg.Prefix + "cluster:nodes" }

// Publish publishes msg on channel.
func (t *ClusterTransport) Publish(ctx context.Context, channel string, msg []byte) error {
	c, err := t.b.conn(ctx)
	if err != nil {
		return err
	}
	full := t.Channel(channel)
	cmd := routed(c, c.B().Publish().Channel(full).Message(rueidis.BinaryString(msg)).Build(), full)
	return t.b.wrap(ctx, "publish", c.Do(ctx, cmd).Error())
}

// Subscribe subscribes to channels and delivers their messages until ctx
// ends or the connection fails.
func (t *ClusterTransport) Subscribe(ctx context.Context, channels []string, subscribed func(), deliver func(string, []byte)) error {
	full := make([]string, len(channels))
	for i, ch := range channels {
		full[i] = t.Channel(ch)
	}
	strip := len(t.channels)
	return t.b.subscribe(ctx, "subscribe", full, subscribed, func(channel string, msg []byte) {
		if strings.HasPrefix(channel, t.channels) {
			deliver(channel[strip:], msg)
		}
	})
}

// Join records the node unless a record with its id is live.
func (t *ClusterTransport) Join(ctx context.Context, id string, record []byte, ttl time.Duration) error {
	c, err := t.b.conn(ctx)
	if err != nil {
		return err
	}
	set := c.B().Set().Key(t.nodeKey(id)).Value(rueidis.BinaryString(record)).Nx().PxMilliseconds(ttl.Milliseconds()).Build()
	if err := c.Do(ctx, set).Error(); err != nil {
		if rueidis.IsRedisNil(err) {
			return cluster.ErrDuplicateNode
		}
		return t.b.wrap(ctx, "cluster join", err)
	}
	return t.b.wrap(ctx, "cluster join", c.Do(ctx, c.B().Sadd().Key(t.nodesKey()).Member(id).Build()).Error())
}

// The membership scripts compare the stored record with the one the
// caller expects and write only if they match, as one step.
var (
	// KEYS: node. ARGV: expected, record, ttl (ms), "1" to write also
	// when no record is stored. Returns 1 if written, 0 if another record
	// (or, unless allowed, none) is stored.
	clusterSwapScript = rueidis.NewLuaScript(`
local cur = redis.call('GET', KEYS[1])
if cur == false then
  if ARGV[4] ~= '1' then return 0 end
elseif cur ~= ARGV[1] then
  return 0
end
redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[3])
return 1`)

	// KEYS: node. ARGV: expected. Deletes the record if it is the one
	// expected; returns the number of keys deleted.
	clusterLeaveScript = rueidis.NewLuaScript(`
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0`)
)

// Replace records the node in place of old, if old is the stored record.
func (t *ClusterTransport) Replace(ctx context.Context, id string, old, record []byte, ttl time.Duration) error {
	return t.swap(ctx, "cluster replace", id, old, record, ttl, false)
}

// Heartbeat records the node again for ttl, if the stored record is
// prev or none.
func (t *ClusterTransport) Heartbeat(ctx context.Context, id string, prev, record []byte, ttl time.Duration) error {
	return t.swap(ctx, "cluster heartbeat", id, prev, record, ttl, true)
}

func (t *ClusterTransport) swap(ctx context.Context, op, id string, expected, record []byte, ttl time.Duration, orNone bool) error {
	c, err := t.b.conn(ctx)
	if err != nil {
		return err
	}
	none := "0"
	if orNone {
		none = "1"
	}
	n, err := clusterSwapScript.Exec(ctx, c, []string{t.nodeKey(id)},
		[]string{string(expected), string(record), strconv.FormatInt(ttl.Milliseconds(), 10), none}).AsInt64()
	if err != nil {
		return t.b.wrap(ctx, op, err)
	}
	if n == 0 {
		return cluster.ErrRecordChanged
	}
	return t.b.wrap(ctx, op, c.Do(ctx, c.B().Sadd().Key(t.nodesKey()).Member(id).Build()).Error())
}

// Record returns the record stored under id, nil if none.
func (t *ClusterTransport) Record(ctx context.Context, id string) ([]byte, error) {
	c, err := t.b.conn(ctx)
	if err != nil {
		return nil, err
	}
	b, err := c.Do(ctx, c.B().Get().Key(t.nodeKey(id)).Build()).AsBytes()
	if rueidis.IsRedisNil(err) {
		return nil, nil
	}
	if err != nil {
		return nil, t.b.wrap(ctx, "cluster record", err)
	}
	return b, nil
}

// Nodes returns the live records, forgetting ids whose record expired.
func (t *ClusterTransport) Nodes(ctx context.Context) (map[string][]byte, error) {
	c, err := t.b.conn(ctx)
	if err != nil {
		return nil, err
	}
	ids, err := c.Do(ctx, c.B().Smembers().Key(t.nodesKey()).Build()).AsStrSlice()
	if err != nil {
		return nil, t.b.wrap(ctx, "cluster nodes", err)
	}
	out := make(map[string][]byte, len(ids))
	if len(ids) == 0 {
		return out, nil
	}
	cmds := make(rueidis.Commands, len(ids))
	for i, id := range ids {
		cmds[i] = c.B().Get().Key(t.nodeKey(id)).Build()
	}
	var gone []string
	for i, r := range c.DoMulti(ctx, cmds...) {
		b, err := r.AsBytes()
		switch {
		case rueidis.IsRedisNil(err):
			gone = append(gone, ids[i])
		case err != nil:
			return nil, t.b.wrap(ctx, "cluster nodes", err)
		default:
			out[ids[i]] = b
		}
	}
	if len(gone) > 0 {
		// A record that expired stays expired: its node would Join again.
		// One that was written again in the meantime (its node joined
		// between the read and the removal; the index and the records are
		// on different slots, so no script can do both) goes back in the
		// index at once rather than at its node's next heartbeat.
		_ = c.Do(ctx, c.B().Srem().Key(t.nodesKey()).Member(gone...).Build()).Error()
		for i, id := range gone {
			cmds[i] = c.B().Exists().Key(t.nodeKey(id)).Build()
		}
		for i, r := range c.DoMulti(ctx, cmds[:len(gone)]...) {
			if n, err := r.AsInt64(); err == nil && n == 1 {
				_ = c.Do(ctx, c.B().Sadd().Key(t.nodesKey()).Member(gone[i]).Build()).Error()
			}
		}
	}
	return out, nil
}

// Leave removes the node's record, if record is the stored one.
func (t *ClusterTransport) Leave(ctx context.Context, id string, record []byte) error {
	c, err := t.b.conn(ctx)
	if err != nil {
		return err
	}
	n, err := clusterLeaveScript.Exec(ctx, c, []string{t.nodeKey(id)}, []string{string(record)}).AsInt64()
	if err != nil {
		return t.b.wrap(ctx, "cluster leave", err)
	}
	if n == 0 {
		return nil // another run's record, or none
	}
	return t.b.wrap(ctx, "cluster leave", c.Do(ctx, c.B().Srem().Key(t.nodesKey()).Member(id).Build()).Error())
}
