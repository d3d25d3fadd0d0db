package task_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/stellarfw/stellar-go/apierror"
	"github.com/stellarfw/stellar-go/task"
)

// TestRunNow: RunNow runs a task's handler once, inline and without a
// store: its inputs check the arguments, the run middleware wraps it,
// its Timeout bounds it, and a panic is an error.
func TestRunNow(t *testing.T) {
	ctx := context.Background()
	m := task.New()
	var seen []string
	if err := m.Use(func(next task.Handler) task.Handler {
		return task.HandlerFunc(func(ctx context.Context, tk *task.Task) error {
			seen = append(seen, "mw:"+tk.Name)
			return next.ProcessTask(ctx, tk)
		})
	}); err != nil {
		t.Fatal(err)
	}
	var got *task.Task
	var in mailArgs
	if err := m.Register(
		task.Typed("mail", func(_ context.Context, tk *task.Task, a mailArgs) error {
			got, in = tk, a
			return nil
		}, func(d *task.Definition) { d.Queue = "mail" }),
		&task.Definition{Name: "boom", Handler: task.HandlerFunc(func(context.Context, *task.Task) error { panic("boom") })},
		&task.Definition{Name: "slow", Timeout: 10 * time.Millisecond, Handler: task.HandlerFunc(func(ctx context.Context, _ *task.Task) error {
			<-ctx.Done()
			return ctx.Err()
		})},
	); err != nil {
		t.Fatal(err)
	}
	if err := m.RunNow(ctx, "mail", mailArgs{To: "ann@example.com"}); err != nil {
		t.Fatal(err)
	}
	if got == nil || got.Attempt != 1 || got.Queue != "mail" || got.ID == "" || in.To != "ann@example.com" || in.Subject != "hello" {
		t.Fatalf("task %+v, args %+v", got, in)
	}
	if len(seen) != 1 || seen[0] != "mw:mail" {
		t.Errorf("middleware saw %v", seen)
	}
	err := m.RunNow(ctx, "mail", map[string]any{"to": "not an address"})
	var ae *apierror.Error
	if !errors.As(err, &ae) || ae.Code != apierror.CodeValidationFailed || !errors.Is(err, task.ErrSkipRetry) {
		t.Errorf("bad args: %v", err)
	}
	if err := m.RunNow(ctx, "boom", nil); err == nil || !strings.Contains(err.Error(), "panic: boom") {
		t.Errorf("panic: %v", err)
	}
	if err := m.RunNow(ctx, "slow", nil); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("timeout: %v", err)
	}
	if err := m.RunNow(ctx, "nosuch", nil); !errors.Is(err, task.ErrUnknownTask) {
		t.Errorf("unknown: %v", err)
	}
	if err := m.Use(nil); err == nil {
		t.Error("Use(nil) is no error")
	}
	if err := m.UseEnqueue(nil); err == nil {
		t.Error("UseEnqueue(nil) is no error")
	}
}
