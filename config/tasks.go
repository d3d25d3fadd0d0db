package config

import (
	"time"

	"github.com/stellarfw/stellar-go/task"
)

// Tasks configures the node's task workers.
type Tasks struct {
	// Workers is the number of tasks the node runs at once. Default 10.
	// 0 in a config file, STELLAR_TASKS_WORKERS or a flag runs no workers
	// (the node still enqueues and schedules tasks); in Go code, where a
	// zero field means the default, use -1 for that.
	Workers int `key:"workers"`
	// Queues lists the queues the workers take tasks from, highest
	// priority first. Default: "default", then the queues of the
	// registered tasks in name order.
	Queues []string `key:"queues"`
	// Lease is how long a worker holds a running task between renewals;
	// a task whose node died runs again elsewhere within two leases.
	// Default 30s.
	Lease time.Duration `key:"lease"`
	// PollInterval is how often each node moves due delayed tasks to
	// their queue and recovers lapsed leases. Idle workers do not poll:
	// the enqueue wakes them. Default 100ms.
	PollInterval time.Duration `key:"poll_interval"`
	// DrainTimeout bounds how long a stopping node waits for its running
	// tasks before handing them back. Default 10s.
	DrainTimeout time.Duration `key:"drain_timeout"`
	// Partitions is the number of partitions of each queue, which spread
	// it over the shards of a Redis Cluster. 0 (the default) means 16
	// (task.DefaultClusterPartitions) with Redis.ClusterAddrs and 1
	// otherwise.
	// At most 64. Every node must use the same number.
	Partitions int `key:"partitions"`
}

func (t *Tasks) defaults() {
	setDefault(&t.Workers, 10)
	setDefault(&t.Lease, task.DefaultLease)
	setDefault(&t.PollInterval, task.DefaultPollInterval)
	setDefault(&t.DrainTimeout, task.DefaultDrainTimeout)
}

func (t Tasks) validate() error {
	for _, d := range []struct {
		key string
		d   time.Duration
	}{
		{"tasks.lease", t.Lease},
		{"tasks.poll_interval", t.PollInterval},
		{"tasks.drain_timeout", t.DrainTimeout},
	} {
		if err := nonNegative(d.key, d.d); err != nil {
			return err
		}
	}
	if t.Lease > 0 && t.Lease < task.MinLease {
		return invalid("tasks.lease", "must be at least %s, got %s", task.MinLease, t.Lease)
	}
	if t.Partitions < 0 || t.Partitions > task.MaxPartitions {
		return invalid("tasks.partitions", "must be between 0 (automatic) and %d, got %d", task.MaxPartitions, t.Partitions)
	}
	for i, q := range t.Queues {
		if err := task.CheckQueueName(q); err != nil {
			return invalid("tasks.queues", "entry %d: %w", i, err)
		}
	}
	return nil
}

func init() {
	for k, v := range map[string]string{
		"tasks.workers":       "tasks the node runs at once; 0 (in a file, env or flag) or -1 (in Go) runs no workers",
		"tasks.queues":        `queues the workers take tasks from, highest priority first; default "default" then the registered ones`,
		"tasks.lease":         "how long a worker holds a running task between renewals; a dead node's tasks run again within two",
		"tasks.poll_interval": "how often each node moves due delayed tasks and recovers lapsed leases",
		"tasks.drain_timeout": "how long a stopping node waits for running tasks before handing them back",
		"tasks.partitions":    "partitions of each queue, spread over the shards; 0: 16 with redis.cluster_addrs, 1 otherwise; the same on every node",
	} {
		keyDocs[k] = v
	}
}
