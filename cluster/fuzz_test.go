package cluster

import (
	"bytes"
	"encoding/json"
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
	f.Add([]byte(`{"v":1,"type":"t","from":"f","at":1,"id":"i","payload":{},"sig":"AAAA"}`))
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

func TestEnvelopeRoundTrip(t *testing.T) {
	s := signer{key: []byte("k")}
	for _, payload := range []string{`null`, `"<&>"`, `{"x":"\u2028"}`, `[1,2.5,true]`} {
		e := envelope{Type: "t", From: "n\"1", To: "n2", SentAt: 42, ID: "id", Payload: json.RawMessage(payload)}
		raw := s.encode(&e)
		got, err := s.decode(raw, 0)
		if err != nil {
			t.Fatalf("%s: %v (%s)", payload, err, raw)
		}
		if got.Type != "t" || got.From != "n\"1" || got.To != "n2" || got.SentAt != 42 || string(got.Payload) != payload {
			t.Fatalf("round trip: %+v", got)
		}
		if _, err := (signer{key: []byte("other")}).decode(raw, 0); err != (errDrop{DropBadSignature}) {
			t.Fatalf("other key: %v", err)
		}
	}
}
