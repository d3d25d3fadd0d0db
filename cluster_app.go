package stellar

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/stellarfw/stellar-go/cluster"
	"github.com/stellarfw/stellar-go/internal/node"
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

// clusterStopTimeout bounds leaving the cluster.
const clusterStopTimeout = 10 * time.Second

// errNoToken is a node on Redis started without a server token.
var errNoToken = errors.New("cluster.token is empty: nodes on Redis must sign their messages; " +
	"set --token or STELLAR_SERVER_TOKEN to the cluster's shared secret (or cluster.insecure=true for local development only)")

// clusterPart runs App.Cluster on the backend.
func (a *App) clusterPart() part {
	return part{
		name:  "cluster",
		start: a.startCluster,
		stop: func(ctx context.Context) error {
			// Bounded even when ctx is not (a failed Start rolls back
			// with its own ctx): a handler may be waiting for the app.
			ctx, cancel := context.WithTimeout(ctx, clusterStopTimeout)
			defer cancel()
			return a.Cluster.Stop(ctx)
		},
		ready: func(context.Context) error { return a.Cluster.Ready() },
		status: func(ctx context.Context, out map[string]any) {
			out["cluster"] = map[string]any{
				"nodes":       a.Cluster.Members(),
				"dropped":     a.Cluster.Dropped(),
				"lateReplies": a.Cluster.LateReplies(),
			}
		},
	}
}

// startCluster is the part's start.
func (a *App) startCluster(ctx context.Context, b *backend) error {
	cfg, logger := a.Config(), a.Logger()
	token := cfg.Cluster.Token
	var t cluster.Transport
	if b.redis != nil {
		if token == "" && !cfg.Cluster.Insecure {
			return errNoToken
		}
		t = b.redis.Cluster()
	} else {
		// One node in memory: nothing leaves the process, so a random
		// token serves when none is set.
		if token == "" {
			token = cluster.RandomToken()
		}
		t = b.mem.Cluster()
	}
	a.clusterLog.Store(logger)
	cc := node.ClusterConfig(cfg, token, logger)
	cc.Stats = a.nodeStats
	cc.OwnsConnection = a.Connections.Owns
	return a.Cluster.Start(ctx, t, cc)
}

// registerClusterMethods registers the built-in methods.
func (a *App) registerClusterMethods() {
	a.Cluster.HandleFunc(MethodLog, func(ctx context.Context, call *cluster.Call) (any, error) {
		msg, level, err := logArgs(call.Args)
		if err != nil {
			return nil, err
		}
		a.clusterLogger().Log(ctx, level, msg, "via", MethodLog, "from", call.From)
		return true, nil
	})
	a.Cluster.HandleFunc(MethodStop, func(ctx context.Context, call *cluster.Call) (any, error) {
		a.clusterLogger().Warn("stop requested through the cluster", "from", call.From)
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

// clusterLogger is the node's logger for the built-in methods, read
// without a.mu: a call may arrive while Start or Shutdown holds it.
func (a *App) clusterLogger() *slog.Logger {
	if l := a.clusterLog.Load(); l != nil {
		return l
	}
	return slog.New(slog.DiscardHandler)
}
