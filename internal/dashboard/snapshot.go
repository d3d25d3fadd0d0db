package dashboard

import (
	"cmp"
	"context"
	"errors"
	"slices"
	"time"

	"github.com/stellarfw/stellar-go/task"
)

// Snapshot is the picture of the cluster the page shows, as one node read
// it.
type Snapshot struct {
	// Node is the node that read it; Now is when, by its clock.
	Node string    `json:"node"`
	Now  time.Time `json:"now"`
	// Nodes are the live nodes, by id.
	Nodes []NodeView `json:"nodes,omitempty"`
	// Queues are the task queues, by name, with their rates.
	Queues []QueueView `json:"queues,omitempty"`
	// Workers are the nodes running workers.
	Workers []task.WorkerInfo `json:"workers,omitempty"`
	// Paused lists the paused queues.
	Paused []string `json:"paused,omitempty"`
	// Running are the tasks running now, on any node.
	Running []task.Info `json:"running,omitempty"`
	// Failed are the newest failed tasks, with their error and stack.
	Failed *TaskList `json:"failed,omitempty"`
	// Delayed are the delayed tasks due soonest.
	Delayed *TaskList `json:"delayed,omitempty"`
	// Periodic are the periodic tasks with their next fire time.
	Periodic []Periodic `json:"periodic,omitempty"`
	// Rooms are the chat rooms with their members by node.
	Rooms *RoomList `json:"rooms,omitempty"`
	// CacheLocks are the locks of the cache; TaskLocks the unique keys
	// held by tasks.
	CacheLocks []CacheLock `json:"cacheLocks,omitempty"`
	TaskLocks  []task.Lock `json:"taskLocks,omitempty"`
	// Dropped are the cluster messages each node dropped, by reason.
	Dropped []Dropped `json:"dropped,omitempty"`
	// Errors name the parts that could not be read this time.
	Errors []PartError `json:"errors,omitempty"`

	stats *task.Stats // read once, for the parts that need it
}

// PartError is a part of the picture that could not be read.
type PartError struct {
	Part  string `json:"part"`
	Error string `json:"error"`
}

// QueueView is a queue with its rates: tasks completed and failed per
// second, over the last rateWindow.
type QueueView struct {
	task.QueueStats
	ProcessedPerSec float64 `json:"processedPerSec"`
	FailedPerSec    float64 `json:"failedPerSec"`
}

// TaskList is the first tasks of a list and how many it holds.
type TaskList struct {
	Total int         `json:"total"`
	Tasks []task.Info `json:"tasks"`
}

// Periodic is a periodic task.
type Periodic struct {
	Name        string `json:"name"`
	Queue       string `json:"queue"`
	FrequencyMs int64  `json:"frequencyMs"`
	// Next is its next fire time; Stopped is set when StopRecurrent
	// stopped it, cluster-wide.
	Next    time.Time `json:"next"`
	Stopped bool      `json:"stopped"`
}

// RoomList is the first rooms and how many there are.
type RoomList struct {
	Total int    `json:"total"`
	Rooms []Room `json:"rooms"`
}

// Room is a chat room with its members counted by the node that holds
// their connection.
type Room struct {
	Name    string         `json:"name"`
	Members int            `json:"members"`
	ByNode  map[string]int `json:"byNode"`
}

// CacheLock is a lock of the cache.
type CacheLock struct {
	Key      string    `json:"key"`
	Owner    string    `json:"owner"`
	ExpireAt time.Time `json:"expireAt"`
}

// Dropped are the messages one node dropped, by reason, and in all.
type Dropped struct {
	Node    string            `json:"node"`
	Total   uint64            `json:"total"`
	Reasons map[string]uint64 `json:"reasons"`
}

// How much of the long lists the picture holds.
const (
	maxListed = 100 // failed and delayed tasks
	maxRooms  = 100
)

// part is one part of the picture: its endpoint's name, how it is read
// and what its endpoint answers.
type part struct {
	name string
	fill func(d *Dashboard, ctx context.Context, s *Snapshot) error
	view func(s *Snapshot) any
}

var parts = []part{
	{"nodes", (*Dashboard).fillNodes, func(s *Snapshot) any {
		return struct {
			Nodes []NodeView `json:"nodes"`
		}{orEmpty(s.Nodes)}
	}},
	{"queues", (*Dashboard).fillQueues, func(s *Snapshot) any {
		return struct {
			Queues  []QueueView       `json:"queues"`
			Workers []task.WorkerInfo `json:"workers"`
			Paused  []string          `json:"paused"`
		}{orEmpty(s.Queues), orEmpty(s.Workers), orEmpty(s.Paused)}
	}},
	{"running", (*Dashboard).fillRunning, func(s *Snapshot) any {
		return struct {
			Running []task.Info `json:"running"`
		}{orEmpty(s.Running)}
	}},
	{"failed", (*Dashboard).fillFailed, func(s *Snapshot) any { return s.Failed }},
	{"delayed", (*Dashboard).fillDelayed, func(s *Snapshot) any { return s.Delayed }},
	{"periodic", (*Dashboard).fillPeriodic, func(s *Snapshot) any {
		return struct {
			Periodic []Periodic `json:"periodic"`
		}{orEmpty(s.Periodic)}
	}},
	{"rooms", (*Dashboard).fillRooms, func(s *Snapshot) any { return s.Rooms }},
	{"locks", (*Dashboard).fillLocks, func(s *Snapshot) any {
		return struct {
			CacheLocks []CacheLock `json:"cacheLocks"`
			TaskLocks  []task.Lock `json:"taskLocks"`
		}{orEmpty(s.CacheLocks), orEmpty(s.TaskLocks)}
	}},
	{"dropped", (*Dashboard).fillDropped, func(s *Snapshot) any {
		return struct {
			Dropped []Dropped `json:"dropped"`
		}{orEmpty(s.Dropped)}
	}},
}

// orEmpty makes a nil list [] in JSON.
func orEmpty[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}

// build reads every part; a part that fails is named in Errors and the
// others are still read. The caller holds buildMu.
func (d *Dashboard) build(ctx context.Context) *Snapshot {
	s := &Snapshot{Node: d.opts.NodeID, Now: time.Now().UTC()}
	for _, p := range parts {
		if err := p.fill(d, ctx, s); err != nil {
			s.Errors = append(s.Errors, PartError{Part: p.name, Error: err.Error()})
		}
	}
	return s
}

// taskStats reads the queues' figures once per picture.
func (d *Dashboard) taskStats(ctx context.Context, s *Snapshot) (*task.Stats, error) {
	if s.stats != nil {
		return s.stats, nil
	}
	st, err := d.opts.Inspector.Stats(ctx)
	if err != nil {
		return nil, err
	}
	s.stats = &st
	return s.stats, nil
}

func (d *Dashboard) fillQueues(ctx context.Context, s *Snapshot) error {
	st, err := d.taskStats(ctx, s)
	if err != nil {
		return err
	}
	ws, err := d.opts.Inspector.Workers(ctx)
	if err != nil {
		return err
	}
	paused, err := d.opts.Inspector.PausedQueues(ctx)
	if err != nil {
		return err
	}
	now := time.Now()
	s.Queues = make([]QueueView, 0, len(st.Queues))
	for _, q := range st.Queues {
		p, f := d.rates.observe(q.Queue, now, q.Processed, q.FailedTotal)
		s.Queues = append(s.Queues, QueueView{QueueStats: q, ProcessedPerSec: p, FailedPerSec: f})
	}
	d.rates.forget(now)
	s.Workers, s.Paused = ws, paused
	return nil
}

func (d *Dashboard) fillRunning(ctx context.Context, s *Snapshot) error {
	running, err := d.opts.Inspector.WorkingOn(ctx, "")
	if err != nil {
		return err
	}
	slices.SortStableFunc(running, func(a, b task.Info) int { return a.StartedAt.Compare(b.StartedAt) })
	s.Running = running
	return nil
}

// fillFailed lists the newest failed tasks of every queue.
func (d *Dashboard) fillFailed(ctx context.Context, s *Snapshot) error {
	l, err := d.listed(ctx, s, task.StateFailed, func(q task.QueueStats) int { return q.Failed })
	if err != nil {
		return err
	}
	// Newest first: the one that just failed is on top.
	slices.SortStableFunc(l.Tasks, func(a, b task.Info) int { return failedAt(b).Compare(failedAt(a)) })
	l.Tasks = l.Tasks[:min(len(l.Tasks), maxListed)]
	s.Failed = l
	return nil
}

func failedAt(in task.Info) time.Time {
	if in.Failure == nil {
		return time.Time{}
	}
	return in.Failure.FailedAt
}

// fillDelayed lists the delayed tasks due soonest.
func (d *Dashboard) fillDelayed(ctx context.Context, s *Snapshot) error {
	l, err := d.listed(ctx, s, task.StateDelayed, func(q task.QueueStats) int { return q.Delayed })
	if err != nil {
		return err
	}
	slices.SortStableFunc(l.Tasks, func(a, b task.Info) int { return a.RunAt.Compare(b.RunAt) })
	l.Tasks = l.Tasks[:min(len(l.Tasks), maxListed)]
	s.Delayed = l
	return nil
}

// listed reads up to maxListed tasks in state st of each queue that
// holds some, and their count over every queue. A failed list is read
// from its end: the newest failures.
func (d *Dashboard) listed(ctx context.Context, s *Snapshot, st task.State, count func(task.QueueStats) int) (*TaskList, error) {
	stats, err := d.taskStats(ctx, s)
	if err != nil {
		return nil, err
	}
	l := &TaskList{Tasks: []task.Info{}}
	for _, q := range stats.Queues {
		n := count(q)
		if n == 0 {
			continue
		}
		l.Total += n
		offset := 0
		if st == task.StateFailed {
			offset = max(n-maxListed, 0)
		}
		infos, err := d.opts.Inspector.List(ctx, q.Queue, st, offset, maxListed)
		if err != nil {
			return nil, err
		}
		l.Tasks = append(l.Tasks, infos...)
	}
	return l, nil
}

func (d *Dashboard) fillPeriodic(ctx context.Context, s *Snapshot) error {
	s.Periodic = []Periodic{}
	if d.opts.Tasks == nil {
		return nil
	}
	now := d.opts.Now()
	for _, def := range d.opts.Tasks.Definitions() {
		if !def.Periodic() {
			continue
		}
		queue := cmp.Or(def.Queue, task.DefaultQueue)
		stopped, err := d.opts.Inspector.RecurrentStopped(ctx, queue, def.Name)
		if err != nil {
			return err
		}
		s.Periodic = append(s.Periodic, Periodic{
			Name: def.Name, Queue: queue, FrequencyMs: def.Frequency.Milliseconds(),
			Next: now.Truncate(def.Frequency).Add(def.Frequency).UTC(), Stopped: stopped,
		})
	}
	slices.SortFunc(s.Periodic, func(a, b Periodic) int { return a.Next.Compare(b.Next) })
	return nil
}

func (d *Dashboard) fillRooms(ctx context.Context, s *Snapshot) error {
	s.Rooms = &RoomList{Rooms: []Room{}}
	if d.opts.Chat == nil {
		return nil
	}
	names, err := d.opts.Chat.List(ctx)
	if err != nil {
		return err
	}
	s.Rooms.Total = len(names)
	for _, name := range names[:min(len(names), maxRooms)] {
		st, err := d.opts.Chat.Status(ctx, name)
		if err != nil {
			return err
		}
		r := Room{Name: name, Members: st.MembersCount, ByNode: map[string]int{}}
		for _, m := range st.Members {
			r.ByNode[m.Node]++
		}
		s.Rooms.Rooms = append(s.Rooms.Rooms, r)
	}
	return nil
}

func (d *Dashboard) fillLocks(ctx context.Context, s *Snapshot) error {
	var errs []error
	s.CacheLocks = []CacheLock{}
	if d.opts.Cache != nil {
		ls, err := d.opts.Cache.Locks(ctx)
		errs = append(errs, err)
		for _, l := range ls {
			s.CacheLocks = append(s.CacheLocks, CacheLock{Key: l.Key, Owner: l.Owner, ExpireAt: l.ExpireAt.UTC()})
		}
		slices.SortFunc(s.CacheLocks, func(a, b CacheLock) int { return cmp.Compare(a.Key, b.Key) })
	}
	tl, err := d.opts.Inspector.Locks(ctx)
	s.TaskLocks = tl
	return errors.Join(append(errs, err)...)
}

// rateWindow is how far back the queues' rates look.
const rateWindow = 10 * time.Second

// rates remembers the queues' counters over the last rateWindow.
type rates map[string][]rateSample

type rateSample struct {
	at                time.Time
	processed, failed int64
}

// observe adds a reading of queue's counters and returns its rates per
// second over the last rateWindow.
func (r rates) observe(queue string, now time.Time, processed, failed int64) (float64, float64) {
	ss := append(r[queue], rateSample{now, processed, failed})
	i := 0
	for i < len(ss)-2 && now.Sub(ss[i+1].at) >= rateWindow {
		i++
	}
	ss = ss[i:]
	r[queue] = ss
	// Over the whole window even while the readings cover less of it
	// (the first seconds of a page), so that one task is not a burst.
	first := ss[0]
	dt := max(now.Sub(first.at), rateWindow).Seconds()
	// A counter that went down was reset (a flushed store): no rate.
	return max(float64(processed-first.processed), 0) / dt, max(float64(failed-first.failed), 0) / dt
}

// forget drops the queues not read for a while.
func (r rates) forget(now time.Time) {
	for q, ss := range r {
		if now.Sub(ss[len(ss)-1].at) > 2*rateWindow {
			delete(r, q)
		}
	}
}
