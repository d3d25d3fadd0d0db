// Package supervisor runs several workers of one program on one machine
// and keeps them running: it is what `stellar startCluster` runs.
//
// The supervisor opens the listeners once and hands the open sockets to
// every worker (see internal/listen), so that all workers accept from one
// queue on the same ports. It restarts a worker that crashes under the
// same name, with backoff, and leaves one that keeps crashing stopped. It
// acts on signals: SIGTTIN adds a worker, SIGTTOU removes the highest,
// SIGUSR2 restarts the workers one at a time (each replacement ready
// before the next worker stops), SIGHUP reloads the configuration and then
// restarts them the same way, SIGINT and SIGTERM stop them all gracefully,
// then kill what is left after StopTimeout.
//
// A worker talks back on a pipe (see Link): it reports when it is ready,
// or why it failed to start. It watches a second pipe whose end the
// supervisor holds: when the supervisor dies, however it dies, the kernel
// closes that end and the worker stops gracefully.
package supervisor

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"os/signal"
	"runtime"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/stellarfw/stellar-go/internal/listen"
)

// ErrUnsupported is returned by Run on systems without Unix signals.
var ErrUnsupported = errors.New("supervisor: startCluster needs a Unix system")

// ErrRunning is returned by Run when the pid file names a live process.
var ErrRunning = errors.New("supervisor: another supervisor is running")

// ErrListen is returned by Run when an address cannot be listened on.
var ErrListen = errors.New("supervisor: cannot listen")

// Config configures a Supervisor. A zero field takes its default.
type Config struct {
	// Workers is how many workers to start. Default: the number of CPUs.
	Workers int
	// NamePrefix names the workers: worker n is NamePrefix followed by n.
	// Default "stellar-worker-".
	NamePrefix string
	// Command is the program every worker runs. Default: this program.
	Command string
	// Args returns the arguments of the worker called name (without the
	// program name). Default: run --id NAME.
	Args func(name string) []string
	// Env is added to every worker's environment, after this process's.
	Env []string
	// Listen lists the TCP addresses the supervisor opens and passes to
	// every worker, written as the workers' configuration writes them.
	Listen []string
	// PIDFile, when set, holds the supervisor's process id while it runs.
	// Run fails with ErrRunning when it names a live process.
	PIDFile string
	// TokenFile, when set, holds Token while the supervisor runs,
	// readable by its owner only (mode 0600): how an operator learns a
	// token generated for the workers. It is written once the pid file is
	// the supervisor's, so a second supervisor refused on the pid file
	// leaves the first one's token file alone, and removed when Run
	// returns if it still holds Token.
	TokenFile string
	Token     string
	// StopTimeout is how long a worker asked to stop may take before it
	// is killed. Default 35s.
	StopTimeout time.Duration
	// ReadyTimeout is how long a rolling restart waits for a replacement
	// to be ready before it stops rolling. Default 60s.
	ReadyTimeout time.Duration
	// RestartBackoff is the wait before restarting a crashed worker; it
	// doubles with each crash in RestartWindow, up to MaxRestartBackoff.
	// Defaults 100ms and 10s.
	RestartBackoff    time.Duration
	MaxRestartBackoff time.Duration
	// MaxRestarts is how many crashes within RestartWindow a worker may
	// have; after one more it is left stopped. Defaults 5 and 1m.
	MaxRestarts   int
	RestartWindow time.Duration
	// Reload, when set, is called on SIGHUP (and by Reload): it rereads
	// the configuration and returns the Config that the next workers use.
	// Only Args and Env are taken from it; the count of workers changes
	// with SIGTTIN and SIGTTOU. An error cancels the restart.
	Reload func() (Config, error)
	// Stdout and Stderr are the workers' output. Default: this process's.
	Stdout, Stderr *os.File
	// Logger logs every change. Default slog.Default().
	Logger *slog.Logger
}

func (c *Config) defaults() {
	if c.Workers <= 0 {
		c.Workers = runtime.NumCPU()
	}
	if c.NamePrefix == "" {
		c.NamePrefix = "stellar-worker-"
	}
	if c.Command == "" {
		if exe, err := os.Executable(); err == nil {
			c.Command = exe
		} else {
			c.Command = os.Args[0]
		}
	}
	if c.Args == nil {
		c.Args = func(name string) []string { return []string{"run", "--id", name} }
	}
	def := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	def(&c.StopTimeout, 35*time.Second)
	def(&c.ReadyTimeout, 60*time.Second)
	def(&c.RestartBackoff, 100*time.Millisecond)
	def(&c.MaxRestartBackoff, 10*time.Second)
	def(&c.RestartWindow, time.Minute)
	if c.MaxRestarts <= 0 {
		c.MaxRestarts = 5
	}
	if c.Stdout == nil {
		c.Stdout = os.Stdout
	}
	if c.Stderr == nil {
		c.Stderr = os.Stderr
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
}

// A worker whose name is held by a live node (a crashed worker's name is
// not: its replacement takes it over at once) is tried again after
// nameHeldRetry, doubling up to nameHeldMaxRetry, until ReadyTimeout has
// passed since the name was first found held.
const (
	nameHeldRetry    = 250 * time.Millisecond
	nameHeldMaxRetry = 5 * time.Second
)

// State is where a worker is in its life.
type State string

// The states of a worker.
const (
	StateStarting   State = "starting"   // started, not ready yet
	StateReady      State = "ready"      // serving
	StateStopping   State = "stopping"   // asked to stop
	StateRestarting State = "restarting" // exited, to be started again
	StateFailed     State = "failed"     // crashed too often; left stopped
)

// WorkerStatus describes one worker.
type WorkerStatus struct {
	Name     string `json:"name"`
	PID      int    `json:"pid,omitempty"`
	State    State  `json:"state"`
	Restarts int    `json:"restarts"`
}

// Supervisor runs and watches the workers. Create it with New, then Run.
type Supervisor struct {
	cfg Config // Args and Env change on reload, in the loop only

	events chan event
	cmds   chan func()
	done   chan struct{} // closed when Run returns

	// Owned by the loop goroutine.
	workers   map[int]*worker
	files     []*os.File // the listeners, passed to every worker
	fdEnv     string
	rollQueue []int
	rolling   int // the worker being rolled, 0 for none
	stopping  bool
	killTimer *time.Timer
	killed    int
	procs     sync.WaitGroup // a process's reader and waiter goroutines
}

type worker struct {
	n        int
	name     string
	gen      int // counts the processes started for this worker
	proc     *process
	state    State
	after    afterExit
	crashes  []time.Time
	restarts int
	held     time.Time // since when the name has been found held; zero if not
	heldFor  int       // exits in a row with the name held
	nameHeld error     // why the running process could not take its name; nil if it could
	timer    *time.Timer
}

type process struct {
	cmd      *exec.Cmd
	gen      int
	lifeline *os.File
}

// afterExit says what to do when a worker's process exits.
type afterExit int

const (
	restartAfterCrash afterExit = iota // it was not asked to stop: restart with backoff
	replace                            // rolling: start the new process at once
	remove                             // shrinking: forget the worker
	stay                               // stopping everything
)

type eventKind int

const (
	evReady eventKind = iota
	evFailed
	evExit
	evRestart
	evReadyTimeout
)

type event struct {
	kind     eventKind
	n, gen   int
	err      error
	nameHeld bool
}

// New returns a supervisor for cfg.
func New(cfg Config) *Supervisor {
	cfg.defaults()
	return &Supervisor{
		cfg:     cfg,
		events:  make(chan event, 64),
		cmds:    make(chan func()),
		done:    make(chan struct{}),
		workers: map[int]*worker{},
	}
}

// Run opens the listeners, starts the workers and supervises them until
// ctx ends or SIGINT or SIGTERM arrives; then it stops them gracefully
// and returns. It returns an error when a worker had to be killed.
func (s *Supervisor) Run(ctx context.Context) error {
	defer close(s.done)
	if !supported {
		return ErrUnsupported
	}
	log := s.cfg.Logger
	if err := s.writePIDFile(); err != nil {
		return err
	}
	defer s.removePIDFile()
	if err := s.writeTokenFile(); err != nil {
		return err
	}
	defer s.removeTokenFile()
	if err := s.openListeners(); err != nil {
		return err
	}
	defer func() {
		for _, f := range s.files {
			_ = f.Close()
		}
	}()

	sigs := make(chan os.Signal, 8)
	signal.Notify(sigs, os.Interrupt, sigTerm, sigGrow, sigShrink, sigRoll, sigReload)
	defer signal.Stop(sigs)

	log.Info("supervisor started", "pid", os.Getpid(), "workers", s.cfg.Workers, "listen", s.cfg.Listen)
	for n := 1; n <= s.cfg.Workers; n++ {
		s.add(n)
	}
	ctxDone := ctx.Done()
	for {
		if s.stopping && s.running() == 0 {
			break
		}
		select {
		case <-ctxDone:
			ctxDone = nil
			log.Info("stop requested")
			s.stopAll()
		case sig := <-sigs:
			s.onSignal(sig)
		case ev := <-s.events:
			s.onEvent(ev)
		case f := <-s.cmds:
			f()
		}
	}
	if s.killTimer != nil {
		s.killTimer.Stop()
	}
	s.procs.Wait()
	if s.killed > 0 {
		err := fmt.Errorf("supervisor: %d workers did not stop within %s and were killed", s.killed, s.cfg.StopTimeout)
		log.Error("supervisor stopped", "error", err.Error())
		return err
	}
	log.Info("supervisor stopped")
	return nil
}

func (s *Supervisor) onSignal(sig os.Signal) {
	log := s.cfg.Logger
	switch sig {
	case sigGrow:
		s.grow()
	case sigShrink:
		s.shrink()
	case sigRoll:
		log.Info("rolling restart requested", "signal", sig.String())
		s.roll()
	case sigReload:
		log.Info("reload requested", "signal", sig.String())
		s.reload()
	default: // SIGINT, SIGTERM
		if s.stopping {
			log.Warn("second stop signal: killing the workers now", "signal", sig.String())
			s.killAll()
			return
		}
		log.Info("stop requested", "signal", sig.String())
		s.stopAll()
	}
}

// do runs f on the loop goroutine; it reports false once Run has returned.
func (s *Supervisor) do(f func()) bool {
	ran := make(chan struct{})
	select {
	case s.cmds <- func() { f(); close(ran) }:
		<-ran
		return true
	case <-s.done:
		return false
	}
}

// Add starts one more worker, as SIGTTIN does.
func (s *Supervisor) Add() { s.do(s.grow) }

// Remove stops the highest-numbered worker gracefully, as SIGTTOU does.
func (s *Supervisor) Remove() { s.do(s.shrink) }

// Roll restarts the workers one at a time, as SIGUSR2 does.
func (s *Supervisor) Roll() { s.do(s.roll) }

// Reload rereads the configuration and rolls, as SIGHUP does.
func (s *Supervisor) Reload() { s.do(s.reload) }

// Workers describes the workers, in name order.
func (s *Supervisor) Workers() []WorkerStatus {
	var out []WorkerStatus
	s.do(func() {
		for _, n := range s.numbers() {
			w := s.workers[n]
			ws := WorkerStatus{Name: w.name, State: w.state, Restarts: w.restarts}
			if w.proc != nil {
				ws.PID = w.proc.cmd.Process.Pid
			}
			out = append(out, ws)
		}
	})
	return out
}

func (s *Supervisor) numbers() []int {
	ns := make([]int, 0, len(s.workers))
	for n := range s.workers {
		ns = append(ns, n)
	}
	slices.Sort(ns)
	return ns
}

// running counts the workers with a live process.
func (s *Supervisor) running() int {
	c := 0
	for _, w := range s.workers {
		if w.proc != nil {
			c++
		}
	}
	return c
}

// add creates worker n and starts it.
func (s *Supervisor) add(n int) {
	w := &worker{n: n, name: s.cfg.NamePrefix + strconv.Itoa(n)}
	s.workers[n] = w
	s.start(w)
}

func (s *Supervisor) grow() {
	if s.stopping {
		return
	}
	n := 1
	for s.workers[n] != nil {
		n++
	}
	s.cfg.Logger.Info("adding a worker", "worker", s.cfg.NamePrefix+strconv.Itoa(n), "workers", len(s.workers)+1)
	s.add(n)
}

func (s *Supervisor) shrink() {
	if s.stopping {
		return
	}
	var target *worker
	left := 0
	for _, n := range s.numbers() {
		if w := s.workers[n]; w.after != remove {
			target = w
			left++
		}
	}
	if left <= 1 {
		s.cfg.Logger.Warn("not removing the last worker; stop the supervisor with SIGTERM instead", "workers", left)
		return
	}
	s.cfg.Logger.Info("removing a worker", "worker", target.name, "workers", left-1)
	s.rollQueue = slices.DeleteFunc(s.rollQueue, func(n int) bool { return n == target.n })
	if target.proc == nil {
		s.forget(target)
		return
	}
	target.after = remove
	s.terminate(target)
}

// forget drops a worker that has no process.
func (s *Supervisor) forget(w *worker) {
	if w.timer != nil {
		w.timer.Stop()
	}
	delete(s.workers, w.n)
	s.cfg.Logger.Info("worker removed", "worker", w.name, "workers", len(s.workers))
	if s.rolling == w.n {
		s.rolling = 0
		s.rollNext()
	}
}

func (s *Supervisor) roll() {
	if s.stopping {
		return
	}
	queue := s.numbers()
	if s.rolling != 0 {
		queue = slices.DeleteFunc(queue, func(n int) bool { return n == s.rolling })
		s.rollQueue = queue
		s.cfg.Logger.Info("rolling restart already under way: restarting every worker again after the current one")
		return
	}
	s.rollQueue = queue
	s.cfg.Logger.Info("rolling restart", "workers", len(queue))
	s.rollNext()
}

func (s *Supervisor) reload() {
	if s.stopping {
		return
	}
	if s.cfg.Reload != nil {
		next, err := s.cfg.Reload()
		if err != nil {
			s.cfg.Logger.Error("reload failed: the workers keep running on the previous configuration", "error", err.Error())
			return
		}
		if next.Args != nil {
			s.cfg.Args = next.Args
		}
		s.cfg.Env = next.Env
		if next.Listen != nil && !slices.Equal(next.Listen, s.cfg.Listen) {
			s.cfg.Logger.Warn("listen addresses changed: they take effect when the supervisor restarts", "listen", s.cfg.Listen, "new", next.Listen)
		}
		s.cfg.Logger.Info("configuration reloaded")
	}
	s.roll()
}

// rollNext restarts the next worker of the roll, or ends the roll.
func (s *Supervisor) rollNext() {
	for len(s.rollQueue) > 0 {
		n := s.rollQueue[0]
		s.rollQueue = s.rollQueue[1:]
		w := s.workers[n]
		if w == nil || w.after == remove {
			continue
		}
		s.rolling = n
		s.cfg.Logger.Info("rolling worker", "worker", w.name, "left", len(s.rollQueue))
		if w.proc == nil {
			// Crashed and waiting, or given up on: start it afresh.
			w.crashes, w.held, w.heldFor = nil, time.Time{}, 0
			if w.timer != nil {
				w.timer.Stop()
			}
			s.start(w)
			return
		}
		w.after = replace
		s.terminate(w)
		return
	}
	if s.rolling == 0 {
		s.cfg.Logger.Info("rolling restart finished", "workers", len(s.workers))
	}
}

func (s *Supervisor) stopAll() {
	s.stopping = true
	s.rollQueue, s.rolling = nil, 0
	for _, n := range s.numbers() {
		w := s.workers[n]
		if w.timer != nil {
			w.timer.Stop()
		}
		if w.proc == nil {
			continue
		}
		if w.after != remove {
			w.after = stay
		}
		s.terminate(w)
	}
	s.cfg.Logger.Info("stopping the workers", "running", s.running(), "deadline_ms", s.cfg.StopTimeout.Milliseconds())
	s.killTimer = time.AfterFunc(s.cfg.StopTimeout, func() {
		s.do(func() {
			if s.running() > 0 {
				s.cfg.Logger.Error("workers still running at the stop deadline: killing them", "running", s.running())
				s.killAll()
			}
		})
	})
}

func (s *Supervisor) killAll() {
	for _, w := range s.workers {
		if w.proc != nil {
			s.killed++
			s.cfg.Logger.Warn("killing worker", "worker", w.name, "pid", w.proc.cmd.Process.Pid)
			_ = w.proc.cmd.Process.Kill()
		}
	}
}

// terminate asks a worker to stop gracefully.
func (s *Supervisor) terminate(w *worker) {
	if w.state == StateStopping {
		return
	}
	w.state = StateStopping
	s.cfg.Logger.Info("stopping worker", "worker", w.name, "pid", w.proc.cmd.Process.Pid)
	if err := w.proc.cmd.Process.Signal(sigTerm); err != nil {
		s.cfg.Logger.Warn("cannot signal worker", "worker", w.name, "error", err.Error())
	}
	gen := w.gen
	time.AfterFunc(s.cfg.StopTimeout, func() {
		s.do(func() {
			if w.proc != nil && w.gen == gen && !s.stopping {
				s.cfg.Logger.Error("worker did not stop in time: killing it", "worker", w.name, "timeout_ms", s.cfg.StopTimeout.Milliseconds())
				_ = w.proc.cmd.Process.Kill()
			}
		})
	})
}

// start starts a process for w.
func (s *Supervisor) start(w *worker) {
	log := s.cfg.Logger
	w.gen++
	w.after = restartAfterCrash
	w.nameHeld = nil
	p, err := s.spawn(w)
	if err != nil {
		log.Error("cannot start worker", "worker", w.name, "error", err.Error())
		s.crashed(w)
		return
	}
	w.proc = p
	w.state = StateStarting
	log.Info("worker started", "worker", w.name, "pid", p.cmd.Process.Pid)
	gen := w.gen
	time.AfterFunc(s.cfg.ReadyTimeout, func() { s.send(event{kind: evReadyTimeout, n: w.n, gen: gen}) })
}

func (s *Supervisor) send(ev event) {
	select {
	case s.events <- ev:
	case <-s.done:
	}
}

func (s *Supervisor) spawn(w *worker) (*process, error) {
	statusR, statusW, err := os.Pipe()
	if err != nil {
		return nil, err
	}
	lifeR, lifeW, err := os.Pipe()
	if err != nil {
		statusR.Close()
		statusW.Close()
		return nil, err
	}
	cmd := exec.Command(s.cfg.Command, s.cfg.Args(w.name)...)
	cmd.ExtraFiles = append(slices.Clip(s.files), statusW, lifeR)
	fd := 3 + len(s.files)
	cmd.Env = append(os.Environ(), s.cfg.Env...)
	cmd.Env = append(cmd.Env,
		EnvName+"="+w.name,
		EnvStatusFD+"="+strconv.Itoa(fd),
		EnvLifelineFD+"="+strconv.Itoa(fd+1),
		listen.EnvFDs+"="+s.fdEnv,
	)
	cmd.Stdout, cmd.Stderr = s.cfg.Stdout, s.cfg.Stderr
	cmd.SysProcAttr = sysProcAttr()
	err = cmd.Start()
	statusW.Close()
	lifeR.Close()
	if err != nil {
		statusR.Close()
		lifeW.Close()
		return nil, err
	}
	p := &process{cmd: cmd, gen: w.gen, lifeline: lifeW}
	n, gen := w.n, w.gen
	read := make(chan struct{})
	s.procs.Add(2)
	go func() {
		defer s.procs.Done()
		defer close(read)
		s.readStatus(statusR, n, gen)
	}()
	go func() {
		defer s.procs.Done()
		err := cmd.Wait()
		// Messages first, so that a failure's reason precedes its exit;
		// a grandchild holding the pipe must not keep the exit back.
		select {
		case <-read:
		case <-time.After(time.Second):
		}
		statusR.Close()
		<-read
		s.send(event{kind: evExit, n: n, gen: gen, err: err})
	}()
	return p, nil
}

func (s *Supervisor) readStatus(r io.Reader, n, gen int) {
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		var m message
		if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
			s.cfg.Logger.Warn("unreadable message from a worker", "worker", s.cfg.NamePrefix+strconv.Itoa(n), "error", err.Error())
			continue
		}
		switch m.Event {
		case "ready":
			s.send(event{kind: evReady, n: n, gen: gen})
		case "failed":
			s.send(event{kind: evFailed, n: n, gen: gen, err: errors.New(m.Error), nameHeld: m.NameHeld})
		}
	}
}

func (s *Supervisor) onEvent(ev event) {
	w := s.workers[ev.n]
	if w == nil || ev.gen != w.gen {
		return // about a process that is gone
	}
	log := s.cfg.Logger
	switch ev.kind {
	case evReady:
		if w.proc == nil || w.state != StateStarting {
			return
		}
		w.state = StateReady
		w.held, w.heldFor = time.Time{}, 0
		log.Info("worker ready", "worker", w.name, "pid", w.proc.cmd.Process.Pid)
		if s.rolling == w.n {
			s.rolling = 0
			s.rollNext()
		}
	case evFailed:
		if ev.nameHeld {
			w.nameHeld = ev.err // logged when the process exits
		} else {
			log.Error("worker failed to start", "worker", w.name, "error", ev.err.Error())
		}
	case evReadyTimeout:
		if w.proc != nil && w.state == StateStarting {
			log.Warn("worker not ready yet", "worker", w.name, "after_ms", s.cfg.ReadyTimeout.Milliseconds())
			if s.rolling == w.n {
				log.Error("rolling restart stopped: the replacement is not ready", "worker", w.name, "left", len(s.rollQueue))
				s.rolling, s.rollQueue = 0, nil
			}
		}
	case evExit:
		s.exited(w, ev.err)
	case evRestart:
		if w.proc == nil && !s.stopping && w.state == StateRestarting {
			s.start(w)
		}
	}
}

func (s *Supervisor) exited(w *worker, err error) {
	log := s.cfg.Logger
	p := w.proc
	w.proc = nil
	_ = p.lifeline.Close()
	status := "exit status 0"
	if err != nil {
		status = err.Error()
	}
	switch w.after {
	case stay:
		log.Info("worker stopped", "worker", w.name, "status", status, "running", s.running())
		w.state = StateStopping
	case remove:
		log.Info("worker stopped", "worker", w.name, "status", status)
		s.forget(w)
	case replace:
		log.Info("worker stopped for the rolling restart", "worker", w.name, "status", status)
		w.restarts++
		s.start(w)
	default:
		if s.stopping {
			return
		}
		if w.nameHeld != nil {
			if w.held.IsZero() {
				w.held = time.Now()
			}
			if time.Since(w.held) < s.cfg.ReadyTimeout {
				w.heldFor++
				wait := min(nameHeldRetry<<min(w.heldFor-1, 16), nameHeldMaxRetry)
				if w.heldFor == 1 {
					log.Warn("worker name held by another live node; retrying with backoff until it is free", "worker", w.name,
						"error", w.nameHeld.Error(), "for_ms", s.cfg.ReadyTimeout.Milliseconds(),
						"hint", "another supervisor may run workers with the same names on this Redis: set supervisor.name_prefix")
				} else {
					log.Debug("worker name still held; retrying", "worker", w.name, "in_ms", wait.Milliseconds())
				}
				w.state = StateRestarting
				s.restartIn(w, wait)
				return
			}
			log.Error("worker name held by another live node", "worker", w.name, "since", w.held.Format(time.RFC3339),
				"hint", "another supervisor may run workers with the same names on this Redis: set supervisor.name_prefix")
		}
		log.Error("worker exited unexpectedly", "worker", w.name, "pid", p.cmd.Process.Pid, "status", status)
		s.crashed(w)
	}
}

// crashed restarts w with backoff, or leaves it stopped when it crashed
// too often.
func (s *Supervisor) crashed(w *worker) {
	now := time.Now()
	w.crashes = slices.DeleteFunc(w.crashes, func(t time.Time) bool { return now.Sub(t) > s.cfg.RestartWindow })
	w.crashes = append(w.crashes, now)
	if len(w.crashes) > s.cfg.MaxRestarts {
		w.state = StateFailed
		s.cfg.Logger.Error("worker keeps crashing: left stopped (SIGUSR2 or SIGHUP starts it again)", "worker", w.name,
			"crashes", len(w.crashes), "window", s.cfg.RestartWindow.String())
		if s.rolling == w.n {
			s.rolling = 0
			s.rollNext()
		}
		return
	}
	backoff := s.cfg.RestartBackoff << (len(w.crashes) - 1)
	if backoff > s.cfg.MaxRestartBackoff || backoff <= 0 {
		backoff = s.cfg.MaxRestartBackoff
	}
	w.state = StateRestarting
	w.restarts++
	s.cfg.Logger.Info("restarting worker", "worker", w.name, "in_ms", backoff.Milliseconds(), "crashes", len(w.crashes))
	s.restartIn(w, backoff)
}

func (s *Supervisor) restartIn(w *worker, d time.Duration) {
	n, gen := w.n, w.gen
	if w.timer != nil {
		w.timer.Stop()
	}
	w.timer = time.AfterFunc(d, func() { s.send(event{kind: evRestart, n: n, gen: gen}) })
}

// openListeners opens the shared listeners.
func (s *Supervisor) openListeners() error {
	var pairs []listen.Pair
	for i, addr := range s.cfg.Listen {
		ln, err := net.Listen("tcp", addr)
		if err != nil {
			for _, f := range s.files {
				_ = f.Close()
			}
			s.files = nil
			return fmt.Errorf("%w on %s: %w", ErrListen, addr, err)
		}
		f, err := ln.(*net.TCPListener).File()
		_ = ln.Close() // f holds the socket
		if err != nil {
			return fmt.Errorf("supervisor: listener for %s: %w", addr, err)
		}
		bf, err := blockingFile(f)
		if bf != f {
			_ = f.Close()
		}
		if err != nil {
			return fmt.Errorf("supervisor: listener for %s: %w", addr, err)
		}
		s.files = append(s.files, bf)
		pairs = append(pairs, listen.Pair{FD: 3 + i, Addr: addr})
		s.cfg.Logger.Info("listening", "addr", addr, "bound", ln.Addr().String())
	}
	s.fdEnv = listen.Format(pairs)
	return nil
}
