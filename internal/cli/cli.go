// Package cli is the stellar command line: run, config, tasks, cluster,
// version and startCluster. It drives the application through the small
// App interface it defines; the root package adapts its App to it.
package cli

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"runtime"
	"strings"
	"text/tabwriter"

	"log/slog"

	"github.com/stellarfw/stellar-go/cluster"
	"github.com/stellarfw/stellar-go/config"
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
}

// Main runs the stellar command line with args (os.Args) and returns the
// exit status.
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
	c := &cmd{App: app, base: info.Base, version: info.Version}
	return c.main(args, stdout, stderr)
}

func (a *cmd) main(args []string, stdout, stderr io.Writer) int {
	prog := "stellar"
	if len(args) > 0 {
		args = args[1:]
	}
	if len(args) == 0 {
		a.usage(stderr, prog)
		return ExitUsage
	}
	cmd, rest := args[0], args[1:]
	switch cmd {
	case "run":
		return a.cmdRun(rest, stderr)
	case "config":
		return a.cmdConfig(rest, stdout, stderr)
	case "tasks":
		return a.cmdTasks(rest, stdout, stderr)
	case "cluster":
		return a.cmdCluster(rest, stdout, stderr)
	case "docs":
		return a.cmdDocs(rest, stdout, stderr)
	case "version", "--version", "-v":
		fmt.Fprintf(stdout, "stellar %s (%s, app version %s)\n", a.version, runtime.Version(), a.base.General.APIVersion)
		return ExitOK
	case "help", "-h", "-help", "--help":
		if len(rest) > 0 {
			return a.main([]string{prog, rest[0], "--help"}, stdout, stderr)
		}
		a.usage(stdout, prog)
		return ExitOK
	case "startCluster":
		return a.cmdStartCluster(rest, stderr)
	}
	fmt.Fprintf(stderr, "stellar: unknown command %q\n\n", cmd)
	a.usage(stderr, prog)
	return ExitUsage
}

func (a *cmd) usage(w io.Writer, prog string) {
	fmt.Fprintf(w, `%[1]s — an action-based API server with clustering built in

Usage:
  %[1]s run [flags]            start one node
  %[1]s config [flags]         print the effective configuration (secrets masked)
  %[1]s tasks COMMAND          inspect and manage task queues (list, stats, enqueue, failed, retry, remove, delayed, pause, resume; all but list need Redis)
  %[1]s cluster status [--json] list the live nodes of the cluster (needs Redis)
  %[1]s docs [flags]           print the OpenAPI 3.1 document of the actions and routes
  %[1]s version                print versions
  %[1]s startCluster [flags]   run --workers N nodes on this machine, supervised (see docs/startcluster.md)
  %[1]s help [command]         show help

Run '%[1]s help run' for the flags. Configuration comes from defaults, then
stellar.toml, stellar.yaml or stellar.json in the working directory (or
--config PATH), then STELLAR_* environment variables, then flags.
`, prog)
}

// nodeFlags are the flags shared by run and config: they name the same
// settings as the config keys they set.
type nodeFlags struct {
	fs     *flag.FlagSet
	keys   map[string]string // flag name → config key
	config *string
}

func newNodeFlags(name string, stderr io.Writer) *nodeFlags {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	nf := &nodeFlags{fs: fs, keys: map[string]string{}}
	def := config.Config{}
	config.Defaults(&def)
	add := func(flagName, key, def, usage string) {
		fs.String(flagName, def, usage)
		nf.keys[flagName] = key
	}
	add("id", "id", "", "node id (env STELLAR_ID; default hostname-pid)")
	add("http", "http.addr", def.HTTP.Addr, `HTTP listen address, or "off" (env STELLAR_HTTP_ADDR)`)
	add("tcp", "tcp.addr", def.TCP.Addr, `TCP listen address, or "off" (env STELLAR_TCP_ADDR)`)
	add("redis", "redis.url", "", "Redis URL, e.g. redis://127.0.0.1:6379/0; none runs on the in-memory backend (env STELLAR_REDIS_URL)")
	add("token", "cluster.token", "", "server token that signs messages between nodes (env STELLAR_SERVER_TOKEN)")
	add("log-level", "log.level", def.Log.Level, "log level: debug, info, warn or error (env STELLAR_LOG_LEVEL)")
	nf.config = fs.String("config", "", "config file (env STELLAR_CONFIG; default stellar.toml, stellar.yaml or stellar.json here)")
	return nf
}

// parse parses args and loads the configuration they select.
func (nf *nodeFlags) load(base config.Config, args []string) (config.Loaded, error) {
	if err := nf.fs.Parse(args); err != nil {
		return config.Loaded{}, err
	}
	if nf.fs.NArg() > 0 {
		return config.Loaded{}, fmt.Errorf("unexpected argument %q", nf.fs.Arg(0))
	}
	flags := map[string]string{}
	nf.fs.Visit(func(f *flag.Flag) {
		if key, ok := nf.keys[f.Name]; ok {
			flags[key] = f.Value.String()
		}
	})
	loaded, err := config.Load(config.Source{Base: base, File: *nf.config, Flags: flags})
	if errors.Is(err, config.ErrManyFiles) {
		err = fmt.Errorf("%w; or choose one with --config", err)
	}
	return loaded, err
}

func (a *cmd) cmdRun(args []string, stderr io.Writer) int {
	nf := newNodeFlags("run", stderr)
	loaded, err := nf.load(a.base, args)
	if errors.Is(err, flag.ErrHelp) {
		return ExitOK
	}
	if err != nil {
		fmt.Fprintf(stderr, "stellar: %v\n", err)
		return ExitUsage
	}
	if err := a.Configure(loaded.Config); err != nil {
		fmt.Fprintf(stderr, "stellar: %v\n", err)
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
		fmt.Fprintf(stderr, "stellar: %v\n", err)
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
		fmt.Fprintf(stderr, "stellar: %v%s\n", oneLine(err), hint(err))
		return ExitUsage
	}
	if link != nil {
		defer a.supervised(link)()
	}
	if err := a.Run(context.Background()); err != nil {
		fmt.Fprintf(stderr, "stellar: %v\n", oneLine(err))
		return ExitFailure
	}
	return ExitOK
}

func (a *cmd) cmdConfig(args []string, stdout, stderr io.Writer) int {
	nf := newNodeFlags("config", stderr)
	keys := nf.fs.Bool("keys", false, "list every config key with its environment variable and default")
	loaded, err := nf.load(a.base, args)
	if errors.Is(err, flag.ErrHelp) {
		return ExitOK
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
	if err != nil {
		fmt.Fprintf(stderr, "stellar: %v\n", err)
		return ExitUsage
	}
	if loaded.File != "" {
		fmt.Fprintf(stderr, "# loaded from %s\n", loaded.File)
	}
	out, err := json.MarshalIndent(loaded.Config.Masked(), "", "  ")
	if err != nil {
		fmt.Fprintf(stderr, "stellar: %v\n", err)
		return ExitFailure
	}
	fmt.Fprintln(stdout, string(out))
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
	nf := newNodeFlags("docs", stderr)
	loaded, err := nf.load(a.base, args)
	if errors.Is(err, flag.ErrHelp) {
		return ExitOK
	}
	if err != nil {
		fmt.Fprintf(stderr, "stellar: %v\n", err)
		return ExitUsage
	}
	if err := a.Configure(loaded.Config); err != nil {
		fmt.Fprintf(stderr, "stellar: %v\n", err)
		return ExitUsage
	}
	doc, err := a.OpenAPI()
	if err != nil {
		fmt.Fprintf(stderr, "stellar: %v\n", err)
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
