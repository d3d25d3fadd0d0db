// Command httpbench compares a trivial Stellar action over HTTP with a bare
// net/http handler doing the same JSON work, in the same run, on loopback,
// and prints requests per second and their ratio.
//
//	go run ./bench/httpbench -duration 2s -clients 32 -rounds 7
//
// Both servers run in this process on their own listeners; the load
// generator (keep-alive clients) runs here too, so both sides pay the same
// client cost. Every round runs each server once in a shuffled order, and
// the medians are compared, to even out drift and other load.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/stellarfw/stellar-go"
	"github.com/stellarfw/stellar-go/config"
)

func main() {
	duration := flag.Duration("duration", 2*time.Second, "length of each measured run")
	clients := flag.Int("clients", 32, "concurrent keep-alive clients")
	rounds := flag.Int("rounds", 7, "rounds; each runs every server once, in a shuffled order")
	flag.Parse()

	bareURL := startBare()
	stellarURL, app := startStellar(false)
	leanURL, leanApp := startStellar(true)
	defer app.Shutdown(context.Background())
	defer leanApp.Shutdown(context.Background())

	// Warm up every server once.
	for _, u := range []string{bareURL, stellarURL, leanURL} {
		load(u, *clients, time.Second)
	}
	urls := []string{bareURL, stellarURL, leanURL}
	results := make([][]float64, len(urls))
	for i := 0; i < *rounds; i++ {
		for _, j := range rand.Perm(len(urls)) {
			results[j] = append(results[j], load(urls[j], *clients, *duration))
		}
	}
	bare, full, lean := median(results[0]), median(results[1]), median(results[2])
	fmt.Printf("clients=%d duration=%s rounds=%d (medians)\n", *clients, *duration, *rounds)
	fmt.Printf("bare net/http (same JSON):          %9.0f req/s\n", bare)
	fmt.Printf("stellar action (with information):  %9.0f req/s  ratio %.2f\n", full, full/bare)
	fmt.Printf("stellar action (information off):   %9.0f req/s  ratio %.2f\n", lean, lean/bare)
}

func median(xs []float64) float64 {
	s := slices.Clone(xs)
	slices.Sort(s)
	return s[len(s)/2]
}

// startBare serves what a hand-written handler would for the same call:
// parse the query, build the response with server and requester
// information, encode it as JSON.
func startBare() string {
	mux := http.NewServeMux()
	mux.HandleFunc("/api/randomNumber", func(w http.ResponseWriter, r *http.Request) {
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
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		log.Fatal(err)
	}
	go http.Serve(ln, mux) //nolint:errcheck // runs until the process ends
	return "http://" + ln.Addr().String() + "/api/randomNumber"
}

func startStellar(lean bool) (string, *stellar.App) {
	cfg := stellar.Config{ID: "bench", HTTP: config.HTTP{
		Addr: "127.0.0.1:0", HideServerInformation: lean, HideRequesterInformation: lean,
	}, TCP: config.TCP{Addr: "off"}}
	cfg.Log.Level = "error"
	app := stellar.New(cfg, stellar.WithLogOutput(io.Discard))
	if err := app.Actions.Register(&stellar.Action{
		Name:     "randomNumber",
		LogLevel: -8, // below debug: never logged, as the bare handler logs nothing
		Run: func(ctx context.Context, r *stellar.Request) error {
			r.Response["number"] = 0.5
			return nil
		},
	}); err != nil {
		log.Fatal(err)
	}
	if err := app.Start(context.Background()); err != nil {
		log.Fatal(err)
	}
	return "http://" + app.HTTPAddr().String() + "/api/randomNumber", app
}

// load runs clients keep-alive clients against url for d and returns the
// completed requests per second. Any failed request aborts the run.
func load(url string, clients int, d time.Duration) float64 {
	tr := &http.Transport{MaxIdleConnsPerHost: clients, MaxConnsPerHost: clients}
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: tr}
	var done atomic.Int64
	deadline := time.Now().Add(d)
	var wg sync.WaitGroup
	for i := 0; i < clients; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for time.Now().Before(deadline) {
				res, err := client.Get(url + "?a=1")
				if err != nil {
					fmt.Fprintln(os.Stderr, "request failed:", err)
					os.Exit(1)
				}
				_, _ = io.Copy(io.Discard, res.Body)
				res.Body.Close()
				if res.StatusCode != 200 {
					fmt.Fprintln(os.Stderr, "status", res.StatusCode)
					os.Exit(1)
				}
				done.Add(1)
			}
		}()
	}
	wg.Wait()
	return float64(done.Load()) / d.Seconds()
}
