package task_test

import (
	"context"
	"fmt"
	"time"

	"github.com/stellarfw/stellar-go/backend/memory"
	"github.com/stellarfw/stellar-go/task"
)

func ExampleInspector_Stats() {
	b := memory.New(memory.Config{})
	defer b.Close()
	ctx := context.Background()
	producer := task.New()
	_ = producer.Register(&task.Definition{Name: "report", Queue: "reports", Handler: noop})
	_ = producer.Start(ctx, b.Tasks(), task.Config{EnqueueOnly: true})
	defer producer.Stop(ctx)
	_, _ = producer.Enqueue(ctx, "report", nil)
	_, _ = producer.EnqueueIn(ctx, time.Hour, "report", nil)

	// The operator's view needs no Manager and no registered task.
	s, err := task.NewInspector(b.Tasks()).Stats(ctx)
	if err != nil {
		panic(err)
	}
	for _, q := range s.Queues {
		fmt.Println(q.Queue, "pending", q.Pending, "delayed", q.Delayed)
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
