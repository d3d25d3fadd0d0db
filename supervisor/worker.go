package supervisor

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strconv"
	"sync"
)

// Environment variables the supervisor sets for its workers, besides
// listen.EnvFDs. They start with STELLAR_WORKER_, which the configuration
// loader leaves alone.
const (
	// EnvName is the worker's name, also passed as --id.
	EnvName = "STELLAR_WORKER_NAME"
	// EnvStatusFD is the descriptor the worker reports on: one JSON
	// message a line (see Link).
	EnvStatusFD = "STELLAR_WORKER_STATUS_FD"
	// EnvLifelineFD is the descriptor the worker watches: the supervisor
	// holds the other end open and never writes; end of file means the
	// supervisor is gone, and the worker stops.
	EnvLifelineFD = "STELLAR_WORKER_LIFELINE_FD"
)

// message is what a worker tells its supervisor.
type message struct {
	// Event is "ready" or "failed".
	Event string `json:"event"`
	// Error says why a worker failed to start.
	Error string `json:"error,omitempty"`
	// NameHeld reports that the worker's name is held by a live node
	// (another supervisor's worker of the same name, say; a crashed
	// worker's name is taken over at once): the supervisor logs it once
	// and retries with backoff, without counting a crash.
	NameHeld bool `json:"nameHeld,omitempty"`
}

// Link is a worker's side of its supervisor: it tells the supervisor when
// the worker is ready, and tells the worker when the supervisor is gone.
type Link struct {
	name     string
	status   *os.File
	lifeline *os.File
	gone     chan struct{}

	mu     sync.Mutex // serializes writes to status
	closed bool       // guarded by mu
	wg     sync.WaitGroup
}

// Attach returns the link to the supervisor that started this process, or
// nil when none did.
func Attach() (*Link, error) {
	name := os.Getenv(EnvName)
	if name == "" {
		return nil, nil
	}
	status, err := inheritedFile(EnvStatusFD, "supervisor status")
	if err != nil {
		return nil, err
	}
	lifeline, err := inheritedFile(EnvLifelineFD, "supervisor lifeline")
	if err != nil {
		_ = status.Close()
		return nil, err
	}
	l := &Link{name: name, status: status, lifeline: lifeline, gone: make(chan struct{})}
	l.wg.Add(1)
	go func() {
		defer l.wg.Done()
		defer close(l.gone)
		_, _ = io.Copy(io.Discard, lifeline) // returns at EOF, or when Close closes it
	}()
	return l, nil
}

func inheritedFile(env, what string) (*os.File, error) {
	fd, err := strconv.Atoi(os.Getenv(env))
	if err != nil || fd < 3 {
		return nil, fmt.Errorf("supervisor: %s=%q is not a file descriptor", env, os.Getenv(env))
	}
	// A pollable file, so that Close interrupts a blocked read.
	setNonblock(fd)
	return os.NewFile(uintptr(fd), what), nil
}

// Name is the worker's name.
func (l *Link) Name() string { return l.name }

// Ready tells the supervisor that the worker serves.
func (l *Link) Ready() error { return l.send(message{Event: "ready"}) }

// Failed tells the supervisor that the worker could not start; nameHeld
// says its name is held by a live node.
func (l *Link) Failed(err error, nameHeld bool) error {
	return l.send(message{Event: "failed", Error: err.Error(), NameHeld: nameHeld})
}

func (l *Link) send(m message) error {
	b, err := json.Marshal(m)
	if err != nil {
		return err
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return os.ErrClosed
	}
	_, err = l.status.Write(append(b, '\n'))
	return err
}

// Gone is closed when the supervisor has gone away; the worker should
// then stop gracefully.
func (l *Link) Gone() <-chan struct{} { return l.gone }

// Close releases the link. Safe to call more than once.
func (l *Link) Close() error {
	l.mu.Lock()
	if l.closed {
		l.mu.Unlock()
		return nil
	}
	l.closed = true
	err := l.status.Close()
	l.mu.Unlock()
	_ = l.lifeline.Close()
	l.wg.Wait()
	return err
}
