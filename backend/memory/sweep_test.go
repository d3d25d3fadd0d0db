package memory

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/stellarfw/stellar-go/internal/poll"
)

func TestSweepReclaimsExpired(t *testing.T) {
	var mu = make(chan struct{}, 1)
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	clock := func() time.Time {
		mu <- struct{}{}
		defer func() { <-mu }()
		return now
	}
	advance := func(d time.Duration) {
		mu <- struct{}{}
		defer func() { <-mu }()
		now = now.Add(d)
	}
	b := New(Config{Now: clock, SweepInterval: 5 * time.Millisecond, SweepBatch: 50})
	defer b.Close()
	ctx := context.Background()
	s := b.Cache()
	for i := range 1000 {
		if err := s.Save(ctx, "n", fmt.Sprint("k", i), []byte("1"), time.Second); err != nil {
			t.Fatal(err)
		}
	}
	for i := range 10 {
		if err := s.Save(ctx, "n", fmt.Sprint("keep", i), []byte("1"), 0); err != nil {
			t.Fatal(err)
		}
		if _, err := s.Lock(ctx, "n", fmt.Sprint("lock", i), time.Second); err != nil {
			t.Fatal(err)
		}
	}
	if k, l := s.len(); k != 1010 || l != 10 {
		t.Fatalf("held %d keys, %d locks before expiry", k, l)
	}
	advance(time.Second)
	// Nobody reads the expired items: only the sweeper can reclaim them.
	var k, l int
	if !poll.Wait(0, func() bool {
		k, l = s.len()
		return k == 10 && l == 0
	}) {
		t.Fatalf("sweeper left %d keys, %d locks; want 10, 0", k, l)
	}
}

func TestSweepRoundIsBounded(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	s := newCacheStore(func() time.Time { return now })
	ctx := context.Background()
	for i := range 500 {
		_ = s.Save(ctx, "n", fmt.Sprint(i), []byte("1"), time.Second)
		_, _ = s.Lock(ctx, "n", fmt.Sprint(i), time.Second)
	}
	now = now.Add(time.Second)
	examined, dropped := s.sweep(20)
	if examined != 40 || dropped != 40 {
		t.Fatalf("sweep(20) examined %d, dropped %d; want 40, 40", examined, dropped)
	}
	if k, l := s.len(); k != 480 || l != 480 {
		t.Fatalf("after one round: %d keys, %d locks", k, l)
	}
	// A full sweep stops once a round finds little expired.
	b := &Backend{cfg: Config{SweepBatch: 20}, cache: s}
	b.sweep()
	if k, l := s.len(); k != 480-20*maxSweepRounds || l != 480-20*maxSweepRounds {
		t.Fatalf("after a sweep of %d rounds: %d keys, %d locks", maxSweepRounds, k, l)
	}
}

func TestCloseIsIdempotent(t *testing.T) {
	b := New(Config{SweepInterval: time.Millisecond})
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	// The store still answers after Close, with lazy expiry.
	if err := b.Cache().Save(context.Background(), "n", "k", []byte("1"), 0); err != nil {
		t.Fatal(err)
	}
}
