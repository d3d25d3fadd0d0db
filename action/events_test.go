package action

import (
	"context"
	"errors"
	"log/slog"
	"maps"
	"net/http"
	"reflect"
	"sync"
	"testing"

	"github.com/stellarfw/stellar-go/apierror"
	"github.com/stellarfw/stellar-go/connection"
	"github.com/stellarfw/stellar-go/event"
)

// eventLog keeps copies of the action events a bus fired.
type eventLog struct {
	mu     sync.Mutex
	before []event.Action
	after  []event.Action
}

func listen(b *event.Bus) *eventLog {
	l := &eventLog{}
	event.On(b, event.ActionBefore, 0, func(_ context.Context, a *event.Action) error {
		l.mu.Lock()
		defer l.mu.Unlock()
		c := *a
		c.Params = maps.Clone(a.Params)
		l.before = append(l.before, c)
		return nil
	})
	event.On(b, event.ActionAfter, 0, func(_ context.Context, a *event.Action) error {
		l.mu.Lock()
		defer l.mu.Unlock()
		c := *a
		c.Params = maps.Clone(a.Params)
		l.after = append(l.after, c)
		return nil
	})
	return l
}

func TestActionEvents(t *testing.T) {
	bus := event.NewBus()
	log := listen(bus)
	g := NewRegistry(discardLogger(), "n1", WithEvents(bus))
	if err := g.Register(
		&Action{Name: "add", Version: 2, Inputs: map[string]Input{
			"a": {Required: true, Format: Integer},
			"b": {Default: int64(1), Format: Integer},
		}, Run: func(_ context.Context, r *Request) error {
			r.Response["sum"] = r.Params.Int("a") + r.Params.Int("b")
			return nil
		}},
		&Action{Name: "secret", Private: true, Run: func(context.Context, *Request) error { return nil }},
	); err != nil {
		t.Fatal(err)
	}
	raw := map[string]any{"a": "2", "apiVersion": "2"}
	conn := newConn(connection.TypeWebSocket)
	if err := g.Run(context.Background(), "add", raw, &Request{Conn: conn}); err != nil {
		t.Fatal(err)
	}
	if len(log.before) != 1 || len(log.after) != 1 {
		t.Fatalf("events: %d before, %d after; want one each", len(log.before), len(log.after))
	}
	b, a := log.before[0], log.after[0]
	if b.Name != "add" || b.Version != 2 || b.ConnType != connection.TypeWebSocket || b.Conn != conn {
		t.Errorf("before = %+v", b)
	}
	if !reflect.DeepEqual(b.Params, raw) {
		t.Errorf("before params = %v, want the raw %v", b.Params, raw)
	}
	if a.Name != "add" || a.Err != nil || a.Duration <= 0 || a.Conn != conn {
		t.Errorf("after = %+v", a)
	}
	if want := map[string]any{"a": int64(2), "b": int64(1)}; !reflect.DeepEqual(a.Params, want) {
		t.Errorf("after params = %v, want the validated %v", a.Params, want)
	}

	t.Run("failed call", func(t *testing.T) {
		log.before, log.after = nil, nil
		_, err := g.Call(context.Background(), "add", nil)
		wantAPIError(t, err, apierror.CodeValidationFailed, http.StatusUnprocessableEntity)
		if len(log.after) != 1 {
			t.Fatalf("%d after events", len(log.after))
		}
		var ae *apierror.Error
		if !errors.As(log.after[0].Err, &ae) || ae.Code != apierror.CodeValidationFailed {
			t.Errorf("after.Err = %v, want validation_failed", log.after[0].Err)
		}
		if log.after[0].ConnType != connection.TypeInternal {
			t.Errorf("ConnType = %q, want internal", log.after[0].ConnType)
		}
	})
	t.Run("refused calls fire nothing", func(t *testing.T) {
		log.before, log.after = nil, nil
		for _, name := range []string{"secret", "nope"} {
			if _, err := webRun(g, name, nil); err == nil {
				t.Fatalf("%s succeeded", name)
			}
		}
		if len(log.before)+len(log.after) != 0 {
			t.Errorf("events fired: %v %v", log.before, log.after)
		}
	})
}

func TestActionBeforeChangesParams(t *testing.T) {
	bus := event.NewBus()
	event.On(bus, event.ActionBefore, 0, func(_ context.Context, a *event.Action) error {
		a.Params["a"] = "40"
		return nil
	})
	// A listener's error is logged; the call goes on.
	event.On(bus, event.ActionBefore, 200, func(context.Context, *event.Action) error { return errors.New("listener down") })
	h := &recordHandler{}
	g := NewRegistry(slog.New(h), "n1", WithEvents(bus))
	if err := g.Register(&Action{Name: "add", Inputs: map[string]Input{"a": {Required: true, Format: Integer}},
		Run: func(_ context.Context, r *Request) error {
			r.Response["a"] = r.Params["a"]
			return nil
		}}); err != nil {
		t.Fatal(err)
	}
	caller := map[string]any{}
	resp := mustCall(t, g, "add", caller)
	if resp["a"] != int64(40) {
		t.Errorf("a = %v, want the listener's 40", resp["a"])
	}
	if len(caller) != 0 {
		t.Errorf("the caller's map changed: %v", caller)
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	logged := false
	for _, r := range h.records {
		if r.Message == "event listener failed" {
			logged = true
		}
	}
	if !logged {
		t.Error("the listener's error was not logged")
	}
}
