// Package tcp is the TCP transport (Stellar's socket server): clients keep
// a connection open and send one message per line, JSON or Stellar's text
// verbs, and get one JSON document per line back. Several actions may run
// at once per connection; each reply carries the messageId of the message
// it answers.
//
// Limits, all from Config: a line longer than MaxLineBytes gets a
// message_too_large error and the connection is closed (the rest of the
// line cannot be told from the next message); more than MaxInFlight
// actions at once get too_many_requests and the connection is kept; a
// connection silent for IdleTimeout gets a timeout error and is closed;
// malformed JSON and unknown verbs get an error and the connection is
// kept. A client that sends faster than it reads its replies is read
// from more slowly; one that reads nothing for long is disconnected.
// Beyond MaxConnections, or MaxConnectionsPerIP from one address, a new
// connection gets one error line (connection_limit, ip_connection_limit)
// and is closed; a connection holds at most MaxParams sticky params of
// MaxParamsBytes in all (param_limit). Refused reports every refusal by
// reason.
package tcp

import (
	"bufio"
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"syscall"
	"time"

	"github.com/stellarfw/stellar-go/apierror"
	"github.com/stellarfw/stellar-go/connection"
	"github.com/stellarfw/stellar-go/internal/limit"
	"github.com/stellarfw/stellar-go/internal/listen"
	"github.com/stellarfw/stellar-go/internal/nowait"
	"github.com/stellarfw/stellar-go/internal/session"
	"github.com/stellarfw/stellar-go/internal/tlsconf"
)

// writeTimeout bounds writing one message to a client.
const writeTimeout = 10 * time.Second

// Refusing a connection over the limits writes one line, bounded by
// refuseTimeout; at most maxRefusing connections are being refused at
// once, others beyond that are closed without a word.
const (
	refuseTimeout = time.Second
	maxRefusing   = 64
)

// Options configure a Server: its Config and the sessions' shared
// options, whose limits (MaxInFlight, MaxParams, …) Config sets.
type Options struct {
	Config  Config
	Session *session.Options
	Logger  *slog.Logger
}

// Server is the TCP transport of one node.
type Server struct {
	opts    Options
	cert    *tlsconf.Certificate // set by Listen with TLS
	tls     *tls.Config          // set by Listen with TLS; each connection is wrapped in it
	cfg     Config
	session *session.Options
	logger  *slog.Logger

	closing chan struct{}
	ctx     context.Context // canceled when closing is closed
	cancel  context.CancelFunc
	once    sync.Once
	wg      sync.WaitGroup // Serve, one per connection and one per refusal
	gate    *limit.Conns
	refused *limit.Refusals

	mu    sync.Mutex
	ln    net.Listener          // guarded by mu
	conns map[net.Conn]struct{} // guarded by mu
	// nRefuse is the connections being refused; guarded by mu.
	nRefuse int
}

// New returns a server; call Listen, then Serve.
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
	so.Refusals, so.ConfigSection = refused, "tcp"
	ctx, cancel := context.WithCancel(context.Background())
	return &Server{opts: opts, cfg: c, session: &so, logger: opts.Logger,
		closing: make(chan struct{}), ctx: ctx, cancel: cancel, conns: map[net.Conn]struct{}{},
		gate: limit.NewConns(c.MaxConnections, c.MaxConnectionsPerIP), refused: refused}
}

// Refused returns the number of refusals by reason (the reasons of
// package limit): connections over the node's or an address's limit,
// params over a connection's, actions over max_in_flight, clients
// disconnected for not reading, lines too long.
func (s *Server) Refused() map[string]uint64 { return s.refused.Snapshot() }

// Listen binds the configured address, with TLS when a certificate is
// configured. It fails at once if the port is in use.
func (s *Server) Listen() error {
	ln, err := listen.Listen("tcp", s.cfg.Addr) // the supervisor's under startCluster
	if err != nil {
		return fmt.Errorf("tcp: cannot listen on %s: %w", s.cfg.Addr, err)
	}
	if s.cfg.TLSCert != "" || s.cfg.TLSKey != "" {
		cert, err := tlsconf.Load(tlsconf.Settings{CertFile: s.cfg.TLSCert, KeyFile: s.cfg.TLSKey,
			MinVersion: s.cfg.TLSMinVersion, CipherSuites: s.cfg.TLSCipherSuites})
		if err != nil {
			_ = ln.Close()
			return fmt.Errorf("tcp: TLS (tcp.tls_cert, tcp.tls_key): %w", err)
		}
		s.cert = cert
		// TLS is put over each accepted connection once it is wrapped
		// by package nowait, so that TLS records too are written without
		// waiting for the client.
		s.tls = cert.Config()
	}
	s.mu.Lock()
	s.ln = ln
	s.mu.Unlock()
	return nil
}

// ReloadCertificate reads tcp.tls_cert and tcp.tls_key again: new
// connections get the new certificate. On error the previous one stays.
// Without TLS it does nothing.
func (s *Server) ReloadCertificate() error {
	if s.cert == nil {
		return nil
	}
	if err := s.cert.Reload(); err != nil {
		return fmt.Errorf("tcp: %w", err)
	}
	return nil
}

// Addr is the bound address, once Listen succeeded.
func (s *Server) Addr() net.Addr {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ln == nil {
		return nil
	}
	return s.ln.Addr()
}

// Serve accepts connections until Shutdown; it returns nil then.
func (s *Server) Serve() error {
	s.mu.Lock()
	ln := s.ln
	s.mu.Unlock()
	if ln == nil {
		return errors.New("tcp: Serve called before Listen")
	}
	var backoff time.Duration
	for {
		nc, err := ln.Accept()
		if err != nil {
			select {
			case <-s.closing:
				return nil
			default:
			}
			if errors.Is(err, syscall.EMFILE) || errors.Is(err, syscall.ENFILE) {
				backoff = min(max(2*backoff, 5*time.Millisecond), time.Second)
				s.logger.Warn("tcp accept failed; retrying", "error", err.Error(), "in_ms", backoff.Milliseconds())
				select {
				case <-time.After(backoff):
				case <-s.closing:
					return nil
				}
				continue
			}
			return fmt.Errorf("tcp: accept: %w", err)
		}
		backoff = 0
		s.mu.Lock()
		select {
		case <-s.closing:
			s.mu.Unlock()
			_ = nc.Close()
			continue
		default:
		}
		remote := connection.RemoteIP(nc.RemoteAddr().String())
		if err := s.gate.Acquire(remote); err != nil {
			s.refuse(nc, err)
			s.mu.Unlock()
			continue
		}
		s.conns[nc] = struct{}{}
		s.wg.Add(1)
		s.mu.Unlock()
		go s.serveConn(nc, remote)
	}
}

// refuse counts a connection over a limit of err's and, on a goroutine
// of its own, writes it one error line and closes it. Called with s.mu
// held.
func (s *Server) refuse(nc net.Conn, err error) {
	var ae *apierror.Error
	if errors.Is(err, limit.ErrNodeFull) {
		s.refused.Add(limit.Connections)
		ae = apierror.Newf(apierror.CodeConnectionLimit, http.StatusServiceUnavailable,
			"the server has %d connections, the most it takes (tcp.max_connections); retry later or on another node", s.cfg.MaxConnections)
	} else {
		s.refused.Add(limit.ConnectionsPerIP)
		ae = apierror.Newf(apierror.CodeIPConnectionLimit, http.StatusTooManyRequests,
			"your address has %d connections open, the most it may (tcp.max_connections_per_ip); close one first", s.cfg.MaxConnectionsPerIP)
	}
	if s.nRefuse >= maxRefusing {
		_ = nc.Close()
		return
	}
	s.nRefuse++
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		line, _ := json.Marshal(map[string]any{"context": "api", "error": ae.Body().Error})
		c := nc
		if s.tls != nil {
			c = tls.Server(nc, s.tls)
		}
		_ = c.SetDeadline(time.Now().Add(refuseTimeout)) // the TLS handshake's reads too
		_, _ = c.Write(append(line, '\n'))
		_ = c.Close()
		s.mu.Lock()
		s.nRefuse--
		s.mu.Unlock()
	}()
}

// Shutdown stops accepting, tells every client the server is going away,
// and closes their connections once their actions in flight have
// answered, bounded by ctx.
func (s *Server) Shutdown(ctx context.Context) error {
	s.once.Do(func() {
		s.mu.Lock()
		close(s.closing)
		s.cancel()
		if s.ln != nil {
			_ = s.ln.Close()
		}
		s.mu.Unlock()
	})
	done := make(chan struct{})
	go func() { s.wg.Wait(); close(done) }()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		s.mu.Lock()
		for nc := range s.conns {
			_ = nc.Close()
		}
		s.mu.Unlock()
		return fmt.Errorf("tcp: connections still open at the shutdown deadline: %w", ctx.Err())
	}
}

// Len is the number of open connections.
func (s *Server) Len() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.conns)
}

func (s *Server) serveConn(nc net.Conn, remote string) {
	defer s.wg.Done()
	defer func() {
		s.mu.Lock()
		delete(s.conns, nc)
		s.mu.Unlock()
		_ = nc.Close()
		s.gate.Release(remote)
	}()
	w := nowait.New(nc, s.cfg.MaxQueuedBytes+keptMargin, writeTimeout)
	k := &sink{nc: w, w: w}
	var conn net.Conn = w
	if s.tls != nil {
		tc := tls.Server(w, s.tls)
		if !s.handshake(tc, w) {
			return
		}
		conn, k.w = tc, tc
	}
	defer conn.Close() // with TLS, its close_notify
	sess := session.New(s.session, connection.TypeTCP, remote, k)
	w.Notify(sess.Kept)
	ctx := context.Background()
	defer sess.Wait()
	if err := sess.Open(ctx); err != nil {
		return
	}
	// The reader is unblocked when the session must end or the server
	// shuts down; no goroutine waits for either.
	unblock := func() { _ = conn.SetReadDeadline(time.Unix(1, 0)) }
	stopEnd := context.AfterFunc(sess.Ended(), unblock)
	goingAway := func() {
		_ = sess.Push(map[string]any{"context": "api", "event": "shutdown", "message": "the server is shutting down; reconnect to another node"})
	}
	stopShutdown := context.AfterFunc(s.ctx, func() { goingAway(); unblock() })
	s.readLoop(conn, sess)
	stopEnd()
	if stopShutdown() && s.isClosing() {
		goingAway() // the reader saw the shutdown first
	}
	if errors.Is(sess.Err(), session.ErrSlowClient) {
		// What waits for this client will not be read: no writing it
		// out for the write timeout.
		_ = w.Close()
	}
	sess.Close(ctx)
}

// keptMargin is what a connection may keep beyond MaxQueuedBytes: the
// newlines, a message larger than the bound.
const keptMargin = 64 << 10

// handshake runs the TLS handshake of tc over w, bounded by the idle
// timeout, as a silent client is; w's kept bytes are flushed as they
// come, since no session is there yet to do it.
func (s *Server) handshake(tc *tls.Conn, w *nowait.Conn) bool {
	w.Notify(func() { _ = w.Flush() })
	if s.cfg.IdleTimeout > 0 {
		_ = tc.SetReadDeadline(time.Now().Add(s.cfg.IdleTimeout))
	}
	if err := tc.Handshake(); err != nil {
		s.logger.Debug("tcp TLS handshake failed", "remote", tc.RemoteAddr().String(), "error", err.Error())
		return false
	}
	return true
}

// sink writes a session's messages to its socket, one per line; see
// package nowait. With TLS, w is the TLS connection over nc.
type sink struct {
	nc *nowait.Conn
	w  io.Writer
}

func (k *sink) Send(b []byte) error {
	// b is the session's to give: its spare capacity takes the newline.
	if _, err := k.w.Write(append(b, '\n')); err != nil {
		_ = k.nc.Close()
		return err
	}
	return nil
}

func (k *sink) Flush() error {
	if err := k.nc.Flush(); err != nil {
		_ = k.nc.Close()
		return err
	}
	return nil
}

// readLoop reads lines until the client goes, the session ends or the
// server shuts down.
func (s *Server) readLoop(nc net.Conn, sess *session.Session) {
	// A small buffer: it stays with the connection for its life, and a
	// longer line is read past it (readLine).
	br := bufio.NewReaderSize(nc, 1<<10)
	var long []byte
	for {
		if s.cfg.IdleTimeout > 0 {
			_ = nc.SetReadDeadline(time.Now().Add(s.cfg.IdleTimeout))
		}
		// After the deadline is set: the session's end and the shutdown
		// set one in the past, after they happened.
		if sess.Err() != nil || s.isClosing() {
			return
		}
		line, err := readLine(br, s.cfg.MaxLineBytes, &long)
		switch {
		case errors.Is(err, errLineTooLong):
			s.refused.Add(limit.MessageSize)
			sess.Reject(apierror.Newf(apierror.CodeMessageTooLarge, http.StatusRequestEntityTooLarge,
				"line longer than %d bytes (tcp.max_line_bytes); closing the connection", s.cfg.MaxLineBytes))
			return
		case err != nil:
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() && sess.Err() == nil && !s.isClosing() {
				_ = sess.Push(map[string]any{"context": "api", "error": apierror.New(apierror.CodeTimeout, http.StatusRequestTimeout,
					fmt.Sprintf("no message for %s (tcp.idle_timeout); closing the connection", s.cfg.IdleTimeout)).Body().Error})
			}
			return
		}
		r, text, empty, perr := ParseLine(line)
		switch {
		case empty:
		case perr != nil:
			sess.Reject(perr)
		case text && r.Action != "" && !s.known(r.Action):
			sess.Reject(apierror.Newf(apierror.CodeUnknownVerb, http.StatusBadRequest,
				"unknown verb or action %q", apierror.Clip(r.Action)))
		default:
			sess.HandleRequest(r)
		}
		select {
		case <-sess.Done():
			return
		default:
		}
	}
}

func (s *Server) known(name string) bool {
	_, ok := s.session.Actions.Lookup(name, 0)
	return ok
}

func (s *Server) isClosing() bool {
	select {
	case <-s.closing:
		return true
	default:
		return false
	}
}

var errLineTooLong = errors.New("tcp: line too long")

// readLine returns the next line without its newline, or errLineTooLong
// once more than limit bytes came without one. buf is reused between
// calls for lines longer than the reader's buffer.
func readLine(br *bufio.Reader, limit int, buf *[]byte) ([]byte, error) {
	*buf = (*buf)[:0]
	for {
		chunk, err := br.ReadSlice('\n')
		n := len(*buf) + len(chunk)
		if err == nil {
			n-- // the newline
		}
		if n > limit {
			return nil, errLineTooLong
		}
		switch {
		case err == nil:
			if len(*buf) == 0 {
				return chunk[:len(chunk)-1], nil
			}
			*buf = append(*buf, chunk[:len(chunk)-1]...)
			return *buf, nil
		case errors.Is(err, bufio.ErrBufferFull):
			*buf = append(*buf, chunk...)
		case errors.Is(err, io.EOF) && len(*buf)+len(chunk) > 0:
			// A last line without a newline still counts.
			*buf = append(*buf, chunk...)
			return *buf, nil
		default:
			return nil, err
		}
	}
}
