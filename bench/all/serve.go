package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"os"
	"runtime"
	"runtime/debug"
	"runtime/pprof"
	"strconv"
	"strings"
	"syscall"
	"time"

	childproc "github.com/stellarfw/stellar-go/bench/internal/child"

	"github.com/coder/websocket"

	"github.com/stellarfw/stellar-go"
	"github.com/stellarfw/stellar-go/config"
)

// child is a server process: its HTTP and TCP addresses, and how to stop
// it.
type child struct {
	httpAddr, tcpAddr string
	stop              func()
}

// startChild runs this program again with -role role; the child prints
// its HTTP and TCP addresses on one line, and serves until its stdin
// closes.
func startChild(role string) child {
	args := []string{"-role", role, "-idle", strconv.Itoa(*idleN)}
	if *profile != "" && role == "node" {
		args = append(args, "-cpuprofile", *profile)
	}
	if *heapProf != "" && role == "node" {
		args = append(args, "-heapprofile", *heapProf)
	}
	p := childproc.Start(args...)
	f := strings.Fields(p.Line)
	if len(f) != 2 {
		p.Stop()
		log.Fatalf("the %s server said %q", role, p.Line)
	}
	return child{httpAddr: f[0], tcpAddr: f[1], stop: p.Stop}
}

// waitStdin blocks until the parent closes our stdin.
func waitStdin() { _, _ = io.Copy(io.Discard, os.Stdin) }

// runNode is the node under test: the memory backend, HTTP, WebSocket and
// TCP on loopback, everything else a node runs by default; a trivial
// action "ping" and an action "mem" that reports memory. Per-call log
// lines are below the level, as in production.
func runNode() {
	if *profile != "" {
		f, err := os.Create(*profile)
		if err == nil {
			err = pprof.StartCPUProfile(f)
		}
		if err != nil {
			log.Fatal(err)
		}
		defer pprof.StopCPUProfile()
	}
	cfg := stellar.Config{ID: "bench", HTTP: config.HTTP{Addr: "127.0.0.1:0"}, TCP: config.TCP{Addr: "127.0.0.1:0", MaxInFlight: 64}}
	cfg.HTTP.HideRequesterInformation = true
	cfg.Log.Level = "error"
	cfg.WebSocket.PingInterval = time.Hour // idle means idle
	cfg.WebSocket.MaxConnections = *idleN + 1000
	cfg.WebSocket.MaxConnectionsPerIP = *idleN + 1000
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
			if *heapProf != "" {
				if f, err := os.Create(*heapProf); err == nil {
					_ = pprof.WriteHeapProfile(f)
					_ = f.Close()
				}
			}
			return nil
		}},
	); err != nil {
		log.Fatal(err)
	}
	if err := app.Start(context.Background()); err != nil {
		log.Fatal(err)
	}
	fmt.Printf("%s %s\n", app.HTTPAddr(), app.TCPAddr())
	waitStdin()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	_ = app.Shutdown(ctx)
}

var hello = []byte("hello")

// runBare is the floor: net/http answering "hello" and nothing else, a
// WebSocket echo at /ws, and a TCP line echo.
func runBare() {
	mux := http.NewServeMux()
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) { _, _ = w.Write(hello) })
	mux.HandleFunc("/ws", func(w http.ResponseWriter, r *http.Request) {
		c, err := websocket.Accept(w, r, nil)
		if err != nil {
			return
		}
		defer c.CloseNow()
		ctx := context.Background()
		for {
			t, b, err := c.Read(ctx)
			if err != nil {
				return
			}
			if err := c.Write(ctx, t, b); err != nil {
				return
			}
		}
	})
	hl, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		log.Fatal(err)
	}
	tl, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		log.Fatal(err)
	}
	go func() { _ = http.Serve(hl, mux) }()
	go func() {
		for {
			c, err := tl.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				r := bufio.NewReader(c)
				for {
					line, err := r.ReadSlice('\n')
					if err != nil {
						return
					}
					if _, err := c.Write(line); err != nil {
						return
					}
				}
			}()
		}
	}()
	fmt.Printf("%s %s\n", hl.Addr(), tl.Addr())
	waitStdin()
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

// raiseFileLimit raises the soft limit on open files to n, within the
// hard limit.
func raiseFileLimit(n int) {
	var l syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &l); err != nil {
		return
	}
	want := min(uint64(n), l.Max)
	if l.Cur < want {
		l.Cur = want
		_ = syscall.Setrlimit(syscall.RLIMIT_NOFILE, &l)
	}
}
