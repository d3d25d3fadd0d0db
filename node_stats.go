package stellar

// Figures each node publishes in its cluster membership record at every
// heartbeat; `stellar cluster status` shows them.
const (
	StatTasksRunning = "tasksRunning" // tasks the node runs now
	StatConnections  = "connections"  // its open TCP and WebSocket connections
)

// nodeStats is the cluster's Config.Stats. It takes no lock of the app:
// the cluster calls it at every heartbeat.
func (a *App) nodeStats() map[string]int64 {
	return map[string]int64{
		StatTasksRunning: int64(a.Tasks.Running()),
		StatConnections:  int64(a.Connections.Len("")),
	}
}
