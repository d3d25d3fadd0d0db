package stellar

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"

	"github.com/stellarfw/stellar-go/cluster"
)

// Built-in cluster methods, callable on any node with App.Cluster.Do.
const (
	// MethodLog logs a message on the nodes called (Stellar's api.log).
	// Args: {"message": "...", "level": "info"}, a string, or a list of
	// strings.
	MethodLog = "api.log"
	// MethodStop stops the node called gracefully (Stellar's stop()). It
	// replies first, then shuts down.
	MethodStop = "api.stop"
	// MethodStatus answers what the status action answers.
	MethodStatus = "api.status"
)

// registerClusterMethods registers the built-in methods. A call may
// arrive while the node starts or stops: the handlers use only the app's
// accessors, which never wait for either.
func (a *App) registerClusterMethods() {
	a.Cluster.HandleFunc(MethodLog, func(ctx context.Context, call *cluster.Call) (any, error) {
		msg, level, err := logArgs(call.Args)
		if err != nil {
			return nil, err
		}
		a.Logger().Log(ctx, level, msg, "via", MethodLog, "from", call.From)
		return true, nil
	})
	a.Cluster.HandleFunc(MethodStop, func(ctx context.Context, call *cluster.Call) (any, error) {
		a.Logger().Warn("stop requested through the cluster", "from", call.From)
		// Shut down from a goroutine of its own so that this reply goes
		// out first: the cluster's stop waits for this handler to finish
		// replying before it leaves. Done() tells when it is over.
		go func() { _ = a.Shutdown(context.Background()) }()
		return map[string]any{"id": a.Cluster.ID(), "stopping": true}, nil
	})
	a.Cluster.HandleFunc(MethodStatus, func(ctx context.Context, call *cluster.Call) (any, error) {
		return a.Actions.Call(ctx, StatusAction, nil)
	})
}

// logArgs reads api.log's arguments: an object {message, level}, a
// string, or a list of strings (Stellar's form).
func logArgs(raw json.RawMessage) (string, slog.Level, error) {
	var obj struct {
		Message string `json:"message"`
		Level   string `json:"level"`
	}
	var s string
	var list []string
	switch {
	case json.Unmarshal(raw, &s) == nil:
		return s, slog.LevelInfo, nil
	case json.Unmarshal(raw, &list) == nil:
		return strings.Join(list, " "), slog.LevelInfo, nil
	case json.Unmarshal(raw, &obj) == nil:
		var level slog.Level
		if obj.Level == "" {
			obj.Level = "info"
		}
		if err := level.UnmarshalText([]byte(obj.Level)); err != nil {
			return "", 0, fmt.Errorf("api.log: level %q: expected debug, info, warn or error", obj.Level)
		}
		return obj.Message, level, nil
	}
	return "", 0, errors.New(`api.log: expected {"message": "...", "level": "info"}, a string or a list of strings`)
}
