package cluster

import (
	"context"
	"time"
)

// Transport is what a Cluster needs from the backend that carries it: a
// publish/subscribe bus and a membership table whose records expire. The
// Redis backend implements it on PUBLISH/SUBSCRIBE and keys with a TTL;
// the memory backend in process, for one node.
//
// Channel names are relative ("all", "node:stellar-worker-1"); the
// transport adds its own prefix so that apps sharing a server stay apart.
// Messages and records are opaque bytes: signing and checking them is
// the Cluster's job, so a transport never sees the token.
//
// Every write of a record that another one may have replaced compares
// the stored bytes first, atomically (compare and set): of two nodes
// taking one id over, one wins; a node that was taken over never writes
// over its successor.
type Transport interface {
	// Publish sends msg to every subscriber of channel, this node's
	// included.
	Publish(ctx context.Context, channel string, msg []byte) error
	// Subscribe delivers each message published on channels to deliver,
	// calling subscribed once the subscription is in place, and blocks
	// until ctx ends (it then returns ctx.Err()) or the subscription fails
	// (Redis went away). The Cluster calls it again, with backoff, after a
	// failure. deliver must not block for long: it hands messages on.
	Subscribe(ctx context.Context, channels []string, subscribed func(), deliver func(channel string, msg []byte)) error
	// Join records a node for ttl, failing with ErrDuplicateNode when a
	// record with that id is stored.
	Join(ctx context.Context, id string, record []byte, ttl time.Duration) error
	// Replace records the node for ttl in place of old, only if the
	// record stored under id is still exactly old; otherwise (another
	// record, or none) it fails with ErrRecordChanged and writes nothing.
	Replace(ctx context.Context, id string, old, record []byte, ttl time.Duration) error
	// Heartbeat records the node for ttl again if the record stored
	// under id is prev, the node's previous one, or if none is (it is
	// gone after the server restarted). When another record is stored it
	// fails with ErrRecordChanged and writes nothing.
	Heartbeat(ctx context.Context, id string, prev, record []byte, ttl time.Duration) error
	// Record returns the record stored under id, nil when none is.
	Record(ctx context.Context, id string) ([]byte, error)
	// Nodes returns the live records by node id.
	Nodes(ctx context.Context) (map[string][]byte, error)
	// Leave removes the node's record if the record stored under id is
	// record, and does nothing otherwise (another run of the node took
	// the id over).
	Leave(ctx context.Context, id string, record []byte) error
}
