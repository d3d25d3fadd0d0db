package task_test

import (
	"context"
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/stellarfw/stellar-go/apierror"
	"github.com/stellarfw/stellar-go/backend/memory"
	"github.com/stellarfw/stellar-go/task"
)

type mailArgs struct {
	To      string        `validate:"required|email"`
	Subject string        `default:"hello"`
	Retries int8          `param:"retries" validate:"max:5"`
	After   time.Duration `param:"after"`
	CC      []string      `param:"cc"`
	Urgent  *bool         `param:"urgent"`
}

func TestTypedTask(t *testing.T) {
	b := memory.New(memory.Config{})
	defer b.Close()
	got := make(chan mailArgs, 4)
	def := task.Typed("mail", func(_ context.Context, tk *task.Task, in mailArgs) error {
		if tk.Params.String("to") != in.To {
			t.Errorf("params %v and args %+v differ", tk.Params, in)
		}
		got <- in
		return nil
	}, func(d *task.Definition) { d.Queue = "mail" })
	if def.ArgsType() != reflect.TypeFor[mailArgs]() || def.Inputs["to"].Validator != "required|email" {
		t.Fatalf("definition = %+v", def)
	}
	m := start(t, b.Tasks(), task.Config{Concurrency: 1, Queues: []string{"mail"}, PollInterval: 10 * time.Millisecond}, def)
	ctx := context.Background()

	// The In itself as args, durations and pointers included.
	urgent := true
	sent := mailArgs{To: "ann@example.com", Retries: 2, After: 90 * time.Second, CC: []string{"bo@example.com"}, Urgent: &urgent}
	if _, err := m.Enqueue(ctx, "mail", &sent); err != nil {
		t.Fatal(err)
	}
	want := sent
	want.Subject = "hello" // sent empty, which takes the default
	select {
	case in := <-got:
		if !reflect.DeepEqual(in, want) {
			t.Errorf("handler got %+v, want %+v", in, want)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the task did not run")
	}

	// A map works as well, with defaults.
	if _, err := m.Enqueue(ctx, "mail", map[string]any{"to": "cy@example.com", "retries": "1"}); err != nil {
		t.Fatal(err)
	}
	select {
	case in := <-got:
		if in.To != "cy@example.com" || in.Subject != "hello" || in.Retries != 1 || in.Urgent != nil || in.CC != nil {
			t.Errorf("handler got %+v", in)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the task did not run")
	}

	// Enqueue checks the args as a map-form task does.
	_, err := m.Enqueue(ctx, "mail", mailArgs{To: "nope", Retries: 9})
	var ae *apierror.Error
	if !errors.As(err, &ae) || ae.Code != apierror.CodeValidationFailed ||
		ae.Fields["to"] != "must be a valid email address" || ae.Fields["retries"] != "must be at most 5" {
		t.Fatalf("Enqueue of bad args = %v", err)
	}
}

func TestTypedTaskRegisterErrors(t *testing.T) {
	type bad struct {
		When time.Time `default:"tomorrow"`
	}
	cases := []struct {
		name string
		def  *task.Definition
		want string
	}{
		{"bad default", task.Typed("t", func(context.Context, *task.Task, bad) error { return nil }),
			`task: t: input: task_test.bad: field When: default "tomorrow" must be a valid date`},
		{"not a struct", task.Typed("t", func(context.Context, *task.Task, []string) error { return nil }),
			"task: t: input: []string is not a struct type"},
		{"nil run", task.Typed[struct{}]("t", nil), "task: t: the typed run function is nil"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			m := task.New()
			if err := m.Register(tc.def); err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Register = %v, want an error containing %q", err, tc.want)
			}
			if len(m.Definitions()) != 0 {
				t.Error("a bad definition was registered")
			}
		})
	}
}
