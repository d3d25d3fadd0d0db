package http

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"
	"time"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"

	"github.com/stellarfw/stellar-go/action"
	"github.com/stellarfw/stellar-go/apierror"
	"github.com/stellarfw/stellar-go/internal/logging"
	"github.com/stellarfw/stellar-go/internal/logging/logtest"
	"github.com/stellarfw/stellar-go/internal/tracing"
)

const (
	testTraceparent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
	testTraceID     = "4bf92f3577b34da6a3ce929d0e0e4736"
)

// loggedServer serves the test actions plus "traced", which answers with
// the trace id and request id it sees, and logs through rec, as the
// node's logger does (trace_id from the context).
func loggedServer(t *testing.T, rec *logtest.Recorder, opts ...func(*Options)) *testServer {
	t.Helper()
	logger := slog.New(logging.WithTrace(rec.Logger().Handler()))
	opts = append([]func(*Options){func(o *Options) { o.Logger = logger }}, opts...)
	ts := startServer(t, testConfig(), opts...)
	ts.reg.SetLogger(logger, "node-test")
	if err := ts.reg.Register(&action.Action{Name: "traced", Run: func(ctx context.Context, r *action.Request) error {
		r.Response["traceId"] = tracing.TraceID(ctx)
		r.Response["requestId"] = r.RequestID
		return nil
	}}); err != nil {
		t.Fatal(err)
	}
	return ts
}

func getH(t *testing.T, url string, header map[string]string) (*http.Response, []byte) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range header {
		req.Header.Set(k, v)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	body, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	return res, body
}

// requestLine returns the one request line of the request with id.
func requestLine(t *testing.T, rec *logtest.Recorder, id string) logtest.Line {
	t.Helper()
	var found []logtest.Line
	for _, l := range rec.Lines() {
		if l.Str("msg") == "request" && l.Str("request_id") == id {
			found = append(found, l)
		}
	}
	if len(found) != 1 {
		t.Fatalf("%d request lines for %s in %v", len(found), id, rec.Lines())
	}
	return found[0]
}

// TestRequestLogLine: each request is one JSON line with its method,
// path, status, duration in ms, bytes, request id, remote address and the
// trace id of its traceparent; a client error is an INFO line with its
// code, never WARN or ERROR.
func TestRequestLogLine(t *testing.T) {
	rec := &logtest.Recorder{}
	ts := loggedServer(t, rec)
	res, body := getH(t, ts.url+"/api/traced?x=1", map[string]string{"Traceparent": testTraceparent})
	if res.StatusCode != http.StatusOK {
		t.Fatalf("status %d: %s", res.StatusCode, body)
	}
	var out struct{ TraceID, RequestID string }
	if err := json.Unmarshal(body, &out); err != nil {
		t.Fatal(err)
	}
	id := res.Header.Get(RequestIDHeader)
	if out.TraceID != testTraceID || out.RequestID != id {
		t.Fatalf("the action saw trace %q and request id %q (header %q)", out.TraceID, out.RequestID, id)
	}
	l := requestLine(t, rec, id)
	want := map[string]string{
		"level": "INFO", "method": "GET", "path": "/api/traced", "status": "200", "remote": "127.0.0.1",
		"action": "traced", "trace_id": testTraceID, "bytes": jsonNumber(len(body)),
	}
	for k, v := range want {
		if got := l.Str(k); got != v {
			t.Errorf("%s = %q, want %q (line %v)", k, got, v, l)
		}
	}
	if d, ok := l["duration_ms"].(float64); !ok || d < 0 {
		t.Errorf("duration_ms = %v", l["duration_ms"])
	}
	if _, ok := l["duration"]; ok {
		t.Errorf("a raw duration in %v", l)
	}
	// The action's own line carries the trace and the request id too.
	found := false
	for _, l := range rec.Lines() {
		if l.Str("msg") == "action" && l.Str("action") == "traced" && l.Str("request_id") == id {
			found = l.Str("trace_id") == testTraceID
		}
	}
	if !found {
		t.Errorf("no action line with the trace id in %v", rec.Lines())
	}

	// A request through a route names it.
	if err := ts.opts.Routes.Add(http.MethodGet, "/users/:id", "traced", 0); err != nil {
		t.Fatal(err)
	}
	res, _ = getH(t, ts.url+"/api/users/7", nil)
	if l := requestLine(t, rec, res.Header.Get(RequestIDHeader)); l.Str("route") != "/users/:id" || l.Str("action") != "traced" || l.Str("path") != "/api/users/7" {
		t.Errorf("routed line %v", l)
	}

	for _, tc := range []struct {
		path, code, status string
	}{
		{"/api/typed", "validation_failed", "422"},
		{"/api/nothing-here", "action_not_found", "404"},
		{"/no/such/file", "not_found", "404"},
		{"/api/conflict", "already_exists", "409"},
	} {
		res, _ := getH(t, ts.url+tc.path, nil)
		l := requestLine(t, rec, res.Header.Get(RequestIDHeader))
		if l.Str("level") != "INFO" || l.Str("code") != tc.code || l.Str("status") != tc.status || l.Str("trace_id") == "" {
			t.Errorf("%s: line %v", tc.path, l)
		}
	}
	for _, l := range rec.Lines() {
		if lv := l.Str("level"); lv == "WARN" || lv == "ERROR" {
			t.Errorf("a client error logged at %s: %v", lv, l)
		}
	}
}

func jsonNumber(n int) string {
	b, _ := json.Marshal(n)
	return string(b)
}

// TestRequestLineQuiet: probes are logged at debug, not info.
func TestRequestLineQuiet(t *testing.T) {
	rec := &logtest.Recorder{}
	ts := loggedServer(t, rec, func(o *Options) { o.QuietPaths = []string{"/metrics"} })
	for _, p := range []string{"/healthz", "/readyz", "/metrics"} {
		res, _ := getH(t, ts.url+p, nil)
		if l := requestLine(t, rec, res.Header.Get(RequestIDHeader)); l.Str("level") != "DEBUG" {
			t.Errorf("%s logged at %s", p, l.Str("level"))
		}
	}
}

// TestRequestID: a valid X-Request-Id is kept and echoed, a missing one
// is made, a bad one (too long, or with characters unfit for a log line)
// is replaced; error bodies carry the same id.
func TestRequestID(t *testing.T) {
	rec := &logtest.Recorder{}
	ts := loggedServer(t, rec)
	made := regexp.MustCompile(`^[0-9a-f]{16}$`)
	cases := []struct {
		name, in string
		kept     bool
	}{
		{"uuid", "3f2c1d8e-4b5a-4c3d-9e8f-0a1b2c3d4e5f", true},
		{"punctuation", "api-1:req_42.a+b/c=d@e", true},
		{"longest", strings.Repeat("a", apierror.MaxRequestIDLen), true},
		{"absent", "", false},
		{"too long", strings.Repeat("a", apierror.MaxRequestIDLen+1), false},
		{"space", "two words", false},
		{"quote", `a"b`, false},
		{"json", `{"level":"ERROR"}`, false},
		{"non-ascii", "idé", false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			h := map[string]string{}
			if tc.in != "" {
				h[RequestIDHeader] = tc.in
			}
			res, body := getH(t, ts.url+"/api/traced", h)
			id := res.Header.Get(RequestIDHeader)
			switch {
			case tc.kept && id != tc.in:
				t.Fatalf("id %q not echoed: %q", tc.in, id)
			case !tc.kept && !made.MatchString(id):
				t.Fatalf("id %q not replaced by a new one: %q", tc.in, id)
			}
			var out struct{ RequestID string }
			_ = json.Unmarshal(body, &out)
			if out.RequestID != id {
				t.Errorf("the action saw %q, the client got %q", out.RequestID, id)
			}
			requestLine(t, rec, id)
		})
	}
	// Error bodies, a client's error and an unexpected one, carry it.
	for _, path := range []string{"/api/typed", "/api/fail", "/nowhere"} {
		res, body := getH(t, ts.url+path, map[string]string{RequestIDHeader: "my-id-1"})
		var out struct {
			Error struct{ RequestID string }
		}
		if err := json.Unmarshal(body, &out); err != nil {
			t.Fatal(err)
		}
		if res.Header.Get(RequestIDHeader) != "my-id-1" || out.Error.RequestID != "my-id-1" {
			t.Errorf("%s: header %q, body %s", path, res.Header.Get(RequestIDHeader), body)
		}
	}
}

// TestRequestSpans: with a TracerProvider, each request is one server
// span, child of the incoming traceparent, named for its action, and the
// action's context is that span's; the log line has its trace id.
func TestRequestSpans(t *testing.T) {
	sr := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(sr))
	rec := &logtest.Recorder{}
	ts := loggedServer(t, rec, func(o *Options) { o.TracerProvider = tp })

	res, body := getH(t, ts.url+"/api/traced", map[string]string{"Traceparent": testTraceparent})
	var out struct{ TraceID string }
	_ = json.Unmarshal(body, &out)
	spans := sr.Ended()
	if len(spans) != 1 {
		t.Fatalf("%d spans", len(spans))
	}
	s := spans[0]
	if s.Name() != "GET traced" || s.SpanKind() != trace.SpanKindServer || s.Parent().SpanID().String() != "00f067aa0ba902b7" ||
		s.SpanContext().TraceID().String() != testTraceID || out.TraceID != testTraceID {
		t.Fatalf("span %q kind %v parent %v trace %v; action saw %q", s.Name(), s.SpanKind(), s.Parent().SpanID(), s.SpanContext().TraceID(), out.TraceID)
	}
	attrs := map[string]string{}
	for _, a := range s.Attributes() {
		attrs[string(a.Key)] = a.Value.String()
	}
	if attrs["http.response.status_code"] != "200" || attrs["stellar.action"] != "traced" || attrs["stellar.request_id"] != res.Header.Get(RequestIDHeader) {
		t.Errorf("attributes %v", attrs)
	}

	// No traceparent: the span is the root of a new trace, which the log
	// line names.
	res, _ = getH(t, ts.url+"/api/fail", nil)
	spans = sr.Ended()
	if len(spans) != 2 {
		t.Fatalf("%d spans", len(spans))
	}
	s = spans[1]
	if s.Parent().IsValid() || s.Status().Code.String() != "Error" {
		t.Errorf("span parent %v, status %v", s.Parent(), s.Status())
	}
	if l := requestLine(t, rec, res.Header.Get(RequestIDHeader)); l.Str("trace_id") != s.SpanContext().TraceID().String() {
		t.Errorf("log line trace %q, span trace %s", l.Str("trace_id"), s.SpanContext().TraceID())
	}
}

// TestRequestNoProvider: without a TracerProvider no span is started, and
// a request without a traceparent still gets a trace id of its own, for
// its logs and what it starts.
func TestRequestNoProvider(t *testing.T) {
	rec := &logtest.Recorder{}
	ts := loggedServer(t, rec)
	var ids []string
	for range 2 {
		_, body := getH(t, ts.url+"/api/traced", nil)
		var out struct{ TraceID string }
		_ = json.Unmarshal(body, &out)
		if len(out.TraceID) != 32 {
			t.Fatalf("trace id %q", out.TraceID)
		}
		ids = append(ids, out.TraceID)
	}
	if ids[0] == ids[1] {
		t.Fatal("two requests share a trace")
	}
}

// The request benchmarks run the whole handler (request id, trace,
// request line) with the logger off and on.
func benchHandler(b *testing.B, logger *slog.Logger) {
	reg := action.NewRegistry(logging.Discard(), "bench")
	if err := reg.Register(&action.Action{Name: "randomNumber", Run: func(ctx context.Context, r *action.Request) error {
		r.Response["number"] = 0.5
		return nil
	}}); err != nil {
		b.Fatal(err)
	}
	s := New(Options{Config: testConfig(), ServerName: "Stellar API", APIVersion: "0.0.1", NodeID: "bench",
		Actions: reg, Logger: logger})
	h := s.srv.Handler
	req := httptest.NewRequest(http.MethodGet, "/api/randomNumber?a=1", nil)
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		w := httptest.NewRecorder()
		h.ServeHTTP(w, req)
		if w.Code != 200 {
			b.Fatal(w.Code)
		}
	}
}

func BenchmarkRequestLogOff(b *testing.B) {
	benchHandler(b, slog.New(slog.NewJSONHandler(io.Discard, &slog.HandlerOptions{Level: slog.LevelWarn})))
}

func BenchmarkRequestLogOn(b *testing.B) {
	benchHandler(b, slog.New(logging.WithTrace(slog.NewJSONHandler(io.Discard, nil))))
}

// TestRequestLineOffCostsNothing: with the request line's level off,
// writing it allocates nothing.
func TestRequestLineOffCostsNothing(t *testing.T) {
	s := New(Options{Config: testConfig(), Actions: action.NewRegistry(logging.Discard(), "n"),
		Logger: slog.New(slog.NewJSONHandler(io.Discard, &slog.HandlerOptions{Level: slog.LevelWarn}))})
	r := httptest.NewRequest(http.MethodGet, "/api/x", nil)
	rec := &logRecorder{ResponseWriter: httptest.NewRecorder()}
	rec.info.id = "id"
	rec.info.labels.Status = 200
	ctx := context.Background()
	start := time.Now()
	if n := testing.AllocsPerRun(100, func() { s.logRequest(ctx, r, rec, start, nil) }); n != 0 {
		t.Fatalf("the request line allocates %v times with its level off", n)
	}
}
