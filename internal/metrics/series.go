package metrics

import (
	"sync"
	"sync/atomic"

	"github.com/prometheus/client_golang/prometheus"
)

// series caches the children of a metric vector by their label values,
// for the families counted on every request: a request finds its series
// in a map read without a lock, not through the vector's lock and
// label hashing. Their label values are bounded (registered actions,
// routes and patterns, statuses), and so is the cache; the families are
// never reset.
type series[K comparable, M any] struct {
	mu   sync.Mutex              // held while a series is added
	m    atomic.Pointer[map[K]M] // replaced, never changed
	make func(K) M
}

func newCounters(v *prometheus.CounterVec) *series[[3]string, prometheus.Counter] {
	return &series[[3]string, prometheus.Counter]{make: func(k [3]string) prometheus.Counter {
		return v.WithLabelValues(k[0], k[1], k[2])
	}}
}

func newObservers(v *prometheus.HistogramVec) *series[[2]string, prometheus.Observer] {
	return &series[[2]string, prometheus.Observer]{make: func(k [2]string) prometheus.Observer {
		return v.WithLabelValues(k[0], k[1])
	}}
}

// get returns the series of k, made on its first use.
func (s *series[K, M]) get(k K) M {
	if m := s.m.Load(); m != nil {
		if c, ok := (*m)[k]; ok {
			return c
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	old := s.m.Load()
	if old != nil {
		if c, ok := (*old)[k]; ok {
			return c
		}
	}
	next := make(map[K]M, 1)
	if old != nil {
		next = make(map[K]M, len(*old)+1)
		for key, c := range *old {
			next[key] = c
		}
	}
	c := s.make(k)
	next[k] = c
	s.m.Store(&next)
	return c
}
