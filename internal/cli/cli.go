// Package cli is the stellar command line: run, config, tasks, cluster,
// version and startCluster. It drives the application through the small
// App interface it defines; the root package adapts its App to it.
package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"path/filepath"
	"runtime"
	"strings"
	"text/tabwriter"

	"github.com/stellarfw/stellar-go/cluster"
	"github.com/stellarfw/stellar-go/config"
	"github.com/stellarfw/stellar-go/internal/logging"
	"github.com/stellarfw/stellar-go/supervisor"
	"github.com/stellarfw/stellar-go/task"
)

// Exit statuses of Main.
const (
	ExitOK      = 0 // the command did what was asked
	ExitFailure = 1 // the node failed while running, or did not stop cleanly
	ExitUsage   = 2 // bad flags, bad configuration, or a listener that cannot bind
)

// App is what the command line needs of the application: the root
// package's App, seen through an adapter.
type App interface {
	// Configure sets the effective configuration before Start.
	Configure(cfg config.Config) error
	// Config is the effective configuration.
	Config() config.Config
	// Logger is the node's logger.
	Logger() *slog.Logger
	// Start starts the node; Run serves until a signal, then stops it.
	Start(ctx context.Context) error
	Run(ctx context.Context) error
	// Ready reports whether the node can serve traffic.
	Ready(ctx context.Context) error
	// Shutdown stops the node; Done is closed once it has stopped.
	Shutdown(ctx context.Context) error
	Done() <-chan struct{}
	// TaskManager is the app's task Manager, with the definitions and
	// enqueue middleware registered on it. `tasks enqueue` starts it in
	// enqueue-only mode.
	TaskManager() *task.Manager
	// OpenAPI is the OpenAPI 3.1 document, in JSON, of the app's actions
	// and routes under the effective configuration (`docs`).
	OpenAPI() ([]byte, error)
	// CheckRoutes fails, naming the route, when a route of cfg or of the
	// program names no registered action (or no such version of one):
	// run and config refuse to go on with it. See CheckRoutes.
	CheckRoutes(cfg config.Config) error
}

// Info is what the command line says about the program.
type Info struct {
	// Base is the configuration the program passed to stellar.New: the
	// layer under the file, the environment and the flags.
	Base config.Config
	// Version is the framework's version.
	Version string
}

// cmd is one run of the command line.
type cmd struct {
	App
	base    config.Config
	version string
	prog    string // the program's name, as it was run
	// errLog, once the configuration selects JSON logs (log.format json,
	// or auto on a pipe), writes the command's own errors as JSON lines
	// like the node's, so that stderr stays one JSON stream. Nil: text.
	errLog *slog.Logger
}

// jsonErrors makes the command's errors JSON lines when cfg's logs are
// JSON on stderr; node names the process in them.
func (a *cmd) jsonErrors(cfg config.Config, stderr io.Writer, node string) {
	format := strings.ToLower(cfg.Log.Format)
	if format == "json" || ((format == "" || format == "auto") && !logging.IsTerminal(stderr)) {
		a.errLog = slog.New(slog.NewJSONHandler(stderr, nil)).With(slog.String("node", node))
	}
}

// Main runs the stellar command line with args (os.Args) and returns the
// exit status. Help and the commands' output go to stdout, errors and
// logs to stderr; usage lines name the program as args[0] does.
//
//	run           start one node
//	config        print the effective configuration, secrets masked
//	tasks         inspect and manage task queues
//	cluster       list the live nodes
//	docs          print the OpenAPI document of the actions and routes
//	version       print versions
//	startCluster  run N nodes on this machine, supervised
//	help          show this help
func Main(app App, info Info, args []string, stdout, stderr io.Writer) int {
	c := &cmd{App: app, base: info.Base, version: info.Version, prog: "stellar"}
	if len(args) > 0 && args[0] != "" {
		c.prog = filepath.Base(args[0])
	}
	return c.main(args, stdout, stderr)
}

func (a *cmd) main(args []string, stdout, stderr io.Writer) int {
	if len(args) > 0 {
		args = args[1:]
	}
	if len(args) == 0 {
		a.usage(stderr)
		return ExitUsage
	}
	cmd, rest := args[0], args[1:]
	switch cmd {
	case "run":
		return a.cmdRun(rest, stdout, stderr)
	case "config":
		return a.cmdConfig(rest, stdout, stderr)
	case "tasks":
		return a.cmdTasks(rest, stdout, stderr)
	case "cluster":
		return a.cmdCluster(rest, stdout, stderr)
	case "docs":
		return a.cmdDocs(rest, stdout, stderr)
	case "version", "--version", "-version", "-v":
		return a.cmdVersion(rest, stdout, stderr)
	case "help", "-h", "-help", "--help":
		if len(rest) > 0 {
			return a.main(append(append([]string{a.prog}, rest...), "--help"), stdout, stderr)
		}
		a.usage(stdout)
		return ExitOK
	case "startCluster":
		return a.cmdStartCluster(rest, stdout, stderr)
	}
	fmt.Fprintf(stderr, "%s: unknown command %q\n\n", a.prog, cmd)
	a.usage(stderr)
	return ExitUsage
}

func (a *cmd) usage(w io.Writer) {
	fmt.Fprintf(w, `%[1]s — an action-based API server with clustering built in

Usage:
  %[1]s run [flags]            start one node
  %[1]s config [flags]         print the effective configuration (secrets masked)
  %[1]s tasks COMMAND          inspect and manage task queues (list, stats, enqueue, failed, retry, remove, delayed, pause, resume; all but list need Redis)
  %[1]s cluster status [--json] list the live nodes of the cluster (needs Redis)
  %[1]s docs [flags]           print the OpenAPI 3.1 document of the actions and routes
  %[1]s version                print the app's and the framework's versions
  %[1]s startCluster [flags]   run --workers N nodes on this machine, supervised (see docs/startcluster.md)
  %[1]s help [command]         show help

Run '%[1]s COMMAND --help' (or '%[1]s help COMMAND') for a command's flags.
Configuration comes from defaults, then stellar.toml, stellar.yaml or
stellar.json in the working directory (or --config PATH), then STELLAR_*
environment variables, then flags.
`, a.prog)
}

const runUsage = `Usage: %[1]s run [flags]

Starts one node: its HTTP, WebSocket and TCP servers, its task workers,
its chat rooms and its cluster membership, and serves until SIGINT or
SIGTERM, then stops gracefully. Every route must name a registered
action.

Exit status: 0 after a clean stop; 2 for a usage or configuration error,
a route naming no action, or a listener that cannot bind; 1 when the
node failed while running or did not stop cleanly.
`

const configUsage = `Usage: %[1]s config [flags]

Prints the effective configuration as JSON, secrets masked: the defaults,
then the config file, then STELLAR_* environment variables, then the
flags. --keys lists every key with its environment variable and default
instead. Every route must name a registered action (exit status 2 names
the one that does not).
`

const docsUsage = `Usage: %[1]s docs [flags]

Prints the OpenAPI 3.1 document of the app's public actions and routes,
under the configuration (the action path, the config routes, the
server's name and version): what the server serves at
http.openapi_path.
`

const versionUsage = `Usage: %[1]s version [flags]

Prints the app's version (general.api_version, from the program, the
config file or STELLAR_GENERAL_API_VERSION) and the framework's.
`

// sprintfUsage fills a usage text with the program's name.
func (a *cmd) sprintfUsage(usage string) string { return fmt.Sprintf(usage, a.prog) }

func (a *cmd) cmdRun(args []string, stdout, stderr io.Writer) int {
	nf := newNodeFlags("run", a.sprintfUsage(runUsage), runFlags...)
	loaded, code, ok := a.parse(nf, args, stdout, stderr)
	if !ok {
		return code
	}
	a.jsonErrors(loaded.Config, stderr, loaded.Config.ID)
	if err := a.CheckRoutes(loaded.Config); err != nil {
		a.failAll(stderr, err)
		return ExitUsage
	}
	if err := a.Configure(loaded.Config); err != nil {
		a.fail(stderr, err)
		return ExitUsage
	}
	if loaded.File != "" {
		a.Logger().Info("configuration loaded", "file", loaded.File)
	}
	for _, w := range loaded.Warnings {
		a.Logger().Warn("configuration", "warning", w)
	}
	warnSecretsOnCommandLine(a.Logger(), loaded, "")
	link, err := supervisor.Attach() // nil unless started by startCluster
	if err != nil {
		a.fail(stderr, err)
		return ExitUsage
	}
	if link != nil {
		defer link.Close()
	}
	if err := a.Start(context.Background()); err != nil {
		if workerStartFailed(link, a.Logger(), err) && errors.Is(err, cluster.ErrDuplicateNode) {
			// The supervisor logs a held name once and retries with
			// backoff: a line per attempt would flood its log.
			return ExitUsage
		}
		a.failf(stderr, "%v%s", oneLine(err), hint(err))
		return ExitUsage
	}
	if link != nil {
		defer a.supervised(link)()
	}
	if err := a.Run(context.Background()); err != nil {
		a.fail(stderr, err)
		return ExitFailure
	}
	return ExitOK
}

func (a *cmd) cmdConfig(args []string, stdout, stderr io.Writer) int {
	nf := newNodeFlags("config", a.sprintfUsage(configUsage), runFlags...)
	keys := nf.fs.Bool("keys", false, "list every config key with its environment variable and default")
	if code, ok := a.parseOnly(nf, args, stdout, stderr); !ok {
		return code
	}
	if *keys {
		tw := tabwriter.NewWriter(stdout, 0, 2, 2, ' ', 0)
		fmt.Fprintln(tw, "KEY\tENV\tDEFAULT\tDESCRIPTION")
		for _, k := range config.Keys() {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", k.Key, k.Env, k.Default, k.Doc)
		}
		_ = tw.Flush()
		return ExitOK
	}
	loaded, err := nf.loadConfig(a.base)
	if err != nil {
		a.fail(stderr, err)
		return ExitUsage
	}
	if loaded.File != "" {
		fmt.Fprintf(stderr, "# loaded from %s\n", loaded.File)
	}
	out, err := json.MarshalIndent(loaded.Config.Masked(), "", "  ")
	if err != nil {
		a.fail(stderr, err)
		return ExitFailure
	}
	fmt.Fprintln(stdout, string(out))
	if err := a.CheckRoutes(loaded.Config); err != nil {
		a.failAll(stderr, err)
		return ExitUsage
	}
	return ExitOK
}

// cmdVersion prints the app's version, as configured, and the
// framework's.
func (a *cmd) cmdVersion(args []string, stdout, stderr io.Writer) int {
	nf := newNodeFlags("version", a.sprintfUsage(versionUsage), flagConfig)
	loaded, code, ok := a.parse(nf, args, stdout, stderr)
	if !ok {
		return code
	}
	fmt.Fprintf(stdout, "%s %s\nstellar %s (%s)\n", a.prog, loaded.Config.General.APIVersion, a.version, runtime.Version())
	return ExitOK
}

// errNoRedis is what tasks and cluster commands say when no Redis is
// configured: on the embedded memory backend they would see only their
// own empty process, and report it as if it were the cluster.
const errNoRedis = "no Redis configured: set --redis or STELLAR_REDIS_URL"

// cmdDocs prints the OpenAPI 3.1 document of the app's actions and
// routes, under the configuration the flags select (the action path,
// the config routes, the server's name and version): what the server
// answers at http.openapi_path.
func (a *cmd) cmdDocs(args []string, stdout, stderr io.Writer) int {
	nf := newNodeFlags("docs", a.sprintfUsage(docsUsage), flagConfig)
	loaded, code, ok := a.parse(nf, args, stdout, stderr)
	if !ok {
		return code
	}
	if err := a.Configure(loaded.Config); err != nil {
		a.fail(stderr, err)
		return ExitUsage
	}
	doc, err := a.OpenAPI()
	if err != nil {
		a.fail(stderr, err)
		return ExitFailure
	}
	_, _ = stdout.Write(doc)
	return ExitOK
}

// hint is what the command line adds to an error that a flag can mend.
func hint(err error) string {
	switch {
	case errors.Is(err, cluster.ErrNoToken):
		return " (set --token or STELLAR_SERVER_TOKEN)"
	case errors.Is(err, cluster.ErrDuplicateNode):
		return " (set --id or STELLAR_ID)"
	}
	return ""
}

// oneLine keeps the first line of an error, for terminal messages.
func oneLine(err error) string {
	// The command prints its own "stellar: " prefix.
	s := strings.TrimPrefix(err.Error(), "stellar: ")
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		return s[:i]
	}
	return s
}
