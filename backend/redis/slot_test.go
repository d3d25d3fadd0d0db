package redis

import (
	"strconv"
	"strings"
	"testing"

	"github.com/stellarfw/stellar-go/task"
)

// TestPartitionTagsSpread checks where the partitions of a queue land:
// partition 0 keeps the tag of an unpartitioned queue (its data from
// before partitions is its partition 0), and with the default number of
// partitions every third of the slots, as a 3-master cluster splits
// them, holds 5 or 6 of the 16.
func TestPartitionTagsSpread(t *testing.T) {
	s := &TaskStore{prefix: "stellar:"}
	for _, queue := range []string{"default", "emails", "a", "q:1", "очередь", "x y z"} {
		if got, want := s.keys(queue)[kPending], "stellar:{q:"+queue+"}:pending"; got != want {
			t.Errorf("partition 0 of %q: key %q, want %q", queue, got, want)
		}
		thirds := make([]int, 3)
		seen := map[uint16]bool{}
		for p := range task.DefaultClusterPartitions {
			k := s.keys(task.PartitionName(queue, p))
			sl := slot(k[kPending])
			for _, key := range k {
				if slot(key) != sl {
					t.Fatalf("queue %q partition %d: key %q in slot %d, pending in %d", queue, p, key, slot(key), sl)
				}
			}
			if seen[sl] {
				t.Errorf("queue %q: two partitions in slot %d", queue, sl)
			}
			seen[sl] = true
			thirds[min(int(sl)/(clusterSlots/3), 2)]++
		}
		for i, n := range thirds {
			if n < 5 || n > 6 {
				t.Errorf("queue %q: %d of %d partitions in third %d of the slots, want 5 or 6 (%v)", queue, n, task.DefaultClusterPartitions, i, thirds)
			}
		}
		// Every partition up to the bound gets a tag of its own.
		tags := map[string]bool{}
		for p := range task.MaxPartitions {
			tags[partitionTag(queue, p)] = true
		}
		if len(tags) != task.MaxPartitions {
			t.Errorf("queue %q: %d distinct tags for %d partitions", queue, len(tags), task.MaxPartitions)
		}
	}
}

func TestCRC16(t *testing.T) {
	for _, k := range []string{"123456789", "foo", "", "q:default", "ключ"} {
		if got, want := crc16(k)%clusterSlots, slot(k); got != want {
			t.Errorf("crc16(%q) %% slots = %d, want %d", k, got, want)
		}
	}
}

// TestChatRoomsSpread checks the chat layout: a room's keys share a slot,
// whatever its name, and rooms (and nodes' indexes) spread over the
// slots instead of sharing one.
func TestChatRoomsSpread(t *testing.T) {
	s := &ChatStore{prefix: "stellar:"}
	thirds := make([]int, 3)
	for i := range 300 {
		room := "room-" + strconv.Itoa(i)
		k := s.roomKeys(room)
		if slot(k[0]) != slot(k[1]) {
			t.Fatalf("room %q: meta in slot %d, members in %d", room, slot(k[0]), slot(k[1]))
		}
		thirds[int(slot(k[0]))/(clusterSlots/3+1)]++
	}
	for i, n := range thirds {
		if n < 60 {
			t.Errorf("%d of 300 rooms in third %d of the slots: %v", n, i, thirds)
		}
	}
	for _, room := range []string{"{tag}", "}{", "a}b{c", "", "nul\x00in", "{}"} {
		if k := s.roomKeys(room); slot(k[0]) != slot(k[1]) {
			t.Errorf("room %q: keys %q in different slots", room, k)
		}
	}
	if slot(s.nodeKey("n1")) == slot(s.nodeKey("n2")) && slot(s.nodeKey("n2")) == slot(s.nodeKey("n3")) {
		t.Error("three nodes' indexes in one slot")
	}
}

// TestPartitionSharesPerMasters: for 2 to 8 masters holding equal ranges
// of slots, each master holds its equal share of a queue's default
// partitions give or take one, for every one of 200 queue names.
func TestPartitionSharesPerMasters(t *testing.T) {
	const n = task.DefaultClusterPartitions
	for m := 2; m <= 8; m++ {
		for i := range 200 {
			q := "queue-" + strconv.Itoa(i)
			count := make([]int, m)
			for p := range n {
				count[int(crc16(partitionTag(q, p))%clusterSlots)*m/clusterSlots]++
			}
			for k, c := range count {
				if c < n/m-1 || c > (n+m-1)/m+1 {
					t.Fatalf("%d masters, queue %q: master %d holds %d of %d partitions (%v)", m, q, k, c, n, count)
				}
			}
		}
	}
}

// TestPartitionTagNamesTheKeys: every key of partition p of a queue has
// the hash tag PartitionTag(queue, p).
func TestPartitionTagNamesTheKeys(t *testing.T) {
	s := &TaskStore{prefix: "stellar:"}
	for p := range task.MaxPartitions {
		tag := "{" + PartitionTag("emails", p) + "}"
		for _, key := range s.keys(task.PartitionName("emails", p)) {
			if !strings.HasPrefix(key, "stellar:"+tag+":") {
				t.Errorf("partition %d: key %q lacks the tag %s", p, key, tag)
			}
		}
	}
}
