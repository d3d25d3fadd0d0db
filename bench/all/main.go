// Command all runs the project's benchmarks the way a user would measure
// them and rewrites the tables of docs/benchmarks.md:
//
//	go run ./bench/all                      # everything, then rewrite the doc
//	go run ./bench/all -only http,ws,tcp    # some sections only
//	go run ./bench/all -docs ""             # print, do not rewrite
//
// The servers under test run in child processes (this program run again
// with -role node or -role bare), and so does the load generator (-role
// load): no side shares a process, a heap or a scheduler with another.
// Each round measures the framework and its baseline back to back, in an
// order that alternates between rounds, and the tables show medians of
// the rounds with the ratio framework/baseline:
//
//   - http: GET /api/ping (a trivial action) on a full node against a bare
//     net/http handler writing "hello";
//   - ws, tcp: an action round trip on one persistent connection per
//     client against a bare echo server (coder/websocket; lines over TCP);
//   - rpc: Cluster.Do ToNode, ToConnection and to all nodes between two
//     nodes on Redis against a raw PUBLISH/SUBSCRIBE ping-pong through the
//     same client library, on a redis-server of its own;
//   - cache: a cache Save+Load pair against a raw SET+GET pair of the same
//     client, with 1 and 64 callers, and a repeated Load of a hot key
//     against a raw GET;
//   - idle: the memory a node spends per idle WebSocket connection;
//   - tasks: bench/taskbench, Stellar's task workers against asynq on the
//     same redis-server (its own module, run with go run).
package main

import (
	"flag"
	"fmt"
	"log"
	"os"
	"runtime"
	"runtime/pprof"
	"strings"
	"time"
)

var (
	role     = flag.String("role", "", "internal: node, bare or load (the children this program starts)")
	only     = flag.String("only", "http,ws,tcp,rpc,cache,idle,tasks", "sections to run")
	taskDir  = flag.String("taskbench", "bench/taskbench", "tasks: the directory of the taskbench module")
	dur      = flag.Duration("d", 2*time.Second, "length of each measured run")
	rounds   = flag.Int("rounds", 5, "rounds; each measures the framework and its baseline")
	clients  = flag.Int("clients", 32, "concurrent clients for http, ws and tcp")
	idleN    = flag.Int("idle", 10000, "idle WebSocket connections for the memory figure")
	docs     = flag.String("docs", "docs/benchmarks.md", "file whose marked tables are rewritten (empty: none)")
	profile  = flag.String("cpuprofile", "", "node role: write a CPU profile of the node to this file")
	heapProf = flag.String("heapprofile", "", "node role: write a heap profile to this file each time the memory is read (the last one is with the idle connections open)")
	selfProf = flag.String("selfprofile", "", "write a CPU profile of this process (rpc and cache run in it) to this file")
	redisURL = flag.String("redis", "", "rpc and cache: Redis URL (default: start a redis-server)")
)

func main() {
	flag.Parse()
	log.SetFlags(0)
	log.SetPrefix("bench/all: ")
	raiseFileLimit(*idleN + 2000)
	switch *role {
	case "node":
		runNode()
		return
	case "bare":
		runBare()
		return
	case "load":
		runLoad()
		return
	case "":
	default:
		log.Fatalf("unknown role %q", *role)
	}
	if *selfProf != "" {
		f, err := os.Create(*selfProf)
		if err == nil {
			err = pprof.StartCPUProfile(f)
		}
		if err != nil {
			log.Fatal(err)
		}
		defer pprof.StopCPUProfile()
	}
	want := map[string]bool{}
	for _, s := range strings.Split(*only, ",") {
		want[strings.TrimSpace(s)] = true
	}
	stamp := fmt.Sprintf("%s, %d cores (GOMAXPROCS %d), %s/%s", time.Now().UTC().Format("2006-01-02 15:04 UTC"),
		runtime.NumCPU(), runtime.GOMAXPROCS(0), runtime.GOOS, runtime.GOARCH)
	tables := map[string]string{}
	if want["http"] || want["ws"] || want["tcp"] || want["idle"] {
		node := startChild("node")
		bare := startChild("bare")
		if want["http"] || want["ws"] || want["tcp"] {
			tables["transports"] = transports(node, bare, want, stamp)
		}
		if want["idle"] && *idleN > 0 {
			tables["idle"] = idleMemory(node, *idleN, stamp)
		}
		node.stop()
		bare.stop()
	}
	if want["rpc"] || want["cache"] {
		url, stop := redisServer()
		if want["rpc"] {
			tables["rpc"] = rpcTables(url, stamp)
		}
		if want["cache"] {
			tables["cache"] = cacheTables(url, stamp)
		}
		stop()
	}
	if want["tasks"] {
		tables["tasks"] = taskTables(*taskDir, stamp)
	}
	for _, name := range []string{"transports", "idle", "rpc", "cache", "tasks"} {
		if t, ok := tables[name]; ok {
			fmt.Printf("\n%s\n", t)
		}
	}
	if *docs != "" && len(tables) > 0 {
		if err := rewriteDoc(*docs, tables); err != nil {
			log.Fatal(err)
		}
		fmt.Printf("rewrote %s\n", *docs)
	}
}

// rewriteDoc replaces what lies between "<!-- bench:NAME -->" and
// "<!-- /bench:NAME -->" in path with tables[NAME].
func rewriteDoc(path string, tables map[string]string) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	s := string(b)
	for name, t := range tables {
		open, end := "<!-- bench:"+name+" -->", "<!-- /bench:"+name+" -->"
		i := strings.Index(s, open)
		j := strings.Index(s, end)
		if i < 0 || j < i {
			log.Printf("%s has no %s ... %s markers: %s table not written", path, open, end, name)
			continue
		}
		s = s[:i+len(open)] + "\n" + t + "\n" + s[j:]
	}
	return os.WriteFile(path, []byte(s), 0o644)
}
