package cluster

import (
	"errors"
	"fmt"
	"strings"
	"time"
)

// Errors of the cluster. Use errors.Is: they come wrapped with details.
var (
	// ErrTimeout means no usable reply arrived before the deadline (the
	// call's context, else Config.RPCTimeout). The error names the method.
	ErrTimeout = errors.New("cluster: call timed out")
	// ErrUnknownMethod means the remote node has no method by that name.
	// It comes back at once, not as a timeout.
	ErrUnknownMethod = errors.New("cluster: unknown method")
	// ErrNoNodes means membership lists no live node to ask.
	ErrNoNodes = errors.New("cluster: no live nodes")
	// ErrUnknownNode means ToNode named a node that is not live.
	ErrUnknownNode = errors.New("cluster: no such live node")
	// ErrNoOwner means every live node answered that it does not own the
	// connection given to ToConnection.
	ErrNoOwner = errors.New("cluster: no node owns the connection")
	// ErrDuplicateNode means a node with the same id is already live.
	ErrDuplicateNode = errors.New("cluster: a node with this id is already live")
	// ErrTakenOver means another run of this node (a process started
	// later under the same id) took its id over: this one no longer
	// claims it. Two processes run as one node; an operator must stop
	// one of them.
	ErrTakenOver = errors.New("cluster: another run of this node took its id over")
	// ErrRecordChanged is a Transport's answer when the membership record
	// stored under an id is not the one a compare-and-set expected.
	ErrRecordChanged = errors.New("cluster: membership record changed")
	// ErrNoToken means the cluster would run unauthenticated: set a token,
	// or Config.Insecure for local development.
	ErrNoToken = errors.New("cluster: no server token")
	// ErrNotConnected means the node is not subscribed to the cluster
	// right now (its backend is unreachable), so replies could not arrive.
	ErrNotConnected = errors.New("cluster: not connected to the cluster")
	// ErrTooLarge means a message exceeds Config.MaxMessageBytes.
	ErrTooLarge = errors.New("cluster: message too large")
	// ErrNotRunning means the cluster is not started, or is stopping.
	ErrNotRunning = errors.New("cluster: not running")
	// ErrTokenMismatch means ReadNodes found membership records but none
	// signed with the token given: the token is not the cluster's.
	ErrTokenMismatch = errors.New("cluster: the token does not match the cluster's")
)

// RemoteError is an error returned by a method on another node (or on
// this one: a node answers its own calls too). A handler's panic becomes a
// RemoteError as well. When Code is CodeUnknownMethod it unwraps to
// ErrUnknownMethod.
type RemoteError struct {
	// Node is the node that answered.
	Node string
	// Method is the method called.
	Method string
	// Code is CodeError for a handler's error or panic, CodeUnknownMethod
	// when the node has no such method.
	Code string
	// Message is the error's text on the remote node.
	Message string
}

// Codes of a RemoteError.
const (
	CodeError         = "error"
	CodeUnknownMethod = "unknown_method"
	codeNotOwner      = "not_owner"
)

func (e *RemoteError) Error() string {
	return fmt.Sprintf("cluster: %s on node %s: %s", e.Method, e.Node, e.Message)
}

// Unwrap returns ErrUnknownMethod for an unknown method, else nil.
func (e *RemoteError) Unwrap() error {
	if e.Code == CodeUnknownMethod {
		return ErrUnknownMethod
	}
	return nil
}

// TimeoutError is the ErrTimeout of a call: it names the method and how
// long the caller waited, and unwraps to ErrTimeout and to the context
// error that ended the wait.
type TimeoutError struct {
	Method string
	Waited time.Duration
	cause  error
}

func (e *TimeoutError) Error() string {
	return fmt.Sprintf("cluster: call to %s timed out: no reply within %s", e.Method, e.Waited.Round(time.Millisecond))
}

// Unwrap returns ErrTimeout and the context error.
func (e *TimeoutError) Unwrap() []error {
	if e.cause != nil {
		return []error{ErrTimeout, e.cause}
	}
	return []error{ErrTimeout}
}

// PartialError is DoAll's error when some live nodes did not answer in
// time: Replies holds those that did. It unwraps to ErrTimeout.
type PartialError struct {
	Method  string
	Missing []string
	Replies []Reply
}

func (e *PartialError) Error() string {
	return fmt.Sprintf("cluster: call to %s timed out: no reply from %s", e.Method, strings.Join(e.Missing, ", "))
}

// Unwrap returns ErrTimeout.
func (e *PartialError) Unwrap() error { return ErrTimeout }
