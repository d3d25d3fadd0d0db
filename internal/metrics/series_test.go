package metrics

import (
	"strconv"
	"sync"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
)

// TestSeriesConcurrent: callers asking for series at once, some the
// same, each count on the vector's one child of their labels.
func TestSeriesConcurrent(t *testing.T) {
	v := prometheus.NewCounterVec(prometheus.CounterOpts{Name: "c"}, []string{"a", "b", "c"})
	reg := prometheus.NewRegistry()
	reg.MustRegister(v)
	s := newCounters(v)
	var wg sync.WaitGroup
	for i := range 32 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range 100 {
				s.get([3]string{"x", strconv.Itoa((i + j) % 4), "y"}).Inc()
			}
		}()
	}
	wg.Wait()
	for k := range 4 {
		if got, ok := sample(t, reg, "c", "a=x", "b="+strconv.Itoa(k), "c=y"); !ok || got != 800 {
			t.Errorf("series %d counted %v, want 800", k, got)
		}
	}
	if n := len(*s.m.Load()); n != 4 {
		t.Errorf("%d series cached, want 4", n)
	}
}
