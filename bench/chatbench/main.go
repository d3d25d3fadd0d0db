// Command chatbench measures what idle nodes cost Redis and themselves as
// the number of chat rooms grows: for each room count it starts its own
// redis-server, two full nodes on it (this program run again with
// -serve, one process each), lets the first node create the rooms, waits
// for things to settle, then counts for -d the commands Redis runs (INFO
// commandstats, scripts' own commands included) and the CPU each node
// and the server use.
//
//	go run ./bench/chatbench -rooms 1,3000 -d 10s
//
// Nothing connects to the nodes: the figures are their idle cost, the
// heartbeats, task polling and chat sweeps of two nodes at the default
// intervals.
package main

import (
	"cmp"
	"context"
	"flag"
	"fmt"
	"io"
	"log"
	"maps"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/stellarfw/stellar-go/bench/internal/child"

	"github.com/redis/rueidis"

	"github.com/stellarfw/stellar-go"
	"github.com/stellarfw/stellar-go/config"
	"github.com/stellarfw/stellar-go/internal/redistest"
)

// clockTicks is the unit of the CPU times in /proc/PID/stat (USER_HZ),
// 100 on every Linux the project runs on.
const clockTicks = 100

func main() {
	serve := flag.Bool("serve", false, "run a node (used by the benchmark itself)")
	redisURL := flag.String("redis", "", "the node's Redis URL (with -serve)")
	id := flag.String("id", "", "the node's id (with -serve)")
	roomList := flag.String("rooms", "1,3000", "room counts to measure, comma-separated")
	dur := flag.Duration("d", 10*time.Second, "how long each measurement counts")
	settle := flag.Duration("settle", 3*time.Second, "how long to wait after the nodes are ready")
	top := flag.Int("top", 6, "how many of the busiest commands to show")
	flag.Parse()
	if *serve {
		rooms, err := strconv.Atoi(*roomList)
		if err != nil {
			log.Fatalf("-rooms: %v", err)
		}
		runNode(*redisURL, *id, rooms)
		return
	}
	var counts []int
	for _, f := range strings.Split(*roomList, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n < 0 {
			log.Fatalf("-rooms: bad count %q", f)
		}
		counts = append(counts, n)
	}
	fmt.Printf("2 idle nodes, %s per measurement after %s settling\n", *dur, *settle)
	fmt.Printf("%8s %12s %12s %12s %12s  %s\n", "rooms", "Redis cmd/s", "node-1 CPU", "node-2 CPU", "Redis CPU", "busiest commands (per second)")
	for _, rooms := range counts {
		measure(rooms, *dur, *settle, *top)
	}
}

func measure(rooms int, dur, settle time.Duration, top int) {
	srv, err := redistest.Launch()
	if err != nil {
		log.Fatal(err)
	}
	defer srv.Close()
	rc, err := rueidis.NewClient(rueidis.ClientOption{InitAddress: []string{srv.Addr()}, DisableCache: true})
	if err != nil {
		log.Fatal(err)
	}
	defer rc.Close()

	var nodes []*child.Proc
	defer func() {
		for _, n := range nodes {
			n.Stop()
		}
	}()
	for i, r := range []int{rooms, 0} { // the first node creates the rooms
		nodes = append(nodes, startNode(srv.URL(), "node-"+strconv.Itoa(i+1), r))
	}
	time.Sleep(settle) // a benchmark's warm-up, not a test's wait

	calls0, cpu0 := commandCalls(rc), serverCPU(rc)
	nodeCPU0 := []float64{procCPU(nodes[0].Pid), procCPU(nodes[1].Pid)}
	start := time.Now()
	time.Sleep(dur)
	elapsed := time.Since(start).Seconds()
	calls1, cpu1 := commandCalls(rc), serverCPU(rc)
	nodeCPU1 := []float64{procCPU(nodes[0].Pid), procCPU(nodes[1].Pid)}

	per := make(map[string]float64)
	total := 0.0
	for cmd, n := range calls1 {
		if cmd == "info" { // this program's own
			continue
		}
		if d := float64(n - calls0[cmd]); d > 0 {
			per[cmd] = d / elapsed
			total += d / elapsed
		}
	}
	busiest := slices.SortedFunc(maps.Keys(per), func(a, b string) int { return cmp.Compare(per[b], per[a]) })
	var parts []string
	for _, cmd := range busiest[:min(top, len(busiest))] {
		parts = append(parts, fmt.Sprintf("%s %.0f", cmd, per[cmd]))
	}
	pct := func(a, b float64) string { return fmt.Sprintf("%.1f%%", 100*(b-a)/elapsed) }
	fmt.Printf("%8d %12.0f %12s %12s %12s  %s\n", rooms, total,
		pct(nodeCPU0[0], nodeCPU1[0]), pct(nodeCPU0[1], nodeCPU1[1]), pct(cpu0, cpu1), strings.Join(parts, ", "))
}

// commandCalls returns the server's calls per command (INFO commandstats).
func commandCalls(rc rueidis.Client) map[string]int64 {
	info, err := rc.Do(context.Background(), rc.B().Info().Section("commandstats").Build()).ToString()
	if err != nil {
		log.Fatal(err)
	}
	out := make(map[string]int64)
	for _, line := range strings.Split(info, "\n") {
		name, stats, ok := strings.Cut(strings.TrimSpace(line), ":")
		name, isCmd := strings.CutPrefix(name, "cmdstat_")
		if !ok || !isCmd {
			continue
		}
		for _, f := range strings.Split(stats, ",") {
			if v, ok := strings.CutPrefix(f, "calls="); ok {
				out[name], _ = strconv.ParseInt(v, 10, 64)
			}
		}
	}
	return out
}

// serverCPU is the server's CPU time so far, in seconds (INFO cpu).
func serverCPU(rc rueidis.Client) float64 {
	info, err := rc.Do(context.Background(), rc.B().Info().Section("cpu").Build()).ToString()
	if err != nil {
		log.Fatal(err)
	}
	total := 0.0
	for _, line := range strings.Split(info, "\n") {
		k, v, _ := strings.Cut(strings.TrimSpace(line), ":")
		if k == "used_cpu_sys" || k == "used_cpu_user" {
			f, _ := strconv.ParseFloat(v, 64)
			total += f
		}
	}
	return total
}

// procCPU is a process's CPU time so far, in seconds, from /proc.
func procCPU(pid int) float64 {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		log.Fatal(err)
	}
	// The command name, in parentheses, may hold spaces: count fields
	// after it. utime and stime are fields 14 and 15.
	s := string(b)
	f := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
	utime, _ := strconv.ParseFloat(f[11], 64)
	stime, _ := strconv.ParseFloat(f[12], 64)
	return (utime + stime) / clockTicks
}

// startNode starts a node process and waits for its "ready" line.
func startNode(redisURL, id string, rooms int) *child.Proc {
	p := child.Start("-serve", "-redis", redisURL, "-id", id, "-rooms", strconv.Itoa(rooms))
	if p.Line != "ready" {
		p.Stop()
		log.Fatalf("the node did not start: %q", p.Line)
	}
	return p
}

// runNode is the child: a node on Redis with the default intervals,
// which creates the rooms, says "ready", and runs until stdin closes.
func runNode(redisURL, id string, rooms int) {
	cfg := stellar.Config{
		ID:      id,
		HTTP:    config.HTTP{Addr: "127.0.0.1:0"},
		TCP:     config.TCP{Addr: "127.0.0.1:0"},
		Redis:   config.Redis{URL: redisURL},
		Cluster: config.Cluster{Token: "chatbench"},
	}
	cfg.Log.Level = "error"
	app := stellar.New(cfg, stellar.WithLogOutput(io.Discard))
	ctx := context.Background()
	if err := app.Start(ctx); err != nil {
		log.Fatal(err)
	}
	for i := range rooms {
		if err := app.Chat.Create(ctx, "room-"+strconv.Itoa(i)); err != nil {
			log.Fatal(err)
		}
	}
	fmt.Println("ready")
	_, _ = io.Copy(io.Discard, os.Stdin)
	sctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	_ = app.Shutdown(sctx)
}
