// Package apierror defines the errors that reach clients: a stable code, an
// HTTP status and a message a person can act on, plus optional per-field
// messages. Every transport renders them the same way:
//
//	{"error":{"code":"validation_failed","message":"...","fields":{"name":"..."}}}
//
// A 5xx also carries "requestId", the id under which the node logged what
// went wrong; an unexpected failure reaches the client only as
// internal_error with a generic message (see Public).
//
// The codes are defined here, in one place, so that clients can rely on them.
package apierror

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
)

// Stable error codes. Clients may switch on them; never change one.
const (
	CodeActionNotFound    = "action_not_found"   // no action with that name (or version)
	CodeMalformedRequest  = "malformed_request"  // the body or a parameter could not be parsed
	CodeBodyTooLarge      = "body_too_large"     // the body exceeds http.max_body_bytes
	CodePrivateAction     = "private_action"     // the action may only be called internally
	CodeConnectionBlocked = "connection_blocked" // the action refuses this connection type
	CodeValidationFailed  = "validation_failed"  // one or more inputs are missing or invalid
	CodeActionFailed      = "action_failed"      // the action (or a middleware) returned an error
	CodeInternal          = "internal_error"     // a panic or another unexpected failure
	CodeDraining          = "server_draining"    // the node is shutting down
	CodeNotFound          = "not_found"          // no file or route at that path
	CodeMethodNotAllowed  = "method_not_allowed" // the path exists for other methods
	CodeTimeout           = "timeout"            // the action ran past its deadline
	CodeUnavailable       = "unavailable"        // a backend the action needs is unreachable
	CodeClientClosed      = "client_closed"      // the client went away before the answer (status 499, logged only)

	// Persistent connections (TCP and WebSocket) and chat rooms.
	CodeUnknownVerb        = "unknown_verb"         // a message names no verb or action the server knows
	CodeMessageTooLarge    = "message_too_large"    // a line or frame exceeds the configured limit; the connection is closed
	CodeTooManyRequests    = "too_many_requests"    // the connection has too many actions in flight
	CodeRoomNotFound       = "room_not_found"       // no chat room by that name
	CodeRoomExists         = "room_exists"          // a chat room by that name exists already
	CodeNotInRoom          = "not_in_room"          // the connection is not a member of the room
	CodeConnectionNotFound = "connection_not_found" // no live node owns the connection
	CodeParamNotFound      = "param_not_found"      // the connection has no such param
	CodeChatRefused        = "chat_refused"         // a chat or connection middleware stopped the message

	// Limits per connection and per node.
	CodeParamLimit        = "param_limit"         // the connection holds as many sticky params (or bytes of them) as it may
	CodeConnectionLimit   = "connection_limit"    // the node has as many connections as it takes (503)
	CodeIPConnectionLimit = "ip_connection_limit" // the client's address has as many connections as it may (429)
	CodeServerBusy        = "server_busy"         // the node is reading as many request bodies as it holds at once (503, Retry-After)
)

// StatusClientClosed is the status recorded for a request whose client
// went away before it was answered (nginx's 499). No client sees it.
const StatusClientClosed = 499

// InternalMessage is the message of every internal_error: the details go
// to the log, under the request id the client gets.
const InternalMessage = "internal server error; quote the requestId when you report it"

// Error is an error with a client-facing code, status and message.
type Error struct {
	Code    string            // stable machine-readable code, one of the Code constants or an application's own
	Status  int               // HTTP status; 0 means 500
	Message string            // what went wrong, for a person
	Fields  map[string]string // per-input messages, for validation errors
	// RequestID names the request in the node's log, for errors whose
	// details were logged rather than sent (a 5xx).
	RequestID string
	Err       error // the underlying cause, never sent to clients
}

// New returns an Error with the given code, status and message.
func New(code string, status int, message string) *Error {
	return &Error{Code: code, Status: status, Message: message}
}

// Newf is New with a formatted message.
func Newf(code string, status int, format string, args ...any) *Error {
	return &Error{Code: code, Status: status, Message: fmt.Sprintf(format, args...)}
}

func (e *Error) Error() string {
	if e.Err != nil {
		return e.Code + ": " + e.Message + ": " + e.Err.Error()
	}
	return e.Code + ": " + e.Message
}

// Unwrap returns the underlying cause.
func (e *Error) Unwrap() error { return e.Err }

// HTTPStatus is the status to answer with, 500 when unset.
func (e *Error) HTTPStatus() int {
	if e.Status == 0 {
		return http.StatusInternalServerError
	}
	return e.Status
}

// From turns any error into an *Error: an *Error found in the chain is
// returned as is; anything else becomes an action_failed 500 carrying the
// error's message. That message is for the log: what reaches a client is
// Public's internal_error.
func From(err error) *Error {
	if err == nil {
		return nil
	}
	var e *Error
	if errors.As(err, &e) {
		return e
	}
	return &Error{Code: CodeActionFailed, Status: http.StatusInternalServerError, Message: err.Error(), Err: err}
}

// Unexpected reports whether e is a failure its code and message were
// not chosen for a client: a plain error from the code (action_failed)
// or a panic (internal_error). Its message may carry internal details;
// Public hides them.
func (e *Error) Unexpected() bool {
	return e.Code == CodeActionFailed || e.Code == CodeInternal
}

// Public returns e as a client may see it, with requestID: an unexpected
// failure (see Unexpected) becomes internal_error (500) with
// InternalMessage and e as its cause; another error keeps its code and
// message, and gets requestID when it is a 5xx.
func Public(e *Error, requestID string) *Error {
	if e.Unexpected() {
		return &Error{Code: CodeInternal, Status: http.StatusInternalServerError, Message: InternalMessage,
			RequestID: requestID, Err: e}
	}
	if e.HTTPStatus() >= 500 && e.RequestID == "" {
		c := *e
		c.RequestID = requestID
		return &c
	}
	return e
}

// MaxRequestIDLen bounds a request id taken from a client.
const MaxRequestIDLen = 128

// ValidRequestID reports whether id, a request id from a client (an
// X-Request-Id header, the requestId of a WebSocket or TCP message), is
// kept: 1 to MaxRequestIDLen characters among letters, digits and
// - _ . : + / = @. Anything else is replaced by a new id, so that a log
// line never carries a client's control characters, quotes or spaces.
func ValidRequestID(id string) bool {
	if len(id) == 0 || len(id) > MaxRequestIDLen {
		return false
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
		case c == '-', c == '_', c == '.', c == ':', c == '+', c == '/', c == '=', c == '@':
		default:
			return false
		}
	}
	return true
}

// NewRequestID returns a random id for a request's log lines.
func NewRequestID() string {
	var b [8]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails on supported platforms
	return hex.EncodeToString(b[:])
}

// Body is the JSON shape of an error sent to a client.
type Body struct {
	Error BodyError `json:"error"`
}

// BodyError is the inner object of Body.
type BodyError struct {
	Code    string            `json:"code"`
	Message string            `json:"message"`
	Fields  map[string]string `json:"fields,omitempty"`
	// RequestID names the request in the node's log (5xx errors).
	RequestID string `json:"requestId,omitempty"`
}

// Body returns the client-facing JSON shape of e.
func (e *Error) Body() Body {
	return Body{Error: BodyError{Code: e.Code, Message: e.Message, Fields: e.Fields, RequestID: e.RequestID}}
}

// clipLen is how much of a client's string an error message quotes.
const clipLen = 100

// Clip shortens s, a string the client sent, to quote it in an error
// message: a client cannot make the node echo megabytes back.
func Clip(s string) string {
	if len(s) > clipLen {
		return s[:clipLen] + "…"
	}
	return s
}
