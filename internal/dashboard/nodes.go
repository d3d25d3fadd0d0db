package dashboard

import (
	"context"
	"errors"
	"maps"
	"runtime"
	"runtime/metrics"
	"slices"
	"time"

	"github.com/stellarfw/stellar-go/cluster"
)

// MethodNodeInfo is the cluster method that answers a node's NodeInfo.
const MethodNodeInfo = "dashboard.node"

// NodeInfo is what a node says of itself to a dashboard on any node.
type NodeInfo struct {
	ID string `json:"id"`
	// HTTPAddr and TCPAddr are the listeners' addresses as bound ("" when
	// off).
	HTTPAddr string `json:"httpAddr,omitempty"`
	TCPAddr  string `json:"tcpAddr,omitempty"`
	// Framework is the version of Stellar for Go it runs.
	Framework string `json:"framework,omitempty"`
	// TasksRunning of Concurrency task workers are busy.
	TasksRunning int `json:"tasksRunning"`
	Concurrency  int `json:"concurrency"`
	// Connections are its open connections by transport.
	Connections map[string]int `json:"connections,omitempty"`
	// HTTPInFlight counts the HTTP requests it serves now.
	HTTPInFlight int `json:"httpInFlight"`
	// Dropped counts the cluster messages it dropped, by reason.
	Dropped map[string]uint64 `json:"dropped,omitempty"`
	// LateReplies counts the replies that came after their call ended.
	LateReplies uint64 `json:"lateReplies"`
	// Goroutines, HeapBytes and CPUs describe the process.
	Goroutines int    `json:"goroutines"`
	HeapBytes  uint64 `json:"heapBytes"`
	CPUs       int    `json:"cpus"`
}

// HandleNodeInfo makes this node answer MethodNodeInfo with local's
// figures and the process's. Every node registers it, whether or not it
// serves a dashboard, so that a dashboard on any node sees them all.
func HandleNodeInfo(c *cluster.Cluster, local func() NodeInfo) {
	c.HandleFunc(MethodNodeInfo, func(context.Context, *cluster.Call) (any, error) {
		in := local()
		in.Goroutines = runtime.NumGoroutine()
		in.HeapBytes = heapBytes()
		in.CPUs = runtime.GOMAXPROCS(0)
		return in, nil
	})
}

// heapBytes reads the bytes of live heap objects without stopping the
// world (runtime.ReadMemStats would).
func heapBytes() uint64 {
	s := []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}}
	metrics.Read(s)
	if s[0].Value.Kind() != metrics.KindUint64 {
		return 0
	}
	return s[0].Value.Uint64()
}

// NodeView is a live node as the page shows it: its membership record
// and, when it answered in time, what it says of itself.
type NodeView struct {
	ID         string           `json:"id"`
	Host       string           `json:"host"`
	PID        int              `json:"pid"`
	StartedAt  time.Time        `json:"startedAt"`
	Version    string           `json:"version"`
	Transports []string         `json:"transports,omitempty"`
	Stats      map[string]int64 `json:"stats,omitempty"`
	// Self is set for the node that serves this dashboard.
	Self bool `json:"self"`
	// Info is nil when the node did not answer (an older node, or one
	// too busy).
	Info *NodeInfo `json:"info,omitempty"`
}

// nodeCache keeps the answers of the last call to every node, so that
// the pictures built in between do not call again.
type nodeCache struct {
	at    time.Time
	infos map[string]NodeInfo
}

// nodeInfoTTL is how long the nodes' answers are reused; nodeInfoTimeout
// bounds the call that gathers them.
const (
	nodeInfoTTL     = time.Second
	nodeInfoTimeout = time.Second
)

// nodeInfos asks every node for its NodeInfo (at most once per
// nodeInfoTTL); the nodes that do not answer in time are left out.
func (d *Dashboard) nodeInfos(ctx context.Context) map[string]NodeInfo {
	d.mu.Lock()
	nc := d.nodes
	d.mu.Unlock()
	if !nc.at.IsZero() && time.Since(nc.at) < nodeInfoTTL {
		return nc.infos
	}
	ctx, cancel := context.WithTimeout(ctx, nodeInfoTimeout)
	defer cancel()
	replies, err := d.opts.Cluster.DoAll(ctx, MethodNodeInfo, nil)
	var pe *cluster.PartialError
	if err != nil && !errors.As(err, &pe) {
		d.log.Debug("dashboard: asking the nodes for their figures", "error", err.Error())
	}
	infos := map[string]NodeInfo{}
	for _, r := range replies {
		var in NodeInfo
		if r.Err != nil || r.Decode(&in) != nil {
			continue
		}
		infos[r.Node] = in
	}
	d.mu.Lock()
	d.nodes = nodeCache{at: time.Now(), infos: infos}
	d.mu.Unlock()
	return infos
}

func (d *Dashboard) fillNodes(ctx context.Context, s *Snapshot) error {
	if d.opts.Cluster == nil {
		return errors.New("no cluster")
	}
	ns, err := d.opts.Cluster.Nodes(ctx)
	if err != nil {
		return err
	}
	infos := d.nodeInfos(ctx)
	s.Nodes = make([]NodeView, 0, len(ns))
	for _, n := range ns {
		v := NodeView{ID: n.ID, Host: n.Host, PID: n.PID, StartedAt: n.StartedAt, Version: n.Version,
			Transports: n.Transports, Stats: n.Stats, Self: n.ID == d.opts.NodeID}
		if in, ok := infos[n.ID]; ok {
			v.Info = &in
		}
		s.Nodes = append(s.Nodes, v)
	}
	return nil
}

func (d *Dashboard) fillDropped(ctx context.Context, s *Snapshot) error {
	if d.opts.Cluster == nil {
		return errors.New("no cluster")
	}
	infos := d.nodeInfos(ctx)
	s.Dropped = []Dropped{}
	for _, id := range slices.Sorted(maps.Keys(infos)) {
		in := infos[id]
		dr := Dropped{Node: id, Reasons: in.Dropped}
		if dr.Reasons == nil {
			dr.Reasons = map[string]uint64{}
		}
		for _, n := range in.Dropped {
			dr.Total += n
		}
		s.Dropped = append(s.Dropped, dr)
	}
	return nil
}
