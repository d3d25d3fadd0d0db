package cluster

import (
	"bytes"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"hash"
	"strconv"
	"sync"
	"time"
)

// Reasons a received message is dropped, the keys of Cluster.Dropped.
const (
	DropBadSignature = "bad_signature"
	DropStale        = "stale"
	DropReplayed     = "replayed"
	DropMalformed    = "malformed"
	DropOversize     = "oversize"
	DropUnknownType  = "unknown_type"
	// DropOverflow counts messages dropped because the node's inbox was
	// full: the node was not keeping up.
	DropOverflow = "overflow"
	// DropBeforeStart counts messages signed before this node started:
	// a message captured before a restart and sent again, or one that
	// was in flight when the node started (or came from a node whose
	// clock is behind).
	DropBeforeStart = "before_start"
	// DropReplayFull counts messages signed no later than the oldest one
	// the replay memory had to forget to stay within
	// Config.ReplayMemory: it could no longer tell a replay from a first
	// delivery, so it refuses them.
	DropReplayFull = "replay_full"
	// DropExpired counts calls that arrived, or would have started,
	// after their caller's deadline.
	DropExpired = "expired"
)

var dropReasons = []string{DropBadSignature, DropStale, DropReplayed, DropMalformed, DropOversize, DropUnknownType, DropOverflow,
	DropBeforeStart, DropReplayFull, DropExpired}

// envelopeVersion is the version of the wire format and of the signed
// encoding; a node drops as malformed what it does not know. Version 2
// added the deadline, version 3 the trace context; nodes of different
// versions do not hear each other.
const envelopeVersion = 3

// envelope is one message between nodes. On the wire it is a JSON object;
// the signature is an HMAC-SHA256, keyed by the server token, over
// canonical(): every field but the signature, each length-prefixed, then
// the payload bytes exactly as sent. The token itself never travels.
type envelope struct {
	V      int    `json:"v"`
	Type   string `json:"type"`
	From   string `json:"from"`
	To     string `json:"to,omitempty"`
	SentAt int64  `json:"at"` // Unix milliseconds
	// Deadline, Unix milliseconds, is when the message stops being worth
	// handling: a call's deadline. Zero means none; calls always have one.
	Deadline int64 `json:"dl,omitempty"`
	// Trace and TraceState are the W3C traceparent and tracestate of the
	// sender's context (a call made by an action carries the action's
	// trace), signed with the rest.
	Trace      string          `json:"tp,omitempty"`
	TraceState string          `json:"ts,omitempty"`
	ID         string          `json:"id"`
	Payload    json.RawMessage `json:"payload"`
	Sig        string          `json:"sig"`

	mac [sha256.Size]byte // Sig decoded, once checked
}

// maxIDLen bounds the id and node names inside an envelope, and its
// traceparent.
const maxIDLen = 256

// maxTraceStateLen bounds the tracestate of an envelope.
const maxTraceStateLen = 1024

func (e *envelope) canonical() []byte {
	var b []byte
	b = append(b, "stellar-cluster/"...)
	b = strconv.AppendInt(b, int64(e.V), 10)
	b = append(b, '\n')
	for _, s := range []string{e.Type, e.From, e.To, strconv.FormatInt(e.SentAt, 10), strconv.FormatInt(e.Deadline, 10),
		e.Trace, e.TraceState, e.ID} {
		b = binary.AppendUvarint(b, uint64(len(s)))
		b = append(b, s...)
	}
	b = binary.AppendUvarint(b, uint64(len(e.Payload)))
	return append(b, e.Payload...)
}

// signer signs and verifies envelopes and membership records with one
// key.
type signer struct {
	key []byte
	// macs holds keyed HMACs for reuse: keying one costs two SHA-256
	// blocks, as much as signing a small message. Nil in a zero signer.
	macs *sync.Pool
}

func newSigner(key []byte) signer {
	return signer{key: key, macs: &sync.Pool{New: func() any { return hmac.New(sha256.New, key) }}}
}

// sum returns the HMAC of the concatenation of parts.
func (s signer) sum(parts ...[]byte) []byte {
	var m hash.Hash
	if s.macs != nil {
		m = s.macs.Get().(hash.Hash)
		defer s.macs.Put(m)
		m.Reset()
	} else {
		m = hmac.New(sha256.New, s.key)
	}
	for _, p := range parts {
		m.Write(p)
	}
	return m.Sum(nil)
}

func (s signer) mac(e *envelope) []byte { return s.sum(e.canonical()) }

// encodeSig is the text form of a signature in envelopes and records.
func encodeSig(mac []byte) string { return base64.RawStdEncoding.EncodeToString(mac) }

// encode signs e and returns its wire form. e.Payload must be valid JSON.
func (s signer) encode(e *envelope) []byte {
	e.V = envelopeVersion
	e.Sig = encodeSig(s.mac(e))
	var b bytes.Buffer
	b.Grow(len(e.Payload) + 180)
	b.WriteString(`{"v":`)
	b.WriteString(strconv.Itoa(e.V))
	writeField(&b, "type", e.Type)
	writeField(&b, "from", e.From)
	if e.To != "" {
		writeField(&b, "to", e.To)
	}
	b.WriteString(`,"at":`)
	b.WriteString(strconv.FormatInt(e.SentAt, 10))
	if e.Deadline != 0 {
		b.WriteString(`,"dl":`)
		b.WriteString(strconv.FormatInt(e.Deadline, 10))
	}
	if e.Trace != "" {
		writeField(&b, "tp", e.Trace)
	}
	if e.TraceState != "" {
		writeField(&b, "ts", e.TraceState)
	}
	writeField(&b, "id", e.ID)
	b.WriteString(`,"payload":`)
	b.Write(e.Payload)
	writeField(&b, "sig", e.Sig)
	b.WriteByte('}')
	return b.Bytes()
}

func writeField(b *bytes.Buffer, name, value string) {
	b.WriteString(`,"`)
	b.WriteString(name)
	b.WriteString(`":`)
	if plainString(value) { // as json.Marshal writes it, without its cost
		b.WriteByte('"')
		b.WriteString(value)
		b.WriteByte('"')
		return
	}
	v, _ := json.Marshal(value) // a string always marshals
	b.Write(v)
}

// plainString reports whether json.Marshal writes s as it is, between
// quotes: printable ASCII, nothing it escapes.
func plainString(s string) bool {
	for i := range len(s) {
		if c := s[i]; c < 0x20 || c >= 0x7f || c == '"' || c == '\\' || c == '<' || c == '>' || c == '&' {
			return false
		}
	}
	return true
}

// errDrop is a decoding failure with the reason to count it under.
type errDrop struct{ reason string }

func (e errDrop) Error() string { return "cluster: message dropped: " + e.reason }

// decode parses and authenticates a message as received. It checks, in
// order: size, form, signature. Freshness and replay are checked by the
// caller, which owns the clock and the replay memory. The signature is
// compared in constant time.
func (s signer) decode(raw []byte, maxBytes int) (*envelope, error) {
	if maxBytes > 0 && len(raw) > maxBytes {
		return nil, errDrop{DropOversize}
	}
	var e envelope
	if !parseEnvelope(raw, &e) {
		return nil, errDrop{DropMalformed}
	}
	if e.V != envelopeVersion || e.Type == "" || e.From == "" || e.ID == "" || e.SentAt <= 0 || e.Deadline < 0 ||
		len(e.Type) > maxIDLen || len(e.From) > maxIDLen || len(e.To) > maxIDLen || len(e.ID) > maxIDLen ||
		len(e.Trace) > maxIDLen || len(e.TraceState) > maxTraceStateLen ||
		len(e.Payload) == 0 || e.Sig == "" {
		return nil, errDrop{DropMalformed}
	}
	sig, err := base64.RawStdEncoding.DecodeString(e.Sig)
	if err != nil || len(sig) != sha256.Size {
		return nil, errDrop{DropMalformed}
	}
	if !hmac.Equal(sig, s.mac(&e)) {
		return nil, errDrop{DropBadSignature}
	}
	copy(e.mac[:], sig)
	return &e, nil
}

// newID returns a random message id.
func newID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// replayMemory refuses a message it has been given before. It remembers
// each accepted message by its signature (which covers every field, so a
// replay carries the same one) for as long as the message is fresh, and
// at most limit of them. Besides, it refuses every message signed before
// the node started: the memory of the node's previous run is gone, so
// anything older may have been handled already. When it is full it
// forgets the oldest entry by signed time and from then on refuses
// whatever is not younger: a flood shrinks the window within which a late
// message is still taken, and never lets a replay through.
type replayMemory struct {
	limit int   // at least 1
	start int64 // least signed time taken, Unix ms: the node's start

	mu    sync.Mutex
	floor int64                          // guarded by mu; least signed time taken, ≥ start
	seen  map[[sha256.Size]byte]struct{} // guarded by mu
	order replayHeap                     // guarded by mu; the entries of seen, oldest signed time first
}

type replayEntry struct {
	sig [sha256.Size]byte
	at  int64
}

// replayHeap is a min-heap of entries by signed time, without
// container/heap's boxing of every entry.
type replayHeap []replayEntry

func (h *replayHeap) push(e replayEntry) {
	*h = append(*h, e)
	a := *h
	for i := len(a) - 1; i > 0; {
		parent := (i - 1) / 2
		if a[parent].at <= a[i].at {
			break
		}
		a[parent], a[i] = a[i], a[parent]
		i = parent
	}
}

func (h *replayHeap) pop() replayEntry {
	a := *h
	top := a[0]
	last := len(a) - 1
	a[0] = a[last]
	a = a[:last]
	for i := 0; ; {
		l, r, m := 2*i+1, 2*i+2, i
		if l < len(a) && a[l].at < a[m].at {
			m = l
		}
		if r < len(a) && a[r].at < a[m].at {
			m = r
		}
		if m == i {
			break
		}
		a[i], a[m] = a[m], a[i]
		i = m
	}
	*h = a
	return top
}

func newReplayMemory(start int64, limit int) *replayMemory {
	return &replayMemory{limit: max(limit, 1), start: start, floor: start, seen: map[[sha256.Size]byte]struct{}{}}
}

// check records a message signed at at (Unix ms) whose signature is sig,
// and returns "" if it is to be taken, else the reason to drop it.
// Entries signed before forgetBefore are forgotten first: the staleness
// check refuses those messages without any memory.
func (m *replayMemory) check(sig [sha256.Size]byte, at, forgetBefore int64) string {
	if at < m.start {
		return DropBeforeStart
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	for len(m.order) > 0 && m.order[0].at < forgetBefore {
		delete(m.seen, m.order.pop().sig)
	}
	if at < m.floor {
		return DropReplayFull
	}
	if _, ok := m.seen[sig]; ok {
		return DropReplayed
	}
	for len(m.order) >= m.limit {
		old := m.order.pop()
		delete(m.seen, old.sig)
		m.floor = max(m.floor, old.at+1)
	}
	m.seen[sig] = struct{}{}
	m.order.push(replayEntry{sig: sig, at: at})
	return ""
}

// len returns how many messages the memory holds.
func (m *replayMemory) len() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return len(m.seen)
}

// checkFresh reports whether a message sent at sentAt is within window of
// now, either way: a time far in the future is as suspect as an old one.
func checkFresh(sentAt int64, now time.Time, window time.Duration) bool {
	d := now.UnixMilli() - sentAt
	return d <= window.Milliseconds() && -d <= window.Milliseconds()
}

var errPayload = errors.New("cluster: payload is not valid JSON")

// marshalPayload turns a user's payload into JSON bytes: json.RawMessage
// and []byte that hold valid JSON go as they are.
func marshalPayload(v any) (json.RawMessage, error) {
	switch p := v.(type) {
	case nil:
		return json.RawMessage("null"), nil
	case json.RawMessage:
		if !json.Valid(p) {
			return nil, errPayload
		}
		return compact(p)
	}
	b, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	return b, nil
}

func compact(p []byte) (json.RawMessage, error) {
	var b bytes.Buffer
	if err := json.Compact(&b, p); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

// SignMessage returns the wire form of a message signed with token, as a
// node with that token and id from would send it. It is for tools and
// tests that speak to a cluster from outside a node; nodes use Publish.
// It signs no deadline, so a call (type stellar.rpc.request) built with
// it is dropped as malformed.
func SignMessage(token, messageType, from, id string, sentAt time.Time, payload json.RawMessage) []byte {
	e := envelope{Type: messageType, From: from, SentAt: sentAt.UnixMilli(), ID: id, Payload: payload}
	return newSigner([]byte(token)).encode(&e)
}
