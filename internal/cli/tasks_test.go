package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/stellarfw/stellar-go/backend"
	"github.com/stellarfw/stellar-go/config"
	"github.com/stellarfw/stellar-go/internal/logging"
	"github.com/stellarfw/stellar-go/internal/node"
	"github.com/stellarfw/stellar-go/internal/redistest"
	"github.com/stellarfw/stellar-go/task"
)

// tasksApp is the part of an app the tasks commands use.
type tasksApp struct {
	cfg config.Config
	m   *task.Manager
}

func (a *tasksApp) Configure(cfg config.Config) error { a.cfg = cfg; return nil }
func (a *tasksApp) Config() config.Config             { return a.cfg }
func (a *tasksApp) Logger() *slog.Logger              { return logging.Discard() }
func (a *tasksApp) Start(context.Context) error       { panic("not used") }
func (a *tasksApp) Run(context.Context) error         { panic("not used") }
func (a *tasksApp) Ready(context.Context) error       { return nil }
func (a *tasksApp) Shutdown(context.Context) error    { return nil }
func (a *tasksApp) Done() <-chan struct{}             { return nil }
func (a *tasksApp) OpenAPI() ([]byte, error)          { panic("not used") }
func (a *tasksApp) TaskManager() *task.Manager        { return a.m }
func (a *tasksApp) CheckRoutes(config.Config) error   { return nil }

// TestTasksPauseResume: `tasks pause QUEUE` pauses the queue in the
// nodes' Redis, `tasks stats` shows it, `tasks resume QUEUE` undoes it;
// without Redis (the memory backend, which no other process shares) pause
// is refused.
func TestTasksPauseResume(t *testing.T) {
	srv := redistest.Shared(t)
	base := config.Config{Redis: config.Redis{URL: srv.URL(), Prefix: redistest.Prefix(t)}}
	run := func(args ...string) (int, string, string) {
		t.Helper()
		var out, errOut bytes.Buffer
		code := Main(&tasksApp{m: task.New()}, Info{Base: base}, append([]string{"stellar", "tasks"}, args...), &out, &errOut)
		return code, out.String(), errOut.String()
	}
	paused := func() []string {
		t.Helper()
		cfg := base
		config.Defaults(&cfg)
		b, err := backend.Open(node.BackendConfig(cfg))
		if err != nil {
			t.Fatal(err)
		}
		defer b.Close()
		got, err := task.NewInspector(b.TaskAdmin()).PausedQueues(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		return got
	}

	if code, out, errOut := run("pause", "mail"); code != ExitOK || !strings.Contains(out, "paused queue mail") {
		t.Fatalf("pause: %d %q %q", code, out, errOut)
	}
	if got := paused(); !slices.Equal(got, []string{"mail"}) {
		t.Fatalf("paused queues after `tasks pause mail` = %v", got)
	}
	// statsRow returns the fields of queue's row in `tasks stats`.
	statsRow := func(queue string) []string {
		t.Helper()
		code, out, _ := run("stats")
		if code != ExitOK || !strings.Contains(out, "PAUSED") {
			t.Fatalf("stats: %d %s", code, out)
		}
		for _, line := range strings.Split(out, "\n") {
			if f := strings.Fields(line); len(f) == 7 && f[0] == queue {
				return f
			}
		}
		t.Fatalf("no row of %s in\n%s", queue, out)
		return nil
	}
	if row := statsRow("mail"); row[6] != "paused" {
		t.Fatalf("stats row of the paused queue = %q", row)
	}
	code, out, _ := run("stats", "--json")
	var s task.Stats
	if code != ExitOK || json.Unmarshal([]byte(out), &s) != nil || len(s.Queues) != 1 || !s.Queues[0].Paused {
		t.Fatalf("stats --json: %d %s", code, out)
	}

	if code, out, errOut := run("resume", "mail", "--json"); code != ExitOK || !strings.Contains(out, `"resumed": "mail"`) {
		t.Fatalf("resume: %d %q %q", code, out, errOut)
	}
	if got := paused(); len(got) != 0 {
		t.Fatalf("paused queues after `tasks resume mail` = %v", got)
	}
	if row := statsRow("mail"); row[6] != "-" {
		t.Fatalf("stats row after resume = %q", row)
	}

	for _, args := range [][]string{{"pause"}, {"pause", "a", "b"}, {"resume"}, {"pause", "bad{queue}"}} {
		if code, _, _ := run(args...); code == ExitOK {
			t.Errorf("tasks %v succeeded", args)
		}
	}
	base = config.Config{} // the memory backend
	if code, _, errOut := run("pause", "mail"); code != ExitUsage || !strings.Contains(errOut, errNoRedis) {
		t.Errorf("pause on the memory backend: %d %q", code, errOut)
	}
}

// TestTasksStatsOnePartitionedQueue: with tasks.partitions set, `tasks
// enqueue` spreads the tasks over the queue's partitions as the nodes
// would, and `tasks stats` shows the queue as one row.
func TestTasksStatsOnePartitionedQueue(t *testing.T) {
	srv := redistest.Shared(t)
	base := config.Config{Redis: config.Redis{URL: srv.URL(), Prefix: redistest.Prefix(t)}, Tasks: config.Tasks{Partitions: 4}}
	noop := task.HandlerFunc(func(context.Context, *task.Task) error { return nil })
	run := func(args ...string) (int, string, string) {
		t.Helper()
		m := task.New()
		if err := m.Register(&task.Definition{Name: "job", Queue: "work", Handler: noop}); err != nil {
			t.Fatal(err)
		}
		var out, errOut bytes.Buffer
		code := Main(&tasksApp{m: m}, Info{Base: base}, append([]string{"stellar", "tasks"}, args...), &out, &errOut)
		return code, out.String(), errOut.String()
	}
	const n = 40
	for i := range n {
		if code, out, errOut := run("enqueue", "job", `{"i":`+strconv.Itoa(i)+`}`); code != ExitOK {
			t.Fatalf("enqueue: %d %q %q", code, out, errOut)
		}
	}
	cfg := base
	config.Defaults(&cfg)
	b, err := backend.Open(node.BackendConfig(cfg))
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	parts, err := task.NewInspector(b.TaskAdmin()).Partitions(context.Background(), "work")
	if err != nil || len(parts) < 2 {
		t.Fatalf("the enqueued tasks are in partitions %v, %v", parts, err)
	}
	code, out, _ := run("stats", "--json")
	var s task.Stats
	if code != ExitOK || json.Unmarshal([]byte(out), &s) != nil || len(s.Queues) != 1 || s.Queues[0].Queue != "work" || s.Queues[0].Pending != n {
		t.Fatalf("stats --json: %d %s", code, out)
	}
	code, out, _ = run("stats")
	rows := 0
	for _, line := range strings.Split(out, "\n") {
		if f := strings.Fields(line); len(f) > 1 && strings.HasPrefix(f[0], "work") && f[0] != "workers:" {
			rows++
		}
	}
	if code != ExitOK || rows != 1 {
		t.Fatalf("stats: %d rows of the queue in\n%s", rows, out)
	}
}
