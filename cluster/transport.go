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
// Messages are opaque bytes: signing and checking them is the Cluster's
// job, so a transport never sees the token.
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
	// record with that id is live.
	Join(ctx context.Context, id string, record []byte, ttl time.Duration) error
	// Heartbeat records the node for ttl again, whether or not its record
	// is still there (it is gone after the server restarted).
	Heartbeat(ctx context.Context, id string, record []byte, ttl time.Duration) error
	// Nodes returns the live records by node id.
	Nodes(ctx context.Context) (map[string][]byte, error)
	// Leave removes the node's record.
	Leave(ctx context.Context, id string) error
}
