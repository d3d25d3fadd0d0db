package action

import (
	"context"
	"log/slog"
	"net/http"
	"time"

	"github.com/stellarfw/stellar-go/connection"
)

// Handler runs an action for one request.
type Handler interface {
	ServeAction(ctx context.Context, r *Request) error
}

// HandlerFunc adapts a function to Handler.
type HandlerFunc func(ctx context.Context, r *Request) error

// ServeAction calls f(ctx, r).
func (f HandlerFunc) ServeAction(ctx context.Context, r *Request) error { return f(ctx, r) }

// Action describes one named, versioned action. Only Name and Run are
// required; every other field has a documented default.
type Action struct {
	// Name identifies the action; clients call it by this name. Use a
	// namespace to avoid collisions, e.g. "auth.login".
	Name string
	// Description says what the action does, for documentation.
	Description string
	// Version lets several versions of one action live side by side.
	// Clients choose with the apiVersion parameter; without it they get the
	// newest. Zero means 1.
	Version int
	// Inputs declares the parameters the action accepts. When Inputs is
	// nil every parameter the client sent reaches the action unchanged;
	// otherwise only declared inputs do.
	Inputs map[string]Input
	// Private actions can only be called internally (Registry.Call), never
	// by a client.
	Private bool
	// Protected actions cannot be replaced by a later registration of the
	// same name and version.
	Protected bool
	// Middleware names the registered middleware to apply to this action,
	// in addition to the global middleware.
	Middleware []string
	// BlockedConnectionTypes lists connection types (connection.TypeWeb,
	// TypeWebSocket, TypeTCP) that may not call this action.
	BlockedConnectionTypes []string
	// OutputExample shows what a response looks like, for documentation.
	OutputExample any
	// Undocumented hides the action from generated documentation
	// (Stellar's toDocument: false).
	Undocumented bool
	// LogLevel is the level at which each call is logged. The zero value
	// is slog.LevelInfo.
	LogLevel slog.Level
	// Timeout bounds one run of the action, its middleware and input
	// processing included: its context is cancelled after Timeout, and an
	// action that then returns the context's error fails with code timeout
	// (504). Zero means the registry's default (the config key
	// general.action_timeout, off unless set); a negative Timeout means no
	// limit other than the caller's context, whatever the default.
	Timeout time.Duration
	// Run implements the action.
	Run HandlerFunc

	typed *typedInfo // set by Typed
}

// version returns the effective version.
func (a *Action) version() int {
	if a.Version == 0 {
		return 1
	}
	return a.Version
}

// Request is what an action sees of one call: its validated parameters, the
// response it fills in, and the connection that called it. It is the Go
// counterpart of Stellar's action object.
type Request struct {
	// Action is the definition being run.
	Action *Action
	// Params holds the inputs after defaults, formats and validation.
	// Middleware that runs before input processing sees the parameters as
	// the client sent them, and may change them.
	Params Params
	// Response is sent to the client as JSON. Set keys on it.
	Response map[string]any
	// Conn is the connection that made the call.
	Conn *connection.Conn
	// Route is the route pattern that matched, for HTTP requests that came
	// through the route table.
	Route string
	// RequestID names the call in the node's log and in the error a
	// client gets: an HTTP request's X-Request-Id (or the id the node gave
	// it), the id of a WebSocket or TCP message. Empty for internal calls,
	// which get one only when they fail with a 5xx.
	RequestID string
	// Version, when not zero, is the version of the action to run, as a
	// route pinned to an apiVersion sets it; it overrides the apiVersion
	// parameter. Zero runs the version the apiVersion parameter names, or
	// the newest.
	Version int

	// Header holds response headers to send, for HTTP requests. It is nil
	// for other transports.
	Header http.Header
	// HTTPRequest is the underlying request, for HTTP transports only.
	HTTPRequest *http.Request
	// Writer lets an HTTP action write its own response. When it does, it
	// must set NoRender so that the framework writes nothing more.
	Writer http.ResponseWriter
	// NoRender tells the transport not to send the response (Stellar's
	// toRender = false), because the action sent one itself.
	NoRender bool
	// Status overrides the HTTP status of a successful response; zero
	// means 200.
	Status int

	output any // what a typed action returned, for CallAs
}

// Internal reports whether the request comes from inside the node (an
// Actions.Call from an action, task or RPC handler) rather than a client.
func (r *Request) Internal() bool {
	return r.Conn == nil || r.Conn.Type == connection.TypeInternal
}
