package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/stellarfw/stellar-go/backend"
	"github.com/stellarfw/stellar-go/config"
	"github.com/stellarfw/stellar-go/internal/lifecycle"
	"github.com/stellarfw/stellar-go/internal/node"
	"github.com/stellarfw/stellar-go/task"
)

// tasksCommands are the tasks subcommands: their arguments, the flags
// each takes, and the line of usage that names them.
var tasksCommands = map[string]struct {
	minArgs, maxArgs int
	args             string // the positional arguments, for usage
	summary          string
	needsRedis       bool
	flags            []string // of queue, in, offset, limit
}{
	"list":    {0, 0, "", "list the tasks this program registers: name, queue, frequency (needs no backend)", false, nil},
	"stats":   {0, 0, "", "per queue: pending, delayed, running, processed, failed, paused; and the workers", true, nil},
	"enqueue": {1, 2, "NAME [JSON-ARGS]", "enqueue the task NAME with the arguments JSON-ARGS (an object)", true, []string{"queue", "in"}},
	"failed":  {0, 0, "", "list the failed tasks, newest first", true, []string{"offset", "limit"}},
	"retry":   {1, 1, "ID", "retry a failed task and remove it from the failed list", true, nil},
	"remove":  {1, 1, "ID", "remove a failed task", true, nil},
	"delayed": {0, 0, "", "list the delayed tasks, soonest first", true, nil},
	"pause":   {1, 1, "QUEUE", "no node takes the queue's tasks until resume", true, nil},
	"resume":  {1, 1, "QUEUE", "the nodes take the queue's tasks again", true, nil},
}

// tasksFlags is the flag set of one tasks subcommand.
type tasksFlags struct {
	*nodeFlags
	asJSON        *bool
	queue         *string
	in            *time.Duration
	offset, limit *int
}

func (a *cmd) newTasksFlags(sub string) *tasksFlags {
	c := tasksCommands[sub]
	args := "[flags]"
	if c.args != "" {
		args = c.args + " [flags]"
	}
	usage := fmt.Sprintf("Usage: %s tasks %s %s\n\n%s.\n", a.prog, sub, args, upperFirst(c.summary))
	common := []string{flagConfig}
	if c.needsRedis {
		usage += "\nIt works on the cluster's queues in Redis, configured as for run\n(--redis URL, STELLAR_REDIS_URL, --config PATH, ...).\n"
		common = []string{flagRedis, flagConfig}
	}
	tf := &tasksFlags{nodeFlags: newNodeFlags("tasks "+sub, usage, common...)}
	tf.redisOfCluster()
	tf.asJSON = tf.fs.Bool("json", false, "print JSON")
	tf.queue, tf.in, tf.offset, tf.limit = new(string), new(time.Duration), new(int), new(int)
	for _, f := range c.flags {
		switch f {
		case "queue":
			tf.queue = tf.fs.String("queue", "", "queue to enqueue into (default: the task's)")
		case "in":
			tf.in = tf.fs.Duration("in", 0, "delay before the task runs")
		case "offset":
			tf.offset = tf.fs.Int("offset", 0, "failed tasks to skip")
		case "limit":
			tf.limit = tf.fs.Int("limit", 100, "failed tasks to show; 0 for all")
		}
	}
	return tf
}

func upperFirst(s string) string {
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}

// tasksUsage is the usage of the tasks commands.
func (a *cmd) tasksUsage() string {
	var b strings.Builder
	fmt.Fprintf(&b, "Usage:\n")
	for _, sub := range []string{"list", "stats", "enqueue", "failed", "retry", "remove", "delayed", "pause", "resume"} {
		c := tasksCommands[sub]
		fmt.Fprintf(&b, "  %s tasks %-8s %-17s %s\n", a.prog, sub, c.args, c.summary)
	}
	fmt.Fprintf(&b, `
All but list work on the cluster's queues in Redis, configured as for run
(--redis URL, STELLAR_REDIS_URL, --config PATH, ...); list shows the tasks
this program registers and needs no backend. Each takes --json; run
'%[1]s tasks COMMAND --help' for its flags.

Exit status: 0 when done; 2 for a usage error or no Redis configured; 1
when the command fails (Redis does not answer, no such task, ...).
`, a.prog)
	return b.String()
}

// cmdTasks is the operator's view of the task queues.
func (a *cmd) cmdTasks(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 || args[0] == "help" || args[0] == "-h" || args[0] == "-help" || args[0] == "--help" {
		if len(args) == 0 {
			fmt.Fprint(stderr, a.tasksUsage())
			return ExitUsage
		}
		fmt.Fprint(stdout, a.tasksUsage())
		return ExitOK
	}
	sub, rest := args[0], args[1:]
	c, ok := tasksCommands[sub]
	if !ok {
		fmt.Fprintf(stderr, "%s: unknown tasks command %q\n\n%s", a.prog, sub, a.tasksUsage())
		return ExitUsage
	}
	tf := a.newTasksFlags(sub)
	flagArgs, pos := splitArgs(rest, map[string]bool{"json": true, "h": true, "help": true})
	loaded, code, ok := a.parse(tf.nodeFlags, flagArgs, stdout, stderr)
	if !ok {
		return code
	}
	if len(pos) < c.minArgs || len(pos) > c.maxArgs {
		fmt.Fprintf(stderr, "%s: tasks %s: wrong number of arguments\n\n", a.prog, sub)
		tf.help(stderr)
		return ExitUsage
	}
	cfg := loaded.Config
	a.jsonErrors(cfg, stderr, cfg.ID)
	if err := a.Configure(cfg); err != nil {
		a.fail(stderr, err)
		return ExitUsage
	}
	cfg = a.Config()
	if sub == "list" {
		out, table := a.listTasks()
		return a.printTasks(stdout, stderr, *tf.asJSON, out, table)
	}
	if !cfg.Redis.Enabled() {
		// The embedded memory backend is this process's own, empty: its
		// figures would look like the cluster's.
		a.failf(stderr, "%s", errNoRedis)
		return ExitUsage
	}
	b, err := backend.Open(node.BackendConfig(cfg))
	if err != nil {
		a.fail(stderr, err)
		return ExitUsage
	}
	defer b.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	out, table, err := a.runTasksCommand(ctx, b, cfg, sub, pos, *tf.queue, *tf.in, *tf.offset, *tf.limit)
	if err != nil {
		a.failf(stderr, "tasks %s: %v", sub, oneLine(err))
		return ExitFailure
	}
	return a.printTasks(stdout, stderr, *tf.asJSON, out, table)
}

// printTasks prints what a tasks command returned: out as JSON, or table.
func (a *cmd) printTasks(stdout, stderr io.Writer, asJSON bool, out any, table [][]string) int {
	if asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(out); err != nil {
			a.fail(stderr, err)
			return ExitFailure
		}
		return ExitOK
	}
	tw := tabwriter.NewWriter(stdout, 0, 2, 2, ' ', 0)
	for _, row := range table {
		fmt.Fprintln(tw, strings.Join(row, "\t"))
	}
	_ = tw.Flush()
	return ExitOK
}

// splitArgs separates flags (with their values) from positional
// arguments, wherever they appear. bools names the flags without a value.
func splitArgs(args []string, bools map[string]bool) (flags, pos []string) {
	for i := 0; i < len(args); i++ {
		a := args[i]
		if a == "--" {
			pos = append(pos, args[i+1:]...)
			break
		}
		if !strings.HasPrefix(a, "-") || a == "-" {
			pos = append(pos, a)
			continue
		}
		flags = append(flags, a)
		name := strings.TrimLeft(a, "-")
		if !strings.Contains(name, "=") && !bools[name] && i+1 < len(args) {
			i++
			flags = append(flags, args[i])
		}
	}
	return flags, pos
}

// runTasksCommand runs one tasks subcommand and returns what --json
// prints and the rows of the table printed otherwise.
func (a *cmd) runTasksCommand(ctx context.Context, b *backend.Backend, cfg config.Config, sub string, pos []string, queue string, in time.Duration, offset, limit int) (any, [][]string, error) {
	insp := task.NewInspector(b.TaskAdmin())
	ts := func(t time.Time) string {
		if t.IsZero() {
			return "-"
		}
		return t.UTC().Format(time.RFC3339Nano)
	}
	switch sub {
	case "stats":
		s, err := insp.Stats(ctx)
		if err != nil {
			return nil, nil, err
		}
		rows := [][]string{{"QUEUE", "PENDING", "DELAYED", "RUNNING", "PROCESSED", "FAILED", "PAUSED"}}
		for _, q := range s.Queues {
			paused := "-"
			if q.Paused {
				paused = "paused"
			}
			rows = append(rows, []string{q.Queue, fmt.Sprint(q.Pending), fmt.Sprint(q.Delayed), fmt.Sprint(q.Running), fmt.Sprint(q.Processed), fmt.Sprint(q.Failed), paused})
		}
		rows = append(rows, []string{}, []string{fmt.Sprintf("workers: %d nodes, concurrency %d", s.Workers, s.Concurrency)})
		return s, rows, nil
	case "enqueue":
		var args any
		if len(pos) > 1 {
			raw := json.RawMessage(pos[1])
			if !json.Valid(raw) {
				return nil, nil, fmt.Errorf("arguments are not valid JSON: %s", pos[1])
			}
			args = raw
		}
		var opts []task.Option
		if queue != "" {
			opts = append(opts, task.Queue(queue))
		}
		if in > 0 {
			opts = append(opts, task.In(in))
		}
		id, err := a.enqueue(ctx, b, cfg, pos[0], args, opts)
		if err != nil {
			return nil, nil, err
		}
		return map[string]string{"id": id}, [][]string{{"enqueued " + pos[0] + " as " + id}}, nil
	case "failed":
		f, err := insp.Failed(ctx, offset, limit)
		if err != nil {
			return nil, nil, err
		}
		rows := [][]string{{"ID", "TASK", "QUEUE", "ATTEMPTS", "FAILED AT", "ERROR"}}
		for _, in := range f {
			rows = append(rows, []string{in.ID, in.Name, in.Queue, fmt.Sprint(in.Failure.Attempts), ts(in.Failure.FailedAt), oneLineStr(in.Failure.Error)})
		}
		if f == nil {
			f = []task.Info{}
		}
		return f, rows, nil
	case "retry":
		if err := insp.RetryAndRemoveFailed(ctx, pos[0]); err != nil {
			return nil, nil, err
		}
		return map[string]string{"retried": pos[0]}, [][]string{{"retried " + pos[0]}}, nil
	case "remove":
		if err := insp.RemoveFailed(ctx, pos[0]); err != nil {
			return nil, nil, err
		}
		return map[string]string{"removed": pos[0]}, [][]string{{"removed " + pos[0]}}, nil
	case "delayed":
		d, err := insp.AllDelayed(ctx)
		if err != nil {
			return nil, nil, err
		}
		rows := [][]string{{"RUN AT", "ID", "TASK", "QUEUE", "ARGS"}}
		for _, in := range d {
			rows = append(rows, []string{ts(in.RunAt), in.ID, in.Name, in.Queue, task.MarshalArgs(in.Args)})
		}
		if d == nil {
			d = []task.Info{}
		}
		return d, rows, nil
	case "pause":
		if err := insp.PauseQueue(ctx, pos[0]); err != nil {
			return nil, nil, err
		}
		return map[string]string{"paused": pos[0]}, [][]string{{"paused queue " + pos[0] + ": no node takes its tasks until `tasks resume " + pos[0] + "`"}}, nil
	case "resume":
		if err := insp.ResumeQueue(ctx, pos[0]); err != nil {
			return nil, nil, err
		}
		return map[string]string{"resumed": pos[0]}, [][]string{{"resumed queue " + pos[0]}}, nil
	}
	return nil, nil, fmt.Errorf("unknown command %q", sub)
}

// listTasks returns the task definitions the program registers, for
// --json and as a table.
func (a *cmd) listTasks() (any, [][]string) {
	type def struct {
		Name        string `json:"name"`
		Description string `json:"description"`
		Queue       string `json:"queue"`
		Frequency   string `json:"frequency,omitempty"`
		MaxAttempts int    `json:"maxAttempts"`
	}
	out := []def{}
	rows := [][]string{{"NAME", "QUEUE", "FREQUENCY", "MAX ATTEMPTS", "DESCRIPTION"}}
	for _, d := range a.TaskManager().Definitions() {
		f := ""
		if d.Frequency > 0 {
			f = d.Frequency.String()
		}
		out = append(out, def{d.Name, d.Description, d.Queue, f, d.MaxAttempts})
		if f == "" {
			f = "-"
		}
		rows = append(rows, []string{d.Name, d.Queue, f, fmt.Sprint(d.MaxAttempts), d.Description})
	}
	return out, rows
}

func oneLineStr(s string) string {
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		return s[:i]
	}
	return s
}

// enqueue enqueues one task through the app's Manager, started in
// enqueue-only mode (no workers, no scheduler): its definitions validate
// the arguments and choose the queue, and its enqueue middleware runs.
// The process ends after the command, so the Manager's one start is
// spent here.
func (a *cmd) enqueue(ctx context.Context, b *backend.Backend, cfg config.Config, name string, args any, opts []task.Option) (string, error) {
	m := a.TaskManager()
	// The nodes' partitions, so that a task goes where theirs would.
	tc := task.Config{NodeID: cfg.ID, Logger: a.Logger(), EnqueueOnly: true, Partitions: cfg.Tasks.Partitions}
	if err := m.Start(ctx, b.Tasks(), tc, lifecycle.Key{}); err != nil {
		return "", err
	}
	defer m.Stop(context.WithoutCancel(ctx), lifecycle.Key{})
	return m.Enqueue(ctx, name, args, opts...)
}
