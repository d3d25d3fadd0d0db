package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"log"
	"net"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/coder/websocket"
)

var (
	kind    = flag.String("kind", "", "load role: http, ws or tcp")
	addr    = flag.String("addr", "", "load role: the server's address")
	path    = flag.String("path", "/", "load role, http: the path to GET")
	welcome = flag.Bool("welcome", false, "load role, ws and tcp: read a welcome message first")
)

// result is one measured run: round trips per second and latency
// quantiles.
type result struct {
	PerSec float64       `json:"per_sec"`
	P50    time.Duration `json:"p50"`
	P99    time.Duration `json:"p99"`
}

// measure runs w from conc goroutines for d and times every call.
func measure(d time.Duration, conc int, w func(ctx context.Context, worker int) error) (result, error) {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	var (
		mu    sync.Mutex
		lats  []time.Duration
		first error
		wg    sync.WaitGroup
	)
	start := time.Now()
	for i := range conc {
		wg.Add(1)
		go func() {
			defer wg.Done()
			local := make([]time.Duration, 0, 1<<14)
			var err error
			for ctx.Err() == nil {
				t0 := time.Now()
				if err = w(ctx, i); err != nil {
					// A client may see its deadline pass before the
					// context says so.
					if ctx.Err() != nil || errors.Is(err, context.DeadlineExceeded) {
						err = nil
					}
					break
				}
				local = append(local, time.Since(t0))
			}
			mu.Lock()
			lats = append(lats, local...)
			if err != nil && first == nil {
				first = err
				cancel()
			}
			mu.Unlock()
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	if first != nil {
		return result{}, first
	}
	if len(lats) == 0 {
		return result{}, errors.New("no round trip completed")
	}
	slices.Sort(lats)
	return result{PerSec: float64(len(lats)) / elapsed.Seconds(), P50: lats[len(lats)/2], P99: lats[len(lats)*99/100]}, nil
}

// runLoad is the load generator's process: -clients connections to -addr,
// each with one request in flight, for -d; it prints the result as JSON.
func runLoad() {
	calls := make([]func() error, *clients)
	for i := range calls {
		c, err := dial()
		if err != nil {
			log.Fatal(err)
		}
		calls[i] = c
	}
	r, err := measure(*dur, *clients, func(_ context.Context, i int) error { return calls[i]() })
	if err != nil {
		log.Fatal(err)
	}
	_ = json.NewEncoder(os.Stdout).Encode(r)
}

var pingMsg = []byte(`{"action":"ping"}`)

// dial opens one client connection and returns its round trip.
func dial() (func() error, error) {
	switch *kind {
	case "http":
		// A minimal HTTP/1.1 keep-alive client, as wrk is: the same bytes
		// every time, the reply read by its Content-Length.
		c, err := net.Dial("tcp", *addr)
		if err != nil {
			return nil, err
		}
		req := []byte("GET " + *path + " HTTP/1.1\r\nHost: " + *addr + "\r\n\r\n")
		r := bufio.NewReaderSize(c, 16<<10)
		return func() error {
			if _, err := c.Write(req); err != nil {
				return err
			}
			return readHTTP(r)
		}, nil
	case "ws":
		ctx := context.Background()
		c, _, err := websocket.Dial(ctx, "ws://"+*addr+"/ws", nil)
		if err != nil {
			return nil, err
		}
		if *welcome {
			if _, _, err := c.Read(ctx); err != nil {
				return nil, err
			}
		}
		return func() error {
			if err := c.Write(ctx, websocket.MessageText, pingMsg); err != nil {
				return err
			}
			_, b, err := c.Read(ctx)
			if err == nil && !bytes.Contains(b, []byte(`"`)) {
				err = fmt.Errorf("reply %s", b)
			}
			return err
		}, nil
	case "tcp":
		c, err := net.Dial("tcp", *addr)
		if err != nil {
			return nil, err
		}
		r := bufio.NewReader(c)
		if *welcome {
			if _, err := r.ReadSlice('\n'); err != nil {
				return nil, err
			}
		}
		line := append(slices.Clone(pingMsg), '\n')
		return func() error {
			if _, err := c.Write(line); err != nil {
				return err
			}
			b, err := r.ReadSlice('\n')
			if err == nil && !bytes.Contains(b, []byte(`"`)) {
				err = fmt.Errorf("reply %s", b)
			}
			return err
		}, nil
	}
	return nil, fmt.Errorf("unknown kind %q", *kind)
}

// readHTTP reads one response with a Content-Length and a 200 status.
func readHTTP(r *bufio.Reader) error {
	line, err := r.ReadSlice('\n')
	if err != nil {
		return err
	}
	if !bytes.HasPrefix(line, []byte("HTTP/1.1 200")) {
		return fmt.Errorf("status line %q", line)
	}
	n := -1
	for {
		line, err = r.ReadSlice('\n')
		if err != nil {
			return err
		}
		if len(line) <= 2 {
			break
		}
		if len(line) > 16 && strings.EqualFold(string(line[:15]), "content-length:") {
			n, err = strconv.Atoi(strings.TrimSpace(string(line[15:])))
			if err != nil {
				return err
			}
		}
	}
	if n < 0 {
		return errors.New("reply without Content-Length")
	}
	_, err = r.Discard(n)
	return err
}

// loadRun runs one load generator process against a server.
func loadRun(k, address, p string, welcomeFirst bool, d time.Duration) result {
	exe, err := os.Executable()
	if err != nil {
		log.Fatal(err)
	}
	cmd := exec.Command(exe, "-role", "load", "-kind", k, "-addr", address, "-path", p,
		"-welcome="+strconv.FormatBool(welcomeFirst), "-clients", strconv.Itoa(*clients), "-d", d.String(),
		"-idle", "0")
	cmd.Stderr = os.Stderr
	out, err := cmd.Output()
	if err != nil {
		log.Fatalf("load generator (%s %s): %v", k, address, err)
	}
	var r result
	if err := json.Unmarshal(out, &r); err != nil {
		log.Fatalf("load generator said %q: %v", out, err)
	}
	return r
}

// pairRounds measures a and b once per round, alternating which goes
// first, after a warm-up of each; it returns each side's results.
func pairRounds(n int, a, b func(d time.Duration) result) (ra, rb []result) {
	a(*dur / 4)
	b(*dur / 4)
	for i := range n {
		if i%2 == 0 {
			ra = append(ra, a(*dur))
			rb = append(rb, b(*dur))
		} else {
			rb = append(rb, b(*dur))
			ra = append(ra, a(*dur))
		}
	}
	return ra, rb
}

// med returns the medians of a run's figures, each taken on its own.
func med(rs []result) result {
	pick := func(f func(result) float64) float64 {
		v := make([]float64, len(rs))
		for i, r := range rs {
			v[i] = f(r)
		}
		slices.Sort(v)
		return v[len(v)/2]
	}
	return result{
		PerSec: pick(func(r result) float64 { return r.PerSec }),
		P50:    time.Duration(pick(func(r result) float64 { return float64(r.P50) })),
		P99:    time.Duration(pick(func(r result) float64 { return float64(r.P99) })),
	}
}

// ratios returns framework/baseline per round, as the smallest, median
// and largest.
func ratios(fw, base []result) string {
	v := make([]float64, len(fw))
	for i := range fw {
		v[i] = fw[i].PerSec / base[i].PerSec
	}
	slices.Sort(v)
	return fmt.Sprintf("%.2f (%.2f–%.2f)", v[len(v)/2], v[0], v[len(v)-1])
}

func lat(d time.Duration) string {
	switch {
	case d >= time.Millisecond:
		return fmt.Sprintf("%.2f ms", float64(d)/float64(time.Millisecond))
	case d >= 10*time.Microsecond:
		return fmt.Sprintf("%.0f µs", float64(d)/float64(time.Microsecond))
	default:
		return fmt.Sprintf("%.2f µs", float64(d)/float64(time.Microsecond))
	}
}

func transports(node, bare child, want map[string]bool, stamp string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "Measured %s; %d clients, %d rounds of %s, load generator in its own process.\n\n", stamp, *clients, *rounds, *dur)
	b.WriteString("| workload | Stellar/s | baseline/s | ratio, median (min–max) | Stellar p50 / p99 | baseline p50 / p99 |\n")
	b.WriteString("| --- | ---: | ---: | ---: | ---: | ---: |\n")
	rows := []struct {
		name, k, fwAddr, baseAddr, fwPath string
	}{
		{"HTTP `GET /api/ping` vs bare `net/http` hello", "http", node.httpAddr, bare.httpAddr, "/api/ping"},
		{"WebSocket action round trip vs bare echo", "ws", node.httpAddr, bare.httpAddr, ""},
		{"TCP action round trip vs bare line echo", "tcp", node.tcpAddr, bare.tcpAddr, ""},
	}
	for _, r := range rows {
		if !want[r.k] {
			continue
		}
		fw, base := pairRounds(*rounds,
			func(d time.Duration) result { return loadRun(r.k, r.fwAddr, r.fwPath, true, d) },
			func(d time.Duration) result { return loadRun(r.k, r.baseAddr, "/", false, d) })
		f, bs := med(fw), med(base)
		fmt.Fprintf(&b, "| %s | %.0f | %.0f | %s | %s / %s | %s / %s |\n", r.name, f.PerSec, bs.PerSec, ratios(fw, base),
			lat(f.P50), lat(f.P99), lat(bs.P50), lat(bs.P99))
		log.Printf("%s done", r.k)
	}
	return b.String()
}
