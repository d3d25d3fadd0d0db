package http

import (
	"compress/gzip"
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/stellarfw/stellar-go/action"
	"github.com/stellarfw/stellar-go/internal/logging"
)

// The handler benchmarks measure the framework's work per request without
// the network: BenchmarkServeAction against BenchmarkBareHandler, which does
// the same JSON work by hand. bench/all measures an action over loopback from a load generator in another process.

// BenchmarkServeAction is a request without the fingerprint cookie (the
// response sets it); BenchmarkServeActionWithCookie a browser's later
// requests, which carry it.
func BenchmarkServeAction(b *testing.B) { benchServeAction(b, "") }

func BenchmarkServeActionWithCookie(b *testing.B) {
	benchServeAction(b, "sessionID=0123456789abcdef0123456789abcdef")
}

func benchServeAction(b *testing.B, cookie string) {
	reg := action.NewRegistry(logging.Discard(), "bench")
	if err := reg.Register(&action.Action{Name: "randomNumber", Run: func(ctx context.Context, r *action.Request) error {
		r.Response["number"] = 0.5
		return nil
	}}); err != nil {
		b.Fatal(err)
	}
	cfg := testConfig()
	s := New(Options{Config: cfg, ServerName: "Stellar API", APIVersion: "0.0.1", NodeID: "bench",
		Actions: reg, Logger: logging.Discard()})
	req := httptest.NewRequest(http.MethodGet, "/api/randomNumber?a=1", nil)
	if cookie != "" {
		req.Header.Set("Cookie", cookie)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		w := httptest.NewRecorder()
		s.ServeHTTP(w, req)
		if w.Code != 200 {
			b.Fatal(w.Code)
		}
	}
}

func BenchmarkBareHandler(b *testing.B) {
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		params := map[string]any{}
		for k, v := range r.URL.Query() {
			params[k] = v[0]
		}
		host, _, _ := net.SplitHostPort(r.RemoteAddr)
		body := map[string]any{
			"number": 0.5,
			"serverInformation": map[string]any{
				"serverName": "Stellar API", "apiVersion": "0.0.1",
				"requestDuration": time.Since(start).Milliseconds(), "currentTime": time.Now().UnixMilli(),
			},
			"requesterInformation": map[string]any{
				"id": "0123456789abcdef0123456789abcdef", "fingerprint": "0123456789abcdef0123456789abcdef",
				"remoteIP": host, "receivedParams": params,
			},
		}
		buf, _ := json.Marshal(body)
		w.Header().Set("Content-Type", "application/json; charset=utf-8")
		_, _ = w.Write(append(buf, '\n'))
	})
	req := httptest.NewRequest(http.MethodGet, "/api/randomNumber?a=1", nil)
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		w := httptest.NewRecorder()
		h.ServeHTTP(w, req)
	}
}

// BenchmarkServeActionGzip is an action answering about 6 KiB of JSON to
// a client that accepts gzip, through the server's whole handler.
func BenchmarkServeActionGzip(b *testing.B) {
	items := make([]any, 100)
	for i := range items {
		items[i] = map[string]any{"id": i, "name": "item number " + strconv.Itoa(i), "tags": []string{"alpha", "beta"}}
	}
	reg := action.NewRegistry(logging.Discard(), "bench")
	if err := reg.Register(&action.Action{Name: "list", Run: func(ctx context.Context, r *action.Request) error {
		r.Response["items"] = items
		return nil
	}}); err != nil {
		b.Fatal(err)
	}
	s := New(Options{Config: testConfig(), ServerName: "Stellar API", APIVersion: "0.0.1", NodeID: "bench",
		Actions: reg, Logger: logging.Discard()})
	req := httptest.NewRequest(http.MethodGet, "/api/list?a=1", nil)
	req.Header.Set("Accept-Encoding", "gzip")
	b.ReportAllocs()
	for b.Loop() {
		w := httptest.NewRecorder()
		s.srv.Handler.ServeHTTP(w, req)
		if w.Code != 200 || w.Header().Get("Content-Encoding") != "gzip" {
			b.Fatal(w.Code, w.Header())
		}
	}
}

// BenchmarkBareGzip does BenchmarkServeActionGzip's work by hand: the
// same JSON, gzipped at the same level with pooled writers.
func BenchmarkBareGzip(b *testing.B) {
	items := make([]any, 100)
	for i := range items {
		items[i] = map[string]any{"id": i, "name": "item number " + strconv.Itoa(i), "tags": []string{"alpha", "beta"}}
	}
	pool := sync.Pool{New: func() any { zw, _ := gzip.NewWriterLevel(io.Discard, gzip.DefaultCompression); return zw }}
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		buf, _ := json.Marshal(map[string]any{"items": items, "serverInformation": map[string]any{"serverName": "Stellar API"},
			"requesterInformation": map[string]any{"id": "0123456789abcdef0123456789abcdef", "remoteIP": "192.0.2.1",
				"receivedParams": map[string]any{"a": r.URL.Query().Get("a")}}})
		w.Header().Set("Content-Type", "application/json; charset=utf-8")
		w.Header().Set("Vary", "Accept-Encoding")
		w.Header().Set("Content-Encoding", "gzip")
		zw := pool.Get().(*gzip.Writer)
		zw.Reset(w)
		_, _ = zw.Write(append(buf, '\n'))
		_ = zw.Close()
		pool.Put(zw)
	})
	req := httptest.NewRequest(http.MethodGet, "/api/list?a=1", nil)
	req.Header.Set("Accept-Encoding", "gzip")
	b.ReportAllocs()
	for b.Loop() {
		w := httptest.NewRecorder()
		h.ServeHTTP(w, req)
	}
}
