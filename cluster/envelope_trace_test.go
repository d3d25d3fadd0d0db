package cluster

import (
	"bytes"
	"testing"
	"time"
)

// TestEnvelopeTraceSigned: the trace context of an envelope is covered by
// its signature: changing, adding or removing it is a bad signature.
func TestEnvelopeTraceSigned(t *testing.T) {
	s := newSigner([]byte("t"))
	const tp = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
	e := envelope{Type: "x", From: "a", SentAt: time.Now().UnixMilli(), ID: "i1", Payload: []byte(`{}`), Trace: tp, TraceState: "k=v"}
	raw := s.encode(&e)
	got, err := s.decode(raw, 0)
	if err != nil || got.Trace != tp || got.TraceState != "k=v" {
		t.Fatalf("decode = %+v, %v", got, err)
	}
	plain := envelope{Type: "x", From: "a", SentAt: e.SentAt, ID: "i2", Payload: []byte(`{}`)}
	plainRaw := s.encode(&plain)
	if bytes.Contains(plainRaw, []byte(`"tp"`)) {
		t.Fatalf("an envelope without a trace names one: %s", plainRaw)
	}
	for name, forged := range map[string][]byte{
		"changed trace id": bytes.Replace(raw, []byte("4bf92f35"), []byte("4bf92f36"), 1),
		"changed state":    bytes.Replace(raw, []byte(`"k=v"`), []byte(`"k=w"`), 1),
		"removed trace":    bytes.Replace(raw, []byte(`,"tp":"`+tp+`"`), nil, 1),
		"added trace":      bytes.Replace(plainRaw, []byte(`,"id":`), []byte(`,"tp":"`+tp+`","id":`), 1),
	} {
		if bytes.Equal(forged, raw) || bytes.Equal(forged, plainRaw) {
			t.Fatalf("%s: the forgery changed nothing", name)
		}
		if _, err := s.decode(forged, 0); err != (errDrop{DropBadSignature}) {
			t.Errorf("%s: decode = %v, want a bad signature", name, err)
		}
	}
}

// TestOlderVersionsRefused: the messages and membership records of a node
// of version 2 (before the trace context) are malformed here, so that the
// two neither hear nor list each other.
func TestOlderVersionsRefused(t *testing.T) {
	s := newSigner([]byte("t"))
	e := envelope{Type: "x", From: "a", SentAt: time.Now().UnixMilli(), ID: "i1", Payload: []byte(`{}`)}
	raw := s.encode(&e)
	old := bytes.Replace(raw, []byte(`{"v":3,`), []byte(`{"v":2,`), 1)
	if bytes.Equal(old, raw) {
		t.Fatal("no version to change")
	}
	if _, err := s.decode(old, 0); err != (errDrop{DropMalformed}) {
		t.Fatalf("a version 2 envelope: %v", err)
	}
	now := time.Now()
	rec := s.signRecord(Node{ID: "a", Instance: "i", WrittenAt: now, ExpiresAt: now.Add(time.Minute)})
	if _, err := s.parseRecord("a", rec, now); err != nil {
		t.Fatalf("a record of this version: %v", err)
	}
	oldRec := bytes.Replace(rec, []byte(`{"v":3,`), []byte(`{"v":2,`), 1)
	if _, err := s.parseRecord("a", oldRec, now); err != errRecordMalformed {
		t.Fatalf("a version 2 record: %v", err)
	}
}
