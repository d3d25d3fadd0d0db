package cluster

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Node is the membership record of a live node.
type Node struct {
	ID string `json:"id"`
	// Instance is random for each start of the node: two records with
	// one ID and different instances are two runs of the node.
	Instance string `json:"instance"`
	Host     string `json:"host"`
	PID      int    `json:"pid"`
	// Process tells the node's process from any other on its machine,
	// where the system says (on Linux: the kernel's boot id, the pid
	// namespace and the process's start time), so that a run of the node
	// starting on the same machine can tell whether the process of a
	// record under its id still runs. Empty where the system does not say.
	Process    string    `json:"process,omitempty"`
	StartedAt  time.Time `json:"startedAt"`
	Version    string    `json:"version"`
	Transports []string  `json:"transports,omitempty"`
	// Stats are the figures from Config.Stats as of the node's last
	// heartbeat (tasksRunning, connections under stellar).
	Stats map[string]int64 `json:"stats,omitempty"`
	// WrittenAt is when the node wrote the record, by its clock.
	WrittenAt time.Time `json:"writtenAt"`
	// ExpiresAt is when the record stops counting, WrittenAt plus the
	// node's Config.NodeTTL: after it the node is no member, whatever the
	// backend still holds.
	ExpiresAt time.Time `json:"expiresAt"`
}

// Uptime is how long the node has been running, as of now.
func (n Node) Uptime(now time.Time) time.Duration { return now.Sub(n.StartedAt) }

// recordVersion is the version of the membership record's wire format.
// It moves with envelopeVersion, so that nodes that cannot hear each
// other's messages do not list each other either.
const recordVersion = 3

// record is a membership record as the transport stores it: the node's
// JSON, and an HMAC-SHA256 keyed by the token over exactly those bytes
// (so that what is checked is what was signed, field by field, times
// included).
type record struct {
	V    int             `json:"v"`
	Node json.RawMessage `json:"node"`
	Sig  string          `json:"sig"`
}

// recordDomain starts what a record's signature covers, so that no
// record's signature is also a message's.
var recordDomain = []byte("stellar-node/2\n")

// SignRecord returns the membership record of n as a node signed with
// token stores it. It is for tools and tests that write records from
// outside a node; nodes write their own.
func SignRecord(token string, n Node) []byte { return newSigner([]byte(token)).signRecord(n) }

// signRecord returns the stored form of n, signed.
func (s signer) signRecord(n Node) []byte {
	body, _ := json.Marshal(n) // a Node always marshals
	return s.signRecordBody(body)
}

// signRecordBody returns the record of a node's JSON, body, signed. The
// body goes in byte for byte (json.Marshal would re-escape it).
func (s signer) signRecordBody(body []byte) []byte {
	var b []byte
	b = append(b, `{"v":`...)
	b = strconv.AppendInt(b, recordVersion, 10)
	b = append(b, `,"node":`...)
	b = append(b, body...)
	b = append(b, `,"sig":"`...)
	b = append(b, encodeSig(s.sum(recordDomain, body))...)
	return append(b, `"}`...)
}

// Reasons a record is not a member.
var (
	errRecordMalformed = errors.New("cluster: malformed membership record")
	errRecordSignature = errors.New("cluster: membership record not signed with this cluster's token")
	errRecordExpired   = errors.New("cluster: membership record expired")
)

// parseRecord checks the record stored under id and returns its node if
// it is a live member at now: well formed, signed with the key (compared
// in constant time), naming id, and not expired by its own signed expiry.
// A record past its expiry comes back with errRecordExpired and its
// node.
func (s signer) parseRecord(id string, raw []byte, now time.Time) (Node, error) {
	var r record
	if err := json.Unmarshal(raw, &r); err != nil || r.V != recordVersion || len(r.Node) == 0 {
		return Node{}, errRecordMalformed
	}
	sig, err := base64.RawStdEncoding.DecodeString(r.Sig)
	if err != nil || len(sig) != sha256.Size {
		return Node{}, errRecordMalformed
	}
	if !hmac.Equal(sig, s.sum(recordDomain, r.Node)) {
		return Node{}, errRecordSignature
	}
	var n Node
	if err := json.Unmarshal(r.Node, &n); err != nil || n.ID != id || n.Instance == "" ||
		n.WrittenAt.IsZero() || !n.ExpiresAt.After(n.WrittenAt) {
		return Node{}, errRecordMalformed
	}
	if !now.Before(n.ExpiresAt) {
		return n, errRecordExpired
	}
	return n, nil
}

// ReadNodes lists the live nodes of the cluster on t whose records are
// signed with token, sorted by id. A record counts until the expiry it
// was signed with, whatever the transport still holds: one written back
// after its node died is not a member. It needs no running Cluster: the
// stellar cluster status command uses it.
//
// When t holds records but none is signed with token, ReadNodes returns
// an error wrapping ErrTokenMismatch, so that a wrong token is not taken
// for an empty cluster (which is no records, or only expired ones).
func ReadNodes(ctx context.Context, t Transport, token []byte) ([]Node, error) {
	nodes, unsigned, err := readRecords(ctx, t, newSigner(token), time.Now())
	if err == nil && len(nodes) == 0 && unsigned > 0 {
		return nil, fmt.Errorf("%w: %d membership records, none signed with this token", ErrTokenMismatch, unsigned)
	}
	return nodes, err
}

func readNodes(ctx context.Context, t Transport, s signer, now time.Time) ([]Node, error) {
	nodes, _, err := readRecords(ctx, t, s, now)
	return nodes, err
}

// readRecords returns the live nodes on t, and how many records were
// not signed with s's key.
func readRecords(ctx context.Context, t Transport, s signer, now time.Time) (nodes []Node, unsigned int, err error) {
	recs, err := t.Nodes(ctx)
	if err != nil {
		return nil, 0, fmt.Errorf("cluster: listing nodes: %w", err)
	}
	nodes = make([]Node, 0, len(recs))
	for id, raw := range recs {
		n, err := s.parseRecord(id, raw, now)
		switch {
		case err == nil:
			nodes = append(nodes, n)
		case errors.Is(err, errRecordSignature):
			unsigned++
		}
	}
	slices.SortFunc(nodes, func(a, b Node) int { return strings.Compare(a.ID, b.ID) })
	return nodes, unsigned, nil
}
