package metrics

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/stellarfw/stellar-go/backend"
	"github.com/stellarfw/stellar-go/backend/memory"
	"github.com/stellarfw/stellar-go/cluster"
	"github.com/stellarfw/stellar-go/event"
	"github.com/stellarfw/stellar-go/internal/lifecycle"
	"github.com/stellarfw/stellar-go/internal/poll"
	"github.com/stellarfw/stellar-go/task"
)

// sample returns the value of the sample of family name with exactly
// labels ("k=v" each), and whether there is one.
func sample(t *testing.T, g prometheus.Gatherer, name string, labels ...string) (float64, bool) {
	t.Helper()
	fams, err := g.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range fams {
		if f.GetName() != name {
			continue
		}
		for _, m := range f.GetMetric() {
			var got []string
			for _, l := range m.GetLabel() {
				got = append(got, l.GetName()+"="+l.GetValue())
			}
			if strings.Join(got, ",") != strings.Join(labels, ",") {
				continue
			}
			return value(m), true
		}
	}
	return 0, false
}

func value(m *dto.Metric) float64 {
	switch {
	case m.Counter != nil:
		return m.GetCounter().GetValue()
	case m.Gauge != nil:
		return m.GetGauge().GetValue()
	case m.Histogram != nil:
		return float64(m.GetHistogram().GetSampleCount())
	}
	return 0
}

func TestTaskOutcome(t *testing.T) {
	for _, tc := range []struct {
		name string
		p    event.Task
		want string
	}{
		{name: "completed", want: OutcomeCompleted},
		{name: "failed for good", p: event.Task{Err: errors.New("x"), Final: true}, want: OutcomeFailed},
		{name: "to retry", p: event.Task{Err: errors.New("x")}, want: OutcomeRetried},
		{name: "lease lost", p: event.Task{Err: fmt.Errorf("%w: cut off", task.ErrLeaseLost)}, want: OutcomeLeaseLost},
		{name: "handed back", p: event.Task{Err: task.ErrHandedBack}, want: OutcomeHandedBack},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := taskOutcome(&tc.p); got != tc.want {
				t.Errorf("taskOutcome = %q, want %q", got, tc.want)
			}
		})
	}
}

// TestNewTwice: the families of a node are registered once per
// registry; a second New on the same one fails and leaves the first's.
func TestNewTwice(t *testing.T) {
	reg := NewRegistry()
	if _, err := New(Options{Registry: reg, Events: event.NewBus(), NodeID: "a"}); err != nil {
		t.Fatal(err)
	}
	if _, err := New(Options{Registry: reg, Events: event.NewBus(), NodeID: "b"}); err == nil {
		t.Fatal("a second New on one registry succeeded")
	}
	if _, ok := sample(t, reg, "stellar_node_info", "backend=", "node=a", "version="); !ok {
		t.Error("the first node's families are gone")
	}
	if _, ok := sample(t, NewRegistry(), "go_goroutines"); !ok {
		t.Error("no Go runtime collector on a new registry")
	}
}

// TestRedisStats: the Redis backend's counters are served on Redis only.
func TestRedisStats(t *testing.T) {
	reg := prometheus.NewRegistry()
	stats := backend.RedisStats{ReplyErrors: 2, Unavailable: 5, SubscriptionsLost: 1, ReplicaConfirmed: 7, ReplicaLagged: 3, Unconfirmed: 4}
	if _, err := New(Options{Registry: reg, Events: event.NewBus(), Redis: func() backend.RedisStats { return stats }}); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name   string
		labels []string
		want   float64
	}{
		{"stellar_redis_errors_total", []string{"kind=reply"}, 2},
		{"stellar_redis_errors_total", []string{"kind=unavailable"}, 5},
		{"stellar_redis_subscriptions_lost_total", nil, 1},
		{"stellar_redis_replica_waits_total", []string{"result=confirmed"}, 7},
		{"stellar_redis_replica_waits_total", []string{"result=lagged"}, 3},
		{"stellar_redis_replica_waits_total", []string{"result=unconfirmed"}, 4},
	} {
		if v, ok := sample(t, reg, tc.name, tc.labels...); !ok || v != tc.want {
			t.Errorf("%s%v = %v, %v; want %v", tc.name, tc.labels, v, ok, tc.want)
		}
	}
	mem := prometheus.NewRegistry()
	if _, err := New(Options{Registry: mem, Events: event.NewBus()}); err != nil {
		t.Fatal(err)
	}
	if _, ok := sample(t, mem, "stellar_redis_subscriptions_lost_total"); ok {
		t.Error("Redis counters served without Redis")
	}
}

// TestDropped: a message the cluster drops is counted by its reason.
func TestDropped(t *testing.T) {
	b := memory.New(memory.Config{})
	defer b.Close()
	ctx := context.Background()
	c := cluster.New()
	if err := c.Start(ctx, b.Cluster(), cluster.Config{ID: "a", Token: cluster.RandomToken()}, lifecycle.Key{}); err != nil {
		t.Fatal(err)
	}
	defer c.Stop(ctx, lifecycle.Key{})
	reg := prometheus.NewRegistry()
	if _, err := New(Options{Registry: reg, Events: event.NewBus(), Cluster: c}); err != nil {
		t.Fatal(err)
	}
	before, ok := sample(t, reg, "stellar_cluster_messages_dropped_total", "reason=malformed")
	if !ok || before != 0 {
		t.Fatalf("dropped before = %v, %v", before, ok)
	}
	if err := b.Cluster().Publish(ctx, "all", []byte("not a message")); err != nil {
		t.Fatal(err)
	}
	poll.Until(t, "the dropped message counted", 0, func() bool {
		n := 0.0
		for _, r := range []string{cluster.DropMalformed, cluster.DropBadSignature} {
			v, _ := sample(t, reg, "stellar_cluster_messages_dropped_total", "reason="+r)
			n += v
		}
		return n == 1
	})
}

// slowStore is an AdminStore whose Queues answers only when its context
// ends.
type slowStore struct {
	task.AdminStore
	mu    sync.Mutex
	calls int // guarded by mu
}

func (s *slowStore) Queues(ctx context.Context) ([]string, error) {
	s.mu.Lock()
	s.calls++
	s.mu.Unlock()
	<-ctx.Done()
	return nil, ctx.Err()
}

func (s *slowStore) count() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.calls
}

// TestQueueDepthCache: the queue depths are read at most once per
// CacheFor, a read is bounded by ReadTimeout, and a failed read leaves
// the depths out and is counted.
func TestQueueDepthCache(t *testing.T) {
	var mu sync.Mutex
	now := time.Unix(1000, 0)
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	advance := func(d time.Duration) { mu.Lock(); now = now.Add(d); mu.Unlock() }

	t.Run("read once per period", func(t *testing.T) {
		b := memory.New(memory.Config{})
		defer b.Close()
		store := b.Tasks()
		reg := prometheus.NewRegistry()
		if _, err := New(Options{Registry: reg, Events: event.NewBus(), Inspector: task.NewInspector(store), Now: clock}); err != nil {
			t.Fatal(err)
		}
		enqueue := func() {
			m := task.Message{ID: fmt.Sprint(time.Now().UnixNano()), Name: "x", Queue: "q"}
			if _, err := store.Enqueue(context.Background(), &m, time.Time{}); err != nil {
				t.Fatal(err)
			}
		}
		enqueue()
		if v, _ := sample(t, reg, "stellar_task_queue_depth", "queue=q", "state=pending"); v != 1 {
			t.Fatalf("pending = %v, want 1", v)
		}
		enqueue()
		if v, _ := sample(t, reg, "stellar_task_queue_depth", "queue=q", "state=pending"); v != 1 {
			t.Fatalf("pending = %v within the cache period, want the cached 1", v)
		}
		advance(DefaultCacheFor)
		if v, _ := sample(t, reg, "stellar_task_queue_depth", "queue=q", "state=pending"); v != 2 {
			t.Fatalf("pending = %v after the cache period, want 2", v)
		}
	})

	t.Run("slow backend", func(t *testing.T) {
		store := &slowStore{}
		reg := prometheus.NewRegistry()
		if _, err := New(Options{Registry: reg, Events: event.NewBus(), Inspector: task.NewInspector(store),
			Now: clock, ReadTimeout: 20 * time.Millisecond}); err != nil {
			t.Fatal(err)
		}
		start := time.Now()
		if _, ok := sample(t, reg, "stellar_task_worker_nodes"); ok {
			t.Error("worker nodes served after a failed read")
		}
		if d := time.Since(start); d > 5*time.Second {
			t.Errorf("a scrape waited %s for a backend that does not answer", d)
		}
		if v, _ := sample(t, reg, "stellar_task_queue_read_errors_total"); v != 1 || store.count() != 1 {
			t.Errorf("read errors = %v after %d reads, want 1 and 1: a failed read is cached too", v, store.count())
		}
		advance(DefaultCacheFor)
		if v, _ := sample(t, reg, "stellar_task_queue_read_errors_total"); v != 2 {
			t.Errorf("read errors = %v, want 2", v)
		}
	})
}

// TestHTTPRecorder: the status of a handler is counted as written, a
// handler that writes nothing counts as 200, a panic as 500 (and still
// panics), and Flush reaches the writer.
func TestHTTPRecorder(t *testing.T) {
	reg := prometheus.NewRegistry()
	m, err := New(Options{Registry: reg, Events: event.NewBus()})
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/teapot", func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusEarlyHints) // informational: not the status
		w.WriteHeader(http.StatusTeapot)
	})
	mux.HandleFunc("/silent", func(http.ResponseWriter, *http.Request) {})
	mux.HandleFunc("/flush", func(w http.ResponseWriter, r *http.Request) { w.(http.Flusher).Flush() })
	mux.HandleFunc("/panic", func(http.ResponseWriter, *http.Request) { panic("boom") })
	h := m.HTTP(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, pattern := mux.Handler(r)
		SetRoute(r.Context(), pattern)
		mux.ServeHTTP(w, r)
	}), []string{"/healthz"})

	for _, path := range []string{"/teapot", "/silent", "/flush"} {
		h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", path, nil))
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", "/flush", nil))
	if !rec.Flushed {
		t.Error("Flush did not reach the writer")
	}
	func() {
		defer func() {
			if recover() == nil {
				t.Error("the panic was swallowed")
			}
		}()
		h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", "/panic", nil))
	}()
	h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", "/healthz", nil))
	for _, tc := range []struct {
		route, status string
		want          float64
	}{
		{"/teapot", "418", 1},
		{"/silent", "200", 1},
		{"/flush", "200", 2},
		{"/panic", "500", 1},
		{"/healthz", "404", 1}, // an exact path of the node is its own route
	} {
		if v, _ := sample(t, reg, "stellar_http_requests_total", "action=", "route="+tc.route, "status="+tc.status); v != tc.want {
			t.Errorf("requests of %s with %s = %v, want %v", tc.route, tc.status, v, tc.want)
		}
	}
}

// BenchmarkHTTP is the cost the metrics add to a request: the labels,
// the recorder, a counter and a histogram.
func BenchmarkHTTP(b *testing.B) {
	m, err := New(Options{Registry: prometheus.NewRegistry(), Events: event.NewBus()})
	if err != nil {
		b.Fatal(err)
	}
	h := m.HTTP(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusNoContent) }), []string{"/healthz"})
	r := httptest.NewRequest("GET", "/healthz", nil)
	w := httptest.NewRecorder()
	b.ReportAllocs()
	for b.Loop() {
		h.ServeHTTP(w, r)
	}
}

// BenchmarkActionAfter is the cost of counting one action call.
func BenchmarkActionAfter(b *testing.B) {
	bus := event.NewBus()
	if _, err := New(Options{Registry: prometheus.NewRegistry(), Events: bus}); err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	p := &event.Action{Name: "hello", ConnType: "web", Duration: time.Millisecond}
	b.ReportAllocs()
	for b.Loop() {
		_ = event.Fire(ctx, bus, event.ActionAfter, p)
	}
}
