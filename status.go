package stellar

import (
	"context"
	"runtime"
	"time"

	"github.com/stellarfw/stellar-go/action"
)

// StatusAction is the name of the built-in status action.
const StatusAction = "status"

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
			r.Response["uptime"] = a.uptime().Milliseconds()
			a.mu.Lock()
			started := a.startedAt
			a.mu.Unlock()
			if !started.IsZero() {
				r.Response["startedAt"] = started.UTC().Format(time.RFC3339)
			}
			a.mu.Lock()
			srv, b, parts := a.http, a.backend, a.started
			a.mu.Unlock()
			if b != nil {
				r.Response["backend"] = b.name
			} else {
				r.Response["backend"] = a.backendName()
			}
			for _, p := range parts {
				if p.status != nil {
					p.status(ctx, r.Response)
				}
			}
			if srv != nil {
				r.Response["http"] = map[string]any{"addr": srv.Addr().String(), "inFlight": srv.InFlight()}
			}
			return nil
		},
	}
}

// backendName names the shared state backend in use.
func (a *App) backendName() string {
	if a.Config().Redis.Enabled() {
		return "redis"
	}
	return "memory"
}
