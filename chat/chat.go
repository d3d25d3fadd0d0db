// Package chat is the chat-room system of persistent connections
// (Stellar's api.chatRoom): rooms that span the cluster, membership kept
// in the backend, messages that reach the members on every node, and chat
// middleware that can change or stop a message.
//
// A connection lives on one node; a room spans them all. Join, Leave and
// Send work on any connection of the cluster: when the connection lives
// on another node the call goes through cluster RPC to its owner, which
// runs the join or leave middleware and records the membership, or pushes
// the message. Broadcast and Emit publish the message to every node; each
// node delivers it to its own members of the room, and so does Destroy
// with its destroyed event. Every node sweeps the members of nodes that are no
// longer live, so that a node that died leaves no ghost members.
//
// Rooms are permanent unless created with Temporary: a temporary room goes
// once it has had no members for its TTL.
package chat

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"sync"
	"time"

	"github.com/stellarfw/stellar-go/internal/lifecycle"

	"github.com/stellarfw/stellar-go/cluster"
	"github.com/stellarfw/stellar-go/connection"
)

// Cluster method names and message types used by the chat.
const (
	// MethodJoin joins a connection to a room on the node that owns it.
	MethodJoin = "chat.join"
	// MethodLeave removes a connection from a room on the node that owns
	// it.
	MethodLeave = "chat.leave"
	// MethodSend pushes a message to a connection on the node that owns
	// it.
	MethodSend = "chat.send"

	typeMessage = "chat.message"
	typeDestroy = "chat.destroy"
)

// Contexts of the messages pushed to clients.
const (
	ContextUser     = "user"     // a message said in a room
	ContextAPI      = "api"      // a message from the server
	ContextResponse = "response" // the answer to a client's message
)

// DefaultRoomName is the default of Config.DefaultRoom, as in Stellar.
const DefaultRoomName = "defaultRoom"

// EventDestroyed is the event every member of a room gets when the room is
// destroyed: {"context":"user","room":"r","from":"0","event":"destroyed",
// "sentAt":…}. The member is out of the room once it has it.
const EventDestroyed = "destroyed"

// Message is a message said or an event emitted in a room, as clients get
// it: {"context":"user","room":"lobby","from":"<connection id>","message":…,
// "sentAt":…}, or with "event" and "data" for Emit.
type Message struct {
	Context string `json:"context"`
	Room    string `json:"room"`
	// From is the sender's connection id, "0" for the server.
	From string `json:"from"`
	// Message is what Broadcast sent.
	Message any `json:"message,omitempty"`
	// Event and Data are what Emit sent.
	Event string `json:"event,omitempty"`
	Data  any    `json:"data,omitempty"`
	// SentAt is when the message was sent, in Unix milliseconds.
	SentAt int64 `json:"sentAt"`
}

// Status is the state of a room (Stellar's roomStatus).
type Status struct {
	Room         string            `json:"room"`
	MembersCount int               `json:"membersCount"`
	Members      map[string]Member `json:"members"`
}

// Config configures a Chat. A zero field means its default.
type Config struct {
	// NodeID is this node's id. Required.
	NodeID string
	// DefaultRoom is the room verbs use when they name none. It exists
	// from Start, whether StartingRooms lists it or not. Default
	// DefaultRoomName.
	DefaultRoom string
	// StartingRooms are the rooms created at Start (Stellar's
	// startingChatRooms), and again when the backend lost its data.
	// Rooms that exist already are kept with their members. Default:
	// DefaultRoom only.
	StartingRooms []string
	// SweepInterval is how often the node removes the members of nodes
	// that are no longer live. Default 1s.
	SweepInterval time.Duration
	// Logger logs. Default slog.Default.
	Logger *slog.Logger
	// Now is the clock. Default time.Now.
	Now func() time.Time
}

func (c *Config) setDefaults() {
	if c.DefaultRoom == "" {
		c.DefaultRoom = DefaultRoomName
	}
	// The default room first, each room once.
	rooms := []string{c.DefaultRoom}
	for _, r := range c.StartingRooms {
		if !slices.Contains(rooms, r) {
			rooms = append(rooms, r)
		}
	}
	c.StartingRooms = rooms
	if c.SweepInterval <= 0 {
		c.SweepInterval = time.Second
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	if c.Now == nil {
		c.Now = time.Now
	}
}

// Chat is the chat API of one node. Create it with New, register
// middleware, then Start it on a Store.
type Chat struct {
	conns *connection.Registry
	cl    *cluster.Cluster

	mu      sync.Mutex
	mw      []*Middleware                          // guarded by mu; sorted by priority
	cfg     Config                                 // guarded by mu; fixed once started
	store   Store                                  // guarded by mu
	local   map[string]map[string]*connection.Conn // guarded by mu; room → id → this node's members
	running bool                                   // guarded by mu
	cancel  context.CancelFunc                     // guarded by mu

	sweepMu   sync.Mutex
	absent    map[string]bool // guarded by sweepMu; nodes with members, not live at the last sweep
	wasAbsent bool            // guarded by sweepMu; this node was not listed at the last sweep
	wg        sync.WaitGroup
}

// New returns a Chat for the connections of conns, talking to the other
// nodes through cl. It registers the chat's cluster methods and
// subscriptions on cl.
func New(conns *connection.Registry, cl *cluster.Cluster) *Chat {
	c := &Chat{conns: conns, cl: cl, local: make(map[string]map[string]*connection.Conn)}
	cl.HandleFunc(MethodJoin, c.serveJoin)
	cl.HandleFunc(MethodLeave, c.serveLeave)
	cl.HandleFunc(MethodSend, c.serveSend)
	cl.Subscribe(typeMessage, c.deliver)
	cl.Subscribe(typeDestroy, c.destroyed)
	return c
}

// Start runs the chat on store: it creates the default room and the
// starting rooms, removes the members this node left behind in an earlier
// life, and starts sweeping the members of dead nodes.
//
// The node calls Start as it starts (App.Start): the lifecycle key,
// which only this module can name, keeps a program from calling it.
func (c *Chat) Start(ctx context.Context, store Store, cfg Config, _ lifecycle.Key) error {
	cfg.setDefaults()
	if cfg.NodeID == "" {
		return errors.New("chat: Config.NodeID is required")
	}
	if err := CheckRoom(cfg.DefaultRoom); err != nil {
		return fmt.Errorf("%w: default room %q", err, cfg.DefaultRoom)
	}
	for _, r := range cfg.StartingRooms {
		if err := CheckRoom(r); err != nil {
			return fmt.Errorf("%w: starting room %q", err, r)
		}
	}
	c.mu.Lock()
	if c.running {
		c.mu.Unlock()
		return errors.New("chat: already started")
	}
	c.cfg, c.store = cfg, store
	c.mu.Unlock()
	if err := createRooms(ctx, store, cfg.StartingRooms); err != nil {
		return err
	}
	// A node id is unique among live nodes, so members recorded under it
	// belong to a previous run of this node: they are ghosts. Nothing
	// joins through this chat before it runs, so when none of them is a
	// connection of this node they can all go at once.
	if _, err := c.removeStale(ctx, store, cfg.NodeID, true); err != nil {
		return fmt.Errorf("chat: removing stale members: %w", err)
	}
	loopCtx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	c.mu.Lock()
	c.running, c.cancel = true, cancel
	c.mu.Unlock()
	c.wg.Add(1)
	go c.sweepLoop(loopCtx)
	return nil
}

// Stop stops the sweeper. Connections leave their rooms as their
// transports close them.
//
// The node calls Stop as it stops (App.Shutdown): the lifecycle key,
// which only this module can name, keeps a program from calling it.
func (c *Chat) Stop(ctx context.Context, _ lifecycle.Key) error {
	c.mu.Lock()
	cancel := c.cancel
	c.running, c.cancel = false, nil
	c.mu.Unlock()
	if cancel == nil {
		return nil
	}
	cancel()
	done := make(chan struct{})
	go func() { c.wg.Wait(); close(done) }()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("chat: sweeper still running: %w", ctx.Err())
	}
}

func (c *Chat) state() (Store, Config, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.running {
		return nil, c.cfg, ErrNotRunning
	}
	return c.store, c.cfg, nil
}

// createRooms creates, permanent, the rooms that do not exist.
func createRooms(ctx context.Context, s Store, rooms []string) error {
	for _, r := range rooms {
		if _, err := s.Create(ctx, r, 0); err != nil {
			return fmt.Errorf("chat: creating %s: %w", r, err)
		}
	}
	return nil
}

// DefaultRoom is the name of the room that exists from Start.
func (c *Chat) DefaultRoom() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.cfg.DefaultRoom
}

// StartingRooms are the rooms created at Start, the default room first.
func (c *Chat) StartingRooms() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return slices.Clone(c.cfg.StartingRooms)
}

// CreateOption is an option of Create.
type CreateOption func(*createOptions)

type createOptions struct {
	temporary bool
	emptyTTL  time.Duration
}

// Temporary makes Create's room temporary: it goes, as if destroyed but
// without the destroyed event (it has no members to tell), once it has
// had no members for ttl, counted from its creation or from the moment
// its last member left; a join stops the count. ttl must be positive; the
// backend keeps it to the millisecond.
func Temporary(ttl time.Duration) CreateOption {
	return func(o *createOptions) { o.temporary, o.emptyTTL = true, ttl }
}

// Create creates a room; it fails with ErrRoomExists when it exists. The
// room is permanent, as in Stellar: it lives until destroyed, members or
// not. Temporary makes a room that goes when it has been empty for a
// while.
func (c *Chat) Create(ctx context.Context, room string, opts ...CreateOption) error {
	if err := CheckRoom(room); err != nil {
		return err
	}
	var o createOptions
	for _, opt := range opts {
		opt(&o)
	}
	if o.temporary && o.emptyTTL <= 0 {
		return fmt.Errorf("chat: Create %q: Temporary(%v): the TTL must be positive", room, o.emptyTTL)
	}
	if o.emptyTTL > 0 && o.emptyTTL < time.Millisecond {
		o.emptyTTL = time.Millisecond
	}
	s, _, err := c.state()
	if err != nil {
		return err
	}
	created, err := s.Create(ctx, room, o.emptyTTL.Truncate(time.Millisecond))
	if err != nil {
		return err
	}
	if !created {
		return fmt.Errorf("%w: %q", ErrRoomExists, room)
	}
	return nil
}

// Destroy removes a room and its members on every node (Stellar's
// destroy). Each member gets an EventDestroyed event for the room, on its
// own node, and is then out of the room. Removing a room that does not
// exist is no error.
func (c *Chat) Destroy(ctx context.Context, room string) error {
	s, cfg, err := c.state()
	if err != nil {
		return err
	}
	if err := s.Destroy(ctx, room); err != nil {
		return err
	}
	return c.cl.Publish(ctx, typeDestroy, destroyedEvent(room, cfg.Now()))
}

// destroyedEvent is what the members of a destroyed room get.
func destroyedEvent(room string, at time.Time) *Message {
	return &Message{Context: ContextUser, Room: room, From: "0", Event: EventDestroyed, SentAt: at.UnixMilli()}
}

// Exists reports whether a room exists.
func (c *Chat) Exists(ctx context.Context, room string) (bool, error) {
	s, _, err := c.state()
	if err != nil {
		return false, err
	}
	return s.Exists(ctx, room)
}

// List returns the rooms, sorted.
func (c *Chat) List(ctx context.Context) ([]string, error) {
	s, _, err := c.state()
	if err != nil {
		return nil, err
	}
	return s.List(ctx)
}

// Status returns a room's members (Stellar's roomStatus), or ErrNoRoom.
func (c *Chat) Status(ctx context.Context, room string) (Status, error) {
	s, _, err := c.state()
	if err != nil {
		return Status{}, err
	}
	ms, err := s.Members(ctx, room)
	if err != nil {
		return Status{}, err
	}
	st := Status{Room: room, MembersCount: len(ms), Members: make(map[string]Member, len(ms))}
	for _, m := range ms {
		st.Members[m.ID] = m
	}
	return st, nil
}

// rpcArgs are the arguments of MethodJoin and MethodLeave.
type rpcArgs struct {
	Conn string `json:"conn"`
	Room string `json:"room"`
}

// sendArgs are the arguments of MethodSend.
type sendArgs struct {
	Conn    string          `json:"conn"`
	Message json.RawMessage `json:"message"`
}

// rpcResult is the result of the chat's methods. A refusal travels as a
// result rather than an error so that the caller gets the same error as a
// local call would.
type rpcResult struct {
	Changed      bool   `json:"changed"`
	NoRoom       bool   `json:"noRoom,omitempty"`
	NoConnection bool   `json:"noConnection,omitempty"`
	NoSender     bool   `json:"noSender,omitempty"`
	Error        string `json:"error,omitempty"`
}

// noOwnerError is the error of a call for a connection that no live node
// owns. It is both ErrNoConnection and cluster.ErrNoOwner.
type noOwnerError struct{ id string }

func (e *noOwnerError) Error() string {
	return fmt.Sprintf("chat: no live node owns connection %q: it has closed or its node has stopped"+
		" (a connection's id is in its welcome message and its detailsView)", e.id)
}

func (e *noOwnerError) Unwrap() []error { return []error{ErrNoConnection, cluster.ErrNoOwner} }

// Join adds a connection of any node to a room. It reports false when the
// connection was in the room already. It fails with ErrNoRoom, with
// ErrNoConnection when no live node owns the connection, or with the
// error of a join middleware.
func (c *Chat) Join(ctx context.Context, connID, room string) (bool, error) {
	if conn, ok := c.conns.Get(connID); ok {
		return c.JoinConn(ctx, conn, room)
	}
	if _, _, err := c.state(); err != nil {
		return false, err
	}
	res, err := c.remote(ctx, MethodJoin, connID, rpcArgs{Conn: connID, Room: room})
	return res.Changed, roomError(res, err, room)
}

// Leave removes a connection of any node from a room. It reports false
// when the connection was not in the room.
func (c *Chat) Leave(ctx context.Context, connID, room string) (bool, error) {
	if conn, ok := c.conns.Get(connID); ok {
		return c.LeaveConn(ctx, conn, room)
	}
	if _, _, err := c.state(); err != nil {
		return false, err
	}
	res, err := c.remote(ctx, MethodLeave, connID, rpcArgs{Conn: connID, Room: room})
	return res.Changed, roomError(res, err, room)
}

func roomError(res rpcResult, err error, room string) error {
	if err == nil && res.NoRoom {
		return fmt.Errorf("%w: %q", ErrNoRoom, room)
	}
	return err
}

// Send pushes message, any JSON value, to the client of a connection of
// any node (Stellar's connection.sendMessage, for a connection that may
// live on another node): the client gets it as it is, as with
// connection.Conn.Send. A connection of another node is reached through
// cluster RPC. It fails with ErrNoConnection (which is also
// cluster.ErrNoOwner) when no live node owns the connection, and with
// connection.ErrNoSender when the connection cannot receive messages (a
// single HTTP request).
func (c *Chat) Send(ctx context.Context, connID string, message any) error {
	if conn, ok := c.conns.Get(connID); ok {
		return conn.Send(message)
	}
	raw, err := json.Marshal(message)
	if err != nil {
		return fmt.Errorf("chat: Send: the message is not JSON-encodable: %w", err)
	}
	_, err = c.remote(ctx, MethodSend, connID, sendArgs{Conn: connID, Message: raw})
	return err
}

// remote calls method on the node that owns connID. The result's
// refusals other than NoRoom come back as errors.
func (c *Chat) remote(ctx context.Context, method, connID string, args any) (rpcResult, error) {
	rep, err := c.cl.Do(ctx, method, args, cluster.ToConnection(connID))
	if errors.Is(err, cluster.ErrNoOwner) {
		return rpcResult{}, &noOwnerError{id: connID}
	}
	if err != nil {
		return rpcResult{}, err
	}
	var res rpcResult
	if err := rep.Decode(&res); err != nil {
		return rpcResult{}, fmt.Errorf("chat: %s: reply from %s: %w", method, rep.Node, err)
	}
	switch {
	case res.NoConnection:
		return rpcResult{}, &noOwnerError{id: connID}
	case res.NoSender:
		return rpcResult{}, fmt.Errorf("%w: connection %s on node %s", connection.ErrNoSender, connID, rep.Node)
	case res.Error != "":
		return rpcResult{}, errors.New(res.Error)
	}
	return res, nil
}

func (c *Chat) serveJoin(ctx context.Context, call *cluster.Call) (any, error) {
	return c.serve(ctx, call, c.JoinConn)
}

func (c *Chat) serveLeave(ctx context.Context, call *cluster.Call) (any, error) {
	return c.serve(ctx, call, c.LeaveConn)
}

func (c *Chat) serve(ctx context.Context, call *cluster.Call, fn func(context.Context, *connection.Conn, string) (bool, error)) (any, error) {
	var a rpcArgs
	if err := call.Decode(&a); err != nil {
		return nil, fmt.Errorf("chat: %s: arguments: %w", call.Method, err)
	}
	conn, ok := c.conns.Get(a.Conn)
	if !ok {
		return rpcResult{NoConnection: true}, nil // it closed since the call was routed
	}
	changed, err := fn(ctx, conn, a.Room)
	switch {
	case errors.Is(err, ErrNoRoom):
		return rpcResult{NoRoom: true}, nil
	case err != nil:
		return rpcResult{Error: err.Error()}, nil
	}
	return rpcResult{Changed: changed}, nil
}

func (c *Chat) serveSend(_ context.Context, call *cluster.Call) (any, error) {
	var a sendArgs
	if err := call.Decode(&a); err != nil {
		return nil, fmt.Errorf("chat: %s: arguments: %w", call.Method, err)
	}
	conn, ok := c.conns.Get(a.Conn)
	if !ok {
		return rpcResult{NoConnection: true}, nil
	}
	err := conn.Send(a.Message)
	switch {
	case errors.Is(err, connection.ErrNoSender):
		return rpcResult{NoSender: true}, nil
	case err != nil:
		return rpcResult{Error: err.Error()}, nil
	}
	return rpcResult{}, nil
}

// JoinConn adds a connection of this node to a room, running the join
// middleware first.
func (c *Chat) JoinConn(ctx context.Context, conn *connection.Conn, room string) (bool, error) {
	if err := CheckRoom(room); err != nil {
		return false, err
	}
	s, cfg, err := c.state()
	if err != nil {
		return false, err
	}
	if ok, err := s.Exists(ctx, room); err != nil {
		return false, err
	} else if !ok {
		return false, fmt.Errorf("%w: %q", ErrNoRoom, room)
	}
	for _, m := range c.middleware() {
		if m.Join == nil {
			continue
		}
		if err := runHook(m.Name, func() error { return m.Join(ctx, conn, room) }); err != nil {
			return false, err
		}
	}
	added, err := s.Join(ctx, room, Member{ID: conn.ID, Node: cfg.NodeID, JoinedAt: cfg.Now().UTC().Truncate(time.Millisecond)})
	if err != nil {
		return false, err
	}
	conn.AddRoom(room)
	c.mu.Lock()
	if c.local[room] == nil {
		c.local[room] = make(map[string]*connection.Conn)
	}
	c.local[room][conn.ID] = conn
	c.mu.Unlock()
	return added, nil
}

// LeaveConn removes a connection of this node from a room, running the
// leave middleware first.
func (c *Chat) LeaveConn(ctx context.Context, conn *connection.Conn, room string) (bool, error) {
	s, _, err := c.state()
	if err != nil {
		return false, err
	}
	for _, m := range c.middleware() {
		if m.Leave == nil {
			continue
		}
		if err := runHook(m.Name, func() error { return m.Leave(ctx, conn, room) }); err != nil {
			return false, err
		}
	}
	c.forget(conn, room)
	return s.Leave(ctx, room, conn.ID)
}

func (c *Chat) forget(conn *connection.Conn, room string) {
	conn.RemoveRoom(room)
	c.mu.Lock()
	defer c.mu.Unlock()
	if m := c.local[room]; m != nil {
		delete(m, conn.ID)
		if len(m) == 0 {
			delete(c.local, room)
		}
	}
}

// Disconnect removes a closing connection of this node from its rooms.
// Leave middleware runs; its errors are logged, since the connection goes
// anyway.
func (c *Chat) Disconnect(ctx context.Context, conn *connection.Conn) {
	c.mu.Lock()
	s, log, running := c.store, c.cfg.Logger, c.running
	c.mu.Unlock()
	for _, room := range conn.Rooms() {
		for _, m := range c.middleware() {
			if m.Leave == nil {
				continue
			}
			if err := runHook(m.Name, func() error { return m.Leave(ctx, conn, room) }); err != nil {
				log.Warn("leave middleware failed for a closing connection", "middleware", m.Name, "room", room, "error", err.Error())
			}
		}
		c.forget(conn, room)
		if !running {
			continue // the sweep of the next start removes it
		}
		if _, err := s.Leave(ctx, room, conn.ID); err != nil && !errors.Is(err, ErrNoRoom) {
			log.Warn("removing a closed connection from its room", "room", room, "connection", conn.ID, "error", err.Error())
		}
	}
}

// Broadcast sends message to every member of room, on every node
// (Stellar's broadcast). from is the sending connection, nil for the
// server; say middleware runs first and may change or stop the message.
func (c *Chat) Broadcast(ctx context.Context, from *connection.Conn, room string, message any) error {
	return c.publish(ctx, from, &Message{Context: ContextUser, Room: room, Message: message})
}

// Emit sends an event with its data to every member of room, on every
// node (Stellar's emit). from is nil for the server.
func (c *Chat) Emit(ctx context.Context, room, event string, data any, from *connection.Conn) error {
	if event == "" {
		return errors.New("chat: Emit needs an event name")
	}
	return c.publish(ctx, from, &Message{Context: ContextUser, Room: room, Event: event, Data: data})
}

func (c *Chat) publish(ctx context.Context, from *connection.Conn, m *Message) error {
	s, cfg, err := c.state()
	if err != nil {
		return err
	}
	if from != nil {
		if !from.InRoom(m.Room) {
			return fmt.Errorf("%w: %q", ErrNotMember, m.Room)
		}
		m.From = from.ID
	} else {
		if ok, err := s.Exists(ctx, m.Room); err != nil {
			return err
		} else if !ok {
			return fmt.Errorf("%w: %q", ErrNoRoom, m.Room)
		}
		m.From = "0"
	}
	m.SentAt = cfg.Now().UnixMilli()
	for _, mw := range c.middleware() {
		if mw.Say == nil {
			continue
		}
		if err := runHook(mw.Name, func() error { return mw.Say(ctx, from, m) }); err != nil {
			return err
		}
	}
	return c.cl.Publish(ctx, typeMessage, m)
}

// deliver hands a room message to this node's members of the room.
func (c *Chat) deliver(ctx context.Context, msg cluster.Message) {
	var m Message
	if err := json.Unmarshal(msg.Payload, &m); err != nil {
		return
	}
	c.mu.Lock()
	members := make([]*connection.Conn, 0, len(c.local[m.Room]))
	for _, conn := range c.local[m.Room] {
		members = append(members, conn)
	}
	log := c.cfg.Logger
	c.mu.Unlock()
	mws := c.middleware()
	for _, conn := range members {
		mine := m
		ok := true
		for _, mw := range mws {
			if mw.OnSayReceive == nil {
				continue
			}
			if err := runHook(mw.Name, func() error { return mw.OnSayReceive(ctx, conn, &mine) }); err != nil {
				ok = false
				break
			}
		}
		if !ok {
			continue
		}
		if err := conn.Send(&mine); err != nil && !errors.Is(err, connection.ErrNoSender) {
			log.Debug("room message not delivered", "room", m.Room, "connection", conn.ID, "error", err.Error())
		}
	}
}

// destroyed tells this node's members of a room destroyed on any node,
// then forgets them. It runs no OnSayReceive middleware: the event is
// news about membership, not something said.
func (c *Chat) destroyed(ctx context.Context, msg cluster.Message) {
	var m Message
	if msg.Decode(&m) != nil || m.Room == "" {
		return
	}
	if m.Event == "" { // from a node that sent only the room's name
		m = *destroyedEvent(m.Room, msg.SentAt)
	}
	c.mu.Lock()
	members := c.local[m.Room]
	delete(c.local, m.Room)
	log := c.cfg.Logger
	c.mu.Unlock()
	for _, conn := range members {
		if err := conn.Send(&m); err != nil && !errors.Is(err, connection.ErrNoSender) {
			log.Debug("destroyed event not delivered", "room", m.Room, "connection", conn.ID, "error", err.Error())
		}
		conn.RemoveRoom(m.Room)
	}
}

// LocalMembers is the number of this node's connections in room.
func (c *Chat) LocalMembers(room string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.local[room])
}

// sweepLoop removes the members of nodes that are not live, and this
// node's members whose connection is gone.
func (c *Chat) sweepLoop(ctx context.Context) {
	defer c.wg.Done()
	c.mu.Lock()
	every, log := c.cfg.SweepInterval, c.cfg.Logger
	c.mu.Unlock()
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		n, err := c.Sweep(ctx)
		if err != nil && ctx.Err() == nil {
			log.Debug("chat sweep failed", "error", err.Error())
		}
		if n > 0 {
			log.Info("removed members of connections that are gone", "members", n)
		}
	}
}

// restore records again what a backend that lost its data (a Redis
// restarted empty) forgot: the starting rooms, and this node's rooms and
// members. The default room missing is the sign, or force (this node was
// not listed, so others may have removed its members); it costs one write
// per sweep otherwise. It reports whether it recorded them.
//
// Whether a lost room was temporary was lost with it: the rooms this
// node's members were in come back permanent, which keeps a room nobody
// meant to lose at the cost of keeping one that could have gone.
func (c *Chat) restore(ctx context.Context, s Store, cfg Config, force bool) (bool, error) {
	created, err := s.Create(ctx, cfg.DefaultRoom, 0)
	if err != nil || !(created || force) {
		return false, err
	}
	if err := createRooms(ctx, s, cfg.StartingRooms); err != nil {
		return false, err
	}
	c.mu.Lock()
	local := make(map[string][]*connection.Conn, len(c.local))
	for room, members := range c.local {
		for _, conn := range members {
			local[room] = append(local[room], conn)
		}
	}
	c.mu.Unlock()
	for room, members := range local {
		if _, err := s.Create(ctx, room, 0); err != nil {
			return false, err
		}
		for _, conn := range members {
			if _, err := s.Join(ctx, room, Member{ID: conn.ID, Node: cfg.NodeID, JoinedAt: cfg.Now().UTC().Truncate(time.Millisecond)}); err != nil {
				return false, err
			}
		}
	}
	cfg.Logger.Warn("recorded this node's chat rooms and members again, after the backend lost them or the node was not listed",
		"rooms", len(local))
	return true, nil
}

// localCount is the number of this node's memberships, as this node
// knows them.
func (c *Chat) localCount() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := 0
	for _, members := range c.local {
		n += len(members)
	}
	return n
}

// removeStale removes the members recorded under this node's id whose
// connection this node does not own. With all set, and none of them
// owned, it removes them in one go, which is only safe while nothing
// joins through this node.
func (c *Chat) removeStale(ctx context.Context, s Store, self string, all bool) (int, error) {
	ms, err := s.NodeMembers(ctx, self)
	if err != nil {
		return 0, err
	}
	var stale []Membership
	for _, m := range ms {
		if !c.conns.Owns(m.ID) {
			stale = append(stale, m)
		}
	}
	if all && len(stale) > 0 && len(stale) == len(ms) {
		return s.RemoveNode(ctx, self)
	}
	n := 0
	for _, m := range stale {
		left, err := s.Leave(ctx, m.Room, m.ID)
		if err != nil && !errors.Is(err, ErrNoRoom) {
			return n, err
		}
		if left {
			n++
		}
	}
	return n, nil
}

// Sweep removes, once, the members of nodes that are no longer live and
// the members of this node whose connection is gone; and when the backend
// lost its data, records this node's rooms and members again. The sweep
// loop calls it every SweepInterval.
//
// When no node died, it costs a few backend calls whatever the number of
// rooms: the list of live nodes, a check that the default room exists,
// the nodes that have members with their counts, and the removal of the
// temporary rooms whose time is up. A dead node's members cost in
// proportion to their number, and so do this node's own, read only when
// the backend records more of them than this node knows.
func (c *Chat) Sweep(ctx context.Context) (int, error) {
	s, cfg, err := c.state()
	if err != nil {
		return 0, err
	}
	c.sweepMu.Lock()
	defer c.sweepMu.Unlock()
	nodes, err := c.cl.Nodes(ctx)
	if err != nil {
		return 0, err
	}
	live := make(map[string]bool, len(nodes))
	for _, n := range nodes {
		live[n.ID] = true
	}
	if !live[cfg.NodeID] {
		// This node is not listed: the backend lost its records (a Redis
		// restart) or the heartbeat lags. Judge nobody until it is back,
		// and then record its members again: others may have judged it.
		c.wasAbsent = true
		return 0, nil
	}
	restored, err := c.restore(ctx, s, cfg, c.wasAbsent)
	if err != nil {
		return 0, err
	}
	c.wasAbsent = false
	counts, err := s.Nodes(ctx)
	if err != nil {
		return 0, err
	}
	// A node's members go when it was not live at two sweeps in a row, so
	// that one late heartbeat costs nobody their rooms.
	absent := make(map[string]bool)
	for node := range counts {
		if node != cfg.NodeID && !live[node] {
			absent[node] = true
		}
	}
	removed := 0
	for _, node := range slices.Sorted(maps.Keys(absent)) {
		if !c.absent[node] {
			continue
		}
		n, err := s.RemoveNode(ctx, node)
		removed += n
		if err != nil {
			return removed, err
		}
	}
	c.absent = absent
	// More members recorded under this node than it knows of: some are
	// connections that closed while the backend could not be told (or a
	// join in flight, which the check leaves alone).
	if restored || counts[cfg.NodeID] > c.localCount() {
		n, err := c.removeStale(ctx, s, cfg.NodeID, false)
		removed += n
		if err != nil {
			return removed, err
		}
	}
	expired, err := s.Expire(ctx)
	if expired > 0 {
		cfg.Logger.Debug("removed temporary chat rooms that stayed empty for their TTL", "rooms", expired)
	}
	return removed, err
}
