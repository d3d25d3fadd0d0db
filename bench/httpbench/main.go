// Command httpbench compares a trivial Stellar action over HTTP with a bare
// net/http handler doing the same JSON work, in the same run, on loopback,
// and prints requests per second and their ratio: over plain HTTP/1.1,
// over HTTPS with HTTP/2, and with a larger response gzipped.
//
//	go run ./bench/httpbench -duration 2s -clients 32 -rounds 7
//
// All servers run in this process on their own listeners; the load
// generator (keep-alive clients) runs here too, so both sides pay the same
// client cost. Every round runs each server once in a shuffled order, and
// the medians are compared, to even out drift and other load.
package main

import (
	"compress/gzip"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"flag"
	"fmt"
	"io"
	"log"
	"math/big"
	mrand "math/rand/v2"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/stellarfw/stellar-go"
	"github.com/stellarfw/stellar-go/config"
)

// target is one server under load and the client that loads it.
type target struct {
	label  string
	url    string
	client func() *http.Client // a new client (and connections) per run
	bare   int                 // index of the bare net/http target it is compared with
}

func main() {
	duration := flag.Duration("duration", 2*time.Second, "length of each measured run")
	clients := flag.Int("clients", 32, "concurrent keep-alive clients")
	rounds := flag.Int("rounds", 7, "rounds; each runs every server once, in a shuffled order")
	flag.Parse()

	certFile, keyFile, pool := writeCert()
	defer os.RemoveAll(filepath.Dir(certFile))
	plain := func() *http.Client {
		return &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: *clients, MaxConnsPerHost: *clients}}
	}
	h2 := func() *http.Client {
		return &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}, ForceAttemptHTTP2: true,
			MaxIdleConnsPerHost: *clients}}
	}

	var apps []*stellar.App
	start := func(c config.HTTP) string {
		u, app := startStellar(c)
		apps = append(apps, app)
		return u
	}
	defer func() {
		for _, a := range apps {
			_ = a.Shutdown(context.Background())
		}
	}()
	tlsHTTP := config.HTTP{TLSCert: certFile, TLSKey: keyFile}
	targets := []target{
		{"bare net/http (same JSON)", startBare(nil, false) + "/api/randomNumber", plain, 0},
		{"stellar action (with information)", start(config.HTTP{}) + "/api/randomNumber", plain, 0},
		{"stellar action (information off)", start(config.HTTP{HideServerInformation: true, HideRequesterInformation: true}) + "/api/randomNumber", plain, 0},
		{"bare net/http, HTTPS + HTTP/2", startBare(&certFile, false) + "/api/randomNumber", h2, 3},
		{"stellar action, HTTPS + HTTP/2", start(tlsHTTP) + "/api/randomNumber", h2, 3},
		{"bare net/http, 100-item JSON, gzip", startBare(nil, true) + "/api/list", plain, 5},
		{"stellar action, 100-item JSON, gzip", start(config.HTTP{}) + "/api/list", plain, 5},
	}
	// Check that each pair speaks as claimed, then warm up.
	for _, tg := range targets {
		check(tg)
		load(tg, *clients, time.Second)
	}
	results := make([][]float64, len(targets))
	for i := 0; i < *rounds; i++ {
		for _, j := range mrand.Perm(len(targets)) {
			results[j] = append(results[j], load(targets[j], *clients, *duration))
		}
	}
	fmt.Printf("clients=%d duration=%s rounds=%d (medians)\n", *clients, *duration, *rounds)
	for i, tg := range targets {
		m := median(results[i])
		fmt.Printf("%-38s %9.0f req/s  ratio %.2f\n", tg.label+":", m, m/median(results[tg.bare]))
	}
}

// check makes one request and exits unless it went as the label says:
// HTTP/2 over TLS for HTTPS, a gzipped body for gzip.
func check(tg target) {
	req, _ := http.NewRequest("GET", tg.url+"?a=1", nil)
	req.Header.Set("Accept-Encoding", "gzip")
	res, err := tg.client().Transport.RoundTrip(req)
	if err != nil {
		log.Fatalf("%s: %v", tg.label, err)
	}
	_, _ = io.Copy(io.Discard, res.Body)
	res.Body.Close()
	if strings.Contains(tg.label, "HTTPS") && (res.TLS == nil || res.ProtoMajor != 2) {
		log.Fatalf("%s: %s without HTTP/2 over TLS", tg.label, res.Proto)
	}
	if strings.Contains(tg.label, "gzip") != (res.Header.Get("Content-Encoding") == "gzip") {
		log.Fatalf("%s: Content-Encoding %q", tg.label, res.Header.Get("Content-Encoding"))
	}
}

// listItems is the larger response of the gzip rows: about 6 KiB of JSON.
func listItems() []any {
	items := make([]any, 100)
	for i := range items {
		items[i] = map[string]any{"id": i, "name": fmt.Sprintf("item number %d", i), "tags": []string{"alpha", "beta"}}
	}
	return items
}

// writeCert writes a self-signed certificate for 127.0.0.1 into a new
// temporary folder.
func writeCert() (certFile, keyFile string, pool *x509.CertPool) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		log.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "httpbench"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true, IsCA: true, IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		log.Fatal(err)
	}
	kder, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		log.Fatal(err)
	}
	dir, err := os.MkdirTemp("", "httpbench")
	if err != nil {
		log.Fatal(err)
	}
	certFile, keyFile = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	if err := os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		log.Fatal(err)
	}
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: kder}), 0o600); err != nil {
		log.Fatal(err)
	}
	leaf, _ := x509.ParseCertificate(der)
	pool = x509.NewCertPool()
	pool.AddCert(leaf)
	return certFile, keyFile, pool
}

func median(xs []float64) float64 {
	s := slices.Clone(xs)
	slices.Sort(s)
	return s[len(s)/2]
}

// startBare serves what a hand-written handler would for the same call:
// parse the query, build the response with server and requester
// information, encode it as JSON. With certFile it serves HTTPS (HTTP/2
// negotiated) with that certificate; with gzip it also serves /api/list,
// gzipped (the standard library's default level, as the node) for a
// client that accepts it. It returns the base URL.
func startBare(certFile *string, gz bool) string {
	mux := http.NewServeMux()
	answer := func(w http.ResponseWriter, r *http.Request, extra string, v any) {
		start := time.Now()
		params := map[string]any{}
		for k, v := range r.URL.Query() {
			params[k] = v[0]
		}
		host, _, _ := net.SplitHostPort(r.RemoteAddr)
		body := map[string]any{
			extra: v,
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
		buf = append(buf, '\n')
		w.Header().Set("Content-Type", "application/json; charset=utf-8")
		if gz && len(buf) >= 1024 {
			w.Header().Add("Vary", "Accept-Encoding")
			if strings.Contains(r.Header.Get("Accept-Encoding"), "gzip") {
				w.Header().Set("Content-Encoding", "gzip")
				zw := gzipPool.Get().(*gzip.Writer)
				zw.Reset(w)
				_, _ = zw.Write(buf)
				_ = zw.Close()
				gzipPool.Put(zw)
				return
			}
		}
		_, _ = w.Write(buf)
	}
	mux.HandleFunc("/api/randomNumber", func(w http.ResponseWriter, r *http.Request) { answer(w, r, "number", 0.5) })
	items := listItems()
	mux.HandleFunc("/api/list", func(w http.ResponseWriter, r *http.Request) { answer(w, r, "items", items) })
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		log.Fatal(err)
	}
	srv := &http.Server{Handler: mux}
	if certFile != nil {
		go srv.ServeTLS(ln, *certFile, strings.TrimSuffix(*certFile, "cert.pem")+"key.pem") //nolint:errcheck // runs until the process ends
		return "https://" + ln.Addr().String()
	}
	go srv.Serve(ln) //nolint:errcheck // runs until the process ends
	return "http://" + ln.Addr().String()
}

var gzipPool = sync.Pool{New: func() any { zw, _ := gzip.NewWriterLevel(io.Discard, gzip.DefaultCompression); return zw }}

func startStellar(h config.HTTP) (string, *stellar.App) {
	h.Addr = "127.0.0.1:0"
	cfg := stellar.Config{ID: "bench", HTTP: h, TCP: config.TCP{Addr: "off"}}
	cfg.Log.Level = "error"
	app := stellar.New(cfg, stellar.WithLogOutput(io.Discard))
	items := listItems()
	if err := app.Actions.Register(&stellar.Action{
		Name:     "randomNumber",
		LogLevel: -8, // below debug: never logged, as the bare handler logs nothing
		Run: func(ctx context.Context, r *stellar.Request) error {
			r.Response["number"] = 0.5
			return nil
		},
	}, &stellar.Action{
		Name:     "list",
		LogLevel: -8,
		Run: func(ctx context.Context, r *stellar.Request) error {
			r.Response["items"] = items
			return nil
		},
	}); err != nil {
		log.Fatal(err)
	}
	if err := app.Start(context.Background()); err != nil {
		log.Fatal(err)
	}
	scheme := "http://"
	if h.TLSCert != "" {
		scheme = "https://"
	}
	return scheme + app.HTTPAddr().String(), app
}

// load runs clients keep-alive clients against tg for d and returns the
// completed requests per second. Any failed request aborts the run.
func load(tg target, clients int, d time.Duration) float64 {
	client := tg.client()
	defer client.CloseIdleConnections()
	var done atomic.Int64
	deadline := time.Now().Add(d)
	var wg sync.WaitGroup
	for i := 0; i < clients; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for time.Now().Before(deadline) {
				res, err := client.Get(tg.url + "?a=1")
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
