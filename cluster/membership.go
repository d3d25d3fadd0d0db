package cluster

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"time"
)

// TakeoverHeartbeats is how many of its heartbeat intervals a starting
// node watches a live record under its id before it takes the id over,
// when the record was written on another machine (or where the system
// cannot say whether its process runs): a record not renewed for that
// long belongs to a run that stopped heartbeating. One interval is a
// heartbeat's period; the second allows for a heartbeat that is late on a
// busy machine.
const TakeoverHeartbeats = 2

// maxJoinRounds bounds how often a start looks again at a record that
// changed under it before it gives up as if the id were live.
const maxJoinRounds = 5

// procState is what the system says about a pid.
type procState int

const (
	procUnknown procState = iota // the system does not say
	procGone                     // no such process, or a zombie
	procRuns                     // a process runs under that pid
)

// verdict is what a starting node does about the record under its id.
type verdict int

const (
	refuse   verdict = iota // the id is live
	takeOver                // the record's run is gone: take the id over now
	watch                   // cannot tell: take it over unless it is renewed
)

// judge decides about raw, the record stored under id, for a node of
// this cluster starting on machine under that id:
//
//   - a record this cluster cannot read (another token, malformed) is
//     refused, as a node of another cluster on the same prefix would be;
//   - a record past its signed expiry is taken over;
//   - a record written by a process of this machine (the same boot and
//     pid namespace) is taken over at once if that process is gone, or if
//     its pid now names a process started at another time (the pid was
//     reused); it is refused at once if that process runs;
//   - any other (another machine, or the system does not say) is watched.
//
// A record of this run itself (instance self: a write whose answer was
// lost) is taken over. judge returns the record's node, and why it
// decided so.
func judge(s signer, id string, raw []byte, now time.Time, machine, self string, procStart func(int) (string, procState)) (verdict, Node, string) {
	n, err := s.parseRecord(id, raw, now)
	switch {
	case errors.Is(err, errRecordExpired):
		return takeOver, n, "its record is past its signed expiry"
	case err != nil:
		return refuse, n, "a record this cluster cannot read holds the id: another cluster's, with another token?"
	case n.Instance == self:
		return takeOver, n, "the record is this run's own"
	}
	if machine == "" || !strings.HasPrefix(n.Process, machine+"/") {
		return watch, n, ""
	}
	start, st := procStart(n.PID)
	switch {
	case st == procGone:
		return takeOver, n, fmt.Sprintf("its process (pid %d) is gone", n.PID)
	case st == procRuns && start != n.Process[len(machine)+1:]:
		return takeOver, n, fmt.Sprintf("its process (pid %d) is gone: the pid names another process now", n.PID)
	case st == procRuns:
		return refuse, n, fmt.Sprintf("pid %d runs on this machine", n.PID)
	}
	return watch, n, ""
}

func duplicateError(id, why string) error {
	return fmt.Errorf("cluster: node id %q is already live in the cluster (%s); give this node another id: %w", id, why, ErrDuplicateNode)
}

// join records the node under its id, taking the id over from a run
// that is gone (see judge). A record it watches is taken over if it is
// still the same after TakeoverHeartbeats heartbeat intervals (or at its
// signed expiry, if sooner); renewed, its run is live. Every takeover is
// a compare and set of the exact record judged: of two nodes taking one
// id over, one wins, and the other judges again and finds the winner
// live. join fails with ErrDuplicateNode, saying why, when the id is live.
func (c *Cluster) join(ctx context.Context) error {
	c.mu.Lock()
	t, id, ttl, every, log, s, clock, machine, self := c.t, c.cfg.ID, c.cfg.NodeTTL, c.cfg.HeartbeatInterval, c.cfg.Logger, c.sign, c.cfg.Now, c.machine, c.self.Instance
	c.mu.Unlock()
	watchFor := TakeoverHeartbeats * every
	var watched []byte // the record watched and found changed, if any
	var watchedNode Node
	for range maxJoinRounds {
		rec := c.record()
		err := t.Join(ctx, id, rec, ttl)
		if err == nil {
			c.wrote(rec)
			return nil
		}
		if !errors.Is(err, ErrDuplicateNode) {
			return err
		}
		old, ok, err := stored(ctx, t, id)
		if err != nil {
			return err
		}
		if !ok {
			continue // gone meanwhile
		}
		v, n, why := judge(s, id, old, clock(), machine, self, processStart)
		if v == watch && watched != nil && n.Instance == watchedNode.Instance && !bytes.Equal(old, watched) {
			return duplicateError(id, fmt.Sprintf("pid %d on %s renewed its record within %s", n.PID, n.Host, watchFor))
		}
		switch v {
		case refuse:
			return duplicateError(id, why)
		case watch:
			wait := min(watchFor, n.ExpiresAt.Sub(clock()))
			log.Debug("a record of another machine holds this node's id: taking it over unless it is renewed",
				"member", id, "pid", n.PID, "host", n.Host, "within", wait.String())
			if err := sleep(ctx, wait); err != nil {
				return err
			}
			watched, watchedNode = old, n
			why = fmt.Sprintf("its record was not renewed for %s", wait.Round(time.Millisecond))
		}
		rec = c.record()
		err = t.Replace(ctx, id, old, rec, ttl)
		if err == nil {
			c.wrote(rec)
			log.Info("took this node's id over from a run that is gone", "member", id, "reason", why,
				"previous_pid", n.PID, "previous_host", n.Host, "previous_instance", n.Instance)
			return nil
		}
		if !errors.Is(err, ErrRecordChanged) {
			return err
		}
	}
	return duplicateError(id, "the record under the id kept changing")
}

// contest handles a heartbeat that found another record under the
// node's id. A live record of a later run of the node (one started after
// this one) means that run took the id over: this one steps down and
// writes nothing. Any other record (an earlier run's written back into
// the backend, another cluster's, or this run's own from a write whose
// answer was lost) is replaced by this run's, so that writing back an
// old record cannot put a node out.
func (c *Cluster) contest(ctx context.Context, t Transport, id string, rec []byte, ttl time.Duration) error {
	cur, ok, err := stored(ctx, t, id)
	if err != nil {
		return err
	}
	if !ok {
		err = t.Join(ctx, id, rec, ttl)
	} else {
		c.mu.Lock()
		s, self, now := c.sign, c.self, c.cfg.Now()
		c.mu.Unlock()
		if n, perr := s.parseRecord(id, cur, now); perr == nil && later(n, self) {
			c.stepDown(n)
			return nil
		}
		err = t.Replace(ctx, id, cur, rec, ttl)
	}
	if err != nil {
		return fmt.Errorf("cluster: another record holds this node's id: %w", err)
	}
	c.wrote(rec)
	return nil
}

// later reports whether run n of a node started after run self: by start
// time, then by instance, so that of two runs exactly one is the later.
func later(n, self Node) bool {
	if n.Instance == self.Instance {
		return false
	}
	if !n.StartedAt.Equal(self.StartedAt) {
		return n.StartedAt.After(self.StartedAt)
	}
	return n.Instance > self.Instance
}

// stepDown stops this run claiming the node's id, which the later run n
// took over: it logs an error (two processes run as one node: an
// operator must stop one), reports itself not ready, and neither
// heartbeats, nor answers calls, nor leaves under the id any more.
func (c *Cluster) stepDown(n Node) {
	c.mu.Lock()
	id, log := c.cfg.ID, c.cfg.Logger
	err := fmt.Errorf("%w: pid %d on %s, started %s, runs as node %q now; this process (pid %d) stopped claiming the id: stop one of them",
		ErrTakenOver, n.PID, n.Host, n.StartedAt.Format(time.RFC3339), id, os.Getpid())
	c.hbErr = err
	c.ousted.Store(true)
	c.mu.Unlock()
	log.Error("another process took this node's id over: two processes run as one node; this one stops claiming the id and reports itself not ready: stop it, or give it another id",
		"member", id, "pid", n.PID, "host", n.Host, "instance", n.Instance)
}

// ownRecord returns the record of this run stored under id, for Leave:
// the one it last wrote, or, when the backend holds another record of
// this run (a write whose answer was lost), that one. Another run's
// record is never this run's to remove.
func (c *Cluster) ownRecord(ctx context.Context, t Transport, id string) []byte {
	c.mu.Lock()
	last, s, self, now := c.last, c.sign, c.self, c.cfg.Now()
	c.mu.Unlock()
	cur, ok, err := stored(ctx, t, id)
	if err != nil || !ok || bytes.Equal(cur, last) {
		return last
	}
	if n, err := s.parseRecord(id, cur, now); (err == nil || errors.Is(err, errRecordExpired)) && n.Instance == self.Instance {
		return cur
	}
	return last
}

// record returns a new membership record of the node, signed.
func (c *Cluster) record() []byte {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.recordLocked()
}

// wrote notes rec as the record stored under the node's id.
func (c *Cluster) wrote(rec []byte) {
	c.mu.Lock()
	c.last = rec
	c.mu.Unlock()
}

// stored returns the record stored under id, if any.
func stored(ctx context.Context, t Transport, id string) ([]byte, bool, error) {
	raw, err := t.Record(ctx, id)
	if err != nil {
		return nil, false, err
	}
	return raw, raw != nil, nil
}

// sleep waits for d or until ctx ends.
func sleep(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return nil
	}
	timer := time.NewTimer(d)
	defer timer.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-timer.C:
		return nil
	}
}
