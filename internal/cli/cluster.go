package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/stellarfw/stellar-go/backend"
	"github.com/stellarfw/stellar-go/cluster"
	"github.com/stellarfw/stellar-go/config"
	"github.com/stellarfw/stellar-go/internal/node"
)

const clusterUsage = `Usage: %[1]s cluster status [flags]

Lists the live nodes: id, host, pid, uptime, version, tasks running and
open connections.

It reads the cluster's membership from Redis, configured as for run
(--redis URL, STELLAR_REDIS_URL or the config file), and needs the
server token to tell the cluster's nodes from impostors: --token,
STELLAR_SERVER_TOKEN or the config file, else the token file that
startCluster writes beside its pid file when it generates the token
(stellar-cluster.token in the working directory by default).

Exit status: 0 with the nodes listed, or none live ("no live nodes");
2 with no Redis configured, no token, or a token that is not the
cluster's (records exist, none signed with it); 1 when Redis does not
answer.
`

// clusterStatusTimeout bounds reading the membership.
const clusterStatusTimeout = 5 * time.Second

// cmdCluster is the operator's view of the cluster.
func (a *cmd) cmdCluster(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 || args[0] == "help" || args[0] == "-h" || args[0] == "-help" || args[0] == "--help" {
		if len(args) == 0 {
			fmt.Fprint(stderr, a.sprintfUsage(clusterUsage))
			return ExitUsage
		}
		fmt.Fprint(stdout, a.sprintfUsage(clusterUsage))
		return ExitOK
	}
	if args[0] != "status" {
		fmt.Fprintf(stderr, "%s: unknown cluster command %q\n\n%s", a.prog, args[0], a.sprintfUsage(clusterUsage))
		return ExitUsage
	}
	nf := newNodeFlags("cluster status", a.sprintfUsage(clusterUsage), flagRedis, flagToken, flagConfig)
	nf.redisOfCluster()
	asJSON := nf.fs.Bool("json", false, "print JSON")
	tokenFile := nf.fs.String("token-file", "", "file holding the token, read when none is configured (default: the one startCluster writes beside its pid file)")
	loaded, code, ok := a.parse(nf, args[1:], stdout, stderr)
	if !ok {
		return code
	}
	cfg := loaded.Config
	a.jsonErrors(cfg, stderr, cfg.ID)
	if !cfg.Redis.Enabled() {
		a.failf(stderr, "%s", errNoRedis)
		return ExitUsage
	}
	token, from, err := clusterToken(loaded, *tokenFile)
	if err != nil {
		a.fail(stderr, err)
		return ExitUsage
	}
	if token == "" && !cfg.Cluster.Insecure {
		a.failf(stderr, "cluster.token is empty: the nodes sign their messages with it, and their membership too; "+
			"set --token or STELLAR_SERVER_TOKEN to the cluster's shared secret (no token file %s here either)", tokenFilePath(cfg.Supervisor.PIDFile))
		return ExitUsage
	}
	b, err := backend.Open(node.BackendConfig(cfg))
	if err != nil {
		a.fail(stderr, err)
		return ExitUsage
	}
	defer b.Close()
	ctx, cancel := context.WithTimeout(context.Background(), clusterStatusTimeout)
	defer cancel()
	nodes, err := cluster.ReadNodes(ctx, b.Cluster(), []byte(token))
	if errors.Is(err, cluster.ErrTokenMismatch) {
		a.failf(stderr, "%s (token from %s); use the token its nodes were started with",
			strings.TrimPrefix(oneLine(err), "cluster: "), from)
		return ExitUsage
	}
	if err != nil {
		a.fail(stderr, err)
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

// clusterToken is the token cluster status checks records with, and
// where it came from: the configuration's, else the token file (path,
// else the one beside the configured pid file). A missing token file is
// no error unless path names it.
func clusterToken(loaded config.Loaded, path string) (token, from string, err error) {
	if t := loaded.Config.Cluster.Token; t != "" {
		from = loaded.Origins["cluster.token"]
		switch from {
		case "":
			from = "the program's configuration"
		case originFlag:
			from = "--token"
		}
		return t, from, nil
	}
	explicit := path != ""
	if !explicit {
		path = tokenFilePath(loaded.Config.Supervisor.PIDFile)
		if path == "" {
			return "", "", nil
		}
	}
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) && !explicit {
		return "", "", nil
	}
	if err != nil {
		return "", "", fmt.Errorf("token file: %w", err)
	}
	t := strings.TrimSpace(string(b))
	if t == "" {
		return "", "", fmt.Errorf("token file %s is empty", path)
	}
	return t, "the token file " + path, nil
}
