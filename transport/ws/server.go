// Package ws is the WebSocket transport, served by the HTTP server at
// Config.Path (default /ws), and the browser client served at
// /stellar-client.js. Clients send JSON messages, one per frame:
//
//	{"action":"name","params":{…}}
//	{"verb":"roomAdd","room":"lobby"}
//	{"verb":"say","room":"lobby","message":"hello"}
//	{"verb":"emit","room":"lobby","event":"move","data":{…}}
//	{"verb":"roomLeave"|"roomView","room":"…"}, {"verb":"detailsView"}, …
//
// and get JSON frames back: replies with "context":"response" and the
// messageId of the message they answer, room messages with
// "context":"user", and server notices with "context":"api".
//
// Limits, from Config: an origin not allowed is refused at the
// handshake; a frame larger than MaxFrameBytes gets a message_too_large
// error and the connection is closed (1009); malformed JSON and unknown
// verbs get an error and the connection is kept; more than MaxInFlight
// actions at once get too_many_requests; a client that sends faster than
// it reads its replies is read from more slowly; a client that does not
// answer a ping within PingInterval, or reads nothing for long, is
// disconnected. Beyond MaxConnections, or MaxConnectionsPerIP from one
// address, the upgrade is refused (503 connection_limit, 429
// ip_connection_limit, with a JSON error body); a connection holds at
// most MaxParams sticky params of MaxParamsBytes in all (param_limit).
// Refused reports every refusal by reason.
package ws

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/coder/websocket"

	"github.com/stellarfw/stellar-go/apierror"
	"github.com/stellarfw/stellar-go/connection"
	"github.com/stellarfw/stellar-go/internal/limit"
	"github.com/stellarfw/stellar-go/internal/nowait"
	"github.com/stellarfw/stellar-go/internal/session"
)

// writeTimeout bounds writing one message to a client.
const writeTimeout = 10 * time.Second

// Options configure a Server: its Config and the sessions' shared
// options, whose limits (MaxInFlight, MaxParams, …) Config sets.
type Options struct {
	Config  Config
	Session *session.Options
	Logger  *slog.Logger
}

// Server accepts WebSocket connections; it is an http.Handler.
type Server struct {
	opts    Options
	cfg     Config
	session *session.Options
	logger  *slog.Logger

	ctx     context.Context // canceled by Shutdown
	cancel  context.CancelFunc
	wg      sync.WaitGroup // one per connection
	gate    *limit.Conns
	refused *limit.Refusals

	mu      sync.Mutex
	closing bool                 // guarded by mu
	open    int                  // guarded by mu
	conns   map[*wsConn]struct{} // guarded by mu; accepted connections
}

// wsConn is an accepted connection and its session.
type wsConn struct {
	c    *websocket.Conn
	sess *session.Session
}

// New returns a server.
func New(opts Options) *Server {
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	opts.Config.setDefaults()
	c := opts.Config
	refused := limit.NewRefusals(limit.Connections, limit.ConnectionsPerIP, limit.Params, limit.ParamsBytes,
		limit.InFlight, limit.Queue, limit.MessageSize)
	so := *opts.Session
	so.MaxInFlight = c.MaxInFlight
	so.MaxParams, so.MaxParamsBytes = c.MaxParams, c.MaxParamsBytes
	so.QueueSize, so.MaxQueuedBytes = c.MaxQueuedMessages, c.MaxQueuedBytes
	so.Refusals, so.ConfigSection = refused, "websocket"
	ctx, cancel := context.WithCancel(context.Background())
	return &Server{opts: opts, cfg: c, session: &so, logger: opts.Logger, ctx: ctx, cancel: cancel,
		conns: map[*wsConn]struct{}{}, gate: limit.NewConns(c.MaxConnections, c.MaxConnectionsPerIP), refused: refused}
}

// Refused returns the number of refusals by reason (the reasons of
// package limit): upgrades over the node's or an address's limit,
// params over a connection's, actions over max_in_flight, clients
// disconnected for not reading, frames too large.
func (s *Server) Refused() map[string]uint64 { return s.refused.Snapshot() }

// Path is where the server is to be mounted: Config.Path, normalized.
func (s *Server) Path() string { return Path(s.cfg.Path) }

// Len is the number of open connections.
func (s *Server) Len() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.open
}

func (s *Server) acceptOptions() *websocket.AcceptOptions {
	o := &websocket.AcceptOptions{CompressionMode: websocket.CompressionDisabled}
	for _, p := range s.cfg.AllowedOrigins {
		if p == "*" {
			o.InsecureSkipVerify = true
			continue
		}
		o.OriginPatterns = append(o.OriginPatterns, p)
	}
	return o
}

// ServeHTTP upgrades the request and serves the connection until it
// closes.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	if s.closing {
		s.mu.Unlock()
		w.Header().Set("Connection", "close")
		writeError(w, apierror.New(apierror.CodeDraining, http.StatusServiceUnavailable, "the server is shutting down"))
		return
	}
	remote := connection.RemoteIP(r.RemoteAddr)
	if err := s.gate.Acquire(remote); err != nil {
		s.mu.Unlock()
		s.refuse(w, err)
		return
	}
	s.wg.Add(1)
	s.open++
	s.mu.Unlock()
	done := func() {
		s.gate.Release(remote)
		s.mu.Lock()
		s.open--
		s.mu.Unlock()
		s.wg.Done()
	}
	hj := &hijacker{ResponseWriter: w, maxKept: s.cfg.MaxQueuedBytes + keptMargin}
	c, err := websocket.Accept(hj, r, s.acceptOptions())
	if err != nil {
		done()
		// The client's mistake (a bad origin, a plain GET): the request
		// line has its status; this says why, at info.
		s.logger.InfoContext(r.Context(), "websocket handshake refused", "remote", r.RemoteAddr, "origin", r.Header.Get("Origin"),
			"code", "handshake_refused", "error", err.Error())
		return
	}
	// The limit is enforced below, so that the client gets an error
	// message before the connection closes.
	c.SetReadLimit(-1)
	// The connection is served from a goroutine of its own, and this
	// handler returns: net/http then lets go of the request, its
	// headers and contexts, and of the handler's deep stack, which would
	// otherwise stay with every connection for its life.
	fingerprint := ""
	if name := s.cfg.FingerprintCookie; name != "" {
		if ck, err := r.Cookie(name); err == nil && connection.ValidFingerprint(ck.Value) {
			fingerprint = ck.Value
		}
	}
	go func() {
		defer done()
		s.serve(c, hj.conn, remote, fingerprint)
	}()
}

// refuse counts and answers an upgrade over a limit of err's.
func (s *Server) refuse(w http.ResponseWriter, err error) {
	w.Header().Set("Retry-After", "1")
	if errors.Is(err, limit.ErrNodeFull) {
		s.refused.Add(limit.Connections)
		writeError(w, apierror.Newf(apierror.CodeConnectionLimit, http.StatusServiceUnavailable,
			"the server has %d WebSocket connections, the most it takes (websocket.max_connections); retry later or on another node",
			s.cfg.MaxConnections))
		return
	}
	s.refused.Add(limit.ConnectionsPerIP)
	writeError(w, apierror.Newf(apierror.CodeIPConnectionLimit, http.StatusTooManyRequests,
		"your address has %d WebSocket connections open, the most it may (websocket.max_connections_per_ip); close one first",
		s.cfg.MaxConnectionsPerIP))
}

// writeError answers a request that is not upgraded with e as JSON.
func writeError(w http.ResponseWriter, e *apierror.Error) {
	b, _ := json.Marshal(e.Body())
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(e.HTTPStatus())
	_, _ = w.Write(append(b, '\n'))
}

// hijacker clears the HTTP server's read and write deadlines from a
// hijacked connection: they bound one request, and a WebSocket lives on.
// The ping loop and the write timeout bound it instead. It wraps the
// connection so that writes to it do not wait for the client (package
// nowait).
type hijacker struct {
	http.ResponseWriter
	maxKept int
	conn    *nowait.Conn // set by Hijack
}

// keptMargin is what a connection may keep beyond MaxQueuedBytes: frame
// headers, control frames.
const keptMargin = 64 << 10

func (w *hijacker) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	hj, ok := w.ResponseWriter.(http.Hijacker)
	if !ok {
		return nil, nil, errors.New("ws: the response writer cannot be hijacked")
	}
	c, rw, err := hj.Hijack()
	if err != nil {
		return c, rw, err
	}
	_ = c.SetDeadline(time.Time{})
	nc := nowait.New(c, w.maxKept, writeTimeout)
	w.conn = nc
	// net/http's buffers (4 KiB each way) would stay with the connection
	// for its life, most of an idle connection's memory. Smaller ones
	// cost small messages nothing, and a large one is read and written
	// past them. Unless the client has already sent bytes that the
	// server's reader holds.
	br := rw.Reader
	if br.Buffered() == 0 {
		br = bufio.NewReaderSize(nc, connBufferSize)
	}
	return nc, bufio.NewReadWriter(br, bufio.NewWriterSize(nc, connBufferSize)), nil
}

// connBufferSize is the size of a WebSocket connection's read and write
// buffers.
const connBufferSize = 1 << 10

// sink writes a session's messages to its WebSocket; see package
// nowait.
type sink struct {
	c    *websocket.Conn
	nc   *nowait.Conn
	fail context.CancelFunc // ends the connection's read
}

func (k *sink) Send(b []byte) error {
	// No deadline: the write does not wait for the client (nowait), and
	// coder/websocket's locks are held only by writes that do not wait.
	if err := k.c.Write(context.Background(), websocket.MessageText, b); err != nil {
		k.fail()
		return err
	}
	return nil
}

func (k *sink) Flush() error {
	if err := k.nc.Flush(); err != nil {
		k.fail()
		return err
	}
	return nil
}

func (s *Server) serve(c *websocket.Conn, nc *nowait.Conn, remote, fingerprint string) {
	k := &sink{c: c, nc: nc}
	sess := session.New(s.session, connection.TypeWebSocket, remote, k)
	if fingerprint != "" {
		sess.Conn.Fingerprint = fingerprint
	}
	nc.Notify(sess.Kept)
	e := &wsConn{c: c, sess: sess}
	s.mu.Lock()
	s.conns[e] = struct{}{}
	if s.closing {
		sess.Drain()
	}
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		delete(s.conns, e)
		s.mu.Unlock()
	}()
	// The read ends on shutdown, when the session must end (a slow
	// client, quit), when a ping goes unanswered and when a write fails.
	// No goroutine waits for any of them.
	g := &readGuard{}
	abort := func() { g.cancel(c) }
	k.fail = abort
	stopOnEnd := context.AfterFunc(sess.Ended(), abort)
	defer stopOnEnd()
	stopOnShutdown := context.AfterFunc(s.ctx, abort)
	defer stopOnShutdown()
	p := s.startPings(c, abort)
	finish := func(code websocket.StatusCode, reason string) {
		p.stop()
		sess.Wait() // what is queued is written first
		if code == websocket.StatusGoingAway {
			_ = c.CloseNow()
		} else {
			closeCtx, cancelClose := context.WithTimeout(context.Background(), time.Second)
			closeWithin(closeCtx, c, code, reason)
			cancelClose()
		}
		p.wait()    // a ping in flight ends with the connection
		sess.Wait() // the close frame, if the socket kept it
	}
	if err := sess.Open(s.ctx); err != nil {
		finish(websocket.StatusPolicyViolation, "connection refused")
		return
	}
	code, reason := s.readLoop(c, sess, g)
	sess.Close(context.Background())
	finish(code, reason)
}

// pinger pings a client every PingInterval from a timer: no goroutine
// waits between pings.
type pinger struct {
	mu      sync.Mutex
	t       *time.Timer // guarded by mu
	stopped bool        // guarded by mu
	running sync.WaitGroup
}

// startPings pings c every PingInterval until stop, calling fail when
// the client does not answer within the interval.
func (s *Server) startPings(c *websocket.Conn, fail func()) *pinger {
	p := &pinger{}
	every := s.cfg.PingInterval
	if every <= 0 {
		return p
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.t = time.AfterFunc(every, func() {
		p.mu.Lock()
		if p.stopped {
			p.mu.Unlock()
			return
		}
		p.running.Add(1)
		p.mu.Unlock()
		defer p.running.Done()
		pctx, cancel := context.WithTimeout(context.Background(), every)
		err := c.Ping(pctx)
		cancel()
		if err != nil {
			fail()
			return
		}
		p.mu.Lock()
		if !p.stopped {
			p.t.Reset(every)
		}
		p.mu.Unlock()
	})
	return p
}

// stop stops the pings; one in flight goes on until the connection
// closes (then wait).
func (p *pinger) stop() {
	p.mu.Lock()
	p.stopped = true
	if p.t != nil {
		p.t.Stop()
	}
	p.mu.Unlock()
}

// wait waits for the ping in flight, after stop.
func (p *pinger) wait() { p.running.Wait() }

// closeWithin closes c with code, giving up on the closing handshake when
// ctx ends.
func closeWithin(ctx context.Context, c *websocket.Conn, code websocket.StatusCode, reason string) {
	done := make(chan struct{})
	go func() {
		_ = c.Close(code, reason)
		close(done)
	}()
	select {
	case <-done:
	case <-ctx.Done():
		_ = c.CloseNow()
		<-done
	}
}

// readGuard ends a read in progress when the connection must end, as
// coder/websocket does when a read's context ends, without a context
// per connection for it, nor coder/websocket's context.AfterFunc for
// each frame read (two allocations each). Between reads it only marks
// the end: a session that ends while a message is handled (quit) still
// gets its closing handshake.
type readGuard struct {
	mu       sync.Mutex
	reading  bool // guarded by mu
	canceled bool // guarded by mu
}

// start reports false when the context ended; otherwise a read is in
// progress until stop.
func (g *readGuard) start() bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.reading = !g.canceled
	return g.reading
}

func (g *readGuard) stop() {
	g.mu.Lock()
	g.reading = false
	g.mu.Unlock()
}

// cancel closes c if a read is in progress, as coder/websocket does
// when a read's context ends, and makes the next start fail.
func (g *readGuard) cancel(c *websocket.Conn) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.canceled = true
	if g.reading {
		_ = c.CloseNow()
	}
}

// errAborted is the error of a read that the guard refused.
var errAborted = errors.New("ws: the read was ended")

func (s *Server) readLoop(c *websocket.Conn, sess *session.Session, g *readGuard) (websocket.StatusCode, string) {
	maxFrame := int64(s.cfg.MaxFrameBytes)
	for {
		var (
			typ websocket.MessageType
			r   io.Reader
			err error
		)
		if g.start() {
			typ, r, err = c.Reader(context.Background())
		} else {
			err = errAborted
		}
		var bp *[]byte
		if err == nil {
			// A buffer only while a message is read: an idle connection
			// holds none. Handle keeps nothing of it.
			bp = frameBuffers.Get().(*[]byte)
			*bp = (*bp)[:0]
			var n int64
			n, err = readAll(bp, io.LimitReader(r, maxFrame+1))
			g.stop()
			if err == nil && n > maxFrame {
				putFrameBuffer(bp)
				s.refused.Add(limit.MessageSize)
				sess.Reject(apierror.Newf(apierror.CodeMessageTooLarge, http.StatusRequestEntityTooLarge,
					"message larger than %d bytes (websocket.max_frame_bytes); closing the connection", maxFrame))
				return websocket.StatusMessageTooBig, "message too large"
			}
		}
		if err != nil {
			g.stop()
			if bp != nil {
				putFrameBuffer(bp)
			}
			switch {
			case errors.Is(sess.Err(), session.ErrQuit):
				return websocket.StatusNormalClosure, "bye"
			case sess.Err() != nil:
				return websocket.StatusPolicyViolation, sess.Err().Error()
			case s.isClosing():
				return websocket.StatusGoingAway, "server shutting down"
			}
			return websocket.StatusNormalClosure, ""
		}
		if typ != websocket.MessageText && typ != websocket.MessageBinary {
			putFrameBuffer(bp)
			continue
		}
		sess.Handle(*bp)
		putFrameBuffer(bp)
		select {
		case <-sess.Done():
			if errors.Is(sess.Err(), session.ErrQuit) {
				return websocket.StatusNormalClosure, "bye"
			}
			return websocket.StatusPolicyViolation, sess.Err().Error()
		default:
		}
	}
}

// frameBuffers holds the buffers messages are read into.
var frameBuffers = sync.Pool{New: func() any { b := make([]byte, 0, 512); return &b }}

// putFrameBuffer gives b back to frameBuffers, unless it grew large: a
// rare large message does not keep its buffer.
func putFrameBuffer(b *[]byte) {
	if cap(*b) <= 8<<10 {
		frameBuffers.Put(b)
	}
}

// readAll appends r to *buf, returning how much it read.
func readAll(buf *[]byte, r io.Reader) (int64, error) {
	var n int64
	for {
		if len(*buf) == cap(*buf) {
			*buf = append(*buf, 0)[:len(*buf)]
		}
		m, err := r.Read((*buf)[len(*buf):cap(*buf)])
		*buf = (*buf)[:len(*buf)+m]
		n += int64(m)
		if errors.Is(err, io.EOF) {
			return n, nil
		}
		if err != nil {
			return n, err
		}
	}
}

func (s *Server) isClosing() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.closing
}

// Shutdown refuses new connections and actions, lets the actions in
// flight answer, then closes every connection with 1001 (going away),
// waiting for them (bounded by ctx; at the deadline the rest are cut).
func (s *Server) Shutdown(ctx context.Context) error {
	s.mu.Lock()
	s.closing = true
	conns := make([]*wsConn, 0, len(s.conns))
	for e := range s.conns {
		e.sess.Drain()
		conns = append(conns, e)
	}
	s.mu.Unlock()
	var closers sync.WaitGroup
	for _, e := range conns {
		closers.Add(1)
		go func() {
			defer closers.Done()
			for !e.sess.Idle() && ctx.Err() == nil {
				select {
				case <-ctx.Done():
				case <-time.After(5 * time.Millisecond):
				}
			}
			closeCtx, cancel := context.WithTimeout(ctx, time.Second)
			defer cancel()
			closeWithin(closeCtx, e.c, websocket.StatusGoingAway, "server shutting down")
		}()
	}
	done := make(chan struct{})
	go func() { closers.Wait(); s.wg.Wait(); close(done) }()
	select {
	case <-done:
		s.cancel()
		return nil
	case <-ctx.Done():
		s.cancel()
		return fmt.Errorf("ws: %d connections still open at the shutdown deadline: %w", s.Len(), ctx.Err())
	}
}

// Path returns the path the server is mounted at, normalized.
func Path(p string) string { return "/" + strings.Trim(p, "/") }
