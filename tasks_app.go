package stellar

import (
	"context"
	"time"

	"github.com/stellarfw/stellar-go/task"
)

// tasksPart runs App.Tasks on the backend: the workers, lease renewal,
// the delayed-task mover and the periodic scheduler.
func (a *App) tasksPart() part {
	return part{
		name:  "tasks",
		start: a.startTasks,
		stop:  a.stopTasks,
		status: func(ctx context.Context, out map[string]any) {
			ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
			defer cancel()
			s, err := a.Inspector.Stats(ctx)
			fig := map[string]any{"running": a.Tasks.Running(), "queues": s.Queues, "workers": s.Workers, "concurrency": s.Concurrency}
			if err != nil {
				fig["error"] = err.Error()
			}
			out["tasks"] = fig
		},
	}
}

// stopTasks stops the workers. When Start failed (a port in use, say) it
// runs under a.mu, where a handler calling the app's accessors would
// wait for Start to return: hand the tasks back at once then. Reading
// a.state is safe here: the goroutine that last wrote it calls stop.
func (a *App) stopTasks(ctx context.Context) error {
	if a.state == stateNew {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, 400*time.Millisecond)
		defer cancel()
	}
	return a.Tasks.Stop(ctx)
}

// startTasks runs with a.mu held, as every part's start does.
func (a *App) startTasks(ctx context.Context, b *backend) error {
	cfg := a.cfg
	store := b.taskStore()
	a.Inspector = task.NewInspector(store)
	tc := cfg.Tasks
	return a.Tasks.Start(ctx, store, task.Config{
		NodeID:       cfg.ID,
		Concurrency:  max(tc.Workers, 0),
		Queues:       tc.Queues,
		Lease:        tc.Lease,
		PollInterval: tc.PollInterval,
		DrainTimeout: tc.DrainTimeout,
		Logger:       a.logger,
	})
}

// The task types, so that a user's main.go needs one import.
type (
	// TaskDefinition declares a task; see package task.
	TaskDefinition = task.Definition
	// Task is one run of a task, as its handler sees it.
	Task = task.Task
	// TaskHandlerFunc adapts a function to a task handler.
	TaskHandlerFunc = task.HandlerFunc
)
