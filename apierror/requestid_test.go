package apierror

import (
	"encoding/json"
	"strings"
	"testing"
)

// FuzzValidRequestID: an id from a client that is kept is bounded, and is
// written into a log line or a JSON body as it is: nothing to escape, no
// space, no control character.
func FuzzValidRequestID(f *testing.F) {
	for _, s := range []string{"3f2c1d8e-4b5a-4c3d-9e8f-0a1b2c3d4e5f", "a b", `"`, "\n", "", strings.Repeat("x", 129), "idé", "a=b/c+d@e:f_g.h"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, id string) {
		if !ValidRequestID(id) {
			return
		}
		if len(id) == 0 || len(id) > MaxRequestIDLen {
			t.Fatalf("kept an id of %d bytes", len(id))
		}
		b, _ := json.Marshal(id)
		if string(b) != `"`+id+`"` || strings.ContainsAny(id, " \t\r\n\"\\") {
			t.Fatalf("kept %q, which needs escaping", id)
		}
	})
}

func TestNewRequestIDValid(t *testing.T) {
	if id := NewRequestID(); !ValidRequestID(id) || len(id) != 16 {
		t.Fatalf("NewRequestID = %q", id)
	}
}
