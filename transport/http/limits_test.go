package http

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"testing"

	"github.com/stellarfw/stellar-go/action"
	"github.com/stellarfw/stellar-go/apierror"
	"github.com/stellarfw/stellar-go/internal/limit"
	"github.com/stellarfw/stellar-go/internal/logging/logtest"
	"github.com/stellarfw/stellar-go/internal/poll"
)

// jsonBody is a JSON object whose one value makes it about n bytes.
func jsonBody(n int) string {
	return `{"blob":"` + strings.Repeat("b", n) + `"}`
}

// noLength hides the length of a body, so that the client sends it
// chunked and the server learns its size only by reading it.
type noLength struct{ io.Reader }

// TestBodyBytesInFlight: while the node holds its budget of body bytes,
// a request with a body gets 503 server_busy with Retry-After, whether
// it declares its length or not; requests without a body are served, and
// once the budget is given back bodies are read again.
func TestBodyBytesInFlight(t *testing.T) {
	cfg := testConfig()
	cfg.MaxBodyBytes = 512 << 10
	cfg.MaxBodyBytesInFlight = 600 << 10
	held, release := make(chan struct{}), make(chan struct{})
	s := startServer(t, cfg)
	if err := s.reg.Register(&action.Action{Name: "hold", Run: func(ctx context.Context, r *action.Request) error {
		close(held)
		<-release
		return nil
	}}); err != nil {
		t.Fatal(err)
	}
	first := make(chan response, 1)
	go func() {
		first <- do(t, "POST", s.url+"/api/hold", "application/json", strings.NewReader(jsonBody(500<<10)))
	}()
	<-held
	if got := s.BodyBytesInFlight(); got < 500<<10 {
		t.Fatalf("bytes in flight while the first body is held = %d", got)
	}

	for _, tc := range []struct {
		name string
		body io.Reader
	}{
		{"declared length", strings.NewReader(jsonBody(200 << 10))},
		{"chunked", noLength{strings.NewReader(jsonBody(200 << 10))}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := do(t, "POST", s.url+"/api/echo", "application/json", tc.body)
			if r.status != http.StatusServiceUnavailable || errorCode(r) != apierror.CodeServerBusy || r.header.Get("Retry-After") != "1" {
				t.Fatalf("status %d, Retry-After %q: %s", r.status, r.header.Get("Retry-After"), r.raw)
			}
			if msg := r.body["error"].(map[string]any)["message"].(string); !strings.Contains(msg, "http.max_body_bytes_in_flight") {
				t.Errorf("message does not name the key: %q", msg)
			}
		})
	}
	if r := get(t, s.url+"/api/echo?a=1"); r.status != http.StatusOK {
		t.Fatalf("a request without a body while busy: %d %s", r.status, r.raw)
	}
	if r := do(t, "POST", s.url+"/api/echo", "application/json", strings.NewReader(`{"small":1}`)); r.status != http.StatusOK {
		t.Fatalf("a small body that fits what is left: %d %s", r.status, r.raw)
	}

	close(release)
	if r := <-first; r.status != http.StatusOK {
		t.Fatalf("the held request: %d %s", r.status, r.raw)
	}
	poll.Until(t, "the budget to be given back", 0, func() bool { return s.BodyBytesInFlight() == 0 })
	if r := do(t, "POST", s.url+"/api/echo", "application/json", strings.NewReader(jsonBody(200<<10))); r.status != http.StatusOK {
		t.Fatalf("after the budget was given back: %d", r.status)
	}
	if got := s.Refused(); got[limit.BodiesInFlight] != 2 {
		t.Errorf("refusals = %v, want 2 %s", got, limit.BodiesInFlight)
	}

	// A body declared over max_body_bytes is refused before it is read.
	r := do(t, "POST", s.url+"/api/echo", "application/json", strings.NewReader(jsonBody(600<<10)))
	if r.status != http.StatusRequestEntityTooLarge || errorCode(r) != apierror.CodeBodyTooLarge {
		t.Fatalf("oversized body: %d %s", r.status, r.raw)
	}
	if got := s.Refused(); got[limit.BodySize] != 1 {
		t.Errorf("refusals = %v, want 1 %s", got, limit.BodySize)
	}
}

// TestReceivedParamsNotEchoed: receivedParams never sends a large value
// back, nor more than EchoTotalBytes in all.
func TestReceivedParamsNotEchoed(t *testing.T) {
	s := startServer(t, testConfig())
	var b bytes.Buffer
	b.WriteString(`{"small":"x","n":3,"big":"` + strings.Repeat("v", 5000) + `","list":[`)
	for i := range 200 {
		if i > 0 {
			b.WriteString(",")
		}
		b.WriteString(`"item"`)
	}
	b.WriteString(`]`)
	for i := range 100 {
		fmt.Fprintf(&b, `,"k%03d":"%s"`, i, strings.Repeat("w", 500))
	}
	b.WriteString(`}`)
	r := do(t, "POST", s.url+"/api/echo", "application/json", &b)
	if r.status != http.StatusOK {
		t.Fatalf("status %d: %.300s", r.status, r.raw)
	}
	info := r.body["requesterInformation"].(map[string]any)
	got := info["receivedParams"].(map[string]any)
	if got["small"] != "x" || got["n"] != float64(3) {
		t.Errorf("small params not echoed as sent: %v %v", got["small"], got["n"])
	}
	if got["big"] != "(5002 bytes, not echoed)" || got["list"] != "(1401 bytes, not echoed)" {
		t.Errorf("large values echoed as %.80v and %.80v", got["big"], got["list"])
	}
	echoed := 0
	for k := range got {
		if strings.HasPrefix(k, "k") {
			echoed++
		}
	}
	omitted, _ := info["receivedParamsOmitted"].(float64)
	if echoed == 0 || echoed == 100 || echoed+int(omitted) != 100 {
		t.Errorf("%d of the 100 middling params echoed, %v said omitted", echoed, omitted)
	}
	// The action still got everything; only the echo is cut.
	if v, _ := r.body["big"].(string); len(v) != 5000 {
		t.Errorf("the action saw big as %d bytes", len(v))
	}
	if len(info["receivedParams"].(map[string]any)) > 40 {
		t.Errorf("echoed %d params", len(got))
	}
}

// TestInternalErrorShape: a failure the action did not shape for the
// client is a 500 internal_error with a generic message and a request
// id (in the body and X-Request-Id); the details are in the log once, at
// ERROR, under that id.
func TestInternalErrorShape(t *testing.T) {
	s := startServer(t, testConfig())
	rec := &logtest.Recorder{}
	s.reg.SetLogger(rec.Logger(), "node-test")
	if err := s.reg.Register(&action.Action{Name: "leaky", Run: func(ctx context.Context, r *action.Request) error {
		return fmt.Errorf("save: %w", errors.New("redis: unavailable: dial tcp 127.0.0.1:6420: connect: connection refused"))
	}}); err != nil {
		t.Fatal(err)
	}
	r := get(t, s.url+"/api/leaky")
	e, _ := r.body["error"].(map[string]any)
	id, _ := e["requestId"].(string)
	if r.status != 500 || e["code"] != apierror.CodeInternal || e["message"] != apierror.InternalMessage || id == "" {
		t.Fatalf("response %d: %s", r.status, r.raw)
	}
	if strings.Contains(r.raw, "6420") || strings.Contains(r.raw, "redis") {
		t.Fatalf("the cause reached the client: %s", r.raw)
	}
	if r.header.Get("X-Request-Id") != id {
		t.Errorf("X-Request-Id = %q, body says %q", r.header.Get("X-Request-Id"), id)
	}
	errs := rec.AtLeast(slog.LevelError)
	if len(errs) != 1 || errs[0].Str("request_id") != id || !strings.Contains(errs[0].Str("error"), "127.0.0.1:6420") ||
		errs[0].Str("status") != "500" || errs[0].Str("action") != "leaky" {
		t.Fatalf("ERROR lines = %v, want one with request_id %s and the cause", errs, id)
	}

	// A panic outside any action (here: in a handler the server mounts)
	// has the same shape.
	s2 := startServer(t, testConfig(), func(o *Options) {
		o.Logger = rec.Logger()
		o.Handlers = map[string]http.Handler{"/broken": http.HandlerFunc(func(http.ResponseWriter, *http.Request) { panic("secret") })}
	})
	r = get(t, s2.url+"/broken")
	e, _ = r.body["error"].(map[string]any)
	id, _ = e["requestId"].(string)
	if r.status != 500 || e["code"] != apierror.CodeInternal || id == "" || strings.Contains(r.raw, "secret") {
		t.Fatalf("panic response %d: %s", r.status, r.raw)
	}
	if l := rec.Find("http handler panic"); len(l) != 1 || l[0].Str("request_id") != id {
		t.Fatalf("panic log = %v, want request_id %s", l, id)
	}
}

// TestClientGoneIs499: a client that disconnects while its action runs
// is a debug line with status 499, and no ERROR.
func TestClientGoneIs499(t *testing.T) {
	s := startServer(t, testConfig())
	rec := &logtest.Recorder{}
	s.reg.SetLogger(rec.Logger(), "node-test")
	started := make(chan struct{})
	if err := s.reg.Register(&action.Action{Name: "slow", Run: func(ctx context.Context, r *action.Request) error {
		close(started)
		<-ctx.Done()
		return fmt.Errorf("redis: save: %w", ctx.Err())
	}}); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	req, err := http.NewRequestWithContext(ctx, "GET", s.url+"/api/slow", nil)
	if err != nil {
		t.Fatal(err)
	}
	errc := make(chan error, 1)
	go func() {
		res, err := http.DefaultClient.Do(req)
		if err == nil {
			_ = res.Body.Close()
		}
		errc <- err
	}()
	<-started
	cancel()
	if err := <-errc; !errors.Is(err, context.Canceled) {
		t.Fatalf("client: %v", err)
	}
	poll.Until(t, "the 499 line", 0, func() bool { return len(rec.Find("action canceled: the caller went away")) == 1 })
	l := rec.Find("action canceled: the caller went away")[0]
	if l.Str("level") != "DEBUG" || l.Str("status") != "499" || l.Str("action") != "slow" {
		t.Errorf("line = %v", l)
	}
	if errs := rec.AtLeast(slog.LevelWarn); len(errs) != 0 {
		t.Errorf("a client going away logged %v", errs)
	}
}

func TestEchoParams(t *testing.T) {
	big := strings.Repeat("x", EchoValueBytes)
	for _, tc := range []struct {
		name    string
		raw     map[string]any
		want    map[string]any
		omitted int
	}{
		{"nil", nil, map[string]any{}, 0},
		{"small values as they are", map[string]any{"a": "x", "n": int64(1), "f": UploadedFile{Name: "a.txt", Size: 9}},
			map[string]any{"a": "x", "n": int64(1), "f": UploadedFile{Name: "a.txt", Size: 9}}, 0},
		{"a string at the limit is echoed", map[string]any{"s": big[:EchoValueBytes-2]}, map[string]any{"s": big[:EchoValueBytes-2]}, 0},
		{"one byte more is not", map[string]any{"s": big[:EchoValueBytes-1]}, map[string]any{"s": "(1025 bytes, not echoed)"}, 0},
		{"a huge key is left out", map[string]any{big + "k": "v", "a": "b"}, map[string]any{"a": "b"}, 1},
		{"nested", map[string]any{"m": map[string]any{"k": []any{big}}}, map[string]any{"m": "(1034 bytes, not echoed)"}, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, omitted := echoParams(tc.raw)
			if fmt.Sprint(got) != fmt.Sprint(tc.want) || omitted != tc.omitted {
				t.Fatalf("echoParams = %v, %d; want %v, %d", got, omitted, tc.want, tc.omitted)
			}
		})
	}
}

// TestJSONValuesCharged: a JSON body is charged for the values it holds
// as well as its bytes, so that a body of many small values, which costs
// many times its size once decoded, cannot take the node's memory: one
// that alone would take more than the whole budget gets 413.
func TestJSONValuesCharged(t *testing.T) {
	cfg := testConfig()
	cfg.MaxBodyBytes = 512 << 10
	cfg.MaxBodyBytesInFlight = 1 << 20
	s := startServer(t, cfg)
	numbers := func(n int) string { return `{"list":[` + strings.Repeat("1,", n) + `1]}` }

	if r := do(t, "POST", s.url+"/api/echo", "application/json", strings.NewReader(numbers(5000))); r.status != http.StatusOK {
		t.Fatalf("5,000 values: %d %.200s", r.status, r.raw)
	}
	for _, body := range []io.Reader{strings.NewReader(numbers(50000)), noLength{strings.NewReader(numbers(50000))}} {
		r := do(t, "POST", s.url+"/api/echo", "application/json", body)
		if r.status != http.StatusRequestEntityTooLarge || errorCode(r) != apierror.CodeBodyTooLarge ||
			!strings.Contains(r.raw, "too many values") {
			t.Fatalf("50,000 values (100 KiB): %d %.300s", r.status, r.raw)
		}
	}
	// The same bytes as text are not charged per value.
	if r := do(t, "POST", s.url+"/api/echo", "text/plain", strings.NewReader(numbers(50000))); r.status != http.StatusOK {
		t.Fatalf("as text: %d", r.status)
	}
	poll.Until(t, "the charges to be given back", 0, func() bool { return s.BodyBytesInFlight() == 0 })
	if got := s.Refused()[limit.BodySize]; got != 2 {
		t.Fatalf("body_size refusals = %d, want 2", got)
	}
}
