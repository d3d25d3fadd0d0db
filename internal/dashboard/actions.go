package dashboard

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/stellarfw/stellar-go/task"
)

// action is a change the page can make: a POST below Path/api/.
type action struct {
	pattern string
	run     func(ctx context.Context, d *Dashboard, r *http.Request) (any, error)
}

// Result is what an action answers.
type Result struct {
	OK bool `json:"ok"`
	// Count is how many tasks an action on all of them changed.
	Count int `json:"count,omitempty"`
}

var actions = []action{
	{"failed/{id}/retry", func(ctx context.Context, d *Dashboard, r *http.Request) (any, error) {
		return Result{OK: true}, d.opts.Inspector.RetryAndRemoveFailed(ctx, r.PathValue("id"))
	}},
	{"failed/{id}/remove", func(ctx context.Context, d *Dashboard, r *http.Request) (any, error) {
		return Result{OK: true}, d.opts.Inspector.RemoveFailed(ctx, r.PathValue("id"))
	}},
	{"failed/retry-all", func(ctx context.Context, d *Dashboard, _ *http.Request) (any, error) {
		n, err := d.eachFailed(ctx, d.opts.Inspector.RetryAndRemoveFailed)
		return Result{OK: err == nil, Count: n}, err
	}},
	{"failed/remove-all", func(ctx context.Context, d *Dashboard, _ *http.Request) (any, error) {
		n, err := d.eachFailed(ctx, d.opts.Inspector.RemoveFailed)
		return Result{OK: err == nil, Count: n}, err
	}},
	{"queues/{queue}/pause", func(ctx context.Context, d *Dashboard, r *http.Request) (any, error) {
		q, err := queueName(r)
		if err != nil {
			return nil, err
		}
		return Result{OK: true}, d.opts.Inspector.PauseQueue(ctx, q)
	}},
	{"queues/{queue}/resume", func(ctx context.Context, d *Dashboard, r *http.Request) (any, error) {
		q, err := queueName(r)
		if err != nil {
			return nil, err
		}
		return Result{OK: true}, d.opts.Inspector.ResumeQueue(ctx, q)
	}},
}

// errBadQueue is a queue name the task system refuses.
var errBadQueue = errors.New("bad queue name")

// queueName is the {queue} of r, checked.
func queueName(r *http.Request) (string, error) {
	q := r.PathValue("queue")
	if err := task.CheckQueueName(q); err != nil {
		return "", fmt.Errorf("%w: %w", errBadQueue, err)
	}
	return q, nil
}

// actionTimeout bounds an action; one on every failed task gets longer.
const actionTimeout = 30 * time.Second

// eachFailed applies fn to every failed task and counts those it
// changed; a task gone meanwhile (retried or removed by someone else)
// does not count and is no error.
func (d *Dashboard) eachFailed(ctx context.Context, fn func(ctx context.Context, id string) error) (int, error) {
	all, err := d.opts.Inspector.Failed(ctx, 0, 0)
	if err != nil {
		return 0, err
	}
	n := 0
	for _, in := range all {
		err := fn(ctx, in.ID)
		switch {
		case err == nil:
			n++
		case errors.Is(err, task.ErrNotFound):
		default:
			return n, err
		}
	}
	return n, nil
}

// serveAction runs a, logs it, and makes the next picture a new one.
func (d *Dashboard) serveAction(a action) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx, cancel := context.WithTimeout(r.Context(), actionTimeout)
		defer cancel()
		res, err := a.run(ctx, d, r)
		d.invalidate()
		switch {
		case err == nil:
			d.log.Info("dashboard: "+a.pattern, "path", r.URL.Path, "remote", r.RemoteAddr)
			writeJSON(w, http.StatusOK, res)
		case errors.Is(err, task.ErrNotFound):
			d.fail(w, r, http.StatusNotFound, "not_found", err)
		case errors.Is(err, errBadQueue):
			d.fail(w, r, http.StatusBadRequest, "bad_queue", err)
		default:
			d.fail(w, r, http.StatusServiceUnavailable, "unavailable", fmt.Errorf("%s: %w", a.pattern, err))
		}
	})
}
