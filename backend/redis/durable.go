package redis

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/redis/rueidis"
)

// Replication is asynchronous: a master that acknowledged a write and
// failed before its replica had it takes the write with it, and the
// promoted replica never saw it. For the scripts that take a task, record
// its outcome or add it, execDurable asks the master, on the same
// connection, to WAIT until one replica confirms it has every write of
// that connection so far, whenever the master has a replica online. The
// confirmation is what the caller acts on: a task fetched without it is
// not run, an outcome without it is recorded again (the outcome scripts
// are fenced by attempt, so a second try does nothing if the first one
// landed), an enqueue without it is made again (a no-op for the same id).

// Defaults of the replica confirmation.
const (
	// DefaultReplicaWait bounds how long a write waits for a replica.
	DefaultReplicaWait = time.Second
	// replicaCheck is how long the count of a master's online replicas
	// (from ROLE) is trusted before it is asked again.
	replicaCheck = time.Second
	// laggingPause is how long a master whose replica did not confirm a
	// write within ReplicaWait is not waited for: a replica that is
	// connected but stalled would otherwise slow every write to
	// ReplicaWait until the master drops it.
	laggingPause = 5 * time.Second
)

// ErrUnconfirmed means a write was made, but the connection failed before
// a replica confirmed it: it may be lost if the master failed. It is
// temporary: the callers make the write again, which the scripts allow.
var ErrUnconfirmed = errors.New("redis: write not confirmed by a replica")

// replicaState is what the backend knows of the replicas of the master
// that serves one key's slot.
type replicaState struct {
	online  int       // replicas online at the last check
	checked time.Time // of the last check; zero: never
	pauseTo time.Time // no waiting before this (the replica lagged)
}

// replicas tracks replicaState by the slot of the scripts' keys (every
// key of a script shares its hash tag), so that the scripts of one
// partition, each naming keys of its own, share one state.
type replicas struct {
	mu sync.Mutex
	m  map[uint16]replicaState // guarded by mu
}

func (r *replicas) get(key uint16) replicaState {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.m[key]
}

func (r *replicas) update(key uint16, f func(*replicaState)) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.m == nil {
		r.m = map[uint16]replicaState{}
	}
	st := r.m[key]
	f(&st)
	r.m[key] = st
}

// dedicatedExec adapts a DedicatedClient to what rueidis.Lua.Exec calls
// (B and Do, nothing else), so that a script runs on the connection the
// WAIT that follows it is sent on.
type dedicatedExec struct {
	rueidis.Client // nil: Lua.Exec calls only the methods below
	dc             rueidis.DedicatedClient
}

func (d dedicatedExec) B() rueidis.Builder { return d.dc.B() }

func (d dedicatedExec) Do(ctx context.Context, cmd rueidis.Completed) rueidis.RedisResult {
	return d.dc.Do(ctx, cmd)
}

// execDurable runs script on keys and args and returns its reply once a
// replica of the master confirmed it, or at once if the master has no
// replica online (or one lagged lately, see laggingPause). op names the
// call in errors. A connection failure after the reply and before the
// confirmation is ErrUnconfirmed; a redirection (the slot moved or is
// moving) runs the script the ordinary way, which follows it.
func (b *Backend) execDurable(ctx context.Context, c rueidis.Client, op string, script *rueidis.Lua, keys, args []string) (rueidis.RedisResult, error) {
	key := slot(keys[0])
	now := time.Now()
	st := b.replicas.get(key)
	if b.cfg.ReplicaWait < 0 || (!st.checked.IsZero() && now.Sub(st.checked) < replicaCheck && (st.online == 0 || now.Before(st.pauseTo))) {
		return script.Exec(ctx, c, keys, args), nil
	}
	var (
		res     rueidis.RedisResult
		waitErr error
		redir   bool
	)
	_ = c.Dedicated(func(dc rueidis.DedicatedClient) error {
		res = script.Exec(ctx, dedicatedExec{dc: dc}, keys, args)
		if rerr, ok := rueidis.IsRedisErr(res.Error()); ok {
			if _, moved := rerr.IsMoved(); moved {
				redir = true
			} else if _, ask := rerr.IsAsk(); ask {
				redir = true
			}
			return nil
		}
		if res.Error() != nil {
			return nil
		}
		online := st.online
		if st.checked.IsZero() || now.Sub(st.checked) >= replicaCheck {
			n, err := onlineReplicas(dc.Do(ctx, dc.B().Role().Build()))
			if err != nil && !isRedisErr(err) {
				waitErr = err
				return nil
			}
			// A refused ROLE (an ACL without it) leaves n at 0: such a
			// master is not waited for.
			online = n
			b.replicas.update(key, func(s *replicaState) { s.online, s.checked = n, time.Now() })
		}
		if online == 0 || time.Now().Before(st.pauseTo) {
			return nil
		}
		acked, err := dc.Do(ctx, dc.B().Wait().Numreplicas(1).Timeout(b.cfg.ReplicaWait.Milliseconds()).Build()).AsInt64()
		switch {
		case err != nil && !isRedisErr(err):
			waitErr = err
		case err != nil || acked == 0:
			b.replicaLagged.Add(1)
			b.replicas.update(key, func(s *replicaState) { s.pauseTo = time.Now().Add(laggingPause) })
		default:
			b.replicaConfirmed.Add(1)
		}
		return nil
	})
	if redir {
		b.replicas.update(key, func(s *replicaState) { s.checked = time.Time{} })
		return script.Exec(ctx, c, keys, args), nil
	}
	if waitErr != nil {
		b.replicas.update(key, func(s *replicaState) { s.checked = time.Time{} })
		b.unconfirmed.Add(1)
		return res, temporaryError{fmt.Errorf("%w: %s: %w", ErrUnconfirmed, op, waitErr)}
	}
	return res, nil
}

func isRedisErr(err error) bool {
	_, ok := rueidis.IsRedisErr(err)
	return ok
}

// onlineReplicas reads the number of replicas of a ROLE reply from a
// master (a replica's reply counts none).
func onlineReplicas(r rueidis.RedisResult) (int, error) {
	vals, err := r.ToArray()
	if err != nil {
		return 0, err
	}
	if len(vals) < 3 {
		return 0, nil
	}
	if role, _ := vals[0].ToString(); role != "master" {
		return 0, nil
	}
	reps, _ := vals[2].ToArray()
	return len(reps), nil
}
