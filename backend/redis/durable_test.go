package redis_test

import (
	"context"
	"errors"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stellarfw/stellar-go/backend/redis"
	ipoll "github.com/stellarfw/stellar-go/internal/poll"
	"github.com/stellarfw/stellar-go/internal/redistest"
	"github.com/stellarfw/stellar-go/task"
)

var msgSeq atomic.Int64

func testMessage() *task.Message {
	return &task.Message{ID: "m" + strconv.FormatInt(msgSeq.Add(1), 10), Name: "job", Queue: "default", EnqueuedAt: time.Now().UnixMilli()}
}

// addTakeAck enqueues a task, fetches it and acknowledges it.
func addTakeAck(t *testing.T, s *redis.TaskStore) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	if _, err := s.Enqueue(ctx, testMessage(), time.Time{}); err != nil {
		t.Fatalf("Enqueue: %v", err)
	}
	d, err := s.Fetch(ctx, "default", "w1", time.Minute)
	if err != nil || d == nil {
		t.Fatalf("Fetch: %v, %v", d, err)
	}
	if err := s.Ack(ctx, d); err != nil {
		t.Fatalf("Ack: %v", err)
	}
}

// TestWritesWaitForAReplica: with a replica online, the scripts that add,
// take and settle a task each wait for a replica to confirm them; on a
// server with no replica they do not wait.
func TestWritesWaitForAReplica(t *testing.T) {
	t.Run("replicas", func(t *testing.T) {
		s := redistest.StartSentinelSet(t)
		b := open(t, redis.Config{SentinelMaster: redistest.SentinelName, SentinelAddrs: s.Addrs(), Prefix: redistest.Prefix(t)})
		addTakeAck(t, b.Tasks())
		if st := b.Stats(); st.ReplicaConfirmed != 3 || st.ReplicaLagged != 0 || st.Unconfirmed != 0 {
			t.Errorf("stats %+v, want 3 writes confirmed by a replica", st)
		}
	})
	t.Run("cluster", func(t *testing.T) {
		b := open(t, redis.Config{ClusterAddrs: redistest.SharedCluster(t).Addrs(), Prefix: redistest.Prefix(t)})
		addTakeAck(t, b.Tasks())
		if st := b.Stats(); st.ReplicaConfirmed != 3 || st.ReplicaLagged != 0 || st.Unconfirmed != 0 {
			t.Errorf("stats %+v, want 3 writes confirmed by a replica", st)
		}
	})
	t.Run("no replica", func(t *testing.T) {
		b := open(t, redis.Config{URL: redistest.Shared(t).URL(), Prefix: redistest.Prefix(t)})
		addTakeAck(t, b.Tasks())
		if st := b.Stats(); st.ReplicaConfirmed != 0 || st.ReplicaLagged != 0 || st.Unconfirmed != 0 {
			t.Errorf("stats %+v, want no replica wait", st)
		}
	})
}

// TestStalledReplica: a replica that is online but answers nothing does
// not stop the writes: one waits ReplicaWait, and for a while after it
// writes to that master do not wait.
func TestStalledReplica(t *testing.T) {
	s := redistest.StartSentinelSet(t)
	b := open(t, redis.Config{SentinelMaster: redistest.SentinelName, SentinelAddrs: s.Addrs(), Prefix: redistest.Prefix(t), ReplicaWait: 100 * time.Millisecond})
	addTakeAck(t, b.Tasks()) // knows the master has replicas
	for _, r := range s.Replicas(t) {
		r.Freeze(t)
	}
	addTakeAck(t, b.Tasks())
	if st := b.Stats(); st.ReplicaConfirmed != 3 || st.ReplicaLagged != 1 || st.Unconfirmed != 0 {
		t.Errorf("stats %+v, want 3 confirmed writes, then 1 that lagged and 2 that did not wait", st)
	}
}

// TestUnconfirmedWrite: a write whose master fails while it waits for a
// replica returns ErrUnconfirmed, a temporary error: the caller makes it
// again.
func TestUnconfirmedWrite(t *testing.T) {
	s := redistest.StartSentinelSet(t)
	prefix := redistest.Prefix(t)
	cfg := redis.Config{SentinelMaster: redistest.SentinelName, SentinelAddrs: s.Addrs(), Prefix: prefix, ReplicaWait: time.Minute}
	b := open(t, cfg)
	addTakeAck(t, b.Tasks()) // knows the master has replicas
	master := s.Master(t)
	for _, r := range s.Replicas(t) {
		r.Freeze(t)
	}
	watch := open(t, redis.Config{URL: master.URL(), Prefix: prefix, ReplicaWait: -1})
	done := make(chan error, 1)
	go func() {
		_, err := b.Tasks().Enqueue(context.Background(), testMessage(), time.Time{})
		done <- err
	}()
	// Once the task is there, the write waits for a replica.
	ipoll.Until(t, "the task enqueued", 10*time.Second, func() bool {
		st, err := watch.Tasks().Counts(t.Context(), "default")
		return err == nil && st.Pending == 1
	})
	master.Kill(t)
	var err error
	select {
	case err = <-done:
	case <-time.After(30 * time.Second):
		t.Fatal("Enqueue did not return after its master was killed")
	}
	var tmp interface{ Temporary() bool }
	if !errors.Is(err, redis.ErrUnconfirmed) || !errors.As(err, &tmp) || !tmp.Temporary() {
		t.Errorf("Enqueue: %v, want a temporary ErrUnconfirmed", err)
	}
	if st := b.Stats(); st.Unconfirmed != 1 {
		t.Errorf("stats %+v, want 1 unconfirmed write", st)
	}
}
