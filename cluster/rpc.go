package cluster

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/trace"

	"github.com/stellarfw/stellar-go/event"
	"github.com/stellarfw/stellar-go/internal/tracing"
)

// Handler serves a method called through Do or DoAll. Its result is
// marshaled to JSON for the caller; its error comes back as a
// *RemoteError. A panic is recovered and comes back as a RemoteError too.
type Handler interface {
	ServeRPC(ctx context.Context, call *Call) (any, error)
}

// HandlerFunc adapts a function to Handler.
type HandlerFunc func(ctx context.Context, call *Call) (any, error)

// ServeRPC calls f.
func (f HandlerFunc) ServeRPC(ctx context.Context, call *Call) (any, error) { return f(ctx, call) }

// Call is a method call received from a node (possibly this one).
type Call struct {
	// Method is the method's name.
	Method string
	// From is the id of the calling node.
	From string
	// ConnectionID is the connection given to ToConnection, if any; this
	// node owns it.
	ConnectionID string
	// Args are the arguments, as JSON.
	Args json.RawMessage
}

// Decode unmarshals the arguments into v.
func (c *Call) Decode(v any) error { return json.Unmarshal(c.Args, v) }

// Reply is one node's answer to a call.
type Reply struct {
	// Node is the node that answered.
	Node string
	// Result is the handler's result, as JSON.
	Result json.RawMessage
	// Err is the node's error, for DoAll; Do returns it instead.
	Err error
}

// Decode unmarshals the result into v.
func (r Reply) Decode(v any) error { return json.Unmarshal(r.Result, v) }

// Handle registers the method name, replacing any before. It may be called
// before or after Start. It panics on an empty name or a nil handler.
func (c *Cluster) Handle(name string, h Handler) {
	if name == "" || h == nil {
		panic("cluster: Handle needs a name and a handler")
	}
	c.handlers.Store(name, h)
}

// HandleFunc registers fn as the method name.
func (c *Cluster) HandleFunc(name string, fn func(ctx context.Context, call *Call) (any, error)) {
	c.Handle(name, HandlerFunc(fn))
}

// CallOption chooses where a call goes.
type CallOption func(*callOptions)

type callOptions struct {
	node string
	conn string
}

// ToNode sends the call to the node with this id only. If membership does
// not list it, the call fails at once with ErrUnknownNode.
func ToNode(id string) CallOption { return func(o *callOptions) { o.node = id } }

// ToConnection sends the call to the node that owns this client
// connection (Stellar's doCluster connectionId). Every node receives it;
// the owner runs it and the others answer at once that they do not own
// it, so a connection no node owns fails with ErrNoOwner.
func ToConnection(id string) CallOption { return func(o *callOptions) { o.conn = id } }

// Wire forms of a call and of its reply. A call's deadline is the
// envelope's, where it is signed with the rest.
type request struct {
	Method string          `json:"m"`
	Args   json.RawMessage `json:"a"`
	Conn   string          `json:"c,omitempty"`
}

// parseRequest reads the call in an accepted envelope of typeRequest. A
// call without a deadline is malformed: every node sends one, and a
// handler must never run unbounded.
func parseRequest(e *envelope) (request, bool) {
	var req request
	if e.Deadline <= 0 || json.Unmarshal(e.Payload, &req) != nil || req.Method == "" || len(req.Method) > maxIDLen || len(req.Conn) > maxIDLen {
		return request{}, false
	}
	return req, true
}

type response struct {
	Call   string          `json:"call"`
	OK     bool            `json:"ok"`
	Result json.RawMessage `json:"r,omitempty"`
	Code   string          `json:"code,omitempty"`
	Error  string          `json:"err,omitempty"`
}

// reply is what a pending call receives: a node's response, or news that
// a node it waits for left.
type reply struct {
	node string
	res  response
	gone bool
}

// call is a call awaiting replies.
type call struct {
	ch     chan reply // buffered; sends never block
	closed bool
}

func (p *call) sendLocked(r reply) bool {
	if p.closed {
		return false
	}
	select {
	case p.ch <- r:
		return true
	default:
		return false
	}
}

func (p *call) nodeGoneLocked(id string) { p.sendLocked(reply{node: id, gone: true}) }

func (p *call) closeLocked() {
	if !p.closed {
		p.closed = true
		close(p.ch)
	}
}

// Do calls method on the live nodes and returns the first successful
// reply. With ToNode it asks that node only; with ToConnection, the node
// that owns the connection. It fails with a *RemoteError when every node
// asked answered with an error (unwrapping to ErrUnknownMethod when none
// has the method), with ErrNoOwner when no node owns the connection, and
// with a *TimeoutError (ErrTimeout) when the deadline passes first: the
// context's, else Config.RPCTimeout.
func (c *Cluster) Do(ctx context.Context, method string, args any, opts ...CallOption) (_ Reply, err error) {
	defer c.observe(ctx, method, false, time.Now(), &err)
	var o callOptions
	for _, opt := range opts {
		opt(&o)
	}
	var out Reply
	onReply := func(r reply, remote error) bool {
		out = Reply{Node: r.node, Result: r.res.Result}
		if o.conn != "" {
			c.owners.put(o.conn, r.node)
		}
		return true
	}
	if o.conn != "" && o.node == "" {
		// The node that answered the last call to this connection owns
		// it still, most likely: ask it alone, and every node only if it
		// says it does not (or has left).
		if node, ok := c.owners.get(o.conn); ok {
			hinted := o
			hinted.node = node
			err = c.call(ctx, method, args, hinted, false, onReply)
			if err == nil {
				return out, nil
			}
			if ctx.Err() != nil || !(errors.Is(err, ErrNoOwner) || errors.Is(err, ErrUnknownNode)) {
				return Reply{}, err
			}
			c.owners.forget(o.conn, node)
		}
	}
	err = c.call(ctx, method, args, o, false, onReply)
	if errors.Is(err, ErrNoOwner) && ctx.Err() == nil {
		// The owner may be a node that joined after the call took its list
		// of nodes to ask: read the members now and ask once more. A
		// connection that no node owns costs two quick round trips.
		c.refreshMembers(ctx)
		err = c.call(ctx, method, args, o, false, onReply)
	}
	if err != nil {
		return Reply{}, err
	}
	return out, nil
}

// DoAll calls method on every live node and returns one reply per node,
// sorted by node id; a node's error is in its Reply.Err. When some nodes
// do not answer in time it returns a *PartialError naming them, with the
// replies that did arrive.
func (c *Cluster) DoAll(ctx context.Context, method string, args any) (_ []Reply, err error) {
	defer c.observe(ctx, method, true, time.Now(), &err)
	var replies []Reply
	err = c.call(ctx, method, args, callOptions{}, true, func(r reply, remote error) bool {
		replies = append(replies, Reply{Node: r.node, Result: r.res.Result, Err: remote})
		return false
	})
	sortReplies(replies)
	var pe *PartialError
	if errors.As(err, &pe) {
		pe.Replies = replies
		return replies, pe
	}
	if err != nil {
		return nil, err
	}
	return replies, nil
}

// observe fires event.ClusterCall for a call that began at start and
// ended with *err.
func (c *Cluster) observe(ctx context.Context, method string, all bool, start time.Time, err *error) {
	c.mu.Lock()
	bus, log := c.cfg.Events, c.cfg.Logger
	c.mu.Unlock()
	if !bus.Has(event.ClusterCall.Name()) {
		return
	}
	p := &event.Call{Method: method, All: all, Duration: time.Since(start), Err: *err}
	if ferr := event.Fire(ctx, bus, event.ClusterCall, p); ferr != nil && !errors.Is(ferr, event.ErrStop) && log != nil {
		log.Warn("event listener failed", "event", event.ClusterCall.Name(), "method", method, "error", ferr.Error())
	}
}

func sortReplies(r []Reply) {
	slices.SortFunc(r, func(a, b Reply) int { return strings.Compare(a.Node, b.Node) })
}

// call runs one call. onReply gets each reply (remote is its error, nil on
// success) and returns true to end the call. With all, every reply is
// passed on and the call ends when every expected node answered.
func (c *Cluster) call(ctx context.Context, method string, args any, o callOptions, all bool, onReply func(reply, error) bool) (err error) {
	if method == "" {
		return errors.New("cluster: call needs a method name")
	}
	a, err := marshalPayload(args)
	if err != nil {
		return fmt.Errorf("cluster: %s: arguments: %w", method, err)
	}
	c.mu.Lock()
	running, timeout, tracer := c.running, c.cfg.RPCTimeout, c.tracer
	c.mu.Unlock()
	if !running {
		return ErrNotRunning
	}
	if tracer != nil {
		var span trace.Span
		ctx, span = tracer.Start(ctx, method, trace.SpanKindClient)
		span.SetAttributes(attribute.String("rpc.system", "stellar"), attribute.String("rpc.method", method),
			attribute.Bool("stellar.all", all))
		if o.node != "" {
			span.SetAttributes(attribute.String("stellar.node", o.node))
		}
		defer func() { tracing.End(span, err) }()
	}
	if !c.connected.Load() {
		return fmt.Errorf("cluster: call to %s: %w (is the backend reachable?)", method, ErrNotConnected)
	}
	start := time.Now()
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, timeout)
		defer cancel()
	}
	deadline, _ := ctx.Deadline()

	expected, err := c.expected(ctx, o.node)
	if err != nil {
		return fmt.Errorf("cluster: call to %s: %w", method, err)
	}
	channel := chanAll
	if o.node != "" {
		channel = nodeChannel(o.node)
	}
	id := newID()
	p := &call{ch: make(chan reply, 2*len(expected)+8)}
	c.mu.Lock()
	c.pending[id] = p
	c.mu.Unlock()
	defer func() {
		c.mu.Lock()
		delete(c.pending, id)
		p.closeLocked()
		c.mu.Unlock()
		for r := range p.ch { // replies that came in after the answer
			if !r.gone {
				c.lateReplies.Add(1)
			}
		}
	}()
	req, _ := json.Marshal(request{Method: method, Args: a, Conn: o.conn})
	if _, err := c.sendID(ctx, channel, typeRequest, o.node, id, deadline.UnixMilli(), req); err != nil {
		return fmt.Errorf("cluster: call to %s: %w", method, err)
	}

	waiting := maps.Clone(expected)
	var remote []*RemoteError
	notOwner := 0
	for {
		select {
		case r, ok := <-p.ch:
			if !ok {
				return ErrNotRunning
			}
			if _, want := waiting[r.node]; !want && (r.gone || !r.res.OK) {
				continue // a node we did not ask, or one that answered already
			}
			delete(waiting, r.node)
			switch {
			case r.gone:
			case r.res.OK:
				if onReply(r, nil) {
					return nil
				}
			case r.res.Code == codeNotOwner:
				notOwner++
			default:
				re := &RemoteError{Node: r.node, Method: method, Code: r.res.Code, Message: r.res.Error}
				remote = append(remote, re)
				if all {
					onReply(r, re)
				}
			}
			if len(waiting) > 0 {
				continue
			}
			switch {
			case all:
				return nil
			case len(remote) > 0:
				return firstRemote(remote)
			case notOwner > 0:
				return fmt.Errorf("cluster: call to %s: connection %q: %w", method, o.conn, ErrNoOwner)
			default:
				return fmt.Errorf("cluster: call to %s: %w (every node asked has left)", method, ErrNoNodes)
			}
		case <-ctx.Done():
			if !errors.Is(ctx.Err(), context.DeadlineExceeded) {
				return fmt.Errorf("cluster: call to %s: %w", method, ctx.Err())
			}
			if all {
				return &PartialError{Method: method, Missing: slices.Sorted(maps.Keys(waiting))}
			}
			return &TimeoutError{Method: method, Waited: time.Since(start), cause: ctx.Err()}
		}
	}
}

// firstRemote prefers a handler's error to "unknown method": a node that
// has the method and failed says more than one that lacks it.
func firstRemote(errs []*RemoteError) error {
	for _, e := range errs {
		if e.Code != CodeUnknownMethod {
			return e
		}
	}
	return errs[0]
}

// expected returns the nodes a call waits for: the one named, or every
// live node.
func (c *Cluster) expected(ctx context.Context, node string) (map[string]struct{}, error) {
	c.mu.Lock()
	members := maps.Clone(c.members)
	c.mu.Unlock()
	if node != "" {
		if _, ok := members[node]; !ok {
			c.refreshMembers(ctx)
			c.mu.Lock()
			_, ok = c.members[node]
			c.mu.Unlock()
			if !ok {
				return nil, fmt.Errorf("node %q: %w", node, ErrUnknownNode)
			}
		}
		return map[string]struct{}{node: {}}, nil
	}
	if len(members) == 0 {
		c.refreshMembers(ctx)
		c.mu.Lock()
		members = maps.Clone(c.members)
		c.mu.Unlock()
		if len(members) == 0 {
			return nil, ErrNoNodes
		}
	}
	out := make(map[string]struct{}, len(members))
	for id := range members {
		out[id] = struct{}{}
	}
	return out, nil
}

// serveRequest answers a call: at once when this node does not own the
// connection or has no such method, else from a goroutine running the
// handler with a context that ends at the caller's deadline. A call whose
// deadline has passed by the time its handler would start is dropped and
// counted as expired, never run.
func (c *Cluster) serveRequest(ctx context.Context, e *envelope) {
	if c.ousted.Load() {
		return // the id is another run's: it answers
	}
	req, ok := parseRequest(e)
	if !ok {
		c.drop(DropMalformed, e)
		return
	}
	deadline := time.UnixMilli(e.Deadline)
	// Every answer goes out from a goroutine: this runs on the transport's
	// reader, which must not wait for a publish. The goroutine belongs to
	// the subscriber goroutine's WaitGroup, which is not zero while it
	// delivers.
	c.wg.Add(1)
	c.beginAnswer()
	go func() {
		defer c.wg.Done()
		defer c.endAnswer()
		if req.Conn != "" {
			owns := c.owns.Load()
			if owns == nil || !(*owns)(req.Conn) {
				c.respond(ctx, e, response{Code: codeNotOwner, Error: "connection not owned by this node"})
				return
			}
		}
		v, ok := c.handlers.Load(req.Method)
		if !ok {
			c.unknownMethod(req.Method, e.From)
			c.respond(ctx, e, response{Code: CodeUnknownMethod, Error: fmt.Sprintf("unknown method %q", req.Method)})
			return
		}
		c.mu.Lock()
		now := c.cfg.Now
		c.mu.Unlock()
		if !now().Before(deadline) {
			c.drop(DropExpired, e)
			return
		}
		// The handler joins the caller's trace.
		hctx := tracing.Resume(ctx, e.Trace, e.TraceState)
		c.mu.Lock()
		tracer := c.tracer
		c.mu.Unlock()
		var span trace.Span
		if tracer != nil {
			hctx, span = tracer.Start(hctx, req.Method, trace.SpanKindServer)
			span.SetAttributes(attribute.String("rpc.system", "stellar"), attribute.String("rpc.method", req.Method),
				attribute.String("stellar.from", e.From))
		}
		hctx, cancel := context.WithDeadline(hctx, deadline)
		defer cancel()
		call := &Call{Method: req.Method, From: e.From, ConnectionID: req.Conn, Args: req.Args}
		res, err := c.runHandler(hctx, v.(Handler), call)
		tracing.End(span, err)
		if !now().Before(deadline) {
			return // the caller gave up: a reply now would only be late
		}
		if err != nil {
			c.respond(ctx, e, response{Code: CodeError, Error: err.Error()})
			return
		}
		out, err := marshalPayload(res)
		if err != nil {
			c.respond(ctx, e, response{Code: CodeError, Error: "result: " + err.Error()})
			return
		}
		c.respond(ctx, e, response{OK: true, Result: out})
	}()
}

// unknownMethod logs a call to a method this node does not have: the
// caller's mistake, so at info, and at most once per dropLogInterval.
func (c *Cluster) unknownMethod(method, from string) {
	c.mu.Lock()
	log, now := c.cfg.Logger, c.cfg.Now
	c.mu.Unlock()
	ok, suppressed := c.dropLog.allow("unknown_method", now())
	if !ok {
		return
	}
	attrs := []any{"method", method, "from", from}
	if suppressed > 0 {
		attrs = append(attrs, "suppressed", suppressed)
	}
	log.Info("cluster call to an unknown method", attrs...)
}

func (c *Cluster) runHandler(ctx context.Context, h Handler, call *Call) (res any, err error) {
	defer func() {
		if r := recover(); r != nil {
			c.mu.Lock()
			log := c.cfg.Logger
			c.mu.Unlock()
			log.ErrorContext(ctx, "cluster method panicked", "method", call.Method, "from", call.From, "panic", fmt.Sprint(r))
			res, err = nil, fmt.Errorf("panic: %v", r)
		}
	}()
	return h.ServeRPC(ctx, call)
}

// respond sends a reply to the caller of e.
func (c *Cluster) respond(ctx context.Context, e *envelope, res response) {
	res.Call = e.ID
	b, _ := json.Marshal(res)
	// The reply must get out even when the node is stopping: it answers
	// a call it accepted.
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	err := c.send(ctx, nodeChannel(e.From), typeReply, e.From, b)
	if errors.Is(err, ErrTooLarge) {
		b, _ = json.Marshal(response{Call: e.ID, Code: CodeError, Error: "result too large for a cluster message"})
		err = c.send(ctx, nodeChannel(e.From), typeReply, e.From, b)
	}
	if err != nil {
		c.mu.Lock()
		log := c.cfg.Logger
		c.mu.Unlock()
		log.Warn("cluster reply not sent", "to", e.From, "error", err.Error())
	}
}

// takeReply passes a reply to its pending call, or counts it as late.
func (c *Cluster) takeReply(e *envelope) {
	var res response
	if err := json.Unmarshal(e.Payload, &res); err != nil || res.Call == "" {
		c.drop(DropMalformed, e)
		return
	}
	c.mu.Lock()
	p, ok := c.pending[res.Call]
	delivered := ok && p.sendLocked(reply{node: e.From, res: res})
	c.mu.Unlock()
	if !delivered {
		c.lateReplies.Add(1)
	}
}

// maxOwnerHints bounds the connections whose owner a node remembers.
const maxOwnerHints = 4096

// ownerHints remembers which node answered a call to a connection, so
// that the next call to it asks that node alone instead of every node.
type ownerHints struct {
	mu sync.Mutex
	m  map[string]string // connection id → node id; guarded by mu
}

func (h *ownerHints) get(conn string) (string, bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	node, ok := h.m[conn]
	return node, ok
}

func (h *ownerHints) put(conn, node string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.m == nil || len(h.m) >= maxOwnerHints {
		h.m = make(map[string]string) // start over rather than track ages
	}
	h.m[conn] = node
}

func (h *ownerHints) forget(conn, node string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.m[conn] == node {
		delete(h.m, conn)
	}
}
