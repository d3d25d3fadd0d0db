package session_test

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stellarfw/stellar-go/action"
	"github.com/stellarfw/stellar-go/apierror"
	"github.com/stellarfw/stellar-go/chat"
	"github.com/stellarfw/stellar-go/connection"
	"github.com/stellarfw/stellar-go/internal/limit"
	"github.com/stellarfw/stellar-go/internal/logging/logtest"
	"github.com/stellarfw/stellar-go/internal/poll"
	"github.com/stellarfw/stellar-go/internal/session"
	"github.com/stellarfw/stellar-go/internal/session/sessiontest"
)

// next takes the next message the client got, and decodes it.
func next(t *testing.T, k *sessiontest.Sink) map[string]any {
	t.Helper()
	var b []byte
	select {
	case b = <-k.Out:
	default:
		t.Fatal("nothing written")
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	return m
}

func code(m map[string]any) string {
	e, _ := m["error"].(map[string]any)
	c, _ := e["code"].(string)
	return c
}

func paramAdd(s *session.Session, key string, value any) {
	s.HandleRequest(session.Request{Verb: session.VerbParamAdd, Key: key, Value: value})
}

// TestParamLimits: a connection holds at most MaxParams sticky params of
// MaxParamsBytes in all; beyond either paramAdd gets param_limit and the
// connection keeps what it had; replacing or deleting a param frees its
// share.
func TestParamLimits(t *testing.T) {
	opts := sessiontest.Options(t, nil)
	opts.MaxParams, opts.MaxParamsBytes = 3, 100
	opts.Refusals = limit.NewRefusals()
	opts.ConfigSection = "tcp"
	s, k := sessiontest.New(t, opts, connection.TypeTCP, "127.0.0.1")

	for _, key := range []string{"a", "b", "c"} {
		paramAdd(s, key, "1")
		if m := next(t, k); m["status"] != "OK" {
			t.Fatalf("paramAdd %s: %v", key, m)
		}
	}
	paramAdd(s, "d", "1")
	m := next(t, k)
	if code(m) != apierror.CodeParamLimit || !strings.Contains(m["error"].(map[string]any)["message"].(string), "tcp.max_params") {
		t.Fatalf("fourth param: %v", m)
	}
	paramAdd(s, "a", "2") // a replacement is not one more
	if m := next(t, k); m["status"] != "OK" {
		t.Fatalf("replacing a: %v", m)
	}
	s.HandleRequest(session.Request{Verb: session.VerbParamDelete, Key: "b"})
	next(t, k)
	paramAdd(s, "d", "1")
	if m := next(t, k); m["status"] != "OK" {
		t.Fatalf("after a delete: %v", m)
	}

	// By bytes: a (1) + c (1) + d (1) take 3 × (1 + 3) = 12 bytes; a
	// value that would take the total past 100 is refused.
	paramAdd(s, "a", strings.Repeat("x", 90))
	m = next(t, k)
	if code(m) != apierror.CodeParamLimit || !strings.Contains(m["error"].(map[string]any)["message"].(string), "tcp.max_params_bytes") {
		t.Fatalf("too many bytes: %v", m)
	}
	if got := s.Conn.Params()["a"]; got != "2" {
		t.Fatalf("a refused replacement changed the param: %v", got)
	}
	paramAdd(s, "a", strings.Repeat("x", 80)) // 1 + 82 + 8 = 91 bytes
	if m := next(t, k); m["status"] != "OK" {
		t.Fatalf("a replacement that fits: %v", m)
	}
	s.HandleRequest(session.Request{Verb: session.VerbParamsDelete})
	next(t, k)
	for _, key := range []string{"x", "y", "z"} {
		paramAdd(s, key, strings.Repeat("v", 20))
		if m := next(t, k); m["status"] != "OK" {
			t.Fatalf("after paramsDelete, %s: %v", key, m)
		}
	}
	if got := opts.Refusals.Snapshot(); got[limit.Params] != 1 || got[limit.ParamsBytes] != 1 {
		t.Fatalf("refusals = %v", got)
	}
}

// TestQueueBytes: the messages waiting for a client that does not read
// are bounded in bytes as well as in number. The first is written (the
// socket keeps it); the next queue behind it. A push that finds no room
// disconnects the client; a reply waits for the queue to be written; a
// message larger than the bound still goes out alone.
func TestQueueBytes(t *testing.T) {
	opts := sessiontest.Options(t, nil)
	opts.QueueSize, opts.MaxQueuedBytes = 64, 1000
	opts.Refusals = limit.NewRefusals()

	s, k := sessiontest.New(t, opts, connection.TypeTCP, "127.0.0.1")
	k.Stick()
	big := strings.Repeat("m", 600)
	for i := range 2 {
		if err := s.Push(big); err != nil {
			t.Fatalf("push %d: %v", i, err)
		}
	}
	if err := s.Push(big); !errors.Is(err, session.ErrSlowClient) {
		t.Fatalf("a push past the bytes: %v", err)
	}
	select {
	case <-s.Done():
	default:
		t.Fatal("the session goes on with a full queue")
	}
	if got := opts.Refusals.Snapshot()[limit.Queue]; got != 1 {
		t.Fatalf("queue refusals = %d", got)
	}

	s, k = sessiontest.New(t, opts, connection.TypeTCP, "127.0.0.1")
	k.Stick()
	huge := strings.Repeat("h", 5000)
	if err := s.Push("first"); err != nil {
		t.Fatal(err)
	}
	if err := s.Push(huge); err != nil {
		t.Fatalf("a message larger than the bound, alone: %v", err)
	}
	replied := make(chan struct{})
	go func() {
		defer close(replied)
		s.HandleRequest(session.Request{Verb: session.VerbParamsView})
	}()
	// The reply waits for room: nothing is added to the queue until the
	// huge message is written.
	poll.Until(t, "the reply to wait", 0, func() bool { return !s.Idle() && s.Queued() == 1 && s.Waiting() == 1 })
	k.Unstick()
	<-replied
	for i, want := range []int{len(`"first"`), len(huge) + 2} {
		if b := <-k.Out; len(b) != want {
			t.Fatalf("message %d is %d bytes, want %d", i, len(b), want)
		}
	}
	poll.Until(t, "the reply", 0, func() bool { return len(k.Out) > 0 })
	if m := next(t, k); m["status"] != "OK" || m["messageId"] != float64(1) {
		t.Fatalf("the reply: %v", m)
	}
}

// TestQueueMessages: past max_queued_messages behind a write that
// waits, a push disconnects the client.
func TestQueueMessages(t *testing.T) {
	opts := sessiontest.Options(t, nil)
	opts.QueueSize = 3
	opts.Refusals = limit.NewRefusals()
	s, k := sessiontest.New(t, opts, connection.TypeWebSocket, "127.0.0.1")
	k.Stick()
	for i := range 4 { // one written, kept by the socket, and three queued
		if err := s.Push(i); err != nil {
			t.Fatalf("push %d: %v", i, err)
		}
	}
	if err := s.Push(4); !errors.Is(err, session.ErrSlowClient) {
		t.Fatalf("a push past the queue: %v", err)
	}
	if got := opts.Refusals.Snapshot()[limit.Queue]; got != 1 {
		t.Fatalf("queue refusals = %d", got)
	}
}

// TestWriterOnlyWhileWaiting: a session writes from the goroutine that
// produced a message while its client keeps up, with no goroutine of its
// own; a writer goroutine exists only while messages wait behind a write
// the client has not taken, and exits once they are written.
func TestWriterOnlyWhileWaiting(t *testing.T) {
	opts := sessiontest.Options(t, nil)
	s, k := sessiontest.New(t, opts, connection.TypeWebSocket, "127.0.0.1")
	if err := s.Open(context.Background()); err != nil {
		t.Fatal(err)
	}
	next(t, k) // the welcome, written by Open's goroutine
	// The count is the process's: the writers of the tests before this one
	// (a stuck client's, say) exit once their sessions have closed.
	poll.Until(t, "the earlier tests' writer goroutines gone", 0, func() bool { return sessiontest.Writers() == 0 })
	before := sessiontest.Writers()
	s.HandleRequest(session.Request{Verb: session.VerbParamsView})
	next(t, k)
	if err := s.Push(map[string]string{"news": "!"}); err != nil {
		t.Fatal(err)
	}
	next(t, k)
	if !s.Idle() || sessiontest.Writers() != before {
		t.Fatalf("idle %v, %d writer goroutines, %d before", s.Idle(), sessiontest.Writers(), before)
	}

	k.Stick()
	for i := range 5 {
		if err := s.Push(i); err != nil {
			t.Fatal(err)
		}
	}
	poll.Until(t, "a writer goroutine", 0, func() bool { return sessiontest.Writers() == before+1 })
	if s.Idle() {
		t.Fatal("idle with messages waiting")
	}
	k.Unstick()
	poll.Until(t, "the writer goroutine to exit", 0, func() bool { return sessiontest.Writers() == before && s.Idle() })
	for i := range 5 {
		if b := <-k.Out; string(b) != strconv.Itoa(i) {
			t.Fatalf("message %d is %s", i, b)
		}
	}
}

// TestOrderUnderConcurrentWrites: pushes from several goroutines and
// replies to the client's actions, while the client now reads and now
// does not, reach it each producer's in the order produced, none lost.
// (Replies to actions are not ordered among themselves: actions run
// concurrently.)
func TestOrderUnderConcurrentWrites(t *testing.T) {
	opts := sessiontest.Options(t, nil, &action.Action{Name: "echo", Inputs: map[string]action.Input{"n": {}},
		Run: func(ctx context.Context, r *action.Request) error {
			r.Response["n"] = r.Params["n"]
			return nil
		}})
	opts.QueueSize, opts.MaxInFlight = 1<<16, 1
	s, k := sessiontest.New(t, opts, connection.TypeWebSocket, "127.0.0.1")
	const producers, each = 4, 200
	var wg sync.WaitGroup
	for p := range producers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range each {
				if err := s.Push(map[string]int{"p": p, "i": i}); err != nil {
					t.Errorf("push: %v", err)
					return
				}
			}
		}()
	}
	wg.Add(1)
	go func() { // the client's actions, one at a time, as the reader runs them
		defer wg.Done()
		for i := range each {
			s.HandleRequest(session.Request{Action: "echo", Params: map[string]any{"n": i}})
			poll.Until(t, "an action slot", 0, func() bool { return s.InFlight() == 0 })
		}
	}()
	wg.Add(1)
	go func() {
		defer wg.Done()
		for range 20 {
			k.Stick()
			runtime.Gosched()
			k.Unstick()
		}
	}()
	last, replies := map[string]int{}, map[float64]bool{}
	for got := 0; got < producers*each+each; got++ {
		var b []byte
		select {
		case b = <-k.Out:
		case <-time.After(10 * time.Second):
			t.Fatalf("%d messages of %d", got, producers*each+each)
		}
		var m map[string]any
		if err := json.Unmarshal(b, &m); err != nil {
			t.Fatal(err)
		}
		if id, ok := m["messageId"].(float64); ok {
			if replies[id] || m["n"] == nil {
				t.Fatalf("reply %v, replies before %v", m, replies)
			}
			replies[id] = true
			continue
		}
		key, n := "p"+strconv.Itoa(int(m["p"].(float64))), m["i"].(float64)
		if prev, ok := last[key]; ok && int(n) != prev+1 || !ok && n != 0 {
			t.Fatalf("%s: %v after %d", key, n, prev)
		}
		last[key] = int(n)
	}
	wg.Wait()
}

// temporaryError is what a backend returns when it cannot be reached.
type temporaryError struct{ error }

func (temporaryError) Temporary() bool { return true }

// failingJoins is a chat store whose joins fail as an unreachable Redis
// does.
type failingJoins struct{ chat.Store }

func (failingJoins) Join(context.Context, string, chat.Member) (bool, error) {
	return false, temporaryError{errors.New("redis: unavailable: join: dial tcp 127.0.0.1:6420: connect: connection refused")}
}

// TestVerbBackendFailure: a verb that fails on the backend answers
// internal_error with a request id, never the backend's words; the log
// has them once, at ERROR, under that id.
func TestVerbBackendFailure(t *testing.T) {
	rec := &logtest.Recorder{}
	opts := sessiontest.OptionsOnStore(t, rec.Logger(), func(s chat.Store) chat.Store { return failingJoins{s} })
	s, k := sessiontest.New(t, opts, connection.TypeWebSocket, "127.0.0.1")
	s.HandleRequest(session.Request{Verb: session.VerbRoomAdd})
	m := next(t, k)
	e, _ := m["error"].(map[string]any)
	id, _ := e["requestId"].(string)
	if code(m) != apierror.CodeInternal || e["message"] != apierror.InternalMessage || id == "" {
		t.Fatalf("reply = %v", m)
	}
	if b, _ := json.Marshal(m); strings.Contains(string(b), "6420") {
		t.Fatalf("the cause reached the client: %s", b)
	}
	errs := rec.AtLeast(slog.LevelError)
	if len(errs) != 1 || errs[0].Str("request_id") != id || !strings.Contains(errs[0].Str("error"), "6420") {
		t.Fatalf("ERROR lines = %v", errs)
	}
}
