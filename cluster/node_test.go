package cluster

import (
	"bytes"
	"encoding/json"
	"errors"
	"testing"
	"time"
)

// TestRecordRules: a record is a member only when it is signed with the
// token over what it says, names its key's id, and is within its signed
// expiry, whatever the backend holds.
func TestRecordRules(t *testing.T) {
	s := newSigner([]byte("token"))
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	live := Node{ID: "n-1", Instance: "i-1", PID: 7, StartedAt: now.Add(-time.Hour), WrittenAt: now.Add(-time.Second), ExpiresAt: now.Add(4 * time.Second)}
	good := s.signRecord(live)
	expired := live
	expired.WrittenAt, expired.ExpiresAt = now.Add(-10*time.Second), now.Add(-5*time.Second)
	noInstance := live
	noInstance.Instance = ""
	tampered := bytes.Replace(good, []byte(`"pid":7`), []byte(`"pid":8`), 1)
	v1, _ := json.Marshal(map[string]any{"id": "n-1", "pid": 7, "sig": "00"})
	tests := []struct {
		name string
		id   string
		raw  []byte
		want error
	}{
		{"live", "n-1", good, nil},
		{"past its signed expiry", "n-1", s.signRecord(expired), errRecordExpired},
		{"another token", "n-1", newSigner([]byte("other")).signRecord(live), errRecordSignature},
		{"tampered", "n-1", tampered, errRecordSignature},
		{"under another id", "n-2", good, errRecordMalformed},
		{"no instance", "n-1", s.signRecord(noInstance), errRecordMalformed},
		{"the format before version 2", "n-1", v1, errRecordMalformed},
		{"not JSON", "n-1", []byte("{"), errRecordMalformed},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			n, err := s.parseRecord(tc.id, tc.raw, now)
			if !errors.Is(err, tc.want) {
				t.Fatalf("parseRecord = %v, want %v", err, tc.want)
			}
			if err == nil && (n.ID != "n-1" || n.Instance != "i-1" || n.PID != 7 || !n.ExpiresAt.Equal(live.ExpiresAt)) {
				t.Fatalf("parsed %+v", n)
			}
		})
	}
	// The expiry is exclusive: at ExpiresAt the record no longer counts.
	if _, err := s.parseRecord("n-1", good, live.ExpiresAt); !errors.Is(err, errRecordExpired) {
		t.Fatalf("at its expiry: %v", err)
	}
}
