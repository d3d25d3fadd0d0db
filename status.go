package stellar

import (
	"context"
	"runtime"
	"time"

	"github.com/stellarfw/stellar-go/action"
	"github.com/stellarfw/stellar-go/internal/node"
)

// StatusAction is the name of the built-in status action.
const StatusAction = "status"

// Figures each node publishes in its cluster membership record at every
// heartbeat; `stellar cluster status` shows them.
const (
	StatTasksRunning = node.StatTasksRunning // tasks the node runs now
	StatConnections  = node.StatConnections  // its open TCP and WebSocket connections
)

// statusAction answers what a monitor or an operator wants to know about
// the node: who it is, what it runs and for how long.
func (a *App) statusAction() *action.Action {
	return &action.Action{
		Name:        StatusAction,
		Description: "Reports the node's id, version, uptime and backend.",
		Protected:   true,
		OutputExample: map[string]any{
			"id": "stellar-worker-1", "version": "0.0.1", "stellarVersion": Version,
			"uptime": 1234, "startedAt": "2026-01-02T15:04:05Z", "backend": "memory",
		},
		Run: func(ctx context.Context, r *action.Request) error {
			cfg := a.Config()
			r.Response["id"] = cfg.ID
			r.Response["version"] = cfg.General.APIVersion
			r.Response["stellarVersion"] = Version
			r.Response["goVersion"] = runtime.Version()
			up, started := a.uptime()
			r.Response["uptime"] = up.Milliseconds()
			if !started.IsZero() {
				r.Response["startedAt"] = started.UTC().Format(time.RFC3339)
			}
			a.mu.Lock()
			n := a.node
			a.mu.Unlock()
			if n == nil {
				r.Response["backend"] = "memory"
				if cfg.Redis.Enabled() {
					r.Response["backend"] = "redis"
				}
				return nil
			}
			n.Status(ctx, r.Response)
			return nil
		},
	}
}

// nodeStats are the figures of the membership record. They take no lock
// of the app: the cluster reads them at every heartbeat.
func (a *App) nodeStats() map[string]int64 {
	return map[string]int64{
		StatTasksRunning: int64(a.Tasks.Running()),
		StatConnections:  int64(a.Connections.Len("")),
	}
}
