package event

import (
	"encoding/json"
	"time"

	"github.com/stellarfw/stellar-go/connection"
)

// The framework's own events. Each fires on the bus of the node where it
// happens; a listener's error is logged and does not change the outcome
// of what happened (refusing a call or a message is middleware's job),
// but a listener may change the payload where its documentation says so.
var (
	// ActionBefore fires when a client or an internal call has been
	// routed to an action it may call, before the action's middleware.
	// Params is a copy of the parameters as sent: a listener may change
	// them, as a middleware Pre may.
	ActionBefore = Define[Action]("action.before")
	// ActionAfter fires once the call that fired ActionBefore has
	// finished, with its Duration and Err.
	ActionAfter = Define[Action]("action.after")

	// ConnectionOpen fires when a persistent connection (TCP or WebSocket)
	// has been accepted by the connection middleware and welcomed.
	ConnectionOpen = Define[Connection]("connection.open")
	// ConnectionClose fires when a persistent connection has closed, after
	// it left its rooms.
	ConnectionClose = Define[Connection]("connection.close")

	// ChatJoin fires when a client's roomAdd has added its connection to
	// a room.
	ChatJoin = Define[ChatMember]("chat.join")
	// ChatLeave fires when a client's connection has left a room, by
	// roomLeave or because it closed (Closing).
	ChatLeave = Define[ChatMember]("chat.leave")
	// ChatSay fires when a client's say or emit has been sent to a room.
	ChatSay = Define[ChatMessage]("chat.say")

	// TaskEnqueued fires on the enqueuing node once a task is stored,
	// also for a periodic run the scheduler stored.
	TaskEnqueued = Define[Task]("task.enqueued")
	// TaskStarted fires on the worker's node before a run of a task; one
	// TaskCompleted or TaskFailed follows it there.
	TaskStarted = Define[Task]("task.started")
	// TaskCompleted fires on the worker's node after a run succeeded and
	// its acknowledgement was recorded.
	TaskCompleted = Define[Task]("task.completed")
	// TaskFailed fires on the worker's node after a run failed and its
	// outcome was recorded; Final says whether the task is failed for
	// good or will run again. A run cut off because its lease was lost,
	// or handed back at shutdown, fires it too, not Final.
	TaskFailed = Define[Task]("task.failed")

	// MessagePublished fires on the publishing node once a cluster
	// message (App.Cluster.Publish, or a chat room's message) is
	// published, before any node handles it.
	MessagePublished = Define[Message]("cluster.published")

	// NodeJoined fires on every node when another node joins the
	// cluster, and on a starting node once for each node already live.
	NodeJoined = Define[Node]("node.joined")
	// NodeLeft fires on every node when another node leaves the cluster
	// or its membership record lapses.
	NodeLeft = Define[Node]("node.left")
	// NodeReady fires on a node once it is started and ready to serve:
	// its parts are up, its listeners serve and its checks pass.
	NodeReady = Define[Node]("node.ready")
	// NodeStopping fires on a node when its shutdown begins, before any
	// part stops.
	NodeStopping = Define[Node]("node.stopping")

	// ClusterCall fires on the calling node when a cluster call (Do or
	// DoAll) has returned, with its Duration and Err.
	ClusterCall = Define[Call]("cluster.call")
)

// Action is the payload of ActionBefore and ActionAfter.
type Action struct {
	// Name and Version identify the action that runs.
	Name    string
	Version int
	// Params are, for ActionBefore, the parameters as sent (a listener may
	// change them); for ActionAfter, those the action saw (the validated
	// inputs), or what middleware left when the call failed before.
	Params map[string]any
	// Conn is the calling connection; ConnType its type (connection.TypeWeb,
	// TypeWebSocket, TypeTCP, TypeInternal).
	Conn     *connection.Conn
	ConnType string
	// Route is the pattern of the REST route that led an HTTP request to
	// the action, such as "/users/:id"; empty when the request named the
	// action itself.
	Route string
	// Duration is how long the call took, for ActionAfter.
	Duration time.Duration
	// Err is the call's error, an *apierror.Error, for ActionAfter; nil
	// when it succeeded.
	Err error
}

// Connection is the payload of ConnectionOpen and ConnectionClose.
type Connection struct {
	Conn *connection.Conn
}

// ChatMember is the payload of ChatJoin and ChatLeave.
type ChatMember struct {
	Room string
	Conn *connection.Conn
	// Closing is set on ChatLeave when the connection left because it
	// closed.
	Closing bool
}

// ChatMessage is the payload of ChatSay.
type ChatMessage struct {
	Room string
	// Conn is the sending connection.
	Conn *connection.Conn
	// Message is what a say sent; Event and Data what an emit sent.
	Message any
	Event   string
	Data    any
}

// Task is the payload of the task events.
type Task struct {
	ID    string
	Name  string
	Queue string
	// Args are the arguments as enqueued, in JSON.
	Args json.RawMessage
	// RunAt, for TaskEnqueued, is when a delayed task is due; zero for a
	// task due now.
	RunAt time.Time
	// Attempt counts the runs of the task, this one included (1 on the
	// first run); zero for TaskEnqueued.
	Attempt int
	// Node is the node that runs the task, for the run events.
	Node string
	// EnqueuedAt is when the task was stored (by the enqueuing node's
	// clock), for the run events.
	EnqueuedAt time.Time
	// Duration is how long the run took, for TaskCompleted and TaskFailed.
	Duration time.Duration
	// Err is why the run failed, for TaskFailed. It wraps
	// task.ErrLeaseLost when the run was cut off because its lease was
	// lost, and task.ErrHandedBack when the node's shutdown handed the
	// task back to its queue.
	Err error
	// Final, for TaskFailed, is true when the task will not run again.
	Final bool
}

// Message is the payload of MessagePublished.
type Message struct {
	// Type is the message type given to Publish.
	Type string
	// From is the publishing node.
	From string
	// Payload is the message's payload, as JSON.
	Payload json.RawMessage
}

// Node is the payload of the node events.
type Node struct {
	ID   string
	Host string
	PID  int
}

// Call is the payload of ClusterCall.
type Call struct {
	// Method is the method called.
	Method string
	// All is set for a call to every node (DoAll), unset for Do.
	All bool
	// Duration is how long the call took.
	Duration time.Duration
	// Err is the call's error, nil when it succeeded: it unwraps to
	// cluster.ErrTimeout when the deadline passed before the replies
	// came, and is a *cluster.RemoteError when the method failed.
	Err error
}
