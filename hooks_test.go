package stellar_test

import (
	"context"
	"errors"
	"io"
	"net"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stellarfw/stellar-go"
	"github.com/stellarfw/stellar-go/config"
	"github.com/stellarfw/stellar-go/internal/poll"
	"github.com/stellarfw/stellar-go/task"
)

// recorder collects what hooks and tasks did, in order.
type recorder struct {
	mu  sync.Mutex
	got []string
}

func (r *recorder) add(s string) {
	r.mu.Lock()
	r.got = append(r.got, s)
	r.mu.Unlock()
}

func (r *recorder) list() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.got)
}

func TestHooksRunInOrderWithTheAppUsable(t *testing.T) {
	app := newApp(t, io.Discard)
	rec := &recorder{}
	if err := app.Tasks.Register(&stellar.TaskDefinition{Name: "seeded", Handler: stellar.TaskHandlerFunc(func(ctx context.Context, tk *stellar.Task) error {
		rec.add("task ran")
		return nil
	})}); err != nil {
		t.Fatal(err)
	}
	hook := func(name string) func(context.Context) error {
		return func(context.Context) error { rec.add(name); return nil }
	}
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(app.OnStart("late", 200, hook("start late")))
	must(app.OnStart("default-a", 0, hook("start default-a")))
	must(app.OnStart("early", 10, func(ctx context.Context) error {
		// Everything a user's initializer reaches for works here.
		if err := app.Cache.Save(ctx, "seed", "v"); err != nil {
			return err
		}
		if err := app.Chat.Create(ctx, "lobby"); err != nil {
			return err
		}
		if _, err := app.Tasks.Enqueue(ctx, "seeded", nil); err != nil {
			return err
		}
		if len(app.Cluster.Members()) == 0 {
			return errors.New("no cluster members")
		}
		rec.add("start early")
		return nil
	}))
	must(app.OnStart("default-b", 0, hook("start default-b")))
	must(app.OnStop("stop late", 200, hook("stop late")))
	must(app.OnStop("stop early", 10, func(ctx context.Context) error {
		// The cache still works while stop hooks run.
		if _, err := app.Cache.Load(ctx, "seed"); err != nil {
			return err
		}
		rec.add("stop early")
		return nil
	}))

	if err := app.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	if err := app.OnStart("too late", 0, hook("x")); err == nil {
		t.Fatal("OnStart after Start was accepted")
	}
	starts := []string{"start early", "start default-a", "start default-b", "start late"}
	if got := rec.list(); len(got) < 4 || !slices.Equal(slices.DeleteFunc(slices.Clone(got), func(s string) bool { return s == "task ran" }), starts) {
		t.Fatalf("start hooks ran %v, want %v", got, starts)
	}
	poll.Until(t, "the task a start hook enqueued to run", 0, func() bool { return slices.Contains(rec.list(), "task ran") })
	if err := app.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	got := rec.list()
	if !slices.Equal(got[len(got)-2:], []string{"stop early", "stop late"}) {
		t.Fatalf("stop hooks ran %v", got)
	}
}

func TestFailingStartHookStopsTheStart(t *testing.T) {
	for _, tc := range []struct {
		name string
		fn   func(context.Context) error
		want string
	}{
		{"error", func(context.Context) error { return errors.New("no seed data") }, "no seed data"},
		{"panic", func(context.Context) error { panic("boom") }, "panic in hook"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			app := newApp(t, io.Discard)
			rec := &recorder{}
			_ = app.OnStart("first", 1, func(context.Context) error { rec.add("first started"); return nil })
			_ = app.OnStop("first", 1, func(context.Context) error { rec.add("first stopped"); return nil })
			_ = app.OnStart("broken", 2, tc.fn)
			_ = app.OnStart("never", 3, func(context.Context) error { rec.add("never"); return nil })
			err := app.Start(context.Background())
			if err == nil || !strings.Contains(err.Error(), `start hook "broken"`) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Start: %v", err)
			}
			if got := rec.list(); !slices.Equal(got, []string{"first started", "first stopped"}) {
				t.Fatalf("hooks: %v", got)
			}
			select {
			case <-app.Done():
			case <-time.After(5 * time.Second):
				t.Fatal("a failed start left the app running")
			}
			if _, err := app.Tasks.Enqueue(context.Background(), "x", nil); !errors.Is(err, task.ErrStopped) && !errors.Is(err, task.ErrNotStarted) {
				t.Fatalf("the task manager still runs after the failed start: %v", err)
			}
		})
	}
}

// A taken port fails the start before any part runs: no hook, no task.
func TestTakenPortFailsBeforeAnythingRuns(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	cfg := stellar.Config{ID: "taken", HTTP: config.HTTP{Addr: ln.Addr().String()}, TCP: config.TCP{Addr: "off"}}
	app := stellar.New(cfg, stellar.WithLogOutput(io.Discard))
	rec := &recorder{}
	_ = app.Tasks.Register(&stellar.TaskDefinition{Name: "tick", Frequency: time.Hour, Handler: stellar.TaskHandlerFunc(func(context.Context, *stellar.Task) error {
		rec.add("task ran")
		return nil
	})})
	_ = app.OnStart("hook", 0, func(context.Context) error { rec.add("hook ran"); return nil })
	err = app.Start(context.Background())
	if err == nil || !strings.Contains(err.Error(), "cannot listen") {
		t.Fatalf("Start on a taken port: %v", err)
	}
	if got := rec.list(); len(got) != 0 {
		t.Fatalf("ran before the port was found taken: %v", got)
	}
}
