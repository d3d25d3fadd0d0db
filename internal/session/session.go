// Package session runs the protocol that TCP and WebSocket connections
// share: one JSON message in, JSON replies and pushes out. It parses a
// message, runs the verb (roomAdd, say, paramAdd, …) or the action it
// names, and writes the reply through the transport's Sink.
//
// A message is written by the goroutine that produced it (the action's,
// the chat fan-out's) when nothing else is being written to the client:
// the sink never waits for the client, it keeps what the socket does not
// take at once. Messages produced meanwhile queue, bounded, and a writer
// goroutine, started then and gone once the queue and the sink are
// empty, writes them in order and waits for the client. An idle
// connection has no writer goroutine and no queue.
//
// Verbs run in order on the reading goroutine, so that "roomAdd" then
// "say" work as sent. Actions run concurrently, up to MaxInFlight per
// connection; beyond that a message gets a too_many_requests error. Every
// message counts, valid or not, and its reply carries that count as its
// messageId, so that a client can match replies to what it sent.
package session

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/trace"

	"github.com/stellarfw/stellar-go/action"
	"github.com/stellarfw/stellar-go/apierror"
	"github.com/stellarfw/stellar-go/chat"
	"github.com/stellarfw/stellar-go/connection"
	"github.com/stellarfw/stellar-go/event"
	"github.com/stellarfw/stellar-go/internal/limit"
	"github.com/stellarfw/stellar-go/internal/logging"
	"github.com/stellarfw/stellar-go/internal/tracing"
)

// Defaults of the limits in Options, which the transports' configs
// export as their own.
const (
	DefaultMaxParams      = 64
	DefaultMaxParamsBytes = 64 << 10
	DefaultQueueSize      = 64
	DefaultMaxQueuedBytes = 1 << 20
)

// Welcome is the text of the message a new connection gets first.
const Welcome = "Hello! Welcome to the Stellar server"

// Verbs of persistent connections.
const (
	VerbQuit         = "quit"
	VerbParamAdd     = "paramAdd"
	VerbParamView    = "paramView"
	VerbParamDelete  = "paramDelete"
	VerbParamsView   = "paramsView"
	VerbParamsDelete = "paramsDelete"
	VerbDetailsView  = "detailsView"
	VerbRoomAdd      = "roomAdd"
	VerbRoomLeave    = "roomLeave"
	VerbRoomView     = "roomView"
	VerbSay          = "say"
	VerbEmit         = "emit"
)

// Verbs lists every verb, for parsers.
var Verbs = []string{VerbQuit, VerbParamAdd, VerbParamView, VerbParamDelete, VerbParamsView,
	VerbParamsDelete, VerbDetailsView, VerbRoomAdd, VerbRoomLeave, VerbRoomView, VerbSay, VerbEmit}

// IsVerb reports whether name is a verb.
func IsVerb(name string) bool {
	for _, v := range Verbs {
		if v == name {
			return true
		}
	}
	return false
}

// Request is one message from a client. Exactly one of Action and Verb is
// set. The other fields are the verb's arguments.
type Request struct {
	Action  string         `json:"action,omitempty"`
	Params  map[string]any `json:"params,omitempty"`
	Verb    string         `json:"verb,omitempty"`
	Room    string         `json:"room,omitempty"`
	Message any            `json:"message,omitempty"`
	Event   string         `json:"event,omitempty"`
	Data    any            `json:"data,omitempty"`
	Key     string         `json:"key,omitempty"`
	Value   any            `json:"value,omitempty"`
	// Traceparent and Tracestate carry the W3C trace context of an
	// action's call, as the HTTP headers of those names do.
	Traceparent string `json:"traceparent,omitempty"`
	Tracestate  string `json:"tracestate,omitempty"`
	// RequestID names the call in the node's log and its error reply, as
	// an HTTP request's X-Request-Id; one is made when it is absent or
	// not a valid id (apierror.ValidRequestID).
	RequestID string `json:"requestId,omitempty"`
}

// Parse decodes a JSON message. It fails with a malformed_request error
// for anything but one JSON object naming an action or a verb.
func Parse(b []byte) (Request, error) {
	var r Request
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	if err := dec.Decode(&r); err != nil {
		return Request{}, apierror.Newf(apierror.CodeMalformedRequest, http.StatusBadRequest,
			`malformed message: %v; send {"action":"name","params":{…}} or {"verb":"roomAdd","room":"…"}`, trimErr(err))
	}
	if dec.More() {
		return Request{}, apierror.New(apierror.CodeMalformedRequest, http.StatusBadRequest,
			"malformed message: one JSON object per message")
	}
	switch {
	case r.Action == "" && r.Verb == "":
		return Request{}, apierror.New(apierror.CodeMalformedRequest, http.StatusBadRequest,
			`the message names neither "action" nor "verb"`)
	case r.Action != "" && r.Verb != "":
		return Request{}, apierror.New(apierror.CodeMalformedRequest, http.StatusBadRequest,
			`the message names both "action" and "verb"`)
	case r.Verb != "" && !IsVerb(r.Verb):
		return Request{}, apierror.Newf(apierror.CodeUnknownVerb, http.StatusBadRequest, "unknown verb %q", apierror.Clip(r.Verb))
	}
	return r, nil
}

func trimErr(err error) string { return apierror.Clip(err.Error()) }

// Actions is what a session needs from the node's actions:
// *action.Registry implements it.
type Actions interface {
	// Lookup returns the action name at version, the newest when version
	// is 0.
	Lookup(name string, version int) (*action.Action, bool)
	// Run runs the action name for a request; see action.Registry.Run.
	Run(ctx context.Context, name string, raw map[string]any, r *action.Request) error
}

var _ Actions = (*action.Registry)(nil)

// Options are shared by the sessions of one transport.
type Options struct {
	NodeID  string
	Actions Actions
	Chat    *chat.Chat
	Conns   *connection.Registry
	Logger  *slog.Logger
	// Events, when set, receives the connection and chat events of the
	// sessions (event.ConnectionOpen, event.ChatJoin, …).
	Events *event.Bus
	// MaxInFlight limits the actions running at once per connection.
	MaxInFlight int
	// QueueSize bounds the messages waiting to be written to a client.
	// A reply waits for room (the client that sends faster than it
	// reads is read from more slowly), up to 10 s; a push (a room
	// message) that finds no room disconnects the client. Default 64.
	QueueSize int
	// MaxQueuedBytes bounds the bytes of the messages waiting to be
	// written to a client, as QueueSize bounds their number. A message
	// larger than it still goes out when the queue is empty. Default
	// 1 MiB.
	MaxQueuedBytes int
	// MaxParams limits the sticky params of one connection; paramAdd of
	// one more gets param_limit. Default 64.
	MaxParams int
	// MaxParamsBytes limits the bytes of the sticky params of one
	// connection (each key plus its value as JSON); a paramAdd that
	// would go over gets param_limit. Default 64 KiB.
	MaxParamsBytes int
	// Refusals, when set, counts what the limits refused, by reason
	// (limit.Params, limit.ParamsBytes, limit.InFlight, limit.Queue).
	Refusals *limit.Refusals
	// ConfigSection names the transport's section of the configuration
	// ("tcp", "websocket") in the messages of refusals. Default: the
	// connection type.
	ConfigSection string
	// Tracer starts a server span for each action; nil starts none.
	Tracer *tracing.Tracer
}

// Sink carries a session's messages to its client; the transport
// implements it over its socket.
type Sink interface {
	// Send writes one message, a JSON document, without waiting for the
	// client: what the socket does not take at once the sink keeps, and
	// it calls the session's Kept. An error means the connection is
	// lost; the sink closes it.
	Send(b []byte) error
	// Flush writes what the sink kept, waiting for the client up to the
	// transport's write timeout. An error means the connection is lost.
	Flush() error
}

// Session is the protocol state of one connection.
type Session struct {
	opts *Options
	// Conn is the connection.
	Conn *connection.Conn

	ctx    context.Context // ends when the session closes
	cancel context.CancelFunc
	sink   Sink
	sem    chan struct{}
	wg     sync.WaitGroup // actions in flight

	draining atomic.Bool
	pending  atomic.Int64 // actions running or whose reply is not written yet

	// The outgoing messages. One goroutine at a time writes (busy): a
	// message's producer when nothing else is, or the writer goroutine
	// that drains the queue and flushes the sink. A queued message
	// counts against the bounds until it has been sent and flushed.
	outMu    sync.Mutex
	queue    [][]byte      // guarded by outMu; nil while empty
	queuedN  int           // guarded by outMu; messages queued or being written by the writer
	queuedB  int           // guarded by outMu; their bytes
	busy     bool          // guarded by outMu
	flush    bool          // guarded by outMu; the sink kept bytes
	dropping bool          // guarded by outMu; the sink failed or the session is over: messages are dropped
	room     chan struct{} // guarded by outMu; closed when queued messages are written, for replies waiting
	waiters  int32         // guarded by outMu; replies waiting for room
	quiet    chan struct{} // guarded by outMu; closed when busy ends, for Wait

	// The sticky params set through the verbs, with their sizes. Only
	// the reading goroutine's verbs touch them.
	paramSizes map[string]int
	paramBytes int

	mu     sync.Mutex
	closed bool            // guarded by mu
	reason error           // guarded by mu; why the session must end
	ended  context.Context // canceled when the session must end (Done)
	endNow context.CancelFunc
}

// ErrSlowClient ends a session whose client does not read its messages.
var ErrSlowClient = errors.New("the client does not read its messages fast enough")

// ErrQuit ends a session whose client sent quit.
var ErrQuit = errors.New("the client quit")

// New returns a session for a new connection of type typ whose
// messages go to sink; call Open.
func New(opts *Options, typ, remoteAddr string, sink Sink) *Session {
	ctx, cancel := context.WithCancel(context.Background())
	ended, end := context.WithCancel(context.Background())
	return &Session{
		opts:   opts,
		Conn:   connection.New(typ, remoteAddr, opts.NodeID),
		ctx:    ctx,
		cancel: cancel,
		sink:   sink,
		sem:    make(chan struct{}, max(opts.MaxInFlight, 1)),
		ended:  ended,
		endNow: end,
	}
}

func orDefault(v, def int) int {
	if v <= 0 {
		return def
	}
	return v
}

func (s *Session) section() string {
	if s.opts.ConfigSection != "" {
		return s.opts.ConfigSection
	}
	return s.Conn.Type
}

// Open registers the connection (running the connection middleware) and
// writes the welcome message. An error refuses the connection; it has
// been written to the client.
func (s *Session) Open(ctx context.Context) error {
	if err := s.opts.Conns.Add(ctx, s.Conn); err != nil {
		s.push(errorReply(0, refused(err)))
		return err
	}
	s.Conn.SetSender(s.Push)
	s.push(map[string]any{
		"context":     chat.ContextAPI,
		"welcome":     Welcome,
		"id":          s.Conn.ID,
		"node":        s.opts.NodeID,
		"defaultRoom": s.opts.Chat.DefaultRoom(),
	})
	fire(ctx, s, event.ConnectionOpen, &event.Connection{Conn: s.Conn})
	return nil
}

// fire fires one of the session's events; a listener's error is logged
// and changes nothing else.
func fire[T any](ctx context.Context, s *Session, ev event.Event[T], p *T) {
	if !s.opts.Events.Has(ev.Name()) {
		return
	}
	if err := event.Fire(ctx, s.opts.Events, ev, p); err != nil && !errors.Is(err, event.ErrStop) {
		s.opts.Logger.Warn("event listener failed", "event", ev.Name(), "connection", s.Conn.ID, "error", err.Error())
	}
}

// deliver writes b to the client, or queues it behind what is being
// written; it reports false when the queue has no room for it, in
// messages or in bytes (a message larger than MaxQueuedBytes fits an
// empty queue).
func (s *Session) deliver(b []byte) bool { return s.offer(b, false) == nil }

// offer is deliver that returns, when b finds no room, a channel closed
// once queued messages have been written, or a closed one when wait is
// false; nil when b was written or queued.
func (s *Session) offer(b []byte, wait bool) <-chan struct{} {
	s.outMu.Lock()
	if s.dropping {
		s.outMu.Unlock()
		return nil
	}
	if !s.busy {
		// Nothing is queued or kept: the producer writes. The sink does
		// not wait for the client, so a client that reads nothing holds
		// the producer (another connection's action, the chat fan-out)
		// no longer than a write to its socket's buffer takes.
		s.busy = true
		s.outMu.Unlock()
		s.send(b)
		s.outMu.Lock()
		s.continueLocked()
		s.outMu.Unlock()
		return nil
	}
	n := len(b)
	if s.queuedN >= orDefault(s.opts.QueueSize, DefaultQueueSize) ||
		s.queuedB > 0 && s.queuedB+n > orDefault(s.opts.MaxQueuedBytes, DefaultMaxQueuedBytes) {
		defer s.outMu.Unlock()
		if !wait {
			return closedChan
		}
		if s.room == nil {
			s.room = make(chan struct{})
		}
		return s.room
	}
	s.queue = append(s.queue, b)
	s.queuedN++
	s.queuedB += n
	s.outMu.Unlock()
	return nil
}

var closedChan = func() chan struct{} { c := make(chan struct{}); close(c); return c }()

// send writes b through the sink; a failure drops what is queued and
// what comes after (the sink closes the connection).
func (s *Session) send(b []byte) {
	if err := s.sink.Send(b); err != nil {
		s.lost()
	}
}

func (s *Session) lost() {
	s.outMu.Lock()
	s.dropping = true
	s.outMu.Unlock()
}

// continueLocked is called by the goroutine that wrote, with outMu
// held: it starts the writer goroutine when messages queued or the sink
// kept bytes meanwhile, and lets go of the connection otherwise.
func (s *Session) continueLocked() {
	if !s.dropping && (s.flush || len(s.queue) > 0) {
		go s.writeLoop()
		return
	}
	s.idleLocked()
}

// idleLocked ends busy, with outMu held: nothing is queued or kept.
func (s *Session) idleLocked() {
	s.busy, s.flush = false, false
	s.queue, s.queuedN, s.queuedB = nil, 0, 0
	if s.room != nil {
		close(s.room)
		s.room = nil
	}
	if s.quiet != nil {
		close(s.quiet)
		s.quiet = nil
	}
}

// Kept tells the session that its sink kept bytes the socket did not
// take at once (of a message, or of the transport's own frames): a
// writer goroutine is started, if none runs, to flush them.
func (s *Session) Kept() {
	s.outMu.Lock()
	defer s.outMu.Unlock()
	if s.dropping {
		return
	}
	s.flush = true
	if !s.busy {
		s.busy = true
		go s.writeLoop()
	}
}

// writeLoop writes what queued and flushes what the sink kept, waiting
// for the client, until there is neither; then it exits. Its owner is
// the session's busy: it ends busy as its last act, and Wait waits for
// that.
func (s *Session) writeLoop() {
	for {
		s.outMu.Lock()
		if s.dropping {
			s.idleLocked()
			s.outMu.Unlock()
			return
		}
		if s.flush {
			s.flush = false
			s.outMu.Unlock()
			if err := s.sink.Flush(); err != nil {
				s.lost()
			}
			continue
		}
		if len(s.queue) == 0 {
			s.idleLocked()
			s.outMu.Unlock()
			return
		}
		batch := s.queue
		s.queue = nil
		s.outMu.Unlock()
		bytes := 0
		for _, b := range batch {
			s.send(b)
			bytes += len(b)
		}
		// The batch counts until the sink has written it.
		s.outMu.Lock()
		flush := s.flush && !s.dropping
		s.flush = false
		s.outMu.Unlock()
		if flush {
			if err := s.sink.Flush(); err != nil {
				s.lost()
			}
		}
		s.outMu.Lock()
		s.queuedN -= len(batch)
		s.queuedB -= bytes
		if s.room != nil {
			close(s.room)
			s.room = nil
		}
		s.outMu.Unlock()
	}
}

// Wait waits until nothing is being written to the client: the queue is
// written and the sink flushed, or the connection lost.
func (s *Session) Wait() {
	s.outMu.Lock()
	if !s.busy {
		s.outMu.Unlock()
		return
	}
	if s.quiet == nil {
		s.quiet = make(chan struct{})
	}
	quiet := s.quiet
	s.outMu.Unlock()
	<-quiet
}

// Done is closed when the session must end: the client quit or is too
// slow. Err says which.
func (s *Session) Done() <-chan struct{} { return s.ended.Done() }

// Ended is a context canceled when Done is closed, for a transport to
// stop reading then (context.AfterFunc) without a goroutine waiting.
func (s *Session) Ended() context.Context { return s.ended }

// Err is why Done was closed.
func (s *Session) Err() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.reason
}

func (s *Session) end(reason error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.endLocked(reason)
}

func (s *Session) endLocked(reason error) {
	if s.reason == nil {
		s.reason = reason
		s.endNow()
		if errors.Is(reason, ErrSlowClient) {
			s.opts.Refusals.Add(limit.Queue)
		}
	}
}

// Push writes a message to the client, or queues it, without waiting
// for the client; it is the connection's Sender. A client whose queue is
// full is disconnected.
func (s *Session) Push(msg any) error {
	b, err := json.Marshal(msg)
	if err != nil {
		return fmt.Errorf("session: message is not JSON-encodable: %w", err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return connection.ErrNoSender
	}
	if s.deliver(b) {
		return nil
	}
	s.endLocked(ErrSlowClient)
	return ErrSlowClient
}

// replyTimeout bounds how long a reply waits for room in the queue before
// the client counts as not reading.
const replyTimeout = 10 * time.Second

// reply writes, or queues, the answer to one of the client's own
// messages. Unlike a push it waits for room in the queue, so that a client that sends faster
// than it reads is slowed down (the transport stops reading from it)
// rather than cut off; only a client that reads nothing for replyTimeout
// is. A reply that cannot be encoded is logged and answered with
// internal_error.
func (s *Session) reply(msg map[string]any) int {
	b, err := json.Marshal(msg)
	if err != nil {
		ae := s.internal("encoding a reply", err)
		b, _ = json.Marshal(errorReply(messageID(msg), ae))
	}
	room := s.offer(b, true)
	if room == nil {
		return len(b)
	}
	s.outMu.Lock()
	s.waiters++
	s.outMu.Unlock()
	defer func() {
		s.outMu.Lock()
		s.waiters--
		s.outMu.Unlock()
	}()
	t := time.NewTimer(replyTimeout)
	defer t.Stop()
	for {
		select {
		case <-room:
		case <-s.Done():
			return 0
		case <-t.C:
			s.end(ErrSlowClient)
			return 0
		}
		if room = s.offer(b, true); room == nil {
			return len(b)
		}
	}
}

func messageID(msg map[string]any) int64 {
	id, _ := msg["messageId"].(int64)
	return id
}

// internal logs an unexpected failure once, at ERROR, under a new
// request id, and returns what the client gets of it: internal_error
// with that id.
func (s *Session) internal(what string, err error) *apierror.Error {
	id := apierror.NewRequestID()
	s.opts.Logger.Error(what+" failed", "connection", s.Conn.ID, "conn", s.Conn.Type,
		"status", http.StatusInternalServerError, "request_id", id, "error", err.Error())
	return apierror.Public(apierror.From(err), id)
}

func (s *Session) push(msg any) {
	if err := s.Push(msg); err != nil && !errors.Is(err, connection.ErrNoSender) && !errors.Is(err, ErrSlowClient) {
		s.opts.Logger.Error("reply dropped", "connection", s.Conn.ID, "error", err.Error())
	}
}

// Reject counts a message that could not be read (too large, say) and
// queues its error reply.
func (s *Session) Reject(err error) {
	id := s.Conn.CountMessage()
	s.reply(errorReply(id, apierror.From(err)))
}

// Handle handles one message. Verbs run before it returns; an action runs
// on a goroutine of its own.
func (s *Session) Handle(raw []byte) {
	r, err := Parse(raw)
	if err != nil {
		s.Reject(err)
		return
	}
	s.HandleRequest(r)
}

// HandleRequest handles a parsed message.
func (s *Session) HandleRequest(r Request) {
	id := s.Conn.CountMessage()
	if r.Action != "" {
		s.runAction(id, r)
		return
	}
	start := time.Now()
	data, err := s.verb(r)
	if err != nil {
		ae := apierror.From(err)
		if ae.Unexpected() {
			ae = s.internal(r.Verb, err)
		}
		s.logVerb(r.Verb, ae, s.reply(errorReply(id, ae)), start)
		return
	}
	s.logVerb(r.Verb, nil, s.reply(map[string]any{"context": chat.ContextResponse, "messageId": id, "status": "OK", "data": data}), start)
	if r.Verb == VerbQuit {
		s.end(ErrQuit)
	}
}

// logVerb writes the line of one verb, at debug: verbs are the chatty
// part of a connection (say, roomAdd…), actions get the info lines.
func (s *Session) logVerb(verb string, ae *apierror.Error, bytes int, start time.Time) {
	log := s.opts.Logger
	if !log.Enabled(s.ctx, slog.LevelDebug) {
		return
	}
	status, code := http.StatusOK, ""
	if ae != nil {
		status, code = ae.HTTPStatus(), ae.Code
	}
	attrs := make([]slog.Attr, 0, 9)
	attrs = append(attrs,
		slog.String("conn", s.Conn.Type),
		slog.String("verb", verb),
		slog.Int("status", status),
		logging.Ms("duration_ms", time.Since(start)),
		slog.Int("bytes", bytes),
		slog.String("remote", s.Conn.RemoteAddr),
		slog.String("connection", s.Conn.ID),
	)
	if code != "" {
		attrs = append(attrs, slog.String("code", code))
	}
	log.LogAttrs(s.ctx, slog.LevelDebug, "request", attrs...)
}

func errorReply(id int64, e *apierror.Error) map[string]any {
	m := map[string]any{"context": chat.ContextResponse, "error": e.Body().Error}
	if id > 0 {
		m["messageId"] = id
	}
	return m
}

// Drain makes the session refuse new actions with server_draining, for a
// node that is shutting down; the actions in flight go on.
func (s *Session) Drain() { s.draining.Store(true) }

// Idle reports whether no action is running and no message waits to be
// written.
func (s *Session) Idle() bool {
	if s.pending.Load() != 0 {
		return false
	}
	s.outMu.Lock()
	defer s.outMu.Unlock()
	return !s.busy
}

func (s *Session) runAction(id int64, r Request) {
	if s.draining.Load() {
		s.reply(errorReply(id, apierror.New(apierror.CodeDraining, http.StatusServiceUnavailable,
			"the server is shutting down; reconnect to another node")))
		return
	}
	select {
	case s.sem <- struct{}{}:
	default:
		s.opts.Refusals.Add(limit.InFlight)
		s.reply(errorReply(id, apierror.Newf(apierror.CodeTooManyRequests, http.StatusTooManyRequests,
			"%d actions are running on this connection already; wait for a reply before sending more", cap(s.sem))))
		return
	}
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		<-s.sem
		return
	}
	s.wg.Add(1)
	s.pending.Add(1)
	s.mu.Unlock()
	go func() {
		defer s.wg.Done()
		defer s.pending.Add(-1) // after the reply is queued
		start := time.Now()
		rid := r.RequestID
		if !apierror.ValidRequestID(rid) {
			rid = apierror.NewRequestID()
		}
		tr := s.opts.Tracer
		ctx := tr.Continue(s.ctx, r.Traceparent, r.Tracestate)
		ctx, span := tr.Start(ctx, r.Action, trace.SpanKindServer)
		body, err := s.run(ctx, id, rid, r)
		// The slot is free before the reply is queued: a client that got
		// its reply may send the next action at once.
		<-s.sem
		n := 0
		if body != nil {
			n = s.reply(body)
		}
		s.logAction(ctx, r.Action, rid, err, n, start, span)
	}()
}

// logAction writes the request line of one action of the connection,
// and ends its span.
func (s *Session) logAction(ctx context.Context, name, rid string, err error, bytes int, start time.Time, span trace.Span) {
	status, code := http.StatusOK, ""
	if err != nil {
		ae := apierror.From(err)
		status, code = ae.HTTPStatus(), ae.Code
	}
	if span != nil {
		span.SetAttributes(
			attribute.String("stellar.action", name),
			attribute.String("stellar.transport", s.Conn.Type),
			attribute.String("stellar.request_id", rid),
			attribute.Int("stellar.status", status),
		)
		var serr error
		if status >= 500 {
			serr = err
		}
		tracing.End(span, serr)
	}
	log := s.opts.Logger
	if !log.Enabled(ctx, slog.LevelInfo) {
		return
	}
	attrs := make([]slog.Attr, 0, 10)
	attrs = append(attrs,
		slog.String("conn", s.Conn.Type),
		slog.String("action", name),
		slog.Int("status", status),
		logging.Ms("duration_ms", time.Since(start)),
		slog.Int("bytes", bytes),
		slog.String("request_id", rid),
		slog.String("remote", s.Conn.RemoteAddr),
		slog.String("connection", s.Conn.ID),
	)
	if code != "" {
		attrs = append(attrs, slog.String("code", code))
	}
	log.LogAttrs(ctx, slog.LevelInfo, "request", attrs...)
}

// run runs an action and returns its reply, nil when the action sent its
// own (NoRender), and its error.
func (s *Session) run(ctx context.Context, id int64, rid string, r Request) (map[string]any, error) {
	raw := s.Conn.Params()
	for k, v := range r.Params {
		raw[k] = v
	}
	req := &action.Request{Conn: s.Conn, RequestID: rid}
	if err := s.opts.Actions.Run(ctx, r.Action, raw, req); err != nil {
		ae := apierror.From(err)
		if ae.RequestID == "" {
			c := *ae
			c.RequestID = rid
			ae = &c
		}
		return errorReply(id, ae), ae
	}
	if req.NoRender {
		return nil, nil
	}
	body := req.Response
	if body == nil {
		body = map[string]any{}
	}
	body["context"] = chat.ContextResponse
	body["messageId"] = id
	return body, nil
}

// InFlight is the number of actions running.
func (s *Session) InFlight() int { return len(s.sem) }

func (s *Session) verb(r Request) (any, error) {
	c, ctx := s.Conn, s.ctx
	room := r.Room
	if room == "" {
		room = s.opts.Chat.DefaultRoom()
	}
	switch r.Verb {
	case VerbQuit:
		return nil, nil
	case VerbParamAdd:
		if r.Key == "" {
			return nil, badArg(`paramAdd needs "key" (and "value")`)
		}
		if err := s.admitParam(r.Key, r.Value); err != nil {
			return nil, err
		}
		c.SetParam(r.Key, r.Value)
		return nil, nil
	case VerbParamView:
		v, ok := c.Params()[r.Key]
		if !ok {
			return nil, apierror.Newf(apierror.CodeParamNotFound, http.StatusNotFound, "no param %q on this connection", apierror.Clip(r.Key))
		}
		return v, nil
	case VerbParamDelete:
		c.DeleteParam(r.Key)
		s.paramBytes -= s.paramSizes[r.Key]
		delete(s.paramSizes, r.Key)
		return nil, nil
	case VerbParamsView:
		return c.Params(), nil
	case VerbParamsDelete:
		c.ClearParams()
		s.paramSizes, s.paramBytes = nil, 0
		return nil, nil
	case VerbDetailsView:
		return s.Details(), nil
	case VerbRoomAdd:
		added, err := s.opts.Chat.JoinConn(ctx, c, room)
		if added && err == nil {
			fire(ctx, s, event.ChatJoin, &event.ChatMember{Room: room, Conn: c})
		}
		return added, chatError(err)
	case VerbRoomLeave:
		if !c.InRoom(room) {
			return nil, notInRoom(room)
		}
		left, err := s.opts.Chat.LeaveConn(ctx, c, room)
		if left && err == nil {
			fire(ctx, s, event.ChatLeave, &event.ChatMember{Room: room, Conn: c})
		}
		return left, chatError(err)
	case VerbRoomView:
		if !c.InRoom(room) {
			return nil, notInRoom(room)
		}
		st, err := s.opts.Chat.Status(ctx, room)
		return st, chatError(err)
	case VerbSay:
		if err := s.opts.Chat.Broadcast(ctx, c, room, r.Message); err != nil {
			return nil, chatError(err)
		}
		fire(ctx, s, event.ChatSay, &event.ChatMessage{Room: room, Conn: c, Message: r.Message})
		return nil, nil
	case VerbEmit:
		if r.Event == "" {
			return nil, badArg(`emit needs "event"`)
		}
		if err := s.opts.Chat.Emit(ctx, room, r.Event, r.Data, c); err != nil {
			return nil, chatError(err)
		}
		fire(ctx, s, event.ChatSay, &event.ChatMessage{Room: room, Conn: c, Event: r.Event, Data: r.Data})
		return nil, nil
	}
	return nil, apierror.Newf(apierror.CodeUnknownVerb, http.StatusBadRequest, "unknown verb %q", apierror.Clip(r.Verb))
}

// admitParam records the sticky param key set to value, or refuses it
// with param_limit when the connection would hold more params, or more
// bytes of them, than it may. A param's size is its key plus its value
// as JSON.
func (s *Session) admitParam(key string, value any) error {
	b, err := json.Marshal(value)
	if err != nil {
		return badArg("paramAdd: the value is not JSON")
	}
	size := len(key) + len(b)
	old, replaces := s.paramSizes[key]
	if maxN := orDefault(s.opts.MaxParams, DefaultMaxParams); !replaces && len(s.paramSizes) >= maxN {
		s.opts.Refusals.Add(limit.Params)
		return apierror.Newf(apierror.CodeParamLimit, http.StatusRequestEntityTooLarge,
			"this connection holds %d sticky params, the most it may (%s.max_params): paramDelete one first", maxN, s.section())
	}
	if maxB := orDefault(s.opts.MaxParamsBytes, DefaultMaxParamsBytes); s.paramBytes-old+size > maxB {
		s.opts.Refusals.Add(limit.ParamsBytes)
		return apierror.Newf(apierror.CodeParamLimit, http.StatusRequestEntityTooLarge,
			"the sticky params of this connection would take %d bytes, more than %d (%s.max_params_bytes): paramDelete some first",
			s.paramBytes-old+size, maxB, s.section())
	}
	if s.paramSizes == nil {
		s.paramSizes = make(map[string]int)
	}
	s.paramSizes[key] = size
	s.paramBytes += size - old
	return nil
}

// Details describes the connection, for detailsView.
func (s *Session) Details() map[string]any {
	c := s.Conn
	return map[string]any{
		"id":           c.ID,
		"fingerprint":  c.Fingerprint,
		"type":         c.Type,
		"remoteIP":     c.RemoteAddr,
		"node":         c.NodeID,
		"connectedAt":  c.ConnectedAt.UnixMilli(),
		"rooms":        c.Rooms(),
		"params":       c.Params(),
		"messageCount": c.Messages(),
		"inFlight":     s.InFlight(),
	}
}

func badArg(msg string) error {
	return apierror.New(apierror.CodeMalformedRequest, http.StatusBadRequest, msg)
}

func notInRoom(room string) error {
	return apierror.Newf(apierror.CodeNotInRoom, http.StatusForbidden, "not in room %q: roomAdd first", apierror.Clip(room))
}

func refused(err error) *apierror.Error {
	var ae *apierror.Error
	if errors.As(err, &ae) {
		return ae
	}
	return &apierror.Error{Code: apierror.CodeChatRefused, Status: http.StatusForbidden, Message: err.Error(), Err: err}
}

// chatError gives a chat error its client-facing code. A failure of the
// backend (an error that says it is temporary) is unexpected: the client
// gets internal_error, the log the details.
func chatError(err error) error {
	var temp interface{ Temporary() bool }
	switch {
	case err == nil:
		return nil
	case errors.As(err, &temp) && temp.Temporary():
		return apierror.From(err)
	case errors.Is(err, chat.ErrNoRoom):
		return apierror.New(apierror.CodeRoomNotFound, http.StatusNotFound, err.Error())
	case errors.Is(err, chat.ErrNotMember):
		return apierror.New(apierror.CodeNotInRoom, http.StatusForbidden, err.Error()+": roomAdd first")
	case errors.Is(err, chat.ErrRoomName):
		return apierror.New(apierror.CodeMalformedRequest, http.StatusBadRequest, "a room name must be 1 to 256 bytes")
	case errors.Is(err, chat.ErrNotRunning):
		return apierror.New(apierror.CodeDraining, http.StatusServiceUnavailable, "the server is shutting down")
	}
	return refused(err)
}

// Close ends the session: it cancels the actions in flight and waits for
// them (bounded by ctx and five seconds), then removes the connection
// from its rooms and from the registry (running the destroy middleware).
// Messages queued before are still written; Wait waits for them. Call it
// once, after the transport stopped reading.
func (s *Session) Close(ctx context.Context) {
	s.end(errors.New("closed"))
	s.cancel()
	waited := make(chan struct{})
	go func() { s.wg.Wait(); close(waited) }()
	select {
	case <-waited:
	case <-ctx.Done():
	case <-time.After(5 * time.Second):
	}
	s.Conn.SetSender(nil)
	rooms := s.Conn.Rooms()
	s.opts.Chat.Disconnect(ctx, s.Conn)
	for _, room := range rooms {
		fire(ctx, s, event.ChatLeave, &event.ChatMember{Room: room, Conn: s.Conn, Closing: true})
	}
	s.opts.Conns.Remove(ctx, s.Conn)
	s.mu.Lock()
	s.closed = true
	s.mu.Unlock()
	fire(ctx, s, event.ConnectionClose, &event.Connection{Conn: s.Conn})
}
