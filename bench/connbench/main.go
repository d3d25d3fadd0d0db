// Command connbench measures the persistent transports: action round
// trips per second over WebSocket and TCP against HTTP, in the same run
// and against the same node, and the memory a node spends per idle
// WebSocket connection with many open.
//
//	go run ./bench/connbench -duration 2s -clients 32 -rounds 5 -idle 10000
//
// The node runs in a child process (this program run again with
// -serve), so that the load generator's memory and sockets are not
// counted against it. Each client sends one request and waits for its
// reply before sending the next (keep-alive HTTP; one WebSocket or TCP
// connection per client). Every round runs each transport once in a
// shuffled order; the medians are reported. For the idle figure the
// client opens -idle WebSocket connections, waits for each welcome, and
// the node reports its heap and stacks (after a GC) and its RSS, before
// and after. Both processes raise their open-file limit to what they
// need.
package main

import (
	"bufio"
	"bytes"
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
	"os/exec"
	"runtime"
	"runtime/debug"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/coder/websocket"

	"github.com/stellarfw/stellar-go"
	"github.com/stellarfw/stellar-go/config"
)

func main() {
	serve := flag.Bool("serve", false, "run the node (used by the benchmark itself)")
	duration := flag.Duration("duration", 2*time.Second, "length of each measured run")
	clients := flag.Int("clients", 32, "concurrent clients, each with one request in flight")
	rounds := flag.Int("rounds", 5, "rounds; each runs every transport once, in a shuffled order")
	idle := flag.Int("idle", 10000, "idle WebSocket connections to open for the memory figure (0 skips it)")
	flag.Parse()
	raiseFileLimit(*idle + 1000)
	if *serve {
		runNode()
		return
	}
	httpAddr, tcpAddr, stop := startNode()
	defer stop()

	kinds := []struct {
		name string
		run  func(clients int, d time.Duration) float64
	}{
		{"HTTP (keep-alive)", func(c int, d time.Duration) float64 { return loadHTTP(httpAddr, c, d) }},
		{"WebSocket", func(c int, d time.Duration) float64 { return loadWS(httpAddr, c, d) }},
		{"TCP", func(c int, d time.Duration) float64 { return loadTCP(tcpAddr, c, d) }},
	}
	for _, k := range kinds {
		k.run(*clients, 500*time.Millisecond) // warm up
	}
	results := make([][]float64, len(kinds))
	for range *rounds {
		for _, j := range rand.Perm(len(kinds)) {
			results[j] = append(results[j], kinds[j].run(*clients, *duration))
		}
	}
	fmt.Printf("action round trips: clients=%d duration=%s rounds=%d (medians), GOMAXPROCS=%d\n",
		*clients, *duration, *rounds, runtime.GOMAXPROCS(0))
	base := median(results[0])
	for i, k := range kinds {
		m := median(results[i])
		fmt.Printf("  %-18s %9.0f round trips/s  x%.2f of HTTP\n", k.name, m, m/base)
	}
	if *idle > 0 {
		idleMemory(httpAddr, *idle)
	}
}

// raiseFileLimit raises the soft limit on open files to n, within the
// hard limit.
func raiseFileLimit(n int) {
	var l syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &l); err != nil {
		return
	}
	want := uint64(n)
	if want > l.Max {
		log.Printf("open-file hard limit %d is below the %d needed", l.Max, n)
		want = l.Max
	}
	if l.Cur < want {
		l.Cur = want
		if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &l); err != nil {
			log.Printf("raising the open-file limit: %v", err)
		}
	}
}

// runNode is the child: one node on the memory backend, with a trivial
// action and one that reports memory. It prints its addresses, then
// serves until stdin closes.
func runNode() {
	cfg := stellar.Config{ID: "connbench", HTTP: config.HTTP{Addr: "127.0.0.1:0"}, TCP: config.TCP{Addr: "127.0.0.1:0", MaxInFlight: 64}}
	cfg.HTTP.HideRequesterInformation = true
	cfg.Log.Level = "error"
	cfg.WebSocket.PingInterval = time.Hour // idle means idle
	app := stellar.New(cfg, stellar.WithLogOutput(io.Discard))
	if err := app.Actions.Register(
		&stellar.Action{Name: "ping", LogLevel: -8, Run: func(ctx context.Context, r *stellar.Request) error {
			r.Response["pong"] = true
			return nil
		}},
		&stellar.Action{Name: "mem", Run: func(ctx context.Context, r *stellar.Request) error {
			runtime.GC()
			debug.FreeOSMemory()
			var m runtime.MemStats
			runtime.ReadMemStats(&m)
			r.Response["heap"] = m.HeapInuse
			r.Response["stack"] = m.StackInuse
			r.Response["goroutines"] = runtime.NumGoroutine()
			r.Response["rss"] = rss()
			r.Response["websockets"] = app.Connections.Len("websocket")
			return nil
		}},
	); err != nil {
		log.Fatal(err)
	}
	if err := app.Start(context.Background()); err != nil {
		log.Fatal(err)
	}
	fmt.Printf("%s %s\n", app.HTTPAddr(), app.TCPAddr())
	_, _ = io.Copy(io.Discard, os.Stdin)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	_ = app.Shutdown(ctx)
}

// rss is the process's resident set, in bytes, from /proc.
func rss() uint64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if f := strings.Fields(line); len(f) >= 2 && f[0] == "VmRSS:" {
			kb, _ := strconv.ParseUint(f[1], 10, 64)
			return kb << 10
		}
	}
	return 0
}

func startNode() (httpAddr, tcpAddr string, stop func()) {
	exe, err := os.Executable()
	if err != nil {
		log.Fatal(err)
	}
	cmd := exec.Command(exe, "-serve", "-idle", flag.Lookup("idle").Value.String())
	cmd.Stderr = os.Stderr
	in, err := cmd.StdinPipe()
	if err != nil {
		log.Fatal(err)
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		log.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		log.Fatal(err)
	}
	line, err := bufio.NewReader(out).ReadString('\n')
	if err != nil {
		log.Fatalf("the node did not start: %v", err)
	}
	f := strings.Fields(line)
	return f[0], f[1], func() { _ = in.Close(); _ = cmd.Wait() }
}

// loadHTTP runs keep-alive clients calling the action; it returns round
// trips per second.
func loadHTTP(addr string, clients int, d time.Duration) float64 {
	tr := &http.Transport{MaxIdleConnsPerHost: clients, MaxConnsPerHost: clients}
	defer tr.CloseIdleConnections()
	hc := &http.Client{Transport: tr}
	url := "http://" + addr + "/api/ping"
	return run(clients, d, func() (func() error, func()) {
		return func() error {
			res, err := hc.Get(url)
			if err != nil {
				return err
			}
			_, _ = io.Copy(io.Discard, res.Body)
			res.Body.Close()
			if res.StatusCode != 200 {
				return fmt.Errorf("status %d", res.StatusCode)
			}
			return nil
		}, func() {}
	})
}

var pingMsg = []byte(`{"action":"ping"}`)

func loadWS(addr string, clients int, d time.Duration) float64 {
	return run(clients, d, func() (func() error, func()) {
		ctx := context.Background()
		c, _, err := websocket.Dial(ctx, "ws://"+addr+"/ws", nil)
		if err != nil {
			log.Fatal(err)
		}
		if _, _, err := c.Read(ctx); err != nil { // welcome
			log.Fatal(err)
		}
		return func() error {
			if err := c.Write(ctx, websocket.MessageText, pingMsg); err != nil {
				return err
			}
			_, b, err := c.Read(ctx)
			if err == nil && !bytes.Contains(b, []byte(`"pong"`)) {
				err = fmt.Errorf("reply %s", b)
			}
			return err
		}, func() { _ = c.CloseNow() }
	})
}

func loadTCP(addr string, clients int, d time.Duration) float64 {
	return run(clients, d, func() (func() error, func()) {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			log.Fatal(err)
		}
		r := bufio.NewReader(c)
		if _, err := r.ReadBytes('\n'); err != nil { // welcome
			log.Fatal(err)
		}
		line := append(slices.Clone(pingMsg), '\n')
		return func() error {
			if _, err := c.Write(line); err != nil {
				return err
			}
			b, err := r.ReadBytes('\n')
			if err == nil && !bytes.Contains(b, []byte(`"pong"`)) {
				err = fmt.Errorf("reply %s", b)
			}
			return err
		}, func() { _ = c.Close() }
	})
}

// run starts clients (each made by open) and counts their round trips
// for d.
func run(clients int, d time.Duration, open func() (func() error, func())) float64 {
	calls := make([]func() error, clients)
	for i := range calls {
		var closeFn func()
		calls[i], closeFn = open()
		defer closeFn()
	}
	var n atomic.Int64
	var wg sync.WaitGroup
	start := time.Now()
	deadline := start.Add(d)
	for _, call := range calls {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for time.Now().Before(deadline) {
				if err := call(); err != nil {
					log.Fatal(err)
				}
				n.Add(1)
			}
		}()
	}
	wg.Wait()
	return float64(n.Load()) / time.Since(start).Seconds()
}

func median(v []float64) float64 {
	s := slices.Clone(v)
	slices.Sort(s)
	return s[len(s)/2]
}

type memFigures struct {
	Heap       float64 `json:"heap"`
	Stack      float64 `json:"stack"`
	RSS        float64 `json:"rss"`
	Goroutines float64 `json:"goroutines"`
	Websockets float64 `json:"websockets"`
}

func memory(addr string) memFigures {
	res, err := http.Get("http://" + addr + "/api/mem")
	if err != nil {
		log.Fatal(err)
	}
	defer res.Body.Close()
	var m memFigures
	if err := json.NewDecoder(res.Body).Decode(&m); err != nil {
		log.Fatal(err)
	}
	return m
}

// idleMemory opens n idle WebSocket connections and reports what the node
// spends on each.
func idleMemory(addr string, n int) {
	before := memory(addr)
	conns := make([]*websocket.Conn, 0, n)
	ctx := context.Background()
	var mu sync.Mutex
	var wg sync.WaitGroup
	sem := make(chan struct{}, 64)
	for range n {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			c, _, err := websocket.Dial(ctx, "ws://"+addr+"/ws", nil)
			if err != nil {
				log.Fatalf("opening idle connections: %v", err)
			}
			if _, _, err := c.Read(ctx); err != nil {
				log.Fatal(err)
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
		}()
	}
	wg.Wait()
	after := memory(addr)
	per := func(a, b float64) float64 { return (b - a) / float64(n) }
	fmt.Printf("idle WebSocket connections: %d open (node counts %.0f), goroutines %+.0f\n",
		n, after.Websockets, after.Goroutines-before.Goroutines)
	fmt.Printf("  per connection: heap %.1f KiB + stacks %.1f KiB = %.1f KiB; RSS %.1f KiB\n",
		per(before.Heap, after.Heap)/1024, per(before.Stack, after.Stack)/1024,
		(per(before.Heap, after.Heap)+per(before.Stack, after.Stack))/1024, per(before.RSS, after.RSS)/1024)
	for _, c := range conns {
		_ = c.CloseNow()
	}
}
