package config

import (
	"runtime"
	"strings"
	"time"
)

// Supervisor configures stellar startCluster, the process manager that
// runs several nodes on one machine. Nodes started with run ignore it.
type Supervisor struct {
	// Workers is how many nodes startCluster starts. Default: the number
	// of CPUs. An explicit 0 in a file, the environment or a flag is
	// refused (tasks.workers = 0 means no workers; this would mean
	// something else).
	Workers int `key:"workers"`
	// NamePrefix names the workers: NamePrefix followed by 1, 2, …, which
	// is each worker's id. Default "stellar-worker-".
	NamePrefix string `key:"name_prefix"`
	// PIDFile is where startCluster writes its process id, for the
	// signals that grow, shrink, restart and stop the workers. Default
	// "stellar-cluster.pid"; "off" writes none.
	PIDFile string `key:"pid_file"`
	// StopTimeout is how long a stopping worker may take before it is
	// killed. Default: shutdown_timeout plus 5s.
	StopTimeout time.Duration `key:"stop_timeout"`
	// ReadyTimeout is how long a rolling restart waits for a replacement
	// to be ready before it gives up rolling. Default 60s.
	ReadyTimeout time.Duration `key:"ready_timeout"`
	// RestartBackoff is the wait before restarting a crashed worker,
	// doubled for each crash in RestartWindow, up to 10s. Default 100ms.
	RestartBackoff time.Duration `key:"restart_backoff"`
	// MaxRestarts is how many crashes within RestartWindow a worker may
	// have before it is left stopped. Default 5.
	MaxRestarts int `key:"max_restarts"`
	// RestartWindow is the span over which crashes are counted. Default 1m.
	RestartWindow time.Duration `key:"restart_window"`
}

func (s *Supervisor) defaults(shutdownTimeout time.Duration) {
	setDefault(&s.Workers, runtime.NumCPU())
	setDefault(&s.NamePrefix, "stellar-worker-")
	setDefault(&s.PIDFile, "stellar-cluster.pid")
	setDefault(&s.StopTimeout, shutdownTimeout+5*time.Second)
	setDefault(&s.ReadyTimeout, 60*time.Second)
	setDefault(&s.RestartBackoff, 100*time.Millisecond)
	setDefault(&s.MaxRestarts, 5)
	setDefault(&s.RestartWindow, time.Minute)
}

func (s Supervisor) validate() error {
	if s.Workers < 0 {
		return invalid("supervisor.workers", "must be at least 1, got %d", s.Workers)
	}
	if s.MaxRestarts < 0 {
		return invalid("supervisor.max_restarts", "must not be negative, got %d", s.MaxRestarts)
	}
	if strings.ContainsFunc(s.NamePrefix, func(r rune) bool { return r <= ' ' || r == '/' }) {
		return invalid("supervisor.name_prefix", "must not hold spaces, slashes or control characters, got %q", s.NamePrefix)
	}
	for _, d := range []struct {
		key string
		d   time.Duration
	}{
		{"supervisor.stop_timeout", s.StopTimeout},
		{"supervisor.ready_timeout", s.ReadyTimeout},
		{"supervisor.restart_backoff", s.RestartBackoff},
		{"supervisor.restart_window", s.RestartWindow},
	} {
		if err := nonNegative(d.key, d.d); err != nil {
			return err
		}
	}
	return nil
}

func init() {
	for k, v := range map[string]string{
		"supervisor.workers":         "startCluster: how many nodes to run, at least 1 (default: the number of CPUs)",
		"supervisor.name_prefix":     "startCluster: worker names are this followed by 1, 2, …",
		"supervisor.pid_file":        `startCluster: where to write the supervisor's pid, or "off"`,
		"supervisor.stop_timeout":    "startCluster: a stopping worker is killed after this (default shutdown_timeout + 5s)",
		"supervisor.ready_timeout":   "startCluster: how long a rolling restart waits for a replacement to be ready",
		"supervisor.restart_backoff": "startCluster: first wait before restarting a crashed worker, doubled per crash",
		"supervisor.max_restarts":    "startCluster: crashes within restart_window before a worker is left stopped",
		"supervisor.restart_window":  "startCluster: the span over which crashes are counted",
	} {
		keyDocs[k] = v
	}
}
