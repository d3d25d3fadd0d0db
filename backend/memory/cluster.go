package memory

import (
	"bytes"
	"context"
	"sync"
	"time"

	"github.com/stellarfw/stellar-go/cluster"
)

var _ cluster.Transport = (*ClusterTransport)(nil)

// ClusterTransport carries a cluster inside one process: the node talks
// to itself through the same API as on Redis. Several Clusters may share
// one (the conformance tests run several nodes on it).
type ClusterTransport struct {
	now func() time.Time

	mu    sync.Mutex
	subs  map[string]map[*memSub]struct{} // guarded by mu; channel → subscribers
	nodes map[string]memNode              // guarded by mu
}

type memSub struct {
	ch   chan memMsg
	done chan struct{}
}

type memMsg struct {
	channel string
	data    []byte
}

type memNode struct {
	record  []byte
	expires time.Time
}

func newClusterTransport(now func() time.Time) *ClusterTransport {
	return &ClusterTransport{now: now, subs: map[string]map[*memSub]struct{}{}, nodes: map[string]memNode{}}
}

// Cluster returns the backend's cluster transport.
func (b *Backend) Cluster() *ClusterTransport { return b.cluster }

// Publish hands msg to every subscriber of channel, waiting while one is
// behind (bounded by ctx).
func (t *ClusterTransport) Publish(ctx context.Context, channel string, msg []byte) error {
	t.mu.Lock()
	subs := make([]*memSub, 0, len(t.subs[channel]))
	for s := range t.subs[channel] {
		subs = append(subs, s)
	}
	t.mu.Unlock()
	data := append([]byte(nil), msg...)
	for _, s := range subs {
		select {
		case s.ch <- memMsg{channel: channel, data: data}:
		case <-s.done:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	return nil
}

// Subscribe delivers the messages of channels until ctx ends.
func (t *ClusterTransport) Subscribe(ctx context.Context, channels []string, subscribed func(), deliver func(string, []byte)) error {
	s := &memSub{ch: make(chan memMsg, 1024), done: make(chan struct{})}
	t.mu.Lock()
	for _, c := range channels {
		if t.subs[c] == nil {
			t.subs[c] = map[*memSub]struct{}{}
		}
		t.subs[c][s] = struct{}{}
	}
	t.mu.Unlock()
	defer func() {
		t.mu.Lock()
		for _, c := range channels {
			delete(t.subs[c], s)
			if len(t.subs[c]) == 0 {
				delete(t.subs, c)
			}
		}
		t.mu.Unlock()
		close(s.done)
	}()
	subscribed()
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case m := <-s.ch:
			deliver(m.channel, m.data)
		}
	}
}

// Join records the node, failing if its id is live.
func (t *ClusterTransport) Join(ctx context.Context, id string, record []byte, ttl time.Duration) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	if _, ok := t.liveLocked(id); ok {
		return cluster.ErrDuplicateNode
	}
	t.storeLocked(id, record, ttl)
	return nil
}

// Replace records the node in place of old, if old is the stored record.
func (t *ClusterTransport) Replace(ctx context.Context, id string, old, record []byte, ttl time.Duration) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	if cur, ok := t.liveLocked(id); !ok || !bytes.Equal(cur, old) {
		return cluster.ErrRecordChanged
	}
	t.storeLocked(id, record, ttl)
	return nil
}

// Heartbeat records the node again for ttl, if the stored record is
// prev or none.
func (t *ClusterTransport) Heartbeat(ctx context.Context, id string, prev, record []byte, ttl time.Duration) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	if cur, ok := t.liveLocked(id); ok && !bytes.Equal(cur, prev) {
		return cluster.ErrRecordChanged
	}
	t.storeLocked(id, record, ttl)
	return nil
}

// Record returns the record stored under id, nil if none.
func (t *ClusterTransport) Record(ctx context.Context, id string) ([]byte, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	rec, _ := t.liveLocked(id)
	return rec, nil
}

// liveLocked returns the record stored under id, unless it expired.
func (t *ClusterTransport) liveLocked(id string) ([]byte, bool) {
	n, ok := t.nodes[id]
	if !ok || !t.now().Before(n.expires) {
		return nil, false
	}
	return n.record, true
}

func (t *ClusterTransport) storeLocked(id string, record []byte, ttl time.Duration) {
	t.nodes[id] = memNode{record: append([]byte(nil), record...), expires: t.now().Add(ttl)}
}

// Nodes returns the live records.
func (t *ClusterTransport) Nodes(ctx context.Context) (map[string][]byte, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	now := t.now()
	out := make(map[string][]byte, len(t.nodes))
	for id, n := range t.nodes {
		if !now.Before(n.expires) {
			delete(t.nodes, id)
			continue
		}
		out[id] = n.record
	}
	return out, nil
}

// Leave removes the node's record, if record is the stored one.
func (t *ClusterTransport) Leave(ctx context.Context, id string, record []byte) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	if cur, ok := t.liveLocked(id); ok && bytes.Equal(cur, record) {
		delete(t.nodes, id)
	}
	return nil
}
