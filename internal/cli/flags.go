package cli

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"

	"github.com/stellarfw/stellar-go/config"
)

// The node flags a command may take: each sets the config key of the
// same meaning, and each command takes only those it uses, so that its
// --help lists nothing it ignores.
const (
	flagID       = "id"
	flagHTTP     = "http"
	flagTCP      = "tcp"
	flagRedis    = "redis"
	flagToken    = "token"
	flagLogLevel = "log-level"
	flagConfig   = "config"
)

// runFlags are the flags of run, config and startCluster: every setting
// of a node.
var runFlags = []string{flagID, flagHTTP, flagTCP, flagRedis, flagToken, flagLogLevel, flagConfig}

// nodeFlags is the flag set of one command: the node flags it takes,
// its own, and the help that --help prints.
type nodeFlags struct {
	fs     *flag.FlagSet
	keys   map[string]string // flag name → config key
	config *string
	usage  string // printed by --help above the flags
}

// newNodeFlags returns the flag set of the command name, with the node
// flags listed in common. usage is the head of its --help.
func newNodeFlags(name, usage string, common ...string) *nodeFlags {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	// The command prints help and errors itself: help on stdout, errors
	// on stderr, neither from inside Parse.
	fs.SetOutput(io.Discard)
	fs.Usage = func() {}
	nf := &nodeFlags{fs: fs, keys: map[string]string{}, usage: usage}
	def := config.Config{}
	config.Defaults(&def)
	add := func(flagName, key, def, usage string) {
		fs.String(flagName, def, usage)
		nf.keys[flagName] = key
	}
	for _, name := range common {
		switch name {
		case flagID:
			add(flagID, "id", "", "node id (env STELLAR_ID; default hostname-pid)")
		case flagHTTP:
			add(flagHTTP, "http.addr", def.HTTP.Addr, `HTTP listen address, or "off" (env STELLAR_HTTP_ADDR)`)
		case flagTCP:
			add(flagTCP, "tcp.addr", def.TCP.Addr, `TCP listen address, or "off" (env STELLAR_TCP_ADDR)`)
		case flagRedis:
			add(flagRedis, "redis.url", "", "Redis URL, e.g. redis://127.0.0.1:6379/0; none runs on the in-memory backend (env STELLAR_REDIS_URL)")
		case flagToken:
			add(flagToken, "cluster.token", "", "server token that signs messages between nodes (env STELLAR_SERVER_TOKEN)")
		case flagLogLevel:
			add(flagLogLevel, "log.level", def.Log.Level, "log level: debug, info, warn or error (env STELLAR_LOG_LEVEL)")
		case flagConfig:
			nf.config = fs.String(flagConfig, "", "config file (env STELLAR_CONFIG; default stellar.toml, stellar.yaml or stellar.json here)")
		default:
			panic("cli: unknown node flag " + name)
		}
	}
	if nf.config == nil {
		nf.config = new(string)
	}
	return nf
}

// redisOfCluster makes --redis read as the cluster's Redis, for the
// commands that refuse the memory backend.
func (nf *nodeFlags) redisOfCluster() {
	if f := nf.fs.Lookup(flagRedis); f != nil {
		f.Usage = "the cluster's Redis URL, e.g. redis://127.0.0.1:6379/0 (env STELLAR_REDIS_URL)"
	}
}

// help writes the command's usage and its flags to w.
func (nf *nodeFlags) help(w io.Writer) {
	fmt.Fprint(w, nf.usage)
	if !strings.HasSuffix(nf.usage, "\n") {
		fmt.Fprintln(w)
	}
	fmt.Fprintln(w, "\nFlags:")
	nf.fs.SetOutput(w)
	nf.fs.PrintDefaults()
	nf.fs.SetOutput(io.Discard)
}

// load parses args and loads the configuration they select.
func (nf *nodeFlags) load(base config.Config, args []string) (config.Loaded, error) {
	if err := nf.parseFlags(args); err != nil {
		return config.Loaded{}, err
	}
	return nf.loadConfig(base)
}

// parseFlags parses args, which must hold flags only.
func (nf *nodeFlags) parseFlags(args []string) error {
	if err := nf.fs.Parse(args); err != nil {
		return err
	}
	if nf.fs.NArg() > 0 {
		return fmt.Errorf("unexpected argument %q", nf.fs.Arg(0))
	}
	return nil
}

// loadConfig loads the configuration the parsed flags select, on base.
func (nf *nodeFlags) loadConfig(base config.Config) (config.Loaded, error) {
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

// parse is load for a command: --help prints the command's help on
// stdout, a bad flag its error and a bad configuration its own on
// stderr. ok is false when the command must return code at once.
func (a *cmd) parse(nf *nodeFlags, args []string, stdout, stderr io.Writer) (loaded config.Loaded, code int, ok bool) {
	if code, ok := a.parseOnly(nf, args, stdout, stderr); !ok {
		return config.Loaded{}, code, false
	}
	loaded, err := nf.loadConfig(a.base)
	if err != nil {
		a.fail(stderr, err)
		return config.Loaded{}, ExitUsage, false
	}
	return loaded, ExitOK, true
}

// parseOnly parses the flags as parse does, loading no configuration.
func (a *cmd) parseOnly(nf *nodeFlags, args []string, stdout, stderr io.Writer) (code int, ok bool) {
	err := nf.parseFlags(args)
	switch {
	case errors.Is(err, flag.ErrHelp):
		nf.help(stdout)
		return ExitOK, false
	case err != nil:
		fmt.Fprintf(stderr, "%s %s: %v\nRun '%s %s --help' for its flags.\n", a.prog, nf.fs.Name(), err, a.prog, nf.fs.Name())
		return ExitUsage, false
	}
	return ExitOK, true
}

// fail prints err as the program's one-line error.
func (a *cmd) fail(stderr io.Writer, err error) {
	a.failf(stderr, "%v", oneLine(err))
}

// failf prints the program's error: "prog: message", or a JSON line at
// ERROR when the logs are JSON (errLog).
func (a *cmd) failf(stderr io.Writer, format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	if a.errLog != nil {
		a.errLog.Error(msg, "program", a.prog)
		return
	}
	fmt.Fprintf(stderr, "%s: %s\n", a.prog, msg)
}

// failAll prints every line of err, each as one of the program's errors.
func (a *cmd) failAll(stderr io.Writer, err error) {
	for _, line := range strings.Split(err.Error(), "\n") {
		a.failf(stderr, "%s", strings.TrimPrefix(line, "stellar: "))
	}
}
