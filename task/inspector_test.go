package task_test

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/stellarfw/stellar-go"

	"github.com/stellarfw/stellar-go/backend/memory"
	"github.com/stellarfw/stellar-go/task"
)

func ExampleInspector_Stats() {
	cfg := stellar.Config{}
	cfg.HTTP.Addr, cfg.TCP.Addr = "off", "off"
	cfg.Tasks.Workers = -1 // this node only enqueues
	app := stellar.New(cfg, stellar.WithLogger(slog.New(slog.DiscardHandler)))
	_ = app.Tasks.Register(&task.Definition{Name: "report", Queue: "reports", Handler: noop})
	ctx := context.Background()
	if err := app.Start(ctx); err != nil {
		panic(err)
	}
	defer app.Shutdown(ctx)
	_, _ = app.Tasks.Enqueue(ctx, "report", nil)
	_, _ = app.Tasks.EnqueueIn(ctx, time.Hour, "report", nil)

	// The operator's view of the whole cluster (stellar tasks stats).
	s, err := app.Inspector.Stats(ctx)
	if err != nil {
		panic(err)
	}
	for _, q := range s.Queues {
		if q.Queue == "reports" {
			fmt.Println(q.Queue, "pending", q.Pending, "delayed", q.Delayed)
		}
	}
	// Output: reports pending 1 delayed 1
}

func ExampleInspector_PauseQueue() {
	b := memory.New(memory.Config{})
	defer b.Close()
	ctx := context.Background()
	insp := task.NewInspector(b.Tasks())

	// No node takes the tasks of "reports" until it is resumed; they
	// still enqueue, and wait as pending.
	if err := insp.PauseQueue(ctx, "reports"); err != nil {
		panic(err)
	}
	paused, _ := insp.PausedQueues(ctx)
	fmt.Println("paused:", paused)

	_ = insp.ResumeQueue(ctx, "reports") // idle workers take them at once
	paused, _ = insp.PausedQueues(ctx)
	fmt.Println("paused:", paused)
	// Output:
	// paused: [reports]
	// paused: []
}
