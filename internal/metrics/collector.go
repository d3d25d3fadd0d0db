package metrics

import (
	"context"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/stellarfw/stellar-go/connection"
	"github.com/stellarfw/stellar-go/task"
)

// nodeCollector reads the node's parts when scraped. What costs a
// backend read (the queue depths and the chat rooms) is read at most once
// per CacheFor, within ReadTimeout; the rest are in-memory counters.
type nodeCollector struct {
	o Options

	info        *prometheus.Desc
	depth       *prometheus.Desc
	paused      *prometheus.Desc
	workerNodes *prometheus.Desc
	concurrency *prometheus.Desc
	readErrors  *prometheus.Desc
	running     *prometheus.Desc
	nodes       *prometheus.Desc
	published   *prometheus.Desc
	dropped     *prometheus.Desc
	lateReplies *prometheus.Desc
	conns       *prometheus.Desc
	rooms       *prometheus.Desc
	members     *prometheus.Desc
	redisErrors *prometheus.Desc
	redisLost   *prometheus.Desc
	redisWaits  *prometheus.Desc

	queues cache[task.Stats]
	chat   cache[int]
}

func newNodeCollector(o Options) *nodeCollector {
	d := prometheus.NewDesc
	c := &nodeCollector{
		o:           o,
		info:        d("stellar_node_info", "The node: its id, the framework's version and its backend (memory or redis). Always 1.", []string{"node", "version", "backend"}, nil),
		depth:       d("stellar_task_queue_depth", "Tasks of a queue, cluster-wide, by state (pending, delayed, running, failed).", []string{"queue", "state"}, nil),
		paused:      d("stellar_task_queue_paused", "1 while the queue is paused cluster-wide, else 0.", []string{"queue"}, nil),
		workerNodes: d("stellar_task_worker_nodes", "Live nodes running task workers, cluster-wide.", nil, nil),
		concurrency: d("stellar_task_worker_concurrency", "The live workers' concurrency summed, cluster-wide.", nil, nil),
		readErrors:  d("stellar_task_queue_read_errors_total", "Reads of the queue depths that failed (the backend did not answer in time).", nil, nil),
		running:     d("stellar_tasks_running", "Tasks this node runs now.", nil, nil),
		nodes:       d("stellar_cluster_nodes", "Live nodes of the cluster, as this node sees them.", nil, nil),
		published:   d("stellar_cluster_messages_published_total", "Cluster messages this node published (messages, calls, replies).", nil, nil),
		dropped:     d("stellar_cluster_messages_dropped_total", "Cluster messages this node received and dropped, by reason.", []string{"reason"}, nil),
		lateReplies: d("stellar_rpc_late_replies_total", "Replies to this node's calls that came after the call was answered or given up.", nil, nil),
		conns:       d("stellar_connections", "Open persistent connections of this node, by transport (websocket, tcp).", []string{"transport"}, nil),
		rooms:       d("stellar_chat_rooms", "Chat rooms, cluster-wide.", nil, nil),
		members:     d("stellar_chat_members", "Room memberships of this node's connections.", nil, nil),
		redisErrors: d("stellar_redis_errors_total", "Redis calls of this node that failed, by kind: reply (an error reply from Redis) or unavailable (Redis not reached in time).", []string{"kind"}, nil),
		redisLost:   d("stellar_redis_subscriptions_lost_total", "Redis subscriptions of this node that failed and were made again.", nil, nil),
		redisWaits:  d("stellar_redis_replica_waits_total", "Task writes of this node that waited for a replica, by result: confirmed, lagged (no replica confirmed within the wait) or unconfirmed (the connection failed first; the write is made again).", []string{"result"}, nil),
	}
	c.queues = cache[task.Stats]{every: o.CacheFor, now: o.Now}
	c.chat = cache[int]{every: o.CacheFor, now: o.Now}
	return c
}

func (c *nodeCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{c.info, c.depth, c.paused, c.workerNodes, c.concurrency, c.readErrors,
		c.running, c.nodes, c.published, c.dropped, c.lateReplies, c.conns, c.rooms, c.members, c.redisErrors, c.redisLost, c.redisWaits} {
		ch <- d
	}
}

func (c *nodeCollector) Collect(ch chan<- prometheus.Metric) {
	o := c.o
	gauge := func(d *prometheus.Desc, v float64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, labels...)
	}
	counter := func(d *prometheus.Desc, v float64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, v, labels...)
	}
	gauge(c.info, 1, o.NodeID, o.Version, o.Backend)

	if o.Inspector != nil {
		s, failures, err := c.queues.get(func() (task.Stats, error) {
			ctx, cancel := context.WithTimeout(context.Background(), o.ReadTimeout)
			defer cancel()
			return o.Inspector.Stats(ctx)
		})
		if err == nil {
			for _, q := range s.Queues {
				gauge(c.depth, float64(q.Pending), q.Queue, string(task.StatePending))
				gauge(c.depth, float64(q.Delayed), q.Queue, string(task.StateDelayed))
				gauge(c.depth, float64(q.Running), q.Queue, string(task.StateRunning))
				gauge(c.depth, float64(q.Failed), q.Queue, string(task.StateFailed))
				paused := 0.0
				if q.Paused {
					paused = 1
				}
				gauge(c.paused, paused, q.Queue)
			}
			gauge(c.workerNodes, float64(s.Workers))
			gauge(c.concurrency, float64(s.Concurrency))
		}
		counter(c.readErrors, float64(failures))
	}
	if o.Tasks != nil {
		gauge(c.running, float64(o.Tasks.Running()))
	}
	if o.Cluster != nil {
		gauge(c.nodes, float64(len(o.Cluster.Members())))
		counter(c.published, float64(o.Cluster.Published()))
		for reason, n := range o.Cluster.Dropped() {
			counter(c.dropped, float64(n), reason)
		}
		counter(c.lateReplies, float64(o.Cluster.LateReplies()))
	}
	if o.Connections != nil {
		gauge(c.conns, float64(o.Connections.Len(connection.TypeWebSocket)), connection.TypeWebSocket)
		gauge(c.conns, float64(o.Connections.Len(connection.TypeTCP)), connection.TypeTCP)
		members := 0
		for _, conn := range o.Connections.All() {
			members += len(conn.Rooms())
		}
		gauge(c.members, float64(members))
	}
	if o.Redis != nil {
		s := o.Redis()
		counter(c.redisErrors, float64(s.ReplyErrors), "reply")
		counter(c.redisErrors, float64(s.Unavailable), "unavailable")
		counter(c.redisLost, float64(s.SubscriptionsLost))
		counter(c.redisWaits, float64(s.ReplicaConfirmed), "confirmed")
		counter(c.redisWaits, float64(s.ReplicaLagged), "lagged")
		counter(c.redisWaits, float64(s.Unconfirmed), "unconfirmed")
	}
	if o.Chat != nil {
		n, _, err := c.chat.get(func() (int, error) {
			ctx, cancel := context.WithTimeout(context.Background(), o.ReadTimeout)
			defer cancel()
			rooms, err := o.Chat.List(ctx)
			return len(rooms), err
		})
		if err == nil {
			gauge(c.rooms, float64(n))
		}
	}
}

// cache holds the result of a read for a while, so that scrapes close
// together cost one read. A failed read is cached too: a backend that
// does not answer slows one scrape per period, not every one.
type cache[T any] struct {
	every time.Duration
	now   func() time.Time

	mu       sync.Mutex
	at       time.Time // guarded by mu; of the last read
	val      T         // guarded by mu
	err      error     // guarded by mu
	failures uint64    // guarded by mu; reads that failed
}

// get returns the cached result, reading it again with read when it is
// older than every, and how many reads failed so far.
func (c *cache[T]) get(read func() (T, error)) (T, uint64, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if now := c.now(); c.at.IsZero() || now.Sub(c.at) >= c.every {
		c.val, c.err = read()
		c.at = now
		if c.err != nil {
			c.failures++
		}
	}
	return c.val, c.failures, c.err
}
