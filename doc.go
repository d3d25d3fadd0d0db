// Package stellar is an action-based API server framework with clustering
// built in: the Go counterpart of Stellar and ActionHero.
//
// A node answers clients over HTTP, WebSocket and TCP by running named
// actions. A user's program creates an app, registers its
// actions and hands control to the command line:
//
//	func main() {
//		app := stellar.New(stellar.Config{})
//		app.Actions.Register(&stellar.Action{
//			Name: "randomNumber",
//			Run: func(ctx context.Context, r *stellar.Request) error {
//				r.Response["number"] = rand.Float64()
//				return nil
//			},
//		})
//		os.Exit(app.Main(os.Args))
//	}
//
// Then `go run . run` serves http://localhost:8080/api/randomNumber.
//
// # Actions
//
// An Action has a name, an optional version, declared inputs with
// defaults, formats and validators, middleware, and a Run function that
// fills Request.Response. Actions may be private (internal calls only via
// App.Actions.Call), protected, or blocked for some connection types. See
// package action.
//
// # HTTP
//
// Actions are served at /api/{action} and /api?action=, and through a route
// table (App.Routes, or http.routes in the config file) whose patterns take
// parameters, constraints (/users/:id([0-9]+)) and wildcard tails
// (/files/*path), and whose groups share a prefix and middleware
// (App.Routes.Group). Responses are the
// action's response plus serverInformation and requesterInformation; errors
// are {"error":{"code","message","fields"}} with a status that says what
// went wrong. /healthz and /readyz report liveness and readiness, and
// /metrics the node's Prometheus metrics (App.Metrics, where you register
// your own collectors). With dashboard.token set, /dashboard is a live
// dashboard of the whole cluster behind that token. App.Handle, App.Mount
// and App.Use mount your own handlers and net/http middleware on the same
// listener. See package transport/http and docs/operations.md.
//
// # Tasks
//
// App.Tasks (Stellar's api.tasks) runs background work: register a
// TaskDefinition, then Enqueue, EnqueueAt or EnqueueIn it from anywhere.
// A definition with a Frequency runs once per period across the cluster.
// Every node runs workers; a task whose node dies is recovered when its
// lease lapses and runs again, with Task.Attempt one higher.
// App.Inspector shows and manages the queues of the whole cluster: stats,
// failed and delayed tasks, locks. See package task and `stellar tasks`.
//
// # Cluster
//
// Nodes on one Redis with one server token form a cluster. App.Cluster
// (Stellar's api.redis) lists the live nodes, publishes signed messages to
// every node (Publish, Subscribe), and calls methods registered with Handle
// on every node, one node or the node that owns a connection (Do, DoAll,
// cluster.ToNode, cluster.ToConnection). Forged, stale, replayed and
// malformed messages are dropped and counted. See package cluster and
// `stellar cluster status`.
//
// # TCP, WebSocket and chat rooms
//
// Persistent clients connect over TCP (port 5000, JSON lines or Stellar's
// text verbs) or WebSocket (/ws, and the browser client at
// /stellar-client.js): they run actions, several at once, and use the
// verbs roomAdd, roomLeave, roomView, say, emit, detailsView and the
// param verbs. App.Chat (Stellar's api.chatRoom) manages rooms that span
// the cluster: Join and Leave work on a connection of any node, a
// message reaches the members on every node, and chat middleware can
// change or stop it. App.Connections holds the node's connections and
// the connection middleware. See package chat and docs/connections.md.
//
// # Configuration
//
// Defaults, then the Config given to New, then stellar.toml, stellar.yaml
// or stellar.json, then STELLAR_* environment variables, then flags. See
// package config; `stellar config` prints the effective configuration.
//
// # Testing
//
// Package stellartest runs an app inside a test, on the memory backend
// with no listener: it calls actions as a client of any connection type
// would, runs tasks inline, lists what was enqueued and published, puts
// the cache and the task queues on a fake clock, and opens persistent
// connections that use the verbs and chat rooms. See docs/testing.md.
//
// # Lifecycle
//
// Start binds the listeners and serves; Shutdown drains in-flight requests
// (new ones get 503), then stops, bounded by its context and safe to call
// twice. Run does both and handles SIGINT and SIGTERM.
package stellar
