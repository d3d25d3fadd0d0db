package stellar

import (
	"context"
	"time"

	"github.com/stellarfw/stellar-go/cache"
	"github.com/stellarfw/stellar-go/chat"
	"github.com/stellarfw/stellar-go/cluster"
	"github.com/stellarfw/stellar-go/connection"
	"github.com/stellarfw/stellar-go/event"
	"github.com/stellarfw/stellar-go/task"
)

// What a main.go uses of the parts beside the types of aliases.go, so that
// it needs one import: the options and typed helpers of tasks, the
// cache, the cluster and the event bus. Each is the part's own (the same
// value, or a call through), documented in its package.

// Tasks: handler and middleware types, options of Enqueue, catch-up
// policies, errors.
type (
	// TaskHandler processes tasks; see task.Handler.
	TaskHandler = task.Handler
	// TaskMiddleware wraps the runs of tasks; register it with
	// App.Tasks.Use.
	TaskMiddleware = task.Middleware
	// TaskEnqueueFunc enqueues a task, for enqueue middleware.
	TaskEnqueueFunc = task.EnqueueFunc
	// TaskEnqueueMiddleware wraps enqueues; register it with
	// App.Tasks.UseEnqueue.
	TaskEnqueueMiddleware = task.EnqueueMiddleware
	// TaskOption changes one Enqueue: TaskIn, TaskAt, TaskQueue,
	// TaskUnique, TaskKey, TaskMaxAttempts.
	TaskOption = task.Option
	// CatchUp is a periodic task's policy for missed fire times.
	CatchUp = task.CatchUp
)

// The catch-up policies of periodic tasks; see task.CatchUp.
const (
	CatchUpOnce = task.CatchUpOnce
	CatchUpNone = task.CatchUpNone
	CatchUpEach = task.CatchUpEach
)

// TaskIn delays the task by d; see task.In.
func TaskIn(d time.Duration) TaskOption { return task.In(d) }

// TaskAt runs the task at t; see task.At.
func TaskAt(t time.Time) TaskOption { return task.At(t) }

// TaskQueue puts the task on queue q instead of its definition's; see
// task.Queue.
func TaskQueue(q string) TaskOption { return task.Queue(q) }

// TaskUnique refuses the task while one with the same key is pending or
// running; see task.Unique.
func TaskUnique(key string) TaskOption { return task.Unique(key) }

// TaskKey is the task's ordering key: tasks with the same key go to the
// same partition of their queue and are taken in order; see task.Key.
func TaskKey(k string) TaskOption { return task.Key(k) }

// TaskMaxAttempts overrides the definition's MaxAttempts; see
// task.MaxAttempts.
func TaskMaxAttempts(n int) TaskOption { return task.MaxAttempts(n) }

// Errors of tasks, for errors.Is.
var (
	// ErrSkipRetry, returned (or wrapped) by a task's handler, fails the
	// task at once, with no retry.
	ErrSkipRetry = task.ErrSkipRetry
	// ErrUnknownTask: no task of that name is registered.
	ErrUnknownTask = task.ErrUnknownTask
	// ErrDuplicateTask: a unique task is pending or running already.
	ErrDuplicateTask = task.ErrDuplicateTask
)

// Cache: options, the entry, typed loads and pops, errors.
type (
	// CacheEntry is a value loaded from the cache, with its metadata.
	CacheEntry = cache.Entry
	// CacheSaveOption is an option of App.Cache.Save: CacheTTL.
	CacheSaveOption = cache.SaveOption
	// CacheLoadOption is an option of App.Cache.Load and CacheLoad:
	// CacheRefreshTTL, CacheWithEntry.
	CacheLoadOption = cache.LoadOption
)

// CacheTTL makes a saved entry expire d after it is saved; see
// cache.TTL.
func CacheTTL(d time.Duration) CacheSaveOption { return cache.TTL(d) }

// CacheRefreshTTL resets the entry's expiry to d after this read; see
// cache.RefreshTTL.
func CacheRefreshTTL(d time.Duration) CacheLoadOption { return cache.RefreshTTL(d) }

// CacheWithEntry makes a load also store the entry's metadata in *e; see
// cache.WithEntry.
func CacheWithEntry(e *CacheEntry) CacheLoadOption { return cache.WithEntry(e) }

// CacheLoad loads the value under key as a T; it fails with
// ErrCacheNotFound when there is none. See cache.Load.
func CacheLoad[T any](ctx context.Context, c *cache.Cache, key string, opts ...CacheLoadOption) (T, error) {
	return cache.Load[T](ctx, c, key, opts...)
}

// CachePop pops the head of list as a T; it fails with ErrCacheNotFound
// when the list is empty. See cache.Pop.
func CachePop[T any](ctx context.Context, c *cache.Cache, list string) (T, error) {
	return cache.Pop[T](ctx, c, list)
}

// Errors of the cache, for errors.Is.
var (
	// ErrCacheNotFound: the key does not exist, has expired, or the list
	// is empty.
	ErrCacheNotFound = cache.ErrNotFound
	// ErrCacheLocked: another node holds the key's lock.
	ErrCacheLocked = cache.ErrLocked
)

// Cluster: what RPC handlers and subscribers receive, and the targets of
// App.Cluster.Do.
type (
	// ClusterCall is a method call received from a node; see
	// cluster.Call.
	ClusterCall = cluster.Call
	// ClusterReply is one node's answer to App.Cluster.Do or DoAll.
	ClusterReply = cluster.Reply
	// ClusterMessage is a message received through
	// App.Cluster.Subscribe.
	ClusterMessage = cluster.Message
	// ClusterCallOption chooses the node App.Cluster.Do calls: ToNode,
	// ToConnection.
	ClusterCallOption = cluster.CallOption
)

// ToNode makes App.Cluster.Do call the node id; see cluster.ToNode.
func ToNode(id string) ClusterCallOption { return cluster.ToNode(id) }

// ToConnection makes App.Cluster.Do call the node that owns the
// connection id; see cluster.ToConnection.
func ToConnection(id string) ClusterCallOption { return cluster.ToConnection(id) }

// Connections and chat rooms.
type (
	// Conn is a client connection, as middleware and actions see it.
	Conn = connection.Conn
	// ChatStatus is a room's members, from App.Chat.Status.
	ChatStatus = chat.Status
)

// Connection types, for Action.BlockedConnectionTypes and Request.Conn.
const (
	ConnectionWeb       = connection.TypeWeb
	ConnectionWebSocket = connection.TypeWebSocket
	ConnectionTCP       = connection.TypeTCP
	ConnectionInternal  = connection.TypeInternal
)

// Errors of chat rooms, for errors.Is.
var (
	// ErrRoomExists: App.Chat.Create of a room that exists.
	ErrRoomExists = chat.ErrRoomExists
	// ErrNoRoom: the room does not exist.
	ErrNoRoom = chat.ErrNoRoom
	// ErrNoConnection: no live node owns the connection (App.Chat.Join,
	// Leave, Send).
	ErrNoConnection = chat.ErrNoConnection
)

// Events: the bus's typed listeners, the framework's events and their
// payloads (see package event).
type (
	// Event names an event and the type of its payload.
	Event[T any] = event.Event[T]
	// EventBus is App.Events.
	EventBus = event.Bus
	// ActionEvent is the payload of ActionBefore and ActionAfter.
	ActionEvent = event.Action
	// ConnectionEvent is the payload of ConnectionOpen and
	// ConnectionClose.
	ConnectionEvent = event.Connection
	// ChatMemberEvent is the payload of ChatJoin and ChatLeave.
	ChatMemberEvent = event.ChatMember
	// ChatMessageEvent is the payload of ChatSay.
	ChatMessageEvent = event.ChatMessage
	// TaskEvent is the payload of the task events.
	TaskEvent = event.Task
	// MessageEvent is the payload of MessagePublished.
	MessageEvent = event.Message
	// NodeEvent is the payload of the node events.
	NodeEvent = event.Node
)

// The framework's events; see package event for when each fires.
var (
	ActionBefore     = event.ActionBefore
	ActionAfter      = event.ActionAfter
	ConnectionOpen   = event.ConnectionOpen
	ConnectionClose  = event.ConnectionClose
	ChatJoin         = event.ChatJoin
	ChatLeave        = event.ChatLeave
	ChatSay          = event.ChatSay
	TaskEnqueued     = event.TaskEnqueued
	TaskStarted      = event.TaskStarted
	TaskCompleted    = event.TaskCompleted
	TaskFailed       = event.TaskFailed
	MessagePublished = event.MessagePublished
	NodeJoined       = event.NodeJoined
	NodeLeft         = event.NodeLeft
	NodeReady        = event.NodeReady
	NodeStopping     = event.NodeStopping
)

// ErrStopEvent, returned by a listener, stops the event: the listeners
// after it do not run. See event.ErrStop.
var ErrStopEvent = event.ErrStop

// DefineEvent declares an event of the app's own, with its payload
// type; see event.Define.
func DefineEvent[T any](name string) Event[T] { return event.Define[T](name) }

// On registers fn for ev on the bus b (App.Events): Stellar's
// api.events.listener, typed. Priority zero is the default. See
// event.On.
func On[T any](b *EventBus, ev Event[T], priority int, fn func(ctx context.Context, payload *T) error) {
	event.On(b, ev, priority, fn)
}

// Fire fires ev with payload on the bus b: Stellar's api.events.fire.
// See event.Fire.
func Fire[T any](ctx context.Context, b *EventBus, ev Event[T], payload *T) error {
	return event.Fire(ctx, b, ev, payload)
}
