package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestTasksConfig(t *testing.T) {
	var c Config
	Defaults(&c)
	if c.Tasks.Workers != 10 || c.Tasks.Lease != 30*time.Second || c.Tasks.PollInterval != 100*time.Millisecond || c.Tasks.DrainTimeout != 10*time.Second {
		t.Fatalf("defaults = %+v", c.Tasks)
	}
	tests := []struct {
		name   string
		change func(*Tasks)
		want   string
	}{
		{"negative lease", func(t *Tasks) { t.Lease = -time.Second }, "tasks.lease"},
		{"tiny lease", func(t *Tasks) { t.Lease = time.Millisecond }, "tasks.lease"},
		{"brace in queue", func(t *Tasks) { t.Queues = []string{"a{b"} }, "tasks.queues"},
		{"empty queue", func(t *Tasks) { t.Queues = []string{""} }, "tasks.queues"},
		{"too many partitions", func(t *Tasks) { t.Partitions = 65 }, "tasks.partitions"},
		{"negative partitions", func(t *Tasks) { t.Partitions = -1 }, "tasks.partitions"},
		{"queue too long for the task store", func(t *Tasks) { t.Queues = []string{strings.Repeat("q", 201)} }, "tasks.queues"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := Config{}
			tc.change(&c.Tasks)
			err := c.Validate()
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Validate = %v, want an error on %s", err, tc.want)
			}
		})
	}
	loaded, err := Load(Source{Env: []string{"STELLAR_TASKS_WORKERS=-1", "STELLAR_TASKS_QUEUES=mail, default", "STELLAR_TASKS_LEASE=2s", "STELLAR_TASKS_PARTITIONS=8"}})
	if err != nil {
		t.Fatal(err)
	}
	if tk := loaded.Config.Tasks; tk.Workers != -1 || len(tk.Queues) != 2 || tk.Queues[0] != "mail" || tk.Lease != 2*time.Second || tk.Partitions != 8 {
		t.Fatalf("loaded %+v", tk)
	}
}

func TestExplicitZeroWorkersTurnsThemOff(t *testing.T) {
	tests := []struct {
		name string
		src  Source
		want int
	}{
		{"unset", Source{Dir: t.TempDir(), Env: []string{}}, 10},
		{"env zero", Source{Dir: t.TempDir(), Env: []string{"STELLAR_TASKS_WORKERS=0"}}, -1},
		{"flag zero", Source{Dir: t.TempDir(), Env: []string{}, Flags: map[string]string{"tasks.workers": "0"}}, -1},
		{"env three", Source{Dir: t.TempDir(), Env: []string{"STELLAR_TASKS_WORKERS=3"}}, 3},
		{"code minus one", Source{Dir: t.TempDir(), Env: []string{}, Base: Config{Tasks: Tasks{Workers: -1}}}, -1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			l, err := Load(tc.src)
			if err != nil {
				t.Fatal(err)
			}
			if l.Config.Tasks.Workers != tc.want {
				t.Fatalf("workers = %d, want %d", l.Config.Tasks.Workers, tc.want)
			}
		})
	}
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "stellar.toml"), []byte("[tasks]\nworkers = 0\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	l, err := Load(Source{Dir: dir, Env: []string{}})
	if err != nil || l.Config.Tasks.Workers != -1 {
		t.Fatalf("file zero: %d, %v", l.Config.Tasks.Workers, err)
	}
}
