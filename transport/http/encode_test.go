package http

import (
	"bytes"
	"encoding/json"
	"math"
	"testing"
)

// reference is what encodeBody must write: encoding/json's Encoder.
func reference(v any) (string, error) {
	var b bytes.Buffer
	err := json.NewEncoder(&b).Encode(v)
	return b.String(), err
}

func checkEncode(t *testing.T, v any) {
	t.Helper()
	want, wantErr := reference(v)
	var b bytes.Buffer
	err := encodeBody(&b, v)
	if (err != nil) != (wantErr != nil) {
		t.Fatalf("encodeBody(%#v) error %v, encoding/json's %v", v, err, wantErr)
	}
	if err == nil && b.String() != want {
		t.Fatalf("encodeBody(%#v) = %q, encoding/json writes %q", v, b.String(), want)
	}
}

func TestEncodeBodyAsEncodingJSON(t *testing.T) {
	cyclic := map[string]any{}
	cyclic["me"] = cyclic
	deep := map[string]any{"v": 1}
	for range 40 { // deeper than encodeBody walks itself
		deep = map[string]any{"d": []any{deep}}
	}
	for _, v := range []any{
		nil, true, false, "", "plain", `quote " and \ backslash`, "<script>&", "é ünïcode", "\u2028\u2029", "\x00\x1f", "bad \xff utf-8",
		0, -1, int64(math.MaxInt64), int32(-7), uint64(math.MaxUint64),
		0.0, 0.5, -0.25, 1e-7, 1e-6, 123456789.125, 1e20, 1e21, -1e21, 3.0, math.NaN(), math.Inf(1),
		map[string]any{}, map[string]any(nil), []any(nil), []any{},
		map[string]any{"pong": true, "serverInformation": serverInformation{ServerName: "Stellar <API>", APIVersion: "0.0.1", RequestDuration: 3, CurrentTime: 1796126680623}},
		map[string]any{"requesterInformation": requesterInformation{ID: "0123456789abcdef0123456789abcdef", Fingerprint: "fp<&>", RemoteIP: "192.0.2.1",
			ReceivedParams: map[string]any{"a": "1", "b": []any{"x", "y"}}}},
		map[string]any{"requesterInformation": requesterInformation{ReceivedParams: nil, ReceivedParamsOmitted: 3}},
		requesterInformation{ReceivedParams: map[string]any{}, ReceivedParamsOmitted: -1},
		map[string]any{"serverInformation": &serverInformation{ServerName: "S", CurrentTime: 1}, "requesterInformation": &requesterInformation{ID: "i"},
			"nil": (*serverInformation)(nil), "nil2": (*requesterInformation)(nil)},
		map[string]any{"b": 1, "a": []any{1, "x", nil, map[string]any{"z": 0.1, "&": "<"}}, "c": json.RawMessage(`{"r" : 1}`)},
		map[string]any{"struct": struct{ A int }{1}, "ints": []int{1, 2}, "named": map[string]string{"k": "v"}},
		map[string]any{"nan": math.NaN()},
		map[string]any{"ch": make(chan int)},
		deep,
		cyclic,
	} {
		checkEncode(t, v)
	}
	big := map[string]any{}
	for i := range 40 { // more keys than the stack array holds
		big[string(rune('a'+i%26))+string(rune('A'+i))] = i
	}
	checkEncode(t, big)
}

// FuzzEncodeBody: for any JSON document decoded into a response map,
// and for any string and number, encodeBody writes what encoding/json
// writes.
func FuzzEncodeBody(f *testing.F) {
	f.Add(`{"a":1,"b":[true,null,"x"],"c":{"d":0.5}}`, "key", 1.5)
	f.Add(`{"<>":"&\u2028","e":1e-7,"f":1e21}`, "\xff", math.Copysign(0, -1))
	f.Add(`[]`, "", 1e300)
	f.Fuzz(func(t *testing.T, doc, s string, n float64) {
		var v any
		if json.Unmarshal([]byte(doc), &v) == nil {
			checkEncode(t, v)
			checkEncode(t, map[string]any{s: v, "n": n})
		}
		checkEncode(t, map[string]any{s: s, "n": n, "info": serverInformation{ServerName: s, APIVersion: s, RequestDuration: int64(n), CurrentTime: -1}})
		checkEncode(t, &requesterInformation{ID: s, Fingerprint: s, RemoteIP: s, ReceivedParams: map[string]any{s: v, "n": n}, ReceivedParamsOmitted: int(n)})
	})
}
