package redis

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/rueidis"
)

// A subscription checks that it still delivers: it publishes a probe to a
// channel of its own every probeInterval and expects it back within
// probeTimeout. A connection that Redis dropped (a restart, a failover)
// can leave the client believing it is subscribed while nothing arrives;
// the probe notices, and the subscription is made again.
const (
	probeInterval = 250 * time.Millisecond
	probeTimeout  = time.Second
)

// errProbeLost means a subscription stopped delivering its own probes.
var errProbeLost = errors.New("subscription delivers nothing: its probe did not come back")

// subscribe subscribes to channels (full names) and delivers their
// messages until ctx ends or the subscription fails. subscribed is called
// once the subscription is known to deliver: when its first probe came
// back, not merely when Redis confirmed the SUBSCRIBE.
func (b *Backend) subscribe(ctx context.Context, op string, channels []string, subscribed func(), deliver func(channel string, msg []byte)) error {
	c, err := b.conn(ctx)
	if err != nil {
		return err
	}
	var suffix [8]byte
	_, _ = rand.Read(suffix[:])
	probe := b.cfg.Prefix + "probe:" + hex.EncodeToString(suffix[:])

	rctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	var (
		echoed atomic.Int64 // the highest probe number that came back
		once   sync.Once
		wg     sync.WaitGroup
	)
	wg.Add(1)
	go func() {
		defer wg.Done()
		b.probeLoop(rctx, c, probe, &echoed, cancel)
	}()
	all := append([]string{probe}, channels...)
	// On a Redis Cluster a message published on any master reaches the
	// subscribers of every node; the subscription goes to the master of
	// the slot of its last channel, and when that master fails it breaks and
	// is made again on the one that took over.
	err = c.Receive(rctx, routed(c, c.B().Subscribe().Channel(all...).Build(), all[len(all)-1]), func(m rueidis.PubSubMessage) {
		if m.Channel == probe {
			if n, err := strconv.ParseInt(m.Message, 10, 64); err == nil && n > echoed.Load() {
				echoed.Store(n)
			}
			once.Do(subscribed)
			return
		}
		deliver(m.Channel, []byte(m.Message))
	})
	cancel(nil)
	wg.Wait()
	if ctx.Err() != nil {
		return ctx.Err()
	}
	if cause := context.Cause(rctx); cause != nil && !errors.Is(cause, context.Canceled) {
		err = cause
	}
	if err == nil {
		err = errors.New("subscription ended")
	}
	b.subscriptionsLost.Add(1)
	return b.wrap(ctx, op, err)
}

// probeLoop publishes numbered probes to probe and cancels the
// subscription when one cannot be published or has not come back within
// probeTimeout.
func (b *Backend) probeLoop(ctx context.Context, c rueidis.Client, probe string, echoed *atomic.Int64, cancel context.CancelCauseFunc) {
	t := time.NewTicker(probeInterval)
	defer t.Stop()
	var sent int64
	sentAt := map[int64]time.Time{}
	for {
		sent++
		sentAt[sent] = time.Now()
		pctx, pcancel := context.WithTimeout(ctx, probeTimeout)
		err := c.Do(pctx, routed(c, c.B().Publish().Channel(probe).Message(strconv.FormatInt(sent, 10)).Build(), probe)).Error()
		pcancel()
		if err != nil {
			if ctx.Err() == nil {
				cancel(fmt.Errorf("probe: %w", err))
			}
			return
		}
		got := echoed.Load()
		for n := range sentAt {
			if n <= got {
				delete(sentAt, n)
			}
		}
		if at, ok := sentAt[got+1]; ok && got+1 < sent && time.Since(at) > probeTimeout {
			cancel(errProbeLost)
			return
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}
