package stellar_test

import (
	"bufio"
	"context"
	"io"
	"net"
	"net/http"
	"testing"
	"time"

	"github.com/stellarfw/stellar-go"
	"github.com/stellarfw/stellar-go/config"
)

// BenchmarkHTTPAction is GET /api/ping on a whole node (the node of
// bench/all: requester information hidden, request lines below the
// level) over one keep-alive loopback connection; BenchmarkHTTPBare is
// the same client against a bare net/http handler writing "hello". The
// client's work and allocations are the same in both: the difference is
// the framework's.
func BenchmarkHTTPAction(b *testing.B) {
	cfg := stellar.Config{ID: "bench", HTTP: config.HTTP{Addr: "127.0.0.1:0"}, TCP: config.TCP{Addr: "off"}}
	cfg.HTTP.HideRequesterInformation = true
	cfg.Log.Level = "error"
	app := stellar.New(cfg, stellar.WithLogOutput(io.Discard))
	if err := app.Actions.Register(&stellar.Action{Name: "ping", LogLevel: -8, Run: func(ctx context.Context, r *stellar.Request) error {
		r.Response["pong"] = true
		return nil
	}}); err != nil {
		b.Fatal(err)
	}
	if err := app.Start(context.Background()); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = app.Shutdown(ctx)
	})
	benchGet(b, app.HTTPAddr().String(), "/api/ping")
}

func BenchmarkHTTPBare(b *testing.B) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { _, _ = w.Write([]byte("hello")) })}
	go func() { _ = srv.Serve(ln) }()
	b.Cleanup(func() { _ = srv.Close() })
	benchGet(b, ln.Addr().String(), "/")
}

// benchGet sends GET path to addr over one connection, b.N times, and
// checks each answer is a 200.
func benchGet(b *testing.B, addr, path string) {
	b.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	req := []byte("GET " + path + " HTTP/1.1\r\nHost: bench\r\n\r\n")
	br := bufio.NewReader(c)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := c.Write(req); err != nil {
			b.Fatal(err)
		}
		res, err := http.ReadResponse(br, nil)
		if err != nil {
			b.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, res.Body)
		_ = res.Body.Close()
		if res.StatusCode != http.StatusOK {
			b.Fatal(res.Status)
		}
	}
}
