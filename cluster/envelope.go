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
)

var dropReasons = []string{DropBadSignature, DropStale, DropReplayed, DropMalformed, DropOversize, DropUnknownType, DropOverflow}

// envelopeVersion is the version of the wire format and of the signed
// encoding; a node drops as malformed what it does not know.
const envelopeVersion = 1

// envelope is one message between nodes. On the wire it is a JSON object;
// the signature is an HMAC-SHA256, keyed by the server token, over
// canonical(): every field but the signature, each length-prefixed, then
// the payload bytes exactly as sent. The token itself never travels.
type envelope struct {
	V       int             `json:"v"`
	Type    string          `json:"type"`
	From    string          `json:"from"`
	To      string          `json:"to,omitempty"`
	SentAt  int64           `json:"at"` // Unix milliseconds
	ID      string          `json:"id"`
	Payload json.RawMessage `json:"payload"`
	Sig     string          `json:"sig"`
}

// maxIDLen bounds the id and node names inside an envelope.
const maxIDLen = 256

func (e *envelope) canonical() []byte {
	var b []byte
	b = append(b, "stellar-cluster/"...)
	b = strconv.AppendInt(b, int64(e.V), 10)
	b = append(b, '\n')
	for _, s := range []string{e.Type, e.From, e.To, strconv.FormatInt(e.SentAt, 10), e.ID} {
		b = binary.AppendUvarint(b, uint64(len(s)))
		b = append(b, s...)
	}
	b = binary.AppendUvarint(b, uint64(len(e.Payload)))
	return append(b, e.Payload...)
}

// signer signs and verifies envelopes with one key.
type signer struct {
	key []byte
	// macs holds keyed HMACs for reuse: keying one costs two SHA-256
	// blocks, as much as signing a small message. Nil in a zero signer.
	macs *sync.Pool
}

func newSigner(key []byte) signer {
	return signer{key: key, macs: &sync.Pool{New: func() any { return hmac.New(sha256.New, key) }}}
}

func (s signer) mac(e *envelope) []byte {
	var m hash.Hash
	if s.macs != nil {
		m = s.macs.Get().(hash.Hash)
		defer s.macs.Put(m)
		m.Reset()
	} else {
		m = hmac.New(sha256.New, s.key)
	}
	m.Write(e.canonical())
	return m.Sum(nil)
}

// encode signs e and returns its wire form. e.Payload must be valid JSON.
func (s signer) encode(e *envelope) []byte {
	e.V = envelopeVersion
	e.Sig = base64.RawStdEncoding.EncodeToString(s.mac(e))
	var b bytes.Buffer
	b.Grow(len(e.Payload) + 160)
	b.WriteString(`{"v":`)
	b.WriteString(strconv.Itoa(e.V))
	writeField(&b, "type", e.Type)
	writeField(&b, "from", e.From)
	if e.To != "" {
		writeField(&b, "to", e.To)
	}
	b.WriteString(`,"at":`)
	b.WriteString(strconv.FormatInt(e.SentAt, 10))
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
	v, _ := json.Marshal(value) // a string always marshals
	b.Write(v)
}

// errDrop is a decoding failure with the reason to count it under.
type errDrop struct{ reason string }

func (e errDrop) Error() string { return "cluster: message dropped: " + e.reason }

// decode parses and authenticates a message as received. It checks, in
// order: size, form, signature. Freshness and replay are checked by the
// caller, which owns the clock and the replay window.
func (s signer) decode(raw []byte, maxBytes int) (*envelope, error) {
	if maxBytes > 0 && len(raw) > maxBytes {
		return nil, errDrop{DropOversize}
	}
	var e envelope
	if err := json.Unmarshal(raw, &e); err != nil {
		return nil, errDrop{DropMalformed}
	}
	if e.V != envelopeVersion || e.Type == "" || e.From == "" || e.ID == "" || e.SentAt <= 0 ||
		len(e.Type) > maxIDLen || len(e.From) > maxIDLen || len(e.To) > maxIDLen || len(e.ID) > maxIDLen ||
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
	return &e, nil
}

// newID returns a random message id.
func newID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// replayWindow remembers the ids seen within the freshness window, so that
// a captured message sent again is dropped. Ids older than the window need
// no memory: the staleness check drops them.
type replayWindow struct {
	mu     sync.Mutex
	seen   map[string]int64 // guarded by mu; id → expiry, Unix ms
	pruned int64            // guarded by mu; when seen was last pruned
}

// check records id, valid until expires, and reports whether it was new.
func (w *replayWindow) check(id string, now, expires int64) bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.seen == nil {
		w.seen = map[string]int64{}
	}
	if now-w.pruned > 1000 {
		for k, exp := range w.seen {
			if exp < now {
				delete(w.seen, k)
			}
		}
		w.pruned = now
	}
	if exp, ok := w.seen[id]; ok && exp >= now {
		return false
	}
	w.seen[id] = expires
	return true
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
func SignMessage(token, messageType, from, id string, sentAt time.Time, payload json.RawMessage) []byte {
	e := envelope{Type: messageType, From: from, SentAt: sentAt.UnixMilli(), ID: id, Payload: payload}
	return newSigner([]byte(token)).encode(&e)
}
