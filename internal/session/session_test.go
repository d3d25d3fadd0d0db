package session_test

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"strings"
	"testing"

	"github.com/stellarfw/stellar-go/apierror"
	"github.com/stellarfw/stellar-go/chat"
	"github.com/stellarfw/stellar-go/connection"
	"github.com/stellarfw/stellar-go/internal/limit"
	"github.com/stellarfw/stellar-go/internal/logging/logtest"
	"github.com/stellarfw/stellar-go/internal/poll"
	"github.com/stellarfw/stellar-go/internal/session"
	"github.com/stellarfw/stellar-go/internal/session/sessiontest"
)

// next takes the next message the session queued, as the transport
// would, and decodes it.
func next(t *testing.T, s *session.Session) map[string]any {
	t.Helper()
	var b []byte
	select {
	case b = <-s.Out():
	default:
		t.Fatal("nothing queued")
	}
	s.Taken(b)
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
	s := session.New(opts, connection.TypeTCP, "127.0.0.1")

	for _, k := range []string{"a", "b", "c"} {
		paramAdd(s, k, "1")
		if m := next(t, s); m["status"] != "OK" {
			t.Fatalf("paramAdd %s: %v", k, m)
		}
	}
	paramAdd(s, "d", "1")
	m := next(t, s)
	if code(m) != apierror.CodeParamLimit || !strings.Contains(m["error"].(map[string]any)["message"].(string), "tcp.max_params") {
		t.Fatalf("fourth param: %v", m)
	}
	paramAdd(s, "a", "2") // a replacement is not one more
	if m := next(t, s); m["status"] != "OK" {
		t.Fatalf("replacing a: %v", m)
	}
	s.HandleRequest(session.Request{Verb: session.VerbParamDelete, Key: "b"})
	next(t, s)
	paramAdd(s, "d", "1")
	if m := next(t, s); m["status"] != "OK" {
		t.Fatalf("after a delete: %v", m)
	}

	// By bytes: a (1) + c (1) + d (1) take 3 × (1 + 3) = 12 bytes; a
	// value that would take the total past 100 is refused.
	paramAdd(s, "a", strings.Repeat("x", 90))
	m = next(t, s)
	if code(m) != apierror.CodeParamLimit || !strings.Contains(m["error"].(map[string]any)["message"].(string), "tcp.max_params_bytes") {
		t.Fatalf("too many bytes: %v", m)
	}
	if got := s.Conn.Params()["a"]; got != "2" {
		t.Fatalf("a refused replacement changed the param: %v", got)
	}
	paramAdd(s, "a", strings.Repeat("x", 80)) // 1 + 82 + 8 = 91 bytes
	if m := next(t, s); m["status"] != "OK" {
		t.Fatalf("a replacement that fits: %v", m)
	}
	s.HandleRequest(session.Request{Verb: session.VerbParamsDelete})
	next(t, s)
	for _, k := range []string{"x", "y", "z"} {
		paramAdd(s, k, strings.Repeat("v", 20))
		if m := next(t, s); m["status"] != "OK" {
			t.Fatalf("after paramsDelete, %s: %v", k, m)
		}
	}
	if got := opts.Refusals.Snapshot(); got[limit.Params] != 1 || got[limit.ParamsBytes] != 1 {
		t.Fatalf("refusals = %v", got)
	}
}

// TestQueueBytes: the messages waiting for the client are bounded in
// bytes as well as in number. A push that finds no room disconnects the
// client; a reply waits for the transport to take what is queued; a
// message larger than the bound still goes out alone.
func TestQueueBytes(t *testing.T) {
	opts := sessiontest.Options(t, nil)
	opts.QueueSize, opts.MaxQueuedBytes = 64, 1000
	opts.Refusals = limit.NewRefusals()

	s := session.New(opts, connection.TypeTCP, "127.0.0.1")
	big := strings.Repeat("m", 600)
	if err := s.Push(big); err != nil {
		t.Fatal(err)
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

	s = session.New(opts, connection.TypeTCP, "127.0.0.1")
	huge := strings.Repeat("h", 5000)
	if err := s.Push(huge); err != nil {
		t.Fatalf("a message larger than the bound, alone: %v", err)
	}
	replied := make(chan struct{})
	go func() {
		defer close(replied)
		s.HandleRequest(session.Request{Verb: session.VerbParamsView})
	}()
	// The reply waits for room: nothing is added to the queue until the
	// transport takes the huge message.
	poll.Until(t, "the reply to wait", 0, func() bool { return !s.Idle() && len(s.Out()) == 1 && s.Waiting() == 1 })
	if b := <-s.Out(); len(b) != len(huge)+2 {
		t.Fatalf("first message is %d bytes", len(b))
	} else {
		s.Taken(b)
	}
	<-replied
	if m := next(t, s); m["status"] != "OK" || m["messageId"] != float64(1) {
		t.Fatalf("the reply: %v", m)
	}
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
	s := session.New(opts, connection.TypeWebSocket, "127.0.0.1")
	s.HandleRequest(session.Request{Verb: session.VerbRoomAdd})
	m := next(t, s)
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
