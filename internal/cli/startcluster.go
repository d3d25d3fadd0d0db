package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/stellarfw/stellar-go/backend"
	"github.com/stellarfw/stellar-go/cluster"
	"github.com/stellarfw/stellar-go/config"
	"github.com/stellarfw/stellar-go/internal/logging"
	"github.com/stellarfw/stellar-go/internal/node"
	"github.com/stellarfw/stellar-go/supervisor"
)

// DefaultClusterRedisURL is the Redis that startCluster uses when none is
// configured: its workers share state, so they need one.
const DefaultClusterRedisURL = "redis://127.0.0.1:6379/0"

// redisCheckTimeout bounds startCluster's check that Redis answers.
const redisCheckTimeout = 2 * time.Second

// readyPollInterval is how often a worker checks its readiness until it
// can tell its supervisor it is ready.
const readyPollInterval = 50 * time.Millisecond

// supervisorOnlyFlags are startCluster's flags that workers do not get
// on their command line: the supervisor's own, and the secrets, which
// they get through their environment.
var supervisorOnlyFlags = map[string]bool{"workers": true, "name-prefix": true, "pid-file": true, "token": true, "redis": true, "id": true}

// cmdStartCluster runs a supervisor of N workers of this program.
func (a *cmd) cmdStartCluster(args []string, stdout, stderr io.Writer) int {
	nf := newStartClusterFlags(a.prog)
	loaded, code, ok := a.parse(nf, args, stdout, stderr)
	if !ok {
		return code
	}
	a.jsonErrors(loaded.Config, stderr, "supervisor")
	if f := nf.fs.Lookup("id"); f != nil && f.Value.String() != "" {
		a.failf(stderr, "startCluster names its workers itself (--name-prefix); --id applies to run")
		return ExitUsage
	}
	if err := a.CheckRoutes(loaded.Config); err != nil {
		a.failAll(stderr, err)
		return ExitUsage
	}
	cfg := loaded.Config
	logger, err := logging.New(stderr, cfg.Log.Format, cfg.Log.Level, "supervisor")
	if err != nil {
		a.fail(stderr, err)
		return ExitUsage
	}
	for _, w := range loaded.Warnings {
		logger.Warn("configuration", "warning", w)
	}
	warnSecretsOnCommandLine(logger, loaded, "; the workers get them through their environment, not their command line")
	if !cfg.Redis.Enabled() {
		cfg.Redis.URL = DefaultClusterRedisURL
	}
	if err := checkRedis(cfg); err != nil {
		a.failf(stderr, "startCluster needs Redis, and none answers at %s: %v. "+
			"Start one (redis-server, or: docker run -d -p 6379:6379 redis), or point to yours with --redis URL or STELLAR_REDIS_URL.",
			redisWhere(cfg.Redis), oneLine(err))
		return ExitUsage
	}
	token := cfg.Cluster.Token
	var tokenPath string
	if token == "" {
		token = cluster.RandomToken()
		if tokenPath = tokenFilePath(cfg.Supervisor.PIDFile); tokenPath != "" {
			if abs, err := filepath.Abs(tokenPath); err == nil {
				tokenPath = abs
			}
			logger.Info("no cluster token configured: generated one for this supervisor's workers; "+
				"it is in the token file while the supervisor runs, where stellar cluster status run in this directory finds it; "+
				"set --token or STELLAR_SERVER_TOKEN to let other nodes join them", "token_file", tokenPath)
		} else {
			logger.Warn("no cluster token configured: generated one for this supervisor's workers; "+
				"with the pid file off it is written nowhere, so stellar cluster status cannot reach them: "+
				"set --token or STELLAR_SERVER_TOKEN", "pid_file", cfg.Supervisor.PIDFile)
		}
	}
	sc := workerConfig(nf, cfg, token)
	sc.TokenFile, sc.Token = tokenPath, token
	sc.Workers = cfg.Supervisor.Workers
	sc.NamePrefix = cfg.Supervisor.NamePrefix
	if cfg.Supervisor.PIDFile != "off" {
		sc.PIDFile = cfg.Supervisor.PIDFile
	}
	sc.StopTimeout = cfg.Supervisor.StopTimeout
	sc.ReadyTimeout = cfg.Supervisor.ReadyTimeout
	sc.RestartBackoff = cfg.Supervisor.RestartBackoff
	sc.MaxRestarts = cfg.Supervisor.MaxRestarts
	sc.RestartWindow = cfg.Supervisor.RestartWindow
	sc.Logger = logger
	if f, ok := stderr.(*os.File); ok {
		sc.Stderr = f
	}
	sc.Reload = func() (supervisor.Config, error) {
		nf := newStartClusterFlags(a.prog)
		loaded, err := nf.load(a.base, args)
		if err != nil {
			return supervisor.Config{}, err
		}
		next := loaded.Config
		if !next.Redis.Enabled() {
			next.Redis.URL = DefaultClusterRedisURL
		}
		// Keep the generated token: workers with another one could not
		// talk to those not yet restarted.
		t := token
		if next.Cluster.Token != "" {
			t = next.Cluster.Token
		}
		return workerConfig(nf, next, t), nil
	}
	if err := supervisor.New(sc).Run(context.Background()); err != nil {
		a.fail(stderr, err)
		if errors.Is(err, supervisor.ErrRunning) || errors.Is(err, supervisor.ErrListen) || errors.Is(err, supervisor.ErrUnsupported) {
			return ExitUsage
		}
		return ExitFailure
	}
	return ExitOK
}

const startClusterUsage = `Usage: %[1]s startCluster [flags]

Runs --workers nodes of this program on this machine ('%[1]s run' each,
named --name-prefix followed by 1, 2, …), sharing its ports, on one
Redis, and restarts those that die. SIGTTIN adds a worker, SIGTTOU
removes one, SIGUSR2 restarts them one at a time, SIGHUP rereads the
configuration and does the same, SIGINT or SIGTERM stops them all. See
docs/startcluster.md.
`

// newStartClusterFlags are run's flags and the supervisor's.
func newStartClusterFlags(prog string) *nodeFlags {
	nf := newNodeFlags("startCluster", fmt.Sprintf(startClusterUsage, prog), runFlags...)
	add := func(name, key, usage string) {
		nf.fs.String(name, "", usage)
		nf.keys[name] = key
	}
	add("workers", "supervisor.workers", "number of workers, at least 1 (env STELLAR_SUPERVISOR_WORKERS; default: the number of CPUs)")
	add("name-prefix", "supervisor.name_prefix", `workers are named this followed by 1, 2, … (env STELLAR_SUPERVISOR_NAME_PREFIX; default "stellar-worker-")`)
	add("pid-file", "supervisor.pid_file", `file holding the supervisor's pid, or "off" (env STELLAR_SUPERVISOR_PID_FILE; default stellar-cluster.pid)`)
	nf.fs.Lookup("redis").Usage = "Redis URL the workers share (env STELLAR_REDIS_URL; default " + DefaultClusterRedisURL + ")"
	nf.fs.Lookup("id").Usage = "not for startCluster: the workers are named by --name-prefix"
	nf.fs.Lookup("token").Usage = "server token that signs messages between nodes (env STELLAR_SERVER_TOKEN; default: one generated for this supervisor's workers)"
	return nf
}

// workerConfig is what the workers run: `run` with the node flags given
// to startCluster, and the token and the Redis URL (which may hold a
// password) in their environment, not on their command line, where any
// user of the machine can read them (ps, /proc/PID/cmdline); a process's
// environment is readable by its owner only. The URL in the environment
// is the effective one, so it is the same whether it came from a flag,
// the environment or the config file.
func workerConfig(nf *nodeFlags, cfg config.Config, token string) supervisor.Config {
	var pass []string
	nf.fs.Visit(func(f *flag.Flag) {
		if !supervisorOnlyFlags[f.Name] {
			pass = append(pass, "--"+f.Name+"="+f.Value.String())
		}
	})
	var listen []string
	for _, addr := range []string{cfg.HTTP.Addr, cfg.HTTP.RedirectAddr, cfg.TCP.Addr} {
		if addr != "off" && addr != "" {
			listen = append(listen, addr)
		}
	}
	env := []string{"STELLAR_SERVER_TOKEN=" + token}
	if cfg.Redis.URL != "" {
		env = append(env, "STELLAR_REDIS_URL="+cfg.Redis.URL)
	}
	return supervisor.Config{
		Args: func(name string) []string {
			return append(append([]string{"run"}, pass...), "--id", name)
		},
		Env:    env,
		Listen: listen,
	}
}

// checkRedis reports whether Redis answers a PING.
func checkRedis(cfg config.Config) error {
	bc := node.BackendConfig(cfg)
	bc.Redis.DialTimeout = redisCheckTimeout
	b, err := backend.Open(bc)
	if err != nil {
		return err
	}
	defer b.Close()
	ctx, cancel := context.WithTimeout(context.Background(), redisCheckTimeout)
	defer cancel()
	return b.Ping(ctx)
}

// redisWhere names the Redis configured, without its password.
func redisWhere(r config.Redis) string {
	switch {
	case r.URL != "":
		if u, err := url.Parse(r.URL); err == nil {
			return u.Redacted()
		}
		return "the configured URL"
	case len(r.SentinelAddrs) > 0:
		return fmt.Sprintf("the sentinels %v", r.SentinelAddrs)
	default:
		return fmt.Sprintf("the cluster %v", r.ClusterAddrs)
	}
}

// supervised links a node started by startCluster to its supervisor: it
// tells the supervisor once the node is ready, and stops the node when the
// supervisor goes away. The returned func waits for it to finish, once
// the node has stopped.
func (a *cmd) supervised(link *supervisor.Link) (wait func()) {
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		tick := time.NewTicker(readyPollInterval)
		defer tick.Stop()
		poll := tick.C
		for {
			if poll != nil {
				ctx, cancel := context.WithTimeout(context.Background(), node.ReadyPingTimeout)
				err := a.Ready(ctx)
				cancel()
				if err == nil {
					if err := link.Ready(); err != nil {
						a.Logger().Warn("cannot tell the supervisor that the node is ready", "error", err.Error())
					}
					poll = nil
				}
			}
			select {
			case <-a.Done():
				return
			case <-link.Gone():
				a.Logger().Warn("the supervisor is gone: stopping")
				_ = a.Shutdown(context.Background())
				return
			case <-poll:
			}
		}
	}()
	return wg.Wait
}

// workerStartFailed tells the supervisor why the node did not start, and
// reports whether it could.
func workerStartFailed(link *supervisor.Link, logger *slog.Logger, err error) bool {
	if link == nil {
		return false
	}
	if ferr := link.Failed(err, errors.Is(err, cluster.ErrDuplicateNode)); ferr != nil {
		logger.Warn("cannot tell the supervisor why the node did not start", "error", ferr.Error())
		return false
	}
	return true
}

// tokenFilePath is where startCluster keeps a token it generated, beside its
// pid file: the pid file's name with .token for .pid
// (stellar-cluster.token by default). It is "" when the pid file is off.
func tokenFilePath(pidFile string) string {
	if pidFile == "" || pidFile == "off" {
		return ""
	}
	return strings.TrimSuffix(pidFile, ".pid") + ".token"
}

// warnSecretsOnCommandLine logs one warning when a secret came as a flag:
// every user of the machine can read a process's command line.
func warnSecretsOnCommandLine(logger *slog.Logger, loaded config.Loaded, more string) {
	var flags []string
	if loaded.Origins["redis.url"] == originFlag && urlHasPassword(loaded.Config.Redis.URL) {
		flags = append(flags, "--redis (its password)")
	}
	if loaded.Origins["cluster.token"] == originFlag && loaded.Config.Cluster.Token != "" {
		flags = append(flags, "--token")
	}
	if len(flags) == 0 {
		return
	}
	logger.Warn("a secret is on the command line, where every user of this machine can read it in the process list (ps, /proc/PID/cmdline); "+
		"set STELLAR_REDIS_URL and STELLAR_SERVER_TOKEN in the environment, or the config file, instead"+more, "flags", strings.Join(flags, ", "))
}

// originFlag is the origin config.Load gives a key set by a flag.
const originFlag = "command line"

// urlHasPassword reports whether a Redis URL carries a password, in its
// user information or as a password parameter. One that does not parse
// may hold one anywhere.
func urlHasPassword(s string) bool {
	if s == "" {
		return false
	}
	u, err := url.Parse(s)
	if err != nil {
		return true
	}
	if p, ok := u.User.Password(); ok && p != "" {
		return true
	}
	return u.Query().Get("password") != ""
}
