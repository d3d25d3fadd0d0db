package task

import (
	"errors"
	"fmt"
	"hash/fnv"
	"slices"
	"strconv"
	"strings"
)

// Partitions: a queue is split into partitions, each a queue of its own
// in the store (its own keys, and on Redis Cluster its own hash tag, so
// that the partitions of one queue land on different shards). Enqueue
// puts each task in one partition; the workers of a queue take tasks
// from all of its partitions; the Inspector shows a queue as one queue.
//
// Partition 0 of queue NAME is stored as NAME itself, as a queue was
// before partitions existed: the tasks of an existing queue are read as
// its partition 0 after an upgrade. Partition p > 0 is stored as
// "NAME{p}" (PartitionName): queue names hold no braces, so no queue's
// name is another's partition.

// MaxPartitions bounds the partitions of one queue.
const MaxPartitions = 64

// DefaultClusterPartitions is the number of partitions of a queue on a
// store that is spread over shards (Redis Cluster) when the
// configuration sets none. A store on one server (memory, one Redis,
// Sentinel) defaults to 1: partitions there only cost round trips.
const DefaultClusterPartitions = 16

// PartitionName is the name, in the store, of partition p of queue.
func PartitionName(queue string, p int) string {
	if p <= 0 {
		return queue
	}
	return queue + "{" + strconv.Itoa(p) + "}"
}

// AllPartitions is what a store's wake-up (Store.Watch) names when every
// partition of queue may have become ready: when the queue is resumed.
func AllPartitions(queue string) string { return queue + "{*}" }

// SplitPartition undoes PartitionName: the queue and partition a store
// queue name holds. A name that is not a partition's is partition 0 of
// itself.
func SplitPartition(name string) (queue string, p int) {
	if !strings.HasSuffix(name, "}") {
		return name, 0
	}
	i := strings.LastIndexByte(name, '{')
	if i <= 0 {
		return name, 0
	}
	digits := name[i+1 : len(name)-1]
	if digits == "" || len(digits) > 3 || digits[0] == '0' {
		return name, 0
	}
	n, err := strconv.Atoi(digits)
	if err != nil || n < 1 || n >= MaxPartitions {
		return name, 0
	}
	return name[:i], n
}

// PartitionName is the store's name of the partition m is in.
func (m *Message) PartitionName() string { return PartitionName(m.Queue, m.Partition) }

// partitionOf picks the partition, of n, for key.
func partitionOf(key string, n int) int {
	if n <= 1 {
		return 0
	}
	h := fnv.New32a()
	_, _ = h.Write([]byte(key))
	return int(h.Sum32() % uint32(n))
}

// PartitionHinter is implemented by a store that knows how many
// partitions suit a queue by default (Config.Partitions zero): the Redis
// backend says DefaultClusterPartitions on Redis Cluster and 1 otherwise.
// A store without it gets 1.
type PartitionHinter interface {
	DefaultPartitions() int
}

func checkPartitions(what string, n int) error {
	if n < 0 || n > MaxPartitions {
		return fmt.Errorf("task: %s: partitions must be between 1 and %d, got %d", what, MaxPartitions, n)
	}
	return nil
}

// partitions returns the number of partitions enqueues of queue spread
// over. The Manager is started.
func (m *Manager) partitions(queue string) int {
	if n := m.cfg.QueuePartitions[queue]; n > 0 {
		return n
	}
	return m.cfg.Partitions
}

// choosePartition sets msg.Partition: by the ordering key when one is
// given, by the unique key when the task has one (so that one unique key
// lives in one partition), by the task id otherwise.
func (m *Manager) choosePartition(msg *Message, key string) {
	n := m.partitions(msg.Queue)
	switch {
	case key != "":
		msg.Partition = partitionOf(key, n)
	case msg.Unique != "":
		msg.Partition = partitionOf(msg.Unique, n)
	default:
		msg.Partition = partitionOf(msg.ID, n)
	}
}

// errKeyAndUnique refuses an enqueue with both an ordering key and a
// unique key: each would pick the partition.
var errKeyAndUnique = errors.New("task: an enqueue takes an ordering Key or a unique key, not both: a unique key picks the task's partition")

// storeQueues returns the store queues (partitions) of the logical
// queues names: their configured partitions, and any other partition of
// theirs the store lists in known (left by a node configured with more
// partitions), in order.
func storeQueues(names []string, n func(string) int, known []string) []string {
	var out []string
	for _, q := range names {
		for p := range max(n(q), 1) {
			out = append(out, PartitionName(q, p))
		}
	}
	for _, k := range known {
		q, _ := SplitPartition(k)
		if slices.Contains(names, q) && !slices.Contains(out, k) {
			out = append(out, k)
		}
	}
	return out
}
