package cluster

import (
	"bytes"
	"encoding/json"
	"strconv"
)

// parseEnvelope fills e from raw as json.Unmarshal would, reading the
// layout signer.encode writes (fields in its order, strings without
// escapes) directly; anything else, valid or not, is left to
// json.Unmarshal. Most of a small call's decoding time was
// encoding/json's, which scans the whole message twice before it fills
// the fields. ok is false when raw is not JSON json.Unmarshal accepts
// into an envelope.
func parseEnvelope(raw []byte, e *envelope) (ok bool) {
	if fastEnvelope(raw, e) {
		return true
	}
	*e = envelope{}
	return json.Unmarshal(raw, e) == nil
}

// fastEnvelope reads the encoder's layout; it reports false, with e in
// any state, for anything else.
func fastEnvelope(raw []byte, e *envelope) bool {
	p := envParser{b: raw}
	if !p.lit(`{"v":`) || !p.int(func(n int64) { e.V = int(n) }) {
		return false
	}
	if !p.lit(`,"type":`) || !p.str(&e.Type) || !p.lit(`,"from":`) || !p.str(&e.From) {
		return false
	}
	if p.has(`,"to":`) && (!p.lit(`,"to":`) || !p.str(&e.To)) {
		return false
	}
	if !p.lit(`,"at":`) || !p.int(func(n int64) { e.SentAt = n }) {
		return false
	}
	if p.has(`,"dl":`) && (!p.lit(`,"dl":`) || !p.int(func(n int64) { e.Deadline = n })) {
		return false
	}
	if !p.lit(`,"id":`) || !p.str(&e.ID) || !p.lit(`,"payload":`) {
		return false
	}
	// The payload runs to the signature, the last field: base64 holds no
	// quote, so the last `,"sig":"` starts it.
	rest := p.b[p.i:]
	cut := bytes.LastIndex(rest, []byte(`,"sig":`))
	if cut <= 0 {
		return false
	}
	payload := rest[:cut]
	if isSpace(payload[0]) || isSpace(payload[len(payload)-1]) || !json.Valid(payload) {
		return false
	}
	p.i += cut
	if !p.lit(`,"sig":`) || !p.str(&e.Sig) || !p.lit(`}`) || p.i != len(p.b) {
		return false
	}
	e.Payload = bytes.Clone(payload)
	return true
}

type envParser struct {
	b []byte
	i int
}

func (p *envParser) has(s string) bool { return bytes.HasPrefix(p.b[p.i:], []byte(s)) }

func (p *envParser) lit(s string) bool {
	if !p.has(s) {
		return false
	}
	p.i += len(s)
	return true
}

// str reads a string of printable ASCII without escapes.
func (p *envParser) str(dst *string) bool {
	if p.i >= len(p.b) || p.b[p.i] != '"' {
		return false
	}
	for j := p.i + 1; j < len(p.b); j++ {
		switch c := p.b[j]; {
		case c == '"':
			*dst = string(p.b[p.i+1 : j])
			p.i = j + 1
			return true
		case c < 0x20 || c >= 0x7f || c == '\\':
			return false
		}
	}
	return false
}

// int reads a JSON integer that fits an int64, as encoding/json reads
// one into an int64 or an int (64-bit).
func (p *envParser) int(set func(int64)) bool {
	j := p.i
	if j < len(p.b) && p.b[j] == '-' {
		j++
	}
	start := j
	for j < len(p.b) && '0' <= p.b[j] && p.b[j] <= '9' {
		j++
	}
	if j == start || (p.b[start] == '0' && j-start > 1) {
		return false // no digits, or a leading zero JSON forbids
	}
	n, err := strconv.ParseInt(string(p.b[p.i:j]), 10, 64)
	if err != nil {
		return false
	}
	set(n)
	p.i = j
	return true
}

func isSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\n' || c == '\r' }
