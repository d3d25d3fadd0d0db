// Package cluster lets the nodes of a Stellar application talk to each
// other: membership (who is live), authenticated publish/subscribe, and
// remote procedure calls to every node, one named node, or the node that
// owns a client connection. It is Stellar's api.redis (doCluster, publish,
// subscriptionHandlers) with the holes closed: every message is signed
// with the server token (HMAC-SHA256) instead of carrying it, and forged,
// stale, replayed, malformed, oversized and unknown messages are dropped
// and counted, never handled. A node refuses what was signed before it
// started, so that a restart does not reopen the replay window, and a
// call's handler never runs past the caller's deadline. Membership
// records are signed with their expiry.
//
// A node restarting under its id after a crash takes the id over from
// the run that is gone: at once when that run's process was on this
// machine and no longer runs, after TakeoverHeartbeats heartbeat
// intervals without a renewal otherwise. A live node's id is refused. A
// run whose id a later run took over (it was frozen meanwhile) steps
// down at its next heartbeat: Ready reports ErrTakenOver.
//
// A Cluster runs on a Transport, which the backend provides: Redis for a
// real cluster, memory for one node (which then talks to itself through
// the same API).
//
// # Messages
//
// Publish sends a typed payload to every node, this one included;
// Subscribe registers the handler of a type. A node that receives a type
// it has no handler for drops it and counts it as unknown_type.
//
// # Calls
//
// Handle registers a method; only registered methods can be called. Do
// calls a method on every live node and returns the first successful
// reply; ToNode calls one node; ToConnection reaches the node that owns a
// connection. DoAll collects one reply per live node. A handler's error
// comes back as a *RemoteError, an unknown method as ErrUnknownMethod, at
// once; only silence ends in ErrTimeout.
//
// ToConnection is routed by broadcast: every node receives the call, the
// owner (as told by Config.OwnsConnection) runs it, and the others answer
// "not mine" at once, so that a connection nobody owns fails fast with
// ErrNoOwner instead of waiting for the timeout.
package cluster

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"os"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/stellarfw/stellar-go/internal/lifecycle"
	"github.com/stellarfw/stellar-go/internal/resubscribe"

	"go.opentelemetry.io/otel/trace"

	"github.com/stellarfw/stellar-go/event"
	"github.com/stellarfw/stellar-go/internal/tracing"
)

// Defaults of Config.
const (
	// DefaultHeartbeatInterval is the default Config.HeartbeatInterval.
	DefaultHeartbeatInterval = time.Second
	// DefaultNodeTTLHeartbeats is the default Config.NodeTTL in heartbeat
	// intervals: a node whose heartbeats stop leaves the list this many
	// intervals after its last one.
	DefaultNodeTTLHeartbeats = 5
	// DefaultNodeTTL is the default Config.NodeTTL at the default
	// heartbeat interval.
	DefaultNodeTTL = DefaultNodeTTLHeartbeats * DefaultHeartbeatInterval
	// DefaultRPCTimeout is the default Config.RPCTimeout.
	DefaultRPCTimeout = 5 * time.Second
	// DefaultMessageWindow is the default Config.MessageWindow.
	DefaultMessageWindow = 30 * time.Second
	// DefaultMaxMessageBytes is the default Config.MaxMessageBytes.
	DefaultMaxMessageBytes = 1 << 20
	// DefaultReplayMemory is the default Config.ReplayMemory: enough for
	// 3,000 messages a second over the default window, a few MiB.
	DefaultReplayMemory = 100_000
)

// Config configures a Cluster. A zero field means its default.
type Config struct {
	// ID is this node's id. Required.
	ID string
	// Token signs and checks every message (HMAC-SHA256). It is never
	// sent. Nodes with different tokens do not hear each other. Empty is
	// refused unless Insecure is set.
	Token string
	// Insecure allows an empty Token, for local development only: anyone
	// who can reach the backend can then forge messages. A loud warning is
	// logged.
	Insecure bool
	// Version is the application version the node announces.
	Version string
	// Transports lists the node's client transports (http, tcp, ws), for
	// its membership record.
	Transports []string
	// HeartbeatInterval is how often the node renews its membership record
	// and refreshes the list of live nodes. Default 1s
	// (DefaultHeartbeatInterval).
	HeartbeatInterval time.Duration
	// NodeTTL is how long a record lives without a heartbeat: a node that
	// stops heartbeating leaves the list this long after. It must be
	// longer than HeartbeatInterval. Default 5 × HeartbeatInterval
	// (DefaultNodeTTLHeartbeats), 5s at the default interval.
	NodeTTL time.Duration
	// RPCTimeout bounds a call whose context has no deadline. Default 5s
	// (DefaultRPCTimeout).
	RPCTimeout time.Duration
	// MessageWindow is how far a message's time may be from the receiver's
	// clock; older (or later) ones are dropped as stale. Ids are
	// remembered this long to drop replays. Default 30s
	// (DefaultMessageWindow).
	MessageWindow time.Duration
	// MaxMessageBytes bounds a message, envelope included; larger ones are
	// refused when sent and dropped when received. Default 1 MiB
	// (DefaultMaxMessageBytes).
	MaxMessageBytes int
	// ReplayMemory bounds how many received messages the node remembers
	// to refuse their replays. When it is full the node forgets the
	// oldest and refuses, as replay_full, every message not younger than
	// it: a flood narrows the window of what is still taken instead of
	// letting replays through. Default 100,000 (DefaultReplayMemory).
	ReplayMemory int
	// OwnsConnection tells whether this node owns a client connection, for
	// ToConnection: the node that owns it runs the call. Default: this
	// node owns none.
	OwnsConnection func(connectionID string) bool
	// Logger receives joins, leaves and dropped messages. Default: none.
	Logger *slog.Logger
	// Events, when set, receives event.NodeJoined and event.NodeLeft
	// whenever Logger logs another node's join or leave: once per join
	// and once per leave, the nodes already live when this one starts
	// counting as joined. A listener runs on the cluster's heartbeat or
	// message loop, so it must be quick; its error is logged. Default:
	// none.
	Events *event.Bus
	// Stats, when set, is called at every heartbeat for figures the node
	// publishes in its membership record (Node.Stats), such as the tasks
	// it runs and its connections. It is called without the cluster's
	// lock held.
	Stats func() map[string]int64
	// Now is the clock for message times. Default time.Now.
	Now func() time.Time
	// TracerProvider, when set, gets a client span for each call and a
	// server span for each call this node serves. Without it no span is
	// started; the trace context of a call's ctx travels in its signed
	// envelope and its handler's context carries it all the same.
	TracerProvider trace.TracerProvider
}

func (c *Config) setDefaults() {
	if c.HeartbeatInterval <= 0 {
		c.HeartbeatInterval = DefaultHeartbeatInterval
	}
	if c.NodeTTL <= 0 {
		c.NodeTTL = DefaultNodeTTLHeartbeats * c.HeartbeatInterval
	}
	if c.RPCTimeout <= 0 {
		c.RPCTimeout = DefaultRPCTimeout
	}
	if c.MessageWindow <= 0 {
		c.MessageWindow = DefaultMessageWindow
	}
	if c.MaxMessageBytes <= 0 {
		c.MaxMessageBytes = DefaultMaxMessageBytes
	}
	if c.ReplayMemory <= 0 {
		c.ReplayMemory = DefaultReplayMemory
	}
	if c.OwnsConnection == nil {
		c.OwnsConnection = func(string) bool { return false }
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	if c.Now == nil {
		c.Now = time.Now
	}
}

// Internal message types. User types may not start with "stellar.".
const (
	reservedPrefix = "stellar."
	typeRequest    = "stellar.rpc.request"
	typeReply      = "stellar.rpc.reply"
	typeJoin       = "stellar.join"
	typeLeave      = "stellar.leave"
)

// Channels on the transport: every node listens on chanAll and on its own.
const chanAll = "all"

func nodeChannel(id string) string { return "node:" + id }

// inboxSize bounds the messages waiting to be handled; beyond it they are
// dropped and counted as overflow rather than block the subscriber.
const inboxSize = 4096

// Message is a message received through Subscribe.
type Message struct {
	// Type is the message type given to Publish.
	Type string
	// From is the id of the node that sent it.
	From string
	// ID is the message's unique id.
	ID string
	// SentAt is the sender's clock when it was sent.
	SentAt time.Time
	// Payload is the payload, as JSON.
	Payload json.RawMessage
}

// Decode unmarshals the payload into v.
func (m Message) Decode(v any) error { return json.Unmarshal(m.Payload, v) }

// MessageHandler handles a message type. It runs on the node's message
// loop, one message at a time in arrival order: hand long work to a
// goroutine of your own. A panic is recovered and logged.
type MessageHandler func(ctx context.Context, m Message)

// Cluster is a node's view of the cluster and its means to talk to the
// other nodes. Create it with New, register methods and subscriptions
// (before or after Start), then Start it on a Transport with its Config.
type Cluster struct {
	handlers sync.Map                          // method name → Handler
	subs     sync.Map                          // message type → MessageHandler
	owns     atomic.Pointer[func(string) bool] // Config.OwnsConnection, set by Start
	owners   ownerHints                        // the node that answered the last call to a connection

	dropped     map[string]*atomic.Uint64 // fixed keys: dropReasons
	lateReplies atomic.Uint64
	published   atomic.Uint64
	dropLog     logLimiter

	mu      sync.Mutex
	cfg     Config             // guarded by mu; set by Start
	sign    signer             // guarded by mu; fixed once started
	tracer  *tracing.Tracer    // guarded by mu; fixed once started, nil for no spans
	t       Transport          // guarded by mu
	running bool               // guarded by mu
	cancel  context.CancelFunc // guarded by mu
	self    Node               // guarded by mu
	members map[string]Node    // guarded by mu; the live nodes, self included; never mutated, replaced
	pending map[string]*call   // guarded by mu; calls awaiting replies
	hbErr   error              // guarded by mu; of the last heartbeat
	joined  bool               // guarded by mu; the node's record was created
	last    []byte             // guarded by mu; the record last stored under the node's id
	// left holds, for each node that announced its leave, the instance
	// that did, until its record is no longer read: a listing read
	// before the record was removed must not bring the node back.
	left map[string]string // guarded by mu
	// answering counts the calls this node is answering; Stop waits for
	// it to reach zero (answered is closed then) before it announces the
	// leave, so that a caller gets its reply before it learns of the leave.
	answering int           // guarded by mu
	answered  chan struct{} // guarded by mu; set by a Stop that waits
	refreshMu sync.Mutex    // serializes refreshMembers: a stale listing must not replace a newer one
	connected atomic.Bool   // subscribed to the transport
	ousted    atomic.Bool   // a later run of the node took its id over
	machine   string        // this process's machine and pid namespace; see thisMachine

	replay *replayMemory // set by Start before the loops that read it
	inbox  chan *envelope
	hbStop chan struct{}   // closed by Stop to end the heartbeat loop
	hbDone chan struct{}   // closed when the heartbeat loop has ended
	runCtx context.Context // set by Start before the loops that read it
	wg     sync.WaitGroup  // loops and handlers started by Start
}

// New returns a Cluster; register its methods and subscriptions, then
// call Start.
func New() *Cluster {
	c := &Cluster{dropped: map[string]*atomic.Uint64{}, machine: thisMachine()}
	for _, r := range dropReasons {
		c.dropped[r] = new(atomic.Uint64)
	}
	return c
}

// ID returns the node's id, once started.
func (c *Cluster) ID() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.cfg.ID
}

// Instance returns the random id of this run of the node, once started:
// a node that restarts under the same ID has a new one.
func (c *Cluster) Instance() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.self.Instance
}

// Start joins the cluster on t as configured by cfg: it subscribes,
// records the node's membership (failing with ErrDuplicateNode if its id
// is live already), and starts heartbeating. A record under its id whose
// run is gone (its process on this machine died, or the record was not
// renewed for TakeoverHeartbeats intervals) does not keep the node out:
// it takes the id over. Start fails with ErrNoToken when the token is
// empty and Config.Insecure is not set. A Cluster starts once; Stop ends
// it.
//
// The node calls Start as it starts (App.Start): the lifecycle key,
// which only this module can name, keeps a program from calling it.
func (c *Cluster) Start(ctx context.Context, t Transport, cfg Config, _ lifecycle.Key) error {
	c.mu.Lock()
	if c.t != nil {
		c.mu.Unlock()
		return errors.New("cluster: already started")
	}
	cfg.setDefaults()
	if cfg.ID == "" {
		c.mu.Unlock()
		return errors.New("cluster: Config.ID is required")
	}
	if cfg.Token == "" && !cfg.Insecure {
		c.mu.Unlock()
		return fmt.Errorf("%w: set cluster.token (env STELLAR_SERVER_TOKEN), or cluster.insecure for local development", ErrNoToken)
	}
	if cfg.Token == "" {
		cfg.Logger.Warn("INSECURE: the cluster runs without a server token; anyone who reaches the backend can forge messages and calls. Use this for local development only.")
	}
	host, _ := os.Hostname()
	c.cfg = cfg
	c.owns.Store(&cfg.OwnsConnection)
	c.sign = newSigner([]byte(cfg.Token))
	c.tracer = tracing.New(cfg.TracerProvider)
	c.t = t
	c.self = Node{ID: cfg.ID, Instance: newID(), Host: host, PID: os.Getpid(), Process: c.processLocked(),
		StartedAt: cfg.Now().UTC().Truncate(time.Millisecond), Version: cfg.Version, Transports: cfg.Transports}
	c.members = map[string]Node{}
	c.left = map[string]string{}
	c.pending = map[string]*call{}
	c.inbox = make(chan *envelope, inboxSize)
	c.hbStop, c.hbDone = make(chan struct{}), make(chan struct{})
	// What was signed before this start may have reached the node's
	// previous run, whose memory is gone: refuse it all.
	c.replay = newReplayMemory(c.self.StartedAt.UnixMilli(), cfg.ReplayMemory)
	c.mu.Unlock()

	joinErr := c.join(ctx)
	switch {
	case errors.Is(joinErr, ErrDuplicateNode):
		c.reset()
		return joinErr
	case joinErr != nil:
		// The backend is away: start anyway, not ready, and join from
		// the heartbeat loop once it answers.
		cfg.Logger.Warn("cannot join the cluster yet; will retry", "error", joinErr.Error())
		c.mu.Lock()
		c.hbErr = joinErr
		c.mu.Unlock()
	default:
		c.mu.Lock()
		c.joined = true
		c.mu.Unlock()
	}
	runCtx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	c.mu.Lock()
	c.running = true
	c.cancel = cancel
	c.runCtx = runCtx
	c.mu.Unlock()

	subscribed := make(chan struct{})
	var once sync.Once
	c.wg.Add(3)
	go c.subscribeLoop(runCtx, func() { once.Do(func() { close(subscribed) }) })
	go c.dispatchLoop(runCtx)
	go c.heartbeatLoop(runCtx)

	// Wait briefly for the subscription so that a node is reachable once
	// Start returns; a backend that is down does not block Start: the node
	// reports itself not ready until it subscribes.
	wait := time.NewTimer(2 * time.Second)
	defer wait.Stop()
	if joinErr == nil {
		select {
		case <-subscribed:
		case <-wait.C:
		case <-ctx.Done():
		}
	}
	c.refreshMembers(runCtx)
	_ = c.send(runCtx, chanAll, typeJoin, "", json.RawMessage("{}"))
	return nil
}

// processLocked is the node's Node.Process: this machine and the start
// time of this process, or "" where the system does not say.
func (c *Cluster) processLocked() string {
	if c.machine == "" {
		return ""
	}
	start, st := processStart(os.Getpid())
	if st != procRuns {
		return ""
	}
	return c.machine + "/" + start
}

// reset undoes a failed Start.
func (c *Cluster) reset() {
	c.mu.Lock()
	c.t = nil
	c.mu.Unlock()
}

// Stop leaves the cluster: it waits for the calls it is answering to be
// answered (bounded by ctx), announces the leave, removes the node's
// record, and waits for the handlers in flight. It is safe to call more
// than once. A handler that stops its node must call Stop from another
// goroutine, as api.stop does: Stop waits for that handler's answer.
//
// The node calls Stop as it stops (App.Shutdown): the lifecycle key,
// which only this module can name, keeps a program from calling it.
func (c *Cluster) Stop(ctx context.Context, _ lifecycle.Key) error {
	c.mu.Lock()
	if !c.running {
		c.mu.Unlock()
		return nil
	}
	c.running = false
	t, id, cancel, ttl := c.t, c.cfg.ID, c.cancel, c.cfg.NodeTTL
	c.mu.Unlock()

	// Let a heartbeat under way finish, so that none writes the record
	// once it is removed (the node would look live after it stopped). A
	// heartbeat gives up after the node TTL, so that is the longest wait;
	// ctx may cut it shorter.
	var errs []error
	close(c.hbStop)
	hbWait := time.NewTimer(ttl)
	select {
	case <-c.hbDone:
	case <-hbWait.C:
	case <-ctx.Done():
	}
	hbWait.Stop()
	// Calls under way are answered first: a caller that learned of the
	// leave before its reply would fail a call that succeeded.
	if err := c.waitAnswered(ctx); err != nil {
		errs = append(errs, err)
	}
	// Announce first, while still subscribed, so that the others log the
	// leave at once and stop sending calls here. A run whose id another
	// run took over leaves nothing: the id is the other run's.
	if !c.ousted.Load() {
		c.mu.Lock()
		leave, _ := json.Marshal(leavePayload{Instance: c.self.Instance})
		c.mu.Unlock()
		if err := c.send(ctx, chanAll, typeLeave, "", leave); err != nil && !errors.Is(err, ErrNotRunning) {
			errs = append(errs, err)
		}
		if err := t.Leave(ctx, id, c.ownRecord(ctx, t, id)); err != nil {
			errs = append(errs, fmt.Errorf("cluster: leaving: %w", err))
		}
	}
	cancel()
	done := make(chan struct{})
	go func() { c.wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-ctx.Done():
		errs = append(errs, fmt.Errorf("cluster: handlers still running at the stop deadline: %w", ctx.Err()))
	}
	c.mu.Lock()
	for id, p := range c.pending {
		delete(c.pending, id)
		p.closeLocked()
	}
	c.mu.Unlock()
	return errors.Join(errs...)
}

// waitAnswered waits until no call is being answered, or ctx ends.
func (c *Cluster) waitAnswered(ctx context.Context) error {
	c.mu.Lock()
	if c.answering == 0 {
		c.mu.Unlock()
		return nil
	}
	ch := make(chan struct{})
	c.answered = ch
	n := c.answering
	c.mu.Unlock()
	select {
	case <-ch:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("cluster: %d calls still being answered at the stop deadline: %w", n, ctx.Err())
	}
}

// beginAnswer and endAnswer bracket the answer to one call.
func (c *Cluster) beginAnswer() {
	c.mu.Lock()
	c.answering++
	c.mu.Unlock()
}

func (c *Cluster) endAnswer() {
	c.mu.Lock()
	c.answering--
	if c.answering == 0 && c.answered != nil {
		close(c.answered)
		c.answered = nil
	}
	c.mu.Unlock()
}

// Ready reports whether the node is part of the cluster now: subscribed,
// and its last heartbeat recorded. Once another run of the node took its
// id over, it is ErrTakenOver for good.
func (c *Cluster) Ready() error {
	c.mu.Lock()
	running, hbErr := c.running, c.hbErr
	c.mu.Unlock()
	switch {
	case !running:
		return ErrNotRunning
	case c.ousted.Load():
		return hbErr
	case !c.connected.Load():
		return ErrNotConnected
	case hbErr != nil:
		return fmt.Errorf("cluster: heartbeat: %w", hbErr)
	}
	return nil
}

// Dropped returns how many received messages were dropped, by reason:
// bad_signature, stale, replayed, malformed, oversize, unknown_type,
// overflow, before_start, replay_full and expired (the Drop constants).
// Every reason is present, zero or not.
func (c *Cluster) Dropped() map[string]uint64 {
	out := make(map[string]uint64, len(c.dropped))
	for r, n := range c.dropped {
		out[r] = n.Load()
	}
	return out
}

// LateReplies returns how many replies arrived after their call was
// answered or given up, and were discarded.
func (c *Cluster) LateReplies() uint64 { return c.lateReplies.Load() }

// Published returns how many messages this node has published: its
// messages, calls, replies and heartbeat announcements.
func (c *Cluster) Published() uint64 { return c.published.Load() }

// Nodes returns the live nodes, read from the backend, sorted by id.
// Records not signed with this node's token are left out, and so are
// records past their signed expiry: their nodes are not part of this
// cluster.
func (c *Cluster) Nodes(ctx context.Context) ([]Node, error) {
	c.mu.Lock()
	t, s, now := c.t, c.sign, c.cfg.Now
	c.mu.Unlock()
	if t == nil {
		return nil, ErrNotRunning
	}
	return readNodes(ctx, t, s, now())
}

// recordLocked returns the node's membership record, signed, written now
// and valid for the node TTL.
func (c *Cluster) recordLocked() []byte {
	n := c.self
	n.WrittenAt = c.cfg.Now().UTC().Truncate(time.Millisecond)
	n.ExpiresAt = n.WrittenAt.Add(c.cfg.NodeTTL)
	return c.sign.signRecord(n)
}

// Members returns the ids of the live nodes as of the last heartbeat,
// sorted, without asking the backend.
func (c *Cluster) Members() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return slices.Sorted(maps.Keys(c.members))
}

// Subscribe sets the handler of a message type, replacing any before. It
// may be called before or after Start. Types starting with "stellar."
// are reserved; Subscribe panics on them, and on an empty type or nil fn.
func (c *Cluster) Subscribe(messageType string, fn MessageHandler) {
	if messageType == "" || strings.HasPrefix(messageType, reservedPrefix) || fn == nil {
		panic(fmt.Sprintf("cluster: Subscribe(%q): need a non-empty type not starting with %q, and a handler", messageType, reservedPrefix))
	}
	c.subs.Store(messageType, fn)
}

// Unsubscribe removes the handler of a message type.
func (c *Cluster) Unsubscribe(messageType string) { c.subs.Delete(messageType) }

// Publish sends a message of messageType to every node, this one
// included. payload is marshaled to JSON (a json.RawMessage goes as it
// is). The framework adds the sender's id, a time, a unique id and the
// signature.
func (c *Cluster) Publish(ctx context.Context, messageType string, payload any) error {
	if messageType == "" || strings.HasPrefix(messageType, reservedPrefix) {
		return fmt.Errorf("cluster: Publish: message type %q is empty or reserved", messageType)
	}
	p, err := marshalPayload(payload)
	if err != nil {
		return fmt.Errorf("cluster: Publish %s: %w", messageType, err)
	}
	if err := c.send(ctx, chanAll, messageType, "", p); err != nil {
		return err
	}
	c.mu.Lock()
	bus, from, log := c.cfg.Events, c.cfg.ID, c.cfg.Logger
	c.mu.Unlock()
	if bus.Has(event.MessagePublished.Name()) {
		ev := &event.Message{Type: messageType, From: from, Payload: slices.Clone(p)}
		if err := event.Fire(ctx, bus, event.MessagePublished, ev); err != nil && !errors.Is(err, event.ErrStop) {
			log.Warn("event listener failed", "event", event.MessagePublished.Name(), "type", messageType, "error", err.Error())
		}
	}
	return nil
}

// send signs and publishes one message, returning its id.
func (c *Cluster) send(ctx context.Context, channel, typ, to string, payload json.RawMessage) error {
	_, err := c.sendID(ctx, channel, typ, to, "", 0, payload)
	return err
}

// sendID is send with the message's id (a new one if empty) and deadline
// (Unix ms, 0 for none).
func (c *Cluster) sendID(ctx context.Context, channel, typ, to, id string, deadline int64, payload json.RawMessage) (string, error) {
	c.mu.Lock()
	t, s, from, now, maxBytes := c.t, c.sign, c.cfg.ID, c.cfg.Now, c.cfg.MaxMessageBytes
	c.mu.Unlock()
	if t == nil {
		return "", ErrNotRunning
	}
	if id == "" {
		id = newID()
	}
	e := envelope{Type: typ, From: from, To: to, SentAt: now().UnixMilli(), Deadline: deadline, ID: id, Payload: payload}
	e.Trace, e.TraceState = tracing.Inject(ctx)
	raw := s.encode(&e)
	if len(raw) > maxBytes {
		return "", fmt.Errorf("%w: %d bytes, more than %d", ErrTooLarge, len(raw), maxBytes)
	}
	if err := t.Publish(ctx, channel, raw); err != nil {
		return "", fmt.Errorf("cluster: publishing %s: %w", typ, err)
	}
	c.published.Add(1)
	return id, nil
}

// subscribeLoop keeps the node subscribed, reconnecting with backoff that
// also watches for shutdown.
func (c *Cluster) subscribeLoop(ctx context.Context, firstUp func()) {
	defer c.wg.Done()
	c.mu.Lock()
	t, id, log := c.t, c.cfg.ID, c.cfg.Logger
	c.mu.Unlock()
	channels := []string{chanAll, nodeChannel(id)}
	var wait time.Duration
	wasDown := false
	for {
		held := false
		up := func() {
			c.connected.Store(true)
			held = true
			if wasDown {
				log.Info("cluster subscription restored")
				wasDown = false
			}
			firstUp()
		}
		err := t.Subscribe(ctx, channels, up, c.deliver)
		c.connected.Store(false)
		if ctx.Err() != nil {
			return
		}
		if !wasDown {
			log.Warn("cluster subscription lost; reconnecting", "error", errString(err))
			wasDown = true
		}
		wait = resubscribe.Wait(wait, held)
		timer := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			timer.Stop()
			return
		case <-timer.C:
		}
	}
}

func errString(err error) string {
	if err == nil {
		return "subscription ended"
	}
	return err.Error()
}

// deliver checks a received message on the transport's reader and routes
// it without blocking: replies go to their waiting call and calls to a
// goroutine of their own (so that a round trip crosses no queue), other
// messages to the dispatch loop, in order. Nothing unauthenticated gets
// past accept.
func (c *Cluster) deliver(channel string, raw []byte) {
	e := c.accept(raw)
	if e == nil {
		return
	}
	switch e.Type {
	case typeReply:
		c.takeReply(e)
	case typeRequest:
		c.serveRequest(c.runCtx, e)
	default:
		select {
		case c.inbox <- e:
		default:
			c.drop(DropOverflow, e)
		}
	}
}

// drop counts a dropped message and logs it, at most once per reason
// per dropLogInterval: a flood of forged messages is counted in full but
// cannot flood the log. The line says how many were not logged since the
// previous one of that reason.
func (c *Cluster) drop(reason string, e *envelope) {
	c.dropped[reason].Add(1)
	c.mu.Lock()
	log, now := c.cfg.Logger, c.cfg.Now
	c.mu.Unlock()
	ok, suppressed := c.dropLog.allow(reason, now())
	if !ok {
		return
	}
	attrs := []any{"reason", reason}
	if e != nil {
		attrs = append(attrs, "type", e.Type, "from", e.From)
	}
	if suppressed > 0 {
		attrs = append(attrs, "suppressed", suppressed)
	}
	log.Warn("cluster message dropped", attrs...)
}

func (c *Cluster) dispatchLoop(ctx context.Context) {
	defer c.wg.Done()
	for {
		select {
		case <-ctx.Done():
			return
		case e := <-c.inbox:
			c.handle(ctx, e)
		}
	}
}

// accept decodes and authenticates a received message, dropping and
// counting it (nil) when it is oversized, malformed, badly signed, stale,
// signed before this node started, replayed, past its deadline, or
// addressed to another node (that one is not counted: nothing is wrong).
func (c *Cluster) accept(raw []byte) *envelope {
	c.mu.Lock()
	s, maxBytes, now, window, self, replay := c.sign, c.cfg.MaxMessageBytes, c.cfg.Now(), c.cfg.MessageWindow, c.cfg.ID, c.replay
	c.mu.Unlock()
	e, err := s.decode(raw, maxBytes)
	if err != nil {
		var d errDrop
		if errors.As(err, &d) {
			c.drop(d.reason, nil)
		}
		return nil
	}
	if !checkFresh(e.SentAt, now, window) {
		c.drop(DropStale, e)
		return nil
	}
	if reason := replay.check(e.mac, e.SentAt, now.UnixMilli()-window.Milliseconds()); reason != "" {
		c.drop(reason, e)
		return nil
	}
	if e.To != "" && e.To != self {
		return nil // addressed to another node: not for us, nothing wrong
	}
	if e.Deadline != 0 && now.UnixMilli() >= e.Deadline {
		c.drop(DropExpired, e)
		return nil
	}
	return e
}

// handle runs a message on the dispatch loop: membership news, or a
// subscriber's message.
func (c *Cluster) handle(ctx context.Context, e *envelope) {
	c.mu.Lock()
	self := c.cfg.ID
	c.mu.Unlock()
	switch e.Type {
	case typeJoin:
		if e.From != self {
			c.refreshMembers(ctx)
		}
	case typeLeave:
		if e.From != self {
			var p leavePayload
			_ = json.Unmarshal(e.Payload, &p) // signed: only an older node sends none
			// Read the members first: when the node restarted already, the
			// new run is listed, and the old run's leave must not fail the
			// calls the new run will answer.
			c.refreshMembers(ctx)
			c.memberLeft(ctx, e.From, p.Instance, "left the cluster")
		}
	default:
		v, ok := c.subs.Load(e.Type)
		if !ok {
			c.drop(DropUnknownType, e)
			return
		}
		c.runSubscriber(ctx, v.(MessageHandler), e)
	}
}

func (c *Cluster) runSubscriber(ctx context.Context, fn MessageHandler, e *envelope) {
	defer func() {
		if r := recover(); r != nil {
			c.mu.Lock()
			log := c.cfg.Logger
			c.mu.Unlock()
			log.Error("cluster message handler panicked", "type", e.Type, "from", e.From, "panic", fmt.Sprint(r))
		}
	}()
	// The handler's context carries the publisher's trace.
	ctx = tracing.Resume(ctx, e.Trace, e.TraceState)
	fn(ctx, Message{Type: e.Type, From: e.From, ID: e.ID, SentAt: time.UnixMilli(e.SentAt), Payload: e.Payload})
}

// heartbeatLoop renews the node's record and refreshes the member list.
// Stop ends it through hbStop, between two heartbeats, so that the
// record a heartbeat wrote is known when the node leaves.
func (c *Cluster) heartbeatLoop(ctx context.Context) {
	defer c.wg.Done()
	defer close(c.hbDone)
	c.mu.Lock()
	every := c.cfg.HeartbeatInterval
	c.mu.Unlock()
	tick := time.NewTicker(every)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-c.hbStop:
			return
		case <-tick.C:
			c.heartbeat(ctx)
			c.refreshMembers(ctx)
		}
	}
}

func (c *Cluster) heartbeat(ctx context.Context) {
	c.mu.Lock()
	statsFn := c.cfg.Stats
	c.mu.Unlock()
	var stats map[string]int64
	if statsFn != nil {
		stats = statsFn() // without c.mu: it may take the app's locks
	}
	c.mu.Lock()
	c.self.Stats = stats
	t, id, ttl, rec, log, prev, joined, last := c.t, c.cfg.ID, c.cfg.NodeTTL, c.recordLocked(), c.cfg.Logger, c.hbErr, c.joined, c.last
	c.mu.Unlock()
	if c.ousted.Load() {
		return // the id is another run's: write nothing over its record
	}
	hctx, cancel := context.WithTimeout(ctx, ttl)
	var err error
	if joined {
		err = t.Heartbeat(hctx, id, last, rec, ttl)
		switch {
		case err == nil:
			c.wrote(rec)
		case errors.Is(err, ErrRecordChanged):
			err = c.contest(hctx, t, id, rec, ttl)
		}
	} else {
		// Not joined yet (the backend was away at Start): join now, still
		// refusing an id that is live elsewhere.
		err = c.join(hctx)
	}
	cancel()
	if ctx.Err() != nil || c.ousted.Load() {
		return // stopping, or stepped down (and said so)
	}
	c.mu.Lock()
	c.hbErr = err
	if err == nil {
		c.joined = true
	}
	c.mu.Unlock()
	switch {
	case err != nil && prev == nil:
		log.Warn("cluster heartbeat failed", "error", err.Error())
	case err == nil && prev != nil:
		log.Info("cluster heartbeat restored")
	}
}

// refreshMembers reads the live nodes, and logs (and fires the events
// of) who joined and who left.
func (c *Cluster) refreshMembers(ctx context.Context) {
	c.refreshMu.Lock()
	defer c.refreshMu.Unlock()
	c.mu.Lock()
	t, s, ttl, self, log, clock, bus := c.t, c.sign, c.cfg.NodeTTL, c.cfg.ID, c.cfg.Logger, c.cfg.Now, c.cfg.Events
	c.mu.Unlock()
	if t == nil {
		return // stopped
	}
	rctx, cancel := context.WithTimeout(ctx, ttl)
	nodes, err := readNodes(rctx, t, s, clock())
	cancel()
	if err != nil {
		return // keep the last view while the backend is away
	}
	read := make(map[string]string, len(nodes)) // id → instance
	for _, n := range nodes {
		read[n.ID] = n.Instance
	}
	c.mu.Lock()
	for id, inst := range c.left {
		if read[id] != inst {
			delete(c.left, id) // its record is gone, or a new run took the id
		}
	}
	now := make(map[string]Node, len(nodes))
	for _, n := range nodes {
		if c.left[n.ID] != n.Instance || n.ID == self {
			now[n.ID] = n
		}
	}
	old := c.members
	c.members = now
	for id := range old {
		if _, ok := now[id]; !ok {
			// Calls waiting on a node that expired will not get its reply.
			for _, p := range c.pending {
				p.nodeGoneLocked(id)
			}
		}
	}
	c.mu.Unlock()
	for id, n := range now {
		if _, ok := old[id]; !ok && id != self {
			log.Info(id+" joined the cluster", "member", id)
			fireNode(ctx, bus, log, event.NodeJoined, n)
		}
	}
	for id, n := range old {
		if _, ok := now[id]; !ok && id != self {
			log.Info(id+" left the cluster", "member", id)
			fireNode(ctx, bus, log, event.NodeLeft, n)
		}
	}
}

// leavePayload names the run that leaves. Pub/sub on Redis Cluster does
// not keep order between publishers, so a restarted node's join can
// arrive before its old run's leave; the instance keeps that leave from
// removing the new run.
type leavePayload struct {
	Instance string `json:"instance,omitempty"`
}

// memberLeft removes a node that announced its leave, if the run that
// left (instance, when named) is the one listed.
func (c *Cluster) memberLeft(ctx context.Context, id, instance, what string) {
	c.mu.Lock()
	n, ok := c.members[id]
	if ok && instance != "" && n.Instance != instance {
		c.mu.Unlock()
		return // a later run of the same id, already joined
	}
	if ok { // copy on write: readers take the map under mu and use it after
		m := maps.Clone(c.members)
		delete(m, id)
		c.members = m
		c.left[id] = n.Instance
	}
	log, bus := c.cfg.Logger, c.cfg.Events
	// Calls waiting on it will not get its reply: let them finish.
	for _, p := range c.pending {
		p.nodeGoneLocked(id)
	}
	c.mu.Unlock()
	if ok {
		log.Info(id+" "+what, "member", id)
		fireNode(ctx, bus, log, event.NodeLeft, n)
	}
}

// fireNode fires a membership event about node n on bus; a listener's
// error is logged and changes nothing.
func fireNode(ctx context.Context, bus *event.Bus, log *slog.Logger, ev event.Event[event.Node], n Node) {
	if !bus.Has(ev.Name()) {
		return
	}
	if err := event.Fire(ctx, bus, ev, &event.Node{ID: n.ID, Host: n.Host, PID: n.PID}); err != nil && !errors.Is(err, event.ErrStop) {
		log.Warn("event listener failed", "event", ev.Name(), "member", n.ID, "error", err.Error())
	}
}

// RandomToken returns a random token, for a cluster that never leaves its
// process (one node on the memory backend).
func RandomToken() string {
	var b [32]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}
