package main

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"time"

	"github.com/stellarfw/stellar-go"
)

// Cache lists where the example's tasks record their runs, so that a
// cluster's work can be checked from any node (and by the tests).
const (
	RunsList       = "example:runs"
	HeartbeatsList = "example:heartbeats"
)

// heartbeatEvery is the heartbeat's period: 10s, or EXAMPLE_HEARTBEAT.
func heartbeatEvery() time.Duration {
	if d, err := time.ParseDuration(os.Getenv("EXAMPLE_HEARTBEAT")); err == nil && d > 0 {
		return d
	}
	return 10 * time.Second
}

// setupTasks registers the example's tasks and the action that enqueues
// one.
func setupTasks(app *stellar.App) error {
	if err := app.Tasks.Register(heartbeat(app), recordRun(app), welcome(app)); err != nil {
		return err
	}
	return app.Actions.Register(signup(app))
}

// heartbeat is a periodic task: it runs once per period across the whole
// cluster, whichever nodes are up.
func heartbeat(app *stellar.App) *stellar.TaskDefinition {
	return &stellar.TaskDefinition{
		Name:        "heartbeat",
		Description: "Logs a heartbeat once per period for the whole cluster",
		Frequency:   heartbeatEvery(),
		Handler: stellar.TaskHandlerFunc(func(ctx context.Context, t *stellar.Task) error {
			app.Logger().Info("heartbeat", "fireAt", t.FireAt.UTC().Format(time.RFC3339Nano))
			return app.Cache.Push(ctx, HeartbeatsList, strconv.FormatInt(t.FireAt.UnixMilli(), 10))
		}),
	}
}

// recordRun records that it ran: its id, attempt and node, as it
// returns success. Tests enqueue thousands and check that each completed
// once.
func recordRun(app *stellar.App) *stellar.TaskDefinition {
	return &stellar.TaskDefinition{
		Name:        "recordRun",
		Description: "Records its id and attempt in the cache list " + RunsList,
		MaxAttempts: 5,
		Handler: stellar.TaskHandlerFunc(func(ctx context.Context, t *stellar.Task) error {
			if ms := t.Params.Int("sleep_ms"); ms > 0 {
				select {
				case <-time.After(time.Duration(ms) * time.Millisecond):
				case <-ctx.Done():
					return ctx.Err()
				}
			}
			run := fmt.Sprintf("%s %d %s", t.ID, t.Attempt, app.ID())
			if err := app.Cache.Push(ctx, RunsList, run); err != nil {
				// The record may have landed although the push failed (the
				// run was cut off by its lease while the reply was on its
				// way): this run reports failure and runs again, so say it
				// did not complete. Tests count a record followed by its
				// "failed" as no completion.
				rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
				defer cancel()
				_ = app.Cache.Push(rctx, RunsList, run+" failed")
				return err
			}
			return nil
		}),
	}
}

// welcome is an ordinary task, enqueued by the signup action.
func welcome(app *stellar.App) *stellar.TaskDefinition {
	return &stellar.TaskDefinition{
		Name:        "welcome",
		Description: "Sends a welcome message (here: logs it)",
		Queue:       "mail",
		Inputs:      map[string]stellar.Input{"name": {Required: true, Validator: "alpha_dash|max:40"}},
		Handler: stellar.TaskHandlerFunc(func(ctx context.Context, t *stellar.Task) error {
			// Logged with the task's context, the line carries the
			// trace_id of the request that enqueued it.
			app.Logger().InfoContext(ctx, "welcome sent", "name", t.Params.String("name"), "task", t.ID, "attempt", t.Attempt)
			return nil
		}),
	}
}

// signup answers at once and leaves the slow part to a task.
func signup(app *stellar.App) *stellar.Action {
	return &stellar.Action{
		Name:        "signup",
		Description: "Signs a user up and enqueues their welcome message",
		Inputs:      map[string]stellar.Input{"name": {Required: true, Validator: "alpha_dash|max:40"}},
		Run: func(ctx context.Context, r *stellar.Request) error {
			id, err := app.Tasks.Enqueue(ctx, "welcome", map[string]any{"name": r.Params.String("name")},
				stellar.TaskUnique("welcome:"+r.Params.String("name")))
			if err != nil {
				return err
			}
			r.Response["task"] = id
			return nil
		},
	}
}
