package dashboard

import (
	"context"
	"errors"
	"math"
	"slices"
	"testing"
	"time"

	"github.com/stellarfw/stellar-go/task"
)

// TestRates: a queue's rates are its counters' growth per second over
// the last 10 s, spread over the whole window while the readings cover
// less of it; a counter that went down gives no negative rate.
func TestRates(t *testing.T) {
	r := rates{}
	t0 := time.Unix(1_800_000_000, 0)
	for _, tc := range []struct {
		at                  time.Duration
		processed, failed   int64
		wantDone, wantFails float64
	}{
		{0, 100, 10, 0, 0},
		{time.Second, 101, 10, 0.1, 0},             // one task in the first second: 0.1/s, not 1/s
		{5 * time.Second, 150, 12, 5, 0.2},         // over the whole window still
		{20 * time.Second, 350, 12, 200.0 / 15, 0}, // from the reading at 5 s, the newest at least 10 s old
		{21 * time.Second, 10, 0, 0, 0},            // the store was flushed
	} {
		done, fails := r.observe("mail", t0.Add(tc.at), tc.processed, tc.failed)
		if math.Abs(done-tc.wantDone) > 1e-9 || math.Abs(fails-tc.wantFails) > 1e-9 {
			t.Errorf("at %s: %v/s done, %v/s failed; want %v, %v", tc.at, done, fails, tc.wantDone, tc.wantFails)
		}
	}
	r.forget(t0.Add(time.Minute))
	if len(r) != 0 {
		t.Errorf("a queue not read for a minute is kept: %v", r)
	}
}

// failingStore is a task store whose reads fail, as when Redis is away.
type failingStore struct{ task.AdminStore }

var errAway = errors.New("redis: unavailable")

func (failingStore) Queues(context.Context) ([]string, error)           { return nil, errAway }
func (failingStore) Workers(context.Context) ([]task.WorkerInfo, error) { return nil, errAway }
func (failingStore) PausedQueues(context.Context) ([]string, error)     { return nil, errAway }

// TestPartsFail: a part that cannot be read is named in the picture's
// errors, and the others are still read.
func TestPartsFail(t *testing.T) {
	d := New(Options{Token: "parts-fail-token-0123456789", Inspector: task.NewInspector(failingStore{})})
	s := d.build(context.Background())
	var failed []string
	for _, e := range s.Errors {
		failed = append(failed, e.Part)
	}
	want := []string{"nodes", "queues", "running", "failed", "delayed", "locks", "dropped"}
	if !slices.Equal(failed, want) {
		t.Errorf("failed parts %v, want %v", failed, want)
	}
	if s.Periodic == nil || s.Rooms == nil {
		t.Errorf("the parts that need no store were not read: periodic %v, rooms %v", s.Periodic, s.Rooms)
	}
	if _, err := d.picture(context.Background()); err != nil {
		t.Errorf("picture with some parts read: %v", err)
	}
}
