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
// again (an enqueue, an outcome) or, for a fetch, gets no task to run.
func TestUnconfirmedWrite(t *testing.T) {
	tests := []struct {
		name string
		// prepare runs while the replicas still confirm; write then
		// waits for them, frozen; landed says its script ran.
		prepare func(t *testing.T, s *redis.TaskStore) *task.Delivery
		write   func(ctx context.Context, s *redis.TaskStore, d *task.Delivery) error
		landed  func(st task.QueueStats) bool
	}{
		{"enqueue",
			func(*testing.T, *redis.TaskStore) *task.Delivery { return nil },
			func(ctx context.Context, s *redis.TaskStore, _ *task.Delivery) error {
				_, err := s.Enqueue(ctx, testMessage(), time.Time{})
				return err
			},
			func(st task.QueueStats) bool { return st.Pending == 1 }},
		{"fetch",
			func(t *testing.T, s *redis.TaskStore) *task.Delivery {
				if _, err := s.Enqueue(t.Context(), testMessage(), time.Time{}); err != nil {
					t.Fatal(err)
				}
				return nil
			},
			func(ctx context.Context, s *redis.TaskStore, _ *task.Delivery) error {
				d, err := s.Fetch(ctx, "default", "w1", time.Minute)
				if d != nil {
					return errors.New("a delivery came with the error")
				}
				return err
			},
			func(st task.QueueStats) bool { return st.Running == 1 }},
		{"ack",
			func(t *testing.T, s *redis.TaskStore) *task.Delivery {
				if _, err := s.Enqueue(t.Context(), testMessage(), time.Time{}); err != nil {
					t.Fatal(err)
				}
				d, err := s.Fetch(t.Context(), "default", "w1", time.Minute)
				if err != nil || d == nil {
					t.Fatal(d, err)
				}
				return d
			},
			func(ctx context.Context, s *redis.TaskStore, d *task.Delivery) error { return s.Ack(ctx, d) },
			func(st task.QueueStats) bool { return st.Running == 0 && st.Processed == 2 }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := redistest.StartSentinelSet(t)
			prefix := redistest.Prefix(t)
			cfg := redis.Config{SentinelMaster: redistest.SentinelName, SentinelAddrs: s.Addrs(), Prefix: prefix, ReplicaWait: time.Minute}
			b := open(t, cfg)
			addTakeAck(t, b.Tasks()) // knows the master has replicas
			d := tc.prepare(t, b.Tasks())
			master := s.Master(t)
			for _, r := range s.Replicas(t) {
				r.Freeze(t)
			}
			watch := open(t, redis.Config{URL: master.URL(), Prefix: prefix, ReplicaWait: -1})
			done := make(chan error, 1)
			go func() { done <- tc.write(context.Background(), b.Tasks(), d) }()
			// Once the script ran, the write waits for a replica.
			ipoll.Until(t, "the write made", 10*time.Second, func() bool {
				st, err := watch.Tasks().Counts(t.Context(), "default")
				return err == nil && tc.landed(st)
			})
			master.Kill(t)
			var err error
			select {
			case err = <-done:
			case <-time.After(30 * time.Second):
				t.Fatal("the write did not return after its master was killed")
			}
			var tmp interface{ Temporary() bool }
			if !errors.Is(err, redis.ErrUnconfirmed) || !errors.As(err, &tmp) || !tmp.Temporary() {
				t.Errorf("%v, want a temporary ErrUnconfirmed", err)
			}
			if st := b.Stats(); st.Unconfirmed != 1 {
				t.Errorf("stats %+v, want 1 unconfirmed write", st)
			}
		})
	}
}

// BenchmarkReplicaWait measures a task's round (enqueue, fetch, ack) on
// the 3-master cluster with replicas, waiting for a replica's
// confirmation of each write and not:
//
//	go test -run '^$' -bench ReplicaWait -cpu 16 ./backend/redis/
func BenchmarkReplicaWait(b *testing.B) {
	c := redistest.SharedCluster(b)
	for _, bc := range []struct {
		name string
		wait time.Duration
	}{{"wait", 0}, {"no-wait", -1}} {
		b.Run(bc.name, func(b *testing.B) {
			be, err := redis.Open(redis.Config{ClusterAddrs: c.Addrs(), Prefix: redistest.Prefix(b), ReplicaWait: bc.wait})
			if err != nil {
				b.Fatal(err)
			}
			defer be.Close()
			s := be.Tasks()
			ctx := context.Background()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					if _, err := s.Enqueue(ctx, testMessage(), time.Time{}); err != nil {
						b.Error(err)
						return
					}
					d, err := s.Fetch(ctx, "default", "w1", time.Minute)
					if err != nil {
						b.Error(err)
						return
					}
					if d != nil {
						if err := s.Ack(ctx, d); err != nil {
							b.Error(err)
							return
						}
					}
				}
			})
			b.ReportMetric(float64(be.Stats().ReplicaConfirmed)/float64(b.N), "waits/op")
		})
	}
}
