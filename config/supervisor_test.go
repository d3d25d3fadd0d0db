package config

import (
	"errors"
	"runtime"
	"strings"
	"testing"
	"time"
)

func TestSupervisorConfig(t *testing.T) {
	c := Config{ShutdownTimeout: 10 * time.Second}
	Defaults(&c)
	if c.Supervisor.StopTimeout != 15*time.Second {
		t.Errorf("stop_timeout = %s, want shutdown_timeout + 5s", c.Supervisor.StopTimeout)
	}
	tests := []struct {
		name   string
		change func(*Supervisor)
		want   string
	}{
		{"negative workers", func(s *Supervisor) { s.Workers = -1 }, "supervisor.workers"},
		{"negative max restarts", func(s *Supervisor) { s.MaxRestarts = -1 }, "supervisor.max_restarts"},
		{"space in prefix", func(s *Supervisor) { s.NamePrefix = "a b" }, "supervisor.name_prefix"},
		{"negative backoff", func(s *Supervisor) { s.RestartBackoff = -time.Second }, "supervisor.restart_backoff"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := Config{}
			tc.change(&c.Supervisor)
			err := c.Validate()
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Validate = %v, want an error on %s", err, tc.want)
			}
		})
	}
	loaded, err := Load(Source{Env: []string{"STELLAR_SUPERVISOR_WORKERS=3", "STELLAR_SUPERVISOR_NAME_PREFIX=api-", "STELLAR_WORKER_NAME=x"}})
	if err != nil {
		t.Fatal(err)
	}
	if s := loaded.Config.Supervisor; s.Workers != 3 || s.NamePrefix != "api-" {
		t.Fatalf("loaded %+v", s)
	}
	if len(loaded.Warnings) != 0 {
		t.Errorf("warnings for the variables startCluster sets: %v", loaded.Warnings)
	}
}

// TestExplicitZeroSupervisorWorkersRefused: supervisor.workers = 0 from
// a flag, the environment or a file is refused rather than read as "one
// per CPU", since tasks.workers = 0 means none; unset, or 0 in Go code,
// is the default.
func TestExplicitZeroSupervisorWorkersRefused(t *testing.T) {
	for _, src := range []Source{
		{Dir: t.TempDir(), Env: []string{}, Flags: map[string]string{"supervisor.workers": "0"}},
		{Dir: t.TempDir(), Env: []string{"STELLAR_SUPERVISOR_WORKERS=0"}},
	} {
		_, err := Load(src)
		var e *Error
		if !errors.As(err, &e) || e.Key != "supervisor.workers" || !strings.Contains(err.Error(), "at least 1") {
			t.Errorf("Load(%v) = %v, want an error on supervisor.workers", src, err)
		}
	}
	l, err := Load(Source{Dir: t.TempDir(), Env: []string{}})
	if err != nil || l.Config.Supervisor.Workers != runtime.NumCPU() {
		t.Errorf("unset: %d, %v; want %d", l.Config.Supervisor.Workers, err, runtime.NumCPU())
	}
}
