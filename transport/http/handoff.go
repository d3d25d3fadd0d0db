package http

import (
	"context"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"
)

// Under stellar startCluster the workers accept from one listening socket
// that the supervisor opened (see internal/listen). A worker that stops
// then has siblings to serve its clients, so it hands off rather than
// drains: it answers no request with 503.

// handOffNewGrace is how long a stopping worker waits for the first
// request of a connection it accepted just before it stopped accepting.
const handOffNewGrace = time.Second

// handOffIdleGrace is how long a stopping worker leaves its idle
// keep-alive connections open for one more request, answered with
// Connection: close, before it closes them. Closing a connection as its
// client sends on it fails the request, and clients retry only idempotent
// ones.
const handOffIdleGrace = time.Second

// handOffPoll is how often handOff checks whether its connections are done.
const handOffPoll = 5 * time.Millisecond

// sharedListener is a listener shared with sibling workers. handOff stops
// accepting from it before the server shuts down: net/http's Shutdown
// would drop a request read after it began, even on a connection accepted
// a moment before, and the client would not retry it.
type sharedListener struct {
	net.Listener
	stopOnce  sync.Once
	stopped   chan struct{} // closed by stop
	closeOnce sync.Once
	closed    chan struct{} // closed by Close
	parkOnce  sync.Once
	// parked is closed once Accept has failed after stop: Serve then has
	// registered every connection it accepted (net/http does so before
	// it accepts again).
	parked chan struct{}
}

// Accept accepts until stop; then it waits for Close (from Shutdown) so
// that Serve returns ErrServerClosed rather than an accept error.
func (l *sharedListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		select {
		case <-l.stopped:
			l.parkOnce.Do(func() { close(l.parked) })
			<-l.closed
		default:
		}
	}
	return c, err
}

// stop stops this process accepting; waiting connections go to siblings.
func (l *sharedListener) stop() {
	l.stopOnce.Do(func() {
		close(l.stopped)
		_ = l.Listener.Close()
	})
}

func (l *sharedListener) Close() error {
	l.closeOnce.Do(func() { close(l.closed) })
	err := l.Listener.Close()
	select {
	case <-l.stopped:
		return nil // stop closed it
	default:
		return err
	}
}

type connInfo struct {
	state http.ConnState
	since time.Time
}

// connTracker knows the open connections and their states.
type connTracker struct {
	mu         sync.Mutex
	conns      map[net.Conn]connInfo // guarded by mu
	handingOff atomic.Bool           // responses close their connections
}

// closeAfter wraps the server's handler: once the server hands off, every
// response closes its connection, so that the client's next request opens
// one to a sibling.
func (t *connTracker) closeAfter(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if t.handingOff.Load() {
			w.Header().Set("Connection", "close")
		}
		next.ServeHTTP(w, r)
	})
}

func (t *connTracker) track(c net.Conn, st http.ConnState) {
	t.mu.Lock()
	defer t.mu.Unlock()
	switch st {
	case http.StateClosed, http.StateHijacked:
		delete(t.conns, c)
	default:
		t.conns[c] = connInfo{state: st, since: time.Now()}
	}
}

// settled reports whether every connection is done with its requests:
// none is active, none of the new ones is younger than its grace, and no
// idle one is left once the idle grace since the hand-off began is over.
func (t *connTracker) settled(now, began time.Time) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	for _, ci := range t.conns {
		switch ci.state {
		case http.StateActive:
			return false
		case http.StateNew:
			if now.Sub(ci.since) < handOffNewGrace {
				return false
			}
		case http.StateIdle:
			if now.Sub(began) < handOffIdleGrace {
				return false
			}
		}
	}
	return true
}

// shared wraps a listener shared with siblings and tracks connections,
// for handOff. Called by Listen, before Serve.
func (s *Server) shared(ln net.Listener) net.Listener {
	t := &connTracker{conns: map[net.Conn]connInfo{}}
	s.tracker = t
	s.srv.ConnState = t.track
	s.srv.Handler = t.closeAfter(s.srv.Handler)
	return &sharedListener{Listener: ln, stopped: make(chan struct{}), closed: make(chan struct{}), parked: make(chan struct{})}
}

// sharedLn returns the listener when it is shared with siblings, else nil.
func (s *Server) sharedLn() *sharedListener {
	s.mu.Lock()
	defer s.mu.Unlock()
	ln, _ := s.ln.(*sharedListener)
	return ln
}

// handOff stops a server whose listener is shared: it stops accepting at
// once, so that new connections, and those waiting in the shared queue,
// go to the sibling workers; it answers the requests on the connections
// it has, each response closing its connection so that the client's next
// request goes to a sibling, and gives idle connections a moment for one
// more; then it shuts down, bounded by ctx.
func (s *Server) handOff(ctx context.Context) error {
	ln := s.sharedLn()
	ln.stop()
	// Wait until Serve has tracked what it accepted before the stop.
	select {
	case <-ln.parked:
	case <-s.served:
	case <-ctx.Done():
	}
	s.tracker.handingOff.Store(true)
	began := time.Now()
	tick := time.NewTicker(handOffPoll)
	defer tick.Stop()
	for !s.tracker.settled(time.Now(), began) {
		select {
		case <-ctx.Done():
		case <-tick.C:
			continue
		}
		break
	}
	s.srv.SetKeepAlivesEnabled(false)
	err := s.srv.Shutdown(ctx) // closes the listener and what is idle
	if err != nil {
		_ = s.srv.Close()
	}
	select {
	case <-s.served:
	case <-ctx.Done():
	}
	return err
}
