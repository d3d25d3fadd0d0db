package cli

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/stellarfw/stellar-go/backend"
	"github.com/stellarfw/stellar-go/cluster"
	"github.com/stellarfw/stellar-go/internal/node"
)

const clusterUsage = `Usage:
  %[1]s cluster status [--json]   list the live nodes: id, host, pid, uptime, version,
                                  tasks running and open connections

It reads the cluster's membership from Redis, configured as for run
(--redis URL, STELLAR_REDIS_URL or the config file), and needs the
server token (--token or STELLAR_SERVER_TOKEN) to tell the cluster's
nodes from impostors.
`

// clusterStatusTimeout bounds reading the membership.
const clusterStatusTimeout = 5 * time.Second

// cmdCluster is the operator's view of the cluster.
func (a *cmd) cmdCluster(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 || args[0] == "help" || args[0] == "-h" || args[0] == "--help" {
		fmt.Fprintf(stderr, clusterUsage, "stellar")
		if len(args) == 0 {
			return ExitUsage
		}
		return ExitOK
	}
	if args[0] != "status" {
		fmt.Fprintf(stderr, "stellar: unknown cluster command %q\n\n"+clusterUsage, args[0], "stellar")
		return ExitUsage
	}
	nf := newNodeFlags("cluster status", stderr)
	asJSON := nf.fs.Bool("json", false, "print JSON")
	loaded, err := nf.load(a.base, args[1:])
	if errors.Is(err, flag.ErrHelp) {
		return ExitOK
	}
	if err != nil {
		fmt.Fprintf(stderr, "stellar: %v\n", err)
		return ExitUsage
	}
	cfg := loaded.Config
	if !cfg.Redis.Enabled() {
		fmt.Fprintln(stderr, "stellar: cluster status needs Redis (--redis URL or STELLAR_REDIS_URL); a node on the memory backend is a cluster of one")
		return ExitUsage
	}
	if cfg.Cluster.Token == "" && !cfg.Cluster.Insecure {
		fmt.Fprintln(stderr, "stellar: cluster.token is empty: the nodes sign their messages with it, and their membership too; "+
			"set --token or STELLAR_SERVER_TOKEN to the cluster's shared secret")
		return ExitUsage
	}
	b, err := backend.Open(node.BackendConfig(cfg))
	if err != nil {
		fmt.Fprintf(stderr, "stellar: %v\n", oneLine(err))
		return ExitUsage
	}
	defer b.Close()
	ctx, cancel := context.WithTimeout(context.Background(), clusterStatusTimeout)
	defer cancel()
	nodes, err := cluster.ReadNodes(ctx, b.Cluster(), []byte(cfg.Cluster.Token))
	if err != nil {
		fmt.Fprintf(stderr, "stellar: %v\n", oneLine(err))
		return ExitFailure
	}
	now := time.Now()
	if *asJSON {
		type row struct {
			cluster.Node
			UptimeMs int64 `json:"uptimeMs"`
		}
		rows := make([]row, len(nodes))
		for i, n := range nodes {
			rows[i] = row{Node: n, UptimeMs: n.Uptime(now).Milliseconds()}
		}
		out, _ := json.MarshalIndent(map[string]any{"nodes": rows}, "", "  ")
		fmt.Fprintln(stdout, string(out))
		return ExitOK
	}
	tw := tabwriter.NewWriter(stdout, 0, 2, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tHOST\tPID\tUPTIME\tVERSION\tTRANSPORTS\tTASKS\tCONNECTIONS")
	for _, n := range nodes {
		fmt.Fprintf(tw, "%s\t%s\t%d\t%s\t%s\t%s\t%d\t%d\n", n.ID, n.Host, n.PID, n.Uptime(now).Round(time.Second), n.Version,
			strings.Join(n.Transports, ","), n.Stats[node.StatTasksRunning], n.Stats[node.StatConnections])
	}
	_ = tw.Flush()
	if len(nodes) == 0 {
		fmt.Fprintln(stderr, "no live nodes")
	}
	return ExitOK
}
