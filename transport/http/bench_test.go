package http

import (
	"context"
	"encoding/json"
	"net"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/stellarfw/stellar-go/action"
	"github.com/stellarfw/stellar-go/internal/logging"
)

// The handler benchmarks measure the framework's work per request without
// the network: BenchmarkServeAction against BenchmarkBareHandler, which does
// the same JSON work by hand. bench/all measures an action over loopback from a load generator in another process.

func BenchmarkServeAction(b *testing.B) {
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
