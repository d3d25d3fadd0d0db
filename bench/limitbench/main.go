// Command limitbench replays the attacks that the per-connection and
// per-node limits answer, against a node with its default configuration,
// and reports what the node accepted and the memory it took:
//
//	go run ./bench/limitbench
//
// Each attack runs against a fresh node in a child process (this program
// run again with -serve), so that the figures of one do not leak into the
// next and the attacker's memory is not counted:
//
//   - params: one TCP connection sends 1,500 paramAdd of 60 KiB each, then
//     one detailsView;
//   - bodies: ten concurrent HTTP requests, each with a JSON body just
//     under http.max_body_bytes (8 MiB) holding one long string;
//   - numbers: the same with bodies of small numbers ([1,1,1,…]), the
//     JSON that costs the most once decoded;
//   - conns: one client opens 3,000 TCP connections.
//
// The node reports its resident set (VmRSS) before and after, and its
// peak (VmHWM, reset before the attack), from /proc: Linux only.
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
	"net"
	"net/http"
	"os"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/stellarfw/stellar-go/bench/internal/child"

	"github.com/stellarfw/stellar-go"
	"github.com/stellarfw/stellar-go/config"
)

func main() {
	serve := flag.Bool("serve", false, "run the node (used by the program itself)")
	only := flag.String("attack", "", "run only this attack: params, bodies, numbers or conns")
	flag.Parse()
	raiseFileLimit(8000)
	if *serve {
		runNode()
		return
	}
	attacks := []struct {
		name string
		run  func(httpAddr, tcpAddr string) (outcome string, release func())
	}{
		{"params", attackParams},
		{"bodies", func(h, _ string) (string, func()) {
			return attackBodies(h, []byte(`{"blob":"`+strings.Repeat("b", 8<<20-64)+`"}`))
		}},
		{"numbers", func(h, _ string) (string, func()) {
			return attackBodies(h, []byte(`{"list":[`+strings.Repeat("1,", 4<<20-64)+`1]}`))
		}},
		{"conns", attackConns},
	}
	for _, a := range attacks {
		if *only != "" && *only != a.name {
			continue
		}
		httpAddr, tcpAddr, stop := startNode()
		before := memory(httpAddr, true)
		outcome, release := a.run(httpAddr, tcpAddr)
		after := memory(httpAddr, false) // with the attacker's connections still open
		release()
		fmt.Printf("%-7s RSS %4d MB before, %4d MB peak, %4d MB after; %s\n",
			a.name, before.RSS>>20, after.Peak>>20, after.RSS>>20, outcome)
		stop()
	}
}

// attackParams: 1,500 paramAdd of 60 KiB on one TCP connection, then
// detailsView.
func attackParams(_, tcpAddr string) (string, func()) {
	c, err := net.Dial("tcp", tcpAddr)
	if err != nil {
		log.Fatal(err)
	}
	release := func() { _ = c.Close() }
	br := bufio.NewReaderSize(c, 1<<20)
	if _, err := br.ReadString('\n'); err != nil { // welcome
		log.Fatal(err)
	}
	value := strings.Repeat("v", 60<<10)
	const n = 1500
	go func() {
		bw := bufio.NewWriter(c)
		for i := range n {
			fmt.Fprintf(bw, `{"verb":"paramAdd","key":"k%d","value":%q}`+"\n", i, value)
		}
		fmt.Fprintln(bw, `{"verb":"detailsView"}`)
		_ = bw.Flush()
	}()
	codes := map[string]int{}
	detailsBytes := 0
	for i := range n + 1 {
		line, err := br.ReadBytes('\n')
		if err != nil {
			return fmt.Sprintf("connection closed after %d replies (%v); %v", i, err, codes), release
		}
		var m struct {
			Status string `json:"status"`
			Error  struct {
				Code string `json:"code"`
			} `json:"error"`
		}
		_ = json.Unmarshal(line, &m)
		if i == n {
			detailsBytes = len(line)
			continue
		}
		if m.Error.Code != "" {
			codes[m.Error.Code]++
		} else {
			codes[m.Status]++
		}
	}
	return fmt.Sprintf("paramAdd replies %v, detailsView reply %d KiB", codes, detailsBytes>>10), release
}

// attackBodies: ten concurrent requests with body, a JSON object just
// under 8 MiB.
func attackBodies(httpAddr string, body []byte) (string, func()) {
	var mu sync.Mutex
	statuses := map[int]int{}
	echoed := 0
	var wg sync.WaitGroup
	for range 10 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			resp, err := http.Post("http://"+httpAddr+"/api/ping", "application/json", bytes.NewReader(body))
			if err != nil {
				mu.Lock()
				statuses[0]++
				mu.Unlock()
				return
			}
			n, _ := io.Copy(io.Discard, resp.Body)
			_ = resp.Body.Close()
			mu.Lock()
			statuses[resp.StatusCode]++
			echoed = max(echoed, int(n))
			mu.Unlock()
		}()
	}
	wg.Wait()
	return fmt.Sprintf("statuses %v, largest response %d bytes", statuses, echoed), func() {}
}

// attackConns: 3,000 TCP connections from one client.
func attackConns(_, tcpAddr string) (string, func()) {
	var conns []net.Conn
	release := func() {
		for _, c := range conns {
			_ = c.Close()
		}
	}
	welcomed, refused, failed := 0, map[string]int{}, 0
	for range 3000 {
		c, err := net.Dial("tcp", tcpAddr)
		if err != nil {
			failed++
			continue
		}
		conns = append(conns, c)
		_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
		line, err := bufio.NewReader(c).ReadBytes('\n')
		if err != nil {
			failed++
			continue
		}
		var m struct {
			Welcome string `json:"welcome"`
			Error   struct {
				Code string `json:"code"`
			} `json:"error"`
		}
		_ = json.Unmarshal(line, &m)
		switch {
		case m.Welcome != "":
			welcomed++
		case m.Error.Code != "":
			refused[m.Error.Code]++
		default:
			failed++
		}
	}
	return fmt.Sprintf("welcomed %d, refused %v, failed %d", welcomed, refused, failed), release
}

// figures is what the node's mem action reports.
type figures struct {
	RSS  uint64 `json:"rss"`
	Peak uint64 `json:"peak"`
}

// memory asks the node for its figures; reset starts a new peak.
func memory(httpAddr string, reset bool) figures {
	resp, err := http.Get("http://" + httpAddr + "/api/mem?reset=" + strconv.FormatBool(reset))
	if err != nil {
		log.Fatal(err)
	}
	defer resp.Body.Close()
	var f figures
	if err := json.NewDecoder(resp.Body).Decode(&f); err != nil {
		log.Fatal(err)
	}
	return f
}

// runNode is the child: one node on the memory backend, with the default
// configuration but for its addresses, a trivial action and one that
// reports memory. It prints its addresses, then serves until stdin
// closes.
func runNode() {
	cfg := stellar.Config{ID: "limitbench", HTTP: config.HTTP{Addr: "127.0.0.1:0"}, TCP: config.TCP{Addr: "127.0.0.1:0"}}
	cfg.Log.Level = "error"
	app := stellar.New(cfg, stellar.WithLogOutput(io.Discard))
	if err := app.Actions.Register(
		&stellar.Action{Name: "ping", Run: func(ctx context.Context, r *stellar.Request) error {
			r.Response["pong"] = true
			return nil
		}},
		&stellar.Action{Name: "mem", Run: func(ctx context.Context, r *stellar.Request) error {
			runtime.GC()
			debug.FreeOSMemory()
			r.Response["rss"], r.Response["peak"] = procStatus("VmRSS:"), procStatus("VmHWM:")
			if r.Params.String("reset") == "true" {
				// Writing 5 to clear_refs resets the peak resident set.
				_ = os.WriteFile("/proc/self/clear_refs", []byte("5"), 0)
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
	_, _ = io.Copy(io.Discard, os.Stdin)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	_ = app.Shutdown(ctx)
}

// procStatus is a figure of /proc/self/status, in bytes.
func procStatus(field string) uint64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if f := strings.Fields(line); len(f) >= 2 && f[0] == field {
			kb, _ := strconv.ParseUint(f[1], 10, 64)
			return kb << 10
		}
	}
	return 0
}

func startNode() (httpAddr, tcpAddr string, stop func()) {
	p := child.Start("-serve")
	f := strings.Fields(p.Line)
	if len(f) != 2 {
		p.Stop()
		log.Fatalf("the node said %q", p.Line)
	}
	return f[0], f[1], p.Stop
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
		if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &l); err != nil {
			log.Printf("raising the open-file limit: %v", err)
		}
	}
}
