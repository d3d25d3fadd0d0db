package cluster

import (
	"bytes"
	"encoding/json"
	"errors"
	"strconv"
	"testing"
	"time"
)

// FuzzDecode feeds the envelope decoder arbitrary bytes: it must never
// panic, and what it accepts must be exactly what a node with the token
// signed.
func FuzzDecode(f *testing.F) {
	s := signer{key: []byte("fuzz-token")}
	good := SignMessage("fuzz-token", "chat", "node-1", "id-1", time.UnixMilli(1700000000000), json.RawMessage(`{"a":[1,2,{"b":"c"}]}`))
	f.Add(good)
	f.Add(SignMessage("other", "chat", "node-1", "id-1", time.UnixMilli(1), json.RawMessage(`null`)))
	f.Add([]byte(`{"v":2,"type":"t","from":"f","at":1,"id":"i","payload":{},"sig":"AAAA"}`))
	traced := envelope{Type: "t", From: "f", SentAt: 1700000000000, ID: "i", Payload: json.RawMessage(`{}`),
		Trace: "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01", TraceState: "k=v"}
	f.Add(s.encode(&traced))
	f.Add([]byte(`{`))
	f.Add([]byte(``))
	f.Add(bytes.Repeat([]byte("x"), 300))
	f.Fuzz(func(t *testing.T, raw []byte) {
		e, err := s.decode(raw, 256)
		if err != nil {
			if _, ok := err.(errDrop); !ok {
				t.Fatalf("error %v is not a drop reason", err)
			}
			return
		}
		if len(raw) > 256 {
			t.Fatalf("accepted %d bytes, more than the maximum", len(raw))
		}
		// Re-signing what was accepted gives the signature it carried.
		again := *e
		s.encode(&again)
		if again.Sig != e.Sig {
			t.Fatalf("accepted a message whose signature does not match: %q", raw)
		}
	})
}

// fuzzStart is the start of the node that FuzzEnvelope feeds: fuzzed
// messages signed before it are dropped as before_start.
var fuzzStart = time.UnixMilli(1_700_000_000_000)

// FuzzEnvelope reaches past the signature: the fuzzer writes the
// envelope's body, the test signs whatever fields it holds with the
// node's token and hands the result to a node's receiving path (decode,
// freshness, the replay memory, the deadline, the call's parsing). It
// must never panic; it must take exactly the messages whose fields are
// valid and fresh, and take each only once.
func FuzzEnvelope(f *testing.F) {
	at := fuzzStart.Add(time.Second).UnixMilli()
	for _, seed := range []string{
		`{"type":"chat","from":"node-1","at":` + itoa(at) + `,"id":"id-1","payload":{"text":"hi"}}`,
		`{"type":"stellar.rpc.request","from":"node-1","to":"fuzz","at":` + itoa(at) + `,"dl":` + itoa(at+1000) + `,"id":"c-1","payload":{"m":"who","a":null}}`,
		`{"type":"stellar.rpc.request","from":"node-1","at":` + itoa(at) + `,"dl":` + itoa(at-1) + `,"id":"c-2","payload":{"m":"who"}}`,
		`{"type":"stellar.rpc.reply","from":"node-1","to":"fuzz","at":` + itoa(at) + `,"id":"r-1","payload":{"call":"c-1","ok":true,"r":1}}`,
		`{"type":"chat","from":"node-1","at":1,"id":"old","payload":null}`,
		`{"type":"","from":"","at":0,"id":"","payload":[]}`,
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		var e envelope
		if json.Unmarshal(body, &e) != nil {
			return // nothing to sign: FuzzDecode covers raw bytes
		}
		c := New()
		now := fuzzStart.Add(2 * time.Second)
		c.cfg = Config{ID: "fuzz", Token: "fuzz-token", MaxMessageBytes: 4096, Now: func() time.Time { return now }}
		c.cfg.setDefaults()
		c.sign = newSigner([]byte(c.cfg.Token))
		c.replay = newReplayMemory(fuzzStart.UnixMilli(), 16)
		raw := c.sign.encode(&e)

		got := c.accept(raw)
		window := c.cfg.MessageWindow.Milliseconds()
		valid := e.Type != "" && e.From != "" && e.ID != "" && e.SentAt > 0 && e.Deadline >= 0 && len(e.Payload) > 0 &&
			len(e.Type) <= maxIDLen && len(e.From) <= maxIDLen && len(e.To) <= maxIDLen && len(e.ID) <= maxIDLen && len(raw) <= 4096
		take := valid && now.UnixMilli()-e.SentAt <= window && e.SentAt-now.UnixMilli() <= window && e.SentAt >= fuzzStart.UnixMilli() &&
			(e.To == "" || e.To == "fuzz") && (e.Deadline == 0 || e.Deadline > now.UnixMilli())
		if (got != nil) != take {
			t.Fatalf("accept = %v, want taken = %v, for %s (dropped %v)", got != nil, take, raw, c.Dropped())
		}
		if got == nil {
			return
		}
		if got.Type != e.Type || got.From != e.From || got.To != e.To || got.SentAt != e.SentAt || got.Deadline != e.Deadline ||
			got.ID != e.ID || !bytes.Equal(got.Payload, e.Payload) {
			t.Fatalf("took %+v, signed %+v", got, e)
		}
		if again := c.accept(raw); again != nil {
			t.Fatalf("took a replay of %s", raw)
		}
		if d := c.Dropped()[DropReplayed]; d != 1 {
			t.Fatalf("a replay counted %d times as replayed", d)
		}
		if got.Type == typeRequest {
			req, ok := parseRequest(got)
			if ok && (req.Method == "" || got.Deadline <= 0) {
				t.Fatalf("parsed a call without method or deadline: %+v", req)
			}
		}
	})
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

// FuzzRecord reaches past the signature of membership records: the
// fuzzer writes the node's JSON, the test signs those bytes with the
// token and parses the record. It must never panic, and must take a
// record exactly when its node names the id, has an instance, and is
// within its signed expiry.
func FuzzRecord(f *testing.F) {
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	s := newSigner([]byte("fuzz-token"))
	live, _ := json.Marshal(Node{ID: "n-1", Instance: "i", WrittenAt: now.Add(-time.Second), ExpiresAt: now.Add(time.Second)})
	f.Add(live)
	f.Add([]byte(`{"id":"n-1","instance":"i","writtenAt":"2026-01-02T03:04:00Z","expiresAt":"2026-01-02T03:04:01Z"}`))
	f.Add([]byte(`{"id":"n-1","instance":"i","writtenAt":"2026-01-02T03:04:00Z","expiresAt":"9999-12-31T23:59:59Z","stats":{"x":1}}`))
	f.Add([]byte(`{"id":"n-2"}`))
	f.Add([]byte(`null`))
	f.Fuzz(func(t *testing.T, body []byte) {
		var compact bytes.Buffer
		if json.Compact(&compact, body) != nil {
			return // not JSON: the record would not be either
		}
		body = compact.Bytes()
		raw := s.signRecordBody(body)
		n, err := s.parseRecord("n-1", raw, now)

		var want Node
		ok := json.Unmarshal(body, &want) == nil && want.ID == "n-1" && want.Instance != "" && !want.WrittenAt.IsZero() &&
			want.ExpiresAt.After(want.WrittenAt) && now.Before(want.ExpiresAt)
		if (err == nil) != ok {
			t.Fatalf("parseRecord(%s) = %v, want taken = %v", body, err, ok)
		}
		if err != nil && !errors.Is(err, errRecordMalformed) && !errors.Is(err, errRecordExpired) {
			t.Fatalf("a record signed with the token failed its signature: %v", err)
		}
		if err == nil && (n.ID != "n-1" || !n.ExpiresAt.Equal(want.ExpiresAt)) {
			t.Fatalf("took %+v from %s", n, body)
		}
	})
}

func TestEnvelopeRoundTrip(t *testing.T) {
	s := signer{key: []byte("k")}
	for _, payload := range []string{`null`, `"<&>"`, `{"x":"\u2028"}`, `[1,2.5,true]`} {
		e := envelope{Type: "t", From: "n\"1", To: "n2", SentAt: 42, Deadline: 99, ID: "id", Payload: json.RawMessage(payload)}
		raw := s.encode(&e)
		got, err := s.decode(raw, 0)
		if err != nil {
			t.Fatalf("%s: %v (%s)", payload, err, raw)
		}
		if got.Type != "t" || got.From != "n\"1" || got.To != "n2" || got.SentAt != 42 || got.Deadline != 99 || string(got.Payload) != payload {
			t.Fatalf("round trip: %+v", got)
		}
		if _, err := (signer{key: []byte("other")}).decode(raw, 0); err != (errDrop{DropBadSignature}) {
			t.Fatalf("other key: %v", err)
		}
		// The deadline is signed: moving it loses the message.
		moved := bytes.Replace(raw, []byte(`"dl":99`), []byte(`"dl":999999`), 1)
		if _, err := s.decode(moved, 0); err != (errDrop{DropBadSignature}) {
			t.Fatalf("a moved deadline: %v", err)
		}
	}
}

// FuzzFastEnvelope: whatever the envelope's fast path accepts,
// json.Unmarshal accepts too and reads the same fields from.
func FuzzFastEnvelope(f *testing.F) {
	s := signer{key: []byte("fuzz-token")}
	for _, e := range []envelope{
		{Type: "request", From: "node-1", To: "node-2", SentAt: 1700000000000, Deadline: 1700000005000, ID: "abc", Payload: json.RawMessage(`{"method":"echo","args":{"n":42}}`)},
		{Type: "chat", From: "n", SentAt: 1, ID: "i", Payload: json.RawMessage(`"x,\"sig\":\"y"`)},
		{Type: "t é", From: "f\"", SentAt: -5, ID: "i", Payload: json.RawMessage(`[1, 2]`)},
	} {
		f.Add(s.encode(&e))
	}
	f.Add([]byte(`{"v":2,"type":"t","from":"f","at":01,"id":"i","payload":{} ,"sig":"AAAA"}`))
	f.Add([]byte(`{"v":2,"type":"t","from":"f","at":1,"id":"i","payload":{},"sig":"A"},"sig":"B"}`))
	f.Fuzz(func(t *testing.T, raw []byte) {
		var fast envelope
		if !fastEnvelope(raw, &fast) {
			return
		}
		var slow envelope
		if err := json.Unmarshal(raw, &slow); err != nil {
			t.Fatalf("fast path accepted %q, json.Unmarshal refuses it: %v", raw, err)
		}
		if fast.V != slow.V || fast.Type != slow.Type || fast.From != slow.From || fast.To != slow.To || fast.SentAt != slow.SentAt ||
			fast.Deadline != slow.Deadline || fast.ID != slow.ID || !bytes.Equal(fast.Payload, slow.Payload) || fast.Sig != slow.Sig {
			t.Fatalf("fast path read %q as %+v, json.Unmarshal as %+v", raw, fast, slow)
		}
	})
}

// TestFastEnvelopeTakesEncoderOutput: what a node sends is read by the
// fast path, not left to encoding/json.
func TestFastEnvelopeTakesEncoderOutput(t *testing.T) {
	s := signer{key: []byte("token")}
	for _, e := range []envelope{
		{Type: "request", From: "node-1", To: "node-2", SentAt: 1700000000000, Deadline: 1700000005000, ID: newID(), Payload: json.RawMessage(`{"method":"echo","args":{"n":42}}`)},
		{Type: "reply", From: "node-2", To: "node-1", SentAt: 1700000000001, ID: newID(), Payload: json.RawMessage(`{"ok":true,"result":{"n":42}}`)},
		{Type: "chat", From: "stellar-worker-1", SentAt: 1700000000002, ID: newID(), Payload: json.RawMessage(`null`)},
	} {
		raw := s.encode(&e)
		var got envelope
		if !fastEnvelope(raw, &got) {
			t.Errorf("fast path refused %s", raw)
		}
	}
}

// FuzzWriteField: an envelope's string field is written as json.Marshal
// writes it, whatever the string.
func FuzzWriteField(f *testing.F) {
	for _, s := range []string{"", "node-1", `q"uote`, `back\slash`, "<&>", "é", "\x00", "\xff", "\u2028"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		var b bytes.Buffer
		writeField(&b, "n", s)
		want, _ := json.Marshal(s)
		if b.String() != `,"n":`+string(want) {
			t.Fatalf("writeField(%q) = %s, json.Marshal writes %s", s, b.String(), want)
		}
	})
}
