package redis

import (
	"strconv"

	"github.com/stellarfw/stellar-go/task"
)

// clusterSlots is the number of hash slots of a Redis Cluster.
const clusterSlots = 16384

// crc16 is Redis Cluster's key hash: CRC-16/XMODEM (polynomial 0x1021,
// no reflection, initial value 0).
func crc16(s string) uint16 {
	var crc uint16
	for i := 0; i < len(s); i++ {
		crc ^= uint16(s[i]) << 8
		for range 8 {
			if crc&0x8000 != 0 {
				crc = crc<<1 ^ 0x1021
			} else {
				crc <<= 1
			}
		}
	}
	return crc
}

// vanDerCorput is the p-th point of the base-2 van der Corput sequence,
// scaled to [0, clusterSlots): 0, 1/2, 1/4, 3/4, 1/8, 5/8, … of the
// slots. Its first n points are spread evenly for every n (exactly
// evenly when n is a power of two).
func vanDerCorput(p int) int {
	x, half := 0, clusterSlots/2
	for ; p > 0; p >>= 1 {
		if p&1 == 1 {
			x += half
		}
		half /= 2
	}
	return x
}

// slotWindow is the width of the slot range a partition's hash tag is
// searched for: a 1/MaxPartitions of the slots, so that the partitions
// of a queue keep the van der Corput spacing up to MaxPartitions.
const slotWindow = clusterSlots / task.MaxPartitions

// PartitionTag returns the hash tag of partition p of queue: the keys of
// that partition are PREFIX{TAG}:…, in the slot that CLUSTER KEYSLOT
// {TAG} names, for an operator who moves a queue's slots.
func PartitionTag(queue string, p int) string { return partitionTag(queue, p) }

// partitionTag returns the hash tag of partition p of queue. Partition 0
// keeps the tag a queue had before partitions, q:NAME. Partition p > 0
// has qp:P:S:NAME, with the smallest S whose slot lies in the window
// that starts vanDerCorput(p) slots after partition 0's slot: the
// partitions of a queue sit at evenly spaced slots, so that a Redis
// Cluster whose masters hold equal ranges of slots (as redis-cli
// --cluster create makes them) holds equal shares of the partitions,
// wherever the queue's partition 0 lands.
func partitionTag(queue string, p int) string {
	tag := "q:" + queue
	if p <= 0 {
		return tag
	}
	base := int(crc16(tag)) % clusterSlots
	lo := (base + vanDerCorput(p)) % clusterSlots
	prefix := "qp:" + strconv.Itoa(p) + ":"
	suffix := ":" + queue
	// One try in 64 hits the window; a million misses do not happen.
	for s := 0; s < 1<<20; s++ {
		t := prefix + strconv.Itoa(s) + suffix
		if (int(crc16(t))%clusterSlots-lo+clusterSlots)%clusterSlots < slotWindow {
			return t
		}
	}
	return prefix + suffix
}
