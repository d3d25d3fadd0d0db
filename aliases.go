package stellar

import (
	"context"

	"github.com/stellarfw/stellar-go/action"
	"github.com/stellarfw/stellar-go/apierror"
	"github.com/stellarfw/stellar-go/chat"
	"github.com/stellarfw/stellar-go/config"
	"github.com/stellarfw/stellar-go/connection"
	"github.com/stellarfw/stellar-go/task"
)

// The common types, so that a user's main.go needs one import.
type (
	// Config is the node's configuration; see package config.
	Config = config.Config
	// Action describes one action; see package action.
	Action = action.Action
	// Input declares one parameter of an action.
	Input = action.Input
	// Request is what an action sees of one call.
	Request = action.Request
	// Params holds an action's parameters.
	Params = action.Params
	// Middleware runs around actions.
	Middleware = action.Middleware
	// Handler runs an action.
	Handler = action.Handler
	// HandlerFunc adapts a function to Handler.
	HandlerFunc = action.HandlerFunc
	// DefaultFunc computes an input's default for each call.
	DefaultFunc = action.DefaultFunc
	// ValidatorFunc is a custom input check.
	ValidatorFunc = action.ValidatorFunc
	// Format converts an input's raw value.
	Format = action.Format
	// Error is an error with a client-facing code, status and message.
	Error = apierror.Error

	// TaskDefinition declares a task; see package task.
	TaskDefinition = task.Definition
	// Task is one run of a task, as its handler sees it.
	Task = task.Task
	// TaskHandlerFunc adapts a function to a task handler.
	TaskHandlerFunc = task.HandlerFunc

	// ChatMiddleware is chat middleware (say, onSayReceive, join, leave);
	// register it with App.Chat.Use.
	ChatMiddleware = chat.Middleware
	// ChatMessage is a message said or emitted in a room.
	ChatMessage = chat.Message
	// ConnectionMiddleware runs when a persistent connection opens and
	// closes; register it with App.Connections.Use.
	ConnectionMiddleware = connection.Middleware
)

// Input formats, as Stellar's "string", "integer", "float" and "boolean".
var (
	String  = action.String
	Integer = action.Integer
	Float   = action.Float
	Boolean = action.Boolean
)

// NewError returns an error that reaches the client with the given code,
// HTTP status and message.
func NewError(code string, status int, message string) *Error {
	return apierror.New(code, status, message)
}

// Param returns a formatted parameter as a T; see action.Param.
func Param[T any](p Params, name string) (T, bool) { return action.Param[T](p, name) }

// TypedAction returns an action whose inputs are the fields of the struct
// In, declared by their tags (param, default, validate, desc, format), and
// whose response is the JSON fields of Out; see action.Typed.
func TypedAction[In, Out any](name string, run func(ctx context.Context, r *Request, in In) (Out, error), opts ...func(*Action)) *Action {
	return action.Typed(name, run, opts...)
}

// TypedTask returns a task definition whose arguments are the fields of
// the struct In; see task.Typed.
func TypedTask[In any](name string, run func(ctx context.Context, t *Task, in In) error, opts ...func(*TaskDefinition)) *TaskDefinition {
	return task.Typed(name, run, opts...)
}

// CallAs runs the action name internally and returns its output as an
// Out; params is a map or a typed action's In. See action.CallAs.
func CallAs[Out any](ctx context.Context, app *App, name string, params any) (Out, error) {
	return action.CallAs[Out](ctx, app.Actions, name, params)
}
