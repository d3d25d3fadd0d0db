// Package metrics collects a node's Prometheus metrics: HTTP requests,
// actions, task runs, cluster calls (from the node's events), and, when
// scraped, queue depths, connections, chat rooms and cluster counters
// (read from the parts). Every family is named stellar_…; docs/operations.md
// lists them with their labels.
//
// Each node has a registry of its own, so that two apps in one process
// do not collide; the user registers their collectors on the same one.
package metrics

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/stellarfw/stellar-go/apierror"
	"github.com/stellarfw/stellar-go/backend"
	"github.com/stellarfw/stellar-go/chat"
	"github.com/stellarfw/stellar-go/cluster"
	"github.com/stellarfw/stellar-go/connection"
	"github.com/stellarfw/stellar-go/event"
	"github.com/stellarfw/stellar-go/task"
)

// DefaultPath is where the HTTP listener serves the metrics unless
// http.metrics_path says otherwise.
const DefaultPath = "/metrics"

// Defaults of Options.
const (
	// DefaultCacheFor is how long a scrape reuses the figures that cost a
	// backend read (queue depths, chat rooms).
	DefaultCacheFor = time.Second
	// DefaultReadTimeout bounds one such read.
	DefaultReadTimeout = 500 * time.Millisecond
)

// Outcomes of a task run, the outcome label of stellar_task_runs_total.
const (
	OutcomeCompleted  = "completed"
	OutcomeFailed     = "failed"      // for good: the task is in the failed list
	OutcomeRetried    = "retried"     // it failed and will run again after its backoff
	OutcomeLeaseLost  = "lease_lost"  // cut off because its lease was lost; it runs again
	OutcomeHandedBack = "handed_back" // handed back to its queue at shutdown
)

// Outcomes of a call, the outcome label of stellar_rpc_calls_total, and
// of an action that succeeded (a failed one has its error code).
const (
	OutcomeOK      = "ok"
	OutcomeError   = "error"
	OutcomeTimeout = "timeout"
)

// listenerPriority runs the metrics' listeners before the user's, so
// that a listener stopping an event does not hide it from the counts.
const listenerPriority = -1_000_000

// NewRegistry returns a registry holding the Go runtime and process
// collectors, for one node.
func NewRegistry() *prometheus.Registry {
	r := prometheus.NewRegistry()
	r.MustRegister(
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
	)
	return r
}

// Options are what Metrics count and read.
type Options struct {
	// Registry receives the families. Required.
	Registry prometheus.Registerer
	// Events is the node's bus: the action, task and cluster-call events
	// are counted. Required.
	Events *event.Bus
	// NodeID, Version and Backend label stellar_node_info.
	NodeID, Version, Backend string
	// The parts read when scraped; each may be nil.
	Inspector   *task.Inspector
	Tasks       *task.Manager
	Cluster     *cluster.Cluster
	Connections *connection.Registry
	Chat        *chat.Chat
	// Redis, when set, reads the Redis backend's counters.
	Redis func() backend.RedisStats
	// CacheFor is how long a scrape reuses the queue depths and the chat
	// rooms it read. Default DefaultCacheFor.
	CacheFor time.Duration
	// ReadTimeout bounds one read of them. Default DefaultReadTimeout.
	ReadTimeout time.Duration
	// Now is the clock of the cache. Default time.Now.
	Now func() time.Time
}

// Metrics are the families of one node.
type Metrics struct {
	httpRequests *prometheus.CounterVec
	httpDuration *prometheus.HistogramVec

	actions        *prometheus.CounterVec
	actionDuration *prometheus.HistogramVec

	tasksEnqueued *prometheus.CounterVec
	taskRuns      *prometheus.CounterVec
	taskDuration  *prometheus.HistogramVec
	taskWait      *prometheus.HistogramVec

	rpcCalls    *prometheus.CounterVec
	rpcDuration *prometheus.HistogramVec

	// The series of the families counted on every request.
	httpCounts, actionCounts       *series[[3]string, prometheus.Counter]
	httpDurations, actionDurations *series[[2]string, prometheus.Observer]
}

// Buckets of the task histograms, in seconds: 5 ms to about 22 minutes.
var taskBuckets = prometheus.ExponentialBuckets(0.005, 4, 10)

// New registers the families on o.Registry and counts o.Events from now
// on. It fails when a family is registered already (by another New on
// the same registry, or by the user).
func New(o Options) (*Metrics, error) {
	if o.CacheFor <= 0 {
		o.CacheFor = DefaultCacheFor
	}
	if o.ReadTimeout <= 0 {
		o.ReadTimeout = DefaultReadTimeout
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	m := &Metrics{
		httpRequests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "stellar_http_requests_total",
			Help: "HTTP requests answered, by the action that ran (empty for none), the route or handler pattern that matched, and the status.",
		}, []string{"action", "route", "status"}),
		httpDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "stellar_http_request_duration_seconds",
			Help:    "How long HTTP requests took to answer, by action and route (upgraded WebSocket connections excluded).",
			Buckets: prometheus.DefBuckets,
		}, []string{"action", "route"}),
		actions: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "stellar_actions_total",
			Help: "Action calls, by action, transport (web, websocket, tcp, internal) and outcome (ok, or the error code).",
		}, []string{"action", "transport", "outcome"}),
		actionDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "stellar_action_duration_seconds",
			Help:    "How long action calls took, by action and transport.",
			Buckets: prometheus.DefBuckets,
		}, []string{"action", "transport"}),
		tasksEnqueued: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "stellar_tasks_enqueued_total",
			Help: "Tasks this node enqueued, by queue and task.",
		}, []string{"queue", "task"}),
		taskRuns: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "stellar_task_runs_total",
			Help: "Task runs on this node, by queue, task and outcome (completed, failed, retried, lease_lost, handed_back).",
		}, []string{"queue", "task", "outcome"}),
		taskDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "stellar_task_run_duration_seconds",
			Help:    "How long task handlers ran on this node, by queue and task.",
			Buckets: taskBuckets,
		}, []string{"queue", "task"}),
		taskWait: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "stellar_task_wait_seconds",
			Help:    "From a task's enqueue to the start of its first run, by queue (a delayed task's delay included).",
			Buckets: taskBuckets,
		}, []string{"queue"}),
		rpcCalls: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "stellar_rpc_calls_total",
			Help: "Cluster calls this node made, by method and outcome (ok, error, timeout).",
		}, []string{"method", "outcome"}),
		rpcDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "stellar_rpc_call_duration_seconds",
			Help:    "How long cluster calls this node made took, by method.",
			Buckets: prometheus.DefBuckets,
		}, []string{"method"}),
	}
	m.httpCounts, m.httpDurations = newCounters(m.httpRequests), newObservers(m.httpDuration)
	m.actionCounts, m.actionDurations = newCounters(m.actions), newObservers(m.actionDuration)
	cs := []prometheus.Collector{
		m.httpRequests, m.httpDuration, m.actions, m.actionDuration,
		m.tasksEnqueued, m.taskRuns, m.taskDuration, m.taskWait,
		m.rpcCalls, m.rpcDuration,
		newNodeCollector(o),
	}
	for _, c := range cs {
		if err := o.Registry.Register(c); err != nil {
			for _, done := range cs {
				if done == c {
					break
				}
				o.Registry.Unregister(done)
			}
			return nil, fmt.Errorf("metrics: registering the node's families: %w", err)
		}
	}
	m.listen(o.Events)
	return m, nil
}

// listen counts the node's events on b.
func (m *Metrics) listen(b *event.Bus) {
	event.On(b, event.ActionAfter, listenerPriority, func(ctx context.Context, p *event.Action) error {
		outcome := OutcomeOK
		if p.Err != nil {
			outcome = apierror.From(p.Err).Code
		}
		m.actionCounts.get([3]string{p.Name, p.ConnType, outcome}).Inc()
		m.actionDurations.get([2]string{p.Name, p.ConnType}).Observe(p.Duration.Seconds())
		if p.ConnType == connection.TypeWeb {
			if l := requestLabels(ctx); l != nil && l.Action == "" {
				l.Action, l.Route = p.Name, p.Route
			}
		}
		return nil
	})
	event.On(b, event.TaskEnqueued, listenerPriority, func(_ context.Context, p *event.Task) error {
		m.tasksEnqueued.WithLabelValues(p.Queue, p.Name).Inc()
		return nil
	})
	event.On(b, event.TaskStarted, listenerPriority, func(_ context.Context, p *event.Task) error {
		if p.Attempt == 1 && !p.EnqueuedAt.IsZero() {
			// The enqueuer's clock against this one's: never below zero.
			m.taskWait.WithLabelValues(p.Queue).Observe(max(time.Since(p.EnqueuedAt).Seconds(), 0))
		}
		return nil
	})
	run := func(_ context.Context, p *event.Task) error {
		m.taskRuns.WithLabelValues(p.Queue, p.Name, taskOutcome(p)).Inc()
		m.taskDuration.WithLabelValues(p.Queue, p.Name).Observe(p.Duration.Seconds())
		return nil
	}
	event.On(b, event.TaskCompleted, listenerPriority, run)
	event.On(b, event.TaskFailed, listenerPriority, run)
	event.On(b, event.ClusterCall, listenerPriority, func(_ context.Context, p *event.Call) error {
		outcome := OutcomeOK
		switch {
		case p.Err == nil:
		case errors.Is(p.Err, cluster.ErrTimeout):
			outcome = OutcomeTimeout
		default:
			outcome = OutcomeError
		}
		m.rpcCalls.WithLabelValues(p.Method, outcome).Inc()
		m.rpcDuration.WithLabelValues(p.Method).Observe(p.Duration.Seconds())
		return nil
	})
}

// taskOutcome is the outcome label of the run p reports.
func taskOutcome(p *event.Task) string {
	switch {
	case p.Err == nil:
		return OutcomeCompleted
	case errors.Is(p.Err, task.ErrHandedBack):
		return OutcomeHandedBack
	case errors.Is(p.Err, task.ErrLeaseLost):
		return OutcomeLeaseLost
	case p.Final:
		return OutcomeFailed
	default:
		return OutcomeRetried
	}
}
