// Package redistest runs a real redis-server for tests: on a free loopback
// port (and a unix socket) in a temporary directory, with persistence off
// unless AOF asks for it, stopped when the test ends. Fault tests can kill
// it (SIGKILL) or shut it down (SIGTERM) and restart it on the same port
// and directory.
//
// StartCluster runs a Redis Cluster of three masters and three replicas,
// and StartSentinelSet a master with two replicas under three sentinels,
// each server a process of its own, with short failure timers: a test can
// kill a master and wait until a replica took over, fail over by hand,
// and move slots between masters. SharedCluster shares one cluster among
// a package's tests.
//
// Set STELLAR_TEST_REDIS_URL to run the tests against an existing server
// instead; Start and Shared then use it (StartOwn never does, since it must
// be able to stop its server, nor do the clusters and sentinel sets).
// Tests sharing a server keep apart by key prefix: use Prefix.
package redistest

import (
	"bufio"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/big"
	"net"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// EnvURL names the environment variable that points the tests at an
// existing Redis instead of one the harness starts.
const EnvURL = "STELLAR_TEST_REDIS_URL"

// Binary is the redis-server the harness runs.
var Binary = "redis-server"

// startTimeout bounds how long a server may take to answer PING.
const startTimeout = 15 * time.Second

// Server is a Redis server for tests.
type Server struct {
	url      string
	external bool // a server named by EnvURL: not ours to stop
	shared   bool // the package's shared server: not one test's to stop

	opts    options
	tlsConf *tls.Config // trusts the server's certificate; TLS servers only

	mu      sync.Mutex
	port    int
	busPort int    // a Redis Cluster member's bus port; 0 for others
	nodeID  string // a Redis Cluster member's id, set once it started
	dir     string
	proc    *process // guarded by mu; nil while stopped
}

// An Option configures a server that the harness starts.
type Option func(*options)

type options struct {
	password string
	cluster  bool
	tls      bool
	aof      bool
	sentinel *Server // the master this sentinel monitors

	// Set by StartCluster and StartSentinelSet for their servers.
	clusterNode bool   // one member of a Redis Cluster of several servers
	replicated  bool   // a server of a set whose servers replicate each other
	replicaOf   string // host:port of the master to replicate from at start; guarded by Server.mu
	quorum      int    // a sentinel's quorum; 0 means 1
	fast        bool   // a sentinel that declares a master down after SentinelDownAfter
}

// AOF makes the server persist every write to an append-only file in its
// directory before it replies (appendonly yes, appendfsync always), so that
// what a client saw acknowledged survives Kill, Terminate and Restart.
func AOF() Option { return func(o *options) { o.aof = true } }

// TLS makes the server accept only TLS connections, with a self-signed
// certificate for 127.0.0.1 (see TLSConfig); its URL is rediss://.
func TLS() Option { return func(o *options) { o.tls = true } }

// Password makes the server require a password (requirepass).
func Password(p string) Option { return func(o *options) { o.password = p } }

// Cluster starts the server as a one-node Redis Cluster owning every slot:
// a cluster client works against it, and Redis refuses any command whose
// keys span slots, as a real cluster would.
func Cluster() Option { return func(o *options) { o.cluster = true } }

// SentinelName is the master name that StartSentinel monitors.
const SentinelName = "stellar-test"

type process struct {
	cmd  *exec.Cmd
	done chan struct{} // closed once the process has exited and been reaped
	err  error         // how it exited; set before done closes
}

// Start returns a server for t: the one EnvURL names, or a new one stopped
// when t ends.
func Start(t testing.TB) *Server {
	t.Helper()
	if u := os.Getenv(EnvURL); u != "" {
		return &Server{url: u, external: true}
	}
	return StartOwn(t)
}

// StartOwn starts a new redis-server for t, whatever EnvURL says, so that
// the test may Stop and Restart it. It is stopped when t ends.
func StartOwn(t testing.TB, opts ...Option) *Server {
	t.Helper()
	var o options
	for _, opt := range opts {
		opt(&o)
	}
	s, err := start(o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.close)
	return s
}

// Launch starts a new redis-server outside any test (for the benchmark
// programs under bench/). Close stops it and removes its directory.
func Launch(opts ...Option) (*Server, error) {
	var o options
	for _, opt := range opts {
		opt(&o)
	}
	return start(o)
}

// Close stops a server that Launch started.
func (s *Server) Close() { s.close() }

// StartSentinel starts a Sentinel that monitors master under SentinelName,
// stopped when t ends. Its URL is its own address; clients ask it where
// the master is.
func StartSentinel(t testing.TB, master *Server) *Server {
	t.Helper()
	s, err := start(options{sentinel: master})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.close)
	return s
}

func start(o options) (*Server, error) {
	dir, err := os.MkdirTemp("", "redistest-")
	if err != nil {
		return nil, fmt.Errorf("redistest: %w", err)
	}
	s := &Server{dir: dir, opts: o}
	if o.tls {
		if s.tlsConf, err = writeCert(dir); err != nil {
			_ = os.RemoveAll(dir)
			return nil, err
		}
	}
	// A free port can be taken by someone else before redis binds it: try
	// a few.
	for attempt := 0; ; attempt++ {
		s.port, err = freePort()
		if err == nil && o.clusterNode {
			s.busPort, err = freePort()
		}
		if err == nil {
			s.url = "redis://127.0.0.1:" + strconv.Itoa(s.port) + "/0"
			scheme, auth := "redis://", ""
			if o.tls {
				scheme = "rediss://"
			}
			if o.password != "" {
				auth = ":" + url.PathEscape(o.password) + "@"
			}
			s.url = scheme + auth + "127.0.0.1:" + strconv.Itoa(s.port) + "/0"
			err = s.launch()
		}
		if err == nil {
			return s, nil
		}
		if attempt == 2 {
			_ = os.RemoveAll(dir)
			return nil, err
		}
	}
}

var (
	portsMu sync.Mutex
	ports   = map[int]bool{} // guarded by portsMu; handed out by freePort
)

// freePort returns a loopback port that is free now and that it never
// returned before in this process, so that servers started at once never
// try the same one.
func freePort() (int, error) {
	for {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return 0, fmt.Errorf("redistest: find a free port: %w", err)
		}
		port := l.Addr().(*net.TCPAddr).Port
		_ = l.Close()
		portsMu.Lock()
		taken := ports[port]
		ports[port] = true
		portsMu.Unlock()
		if !taken {
			return port, nil
		}
	}
}

func (s *Server) logFile() string { return filepath.Join(s.dir, "redis.log") }

// launch starts redis-server on s.port and waits until it is ready.
func (s *Server) launch() error {
	logFile := s.logFile()
	port := []string{"--port", strconv.Itoa(s.port)}
	if s.opts.tls {
		port = []string{"--port", "0", "--tls-port", strconv.Itoa(s.port),
			"--tls-cert-file", filepath.Join(s.dir, "cert.pem"),
			"--tls-key-file", filepath.Join(s.dir, "key.pem"),
			"--tls-auth-clients", "no"}
	}
	appendonly := []string{"--appendonly", "no"}
	if s.opts.aof {
		appendonly = []string{"--appendonly", "yes", "--appendfsync", "always"}
	}
	args := append(port, "--bind", "127.0.0.1", "--save", "")
	args = append(args, appendonly...)
	args = append(args,
		"--dir", s.dir,
		"--logfile", logFile,
		"--daemonize", "no",
	)
	if m := s.opts.sentinel; m != nil {
		// A sentinel rewrites its config file: give it one of its own.
		conf := filepath.Join(s.dir, "sentinel.conf")
		host, port, _ := net.SplitHostPort(m.Addr())
		quorum := max(s.opts.quorum, 1)
		body := "sentinel monitor " + SentinelName + " " + host + " " + port + " " + strconv.Itoa(quorum) + "\n"
		if s.opts.fast {
			body += "sentinel down-after-milliseconds " + SentinelName + " " + strconv.Itoa(int(SentinelDownAfter/time.Millisecond)) + "\n" +
				"sentinel failover-timeout " + SentinelName + " " + strconv.Itoa(int(sentinelFailoverTimeout/time.Millisecond)) + "\n"
		}
		if m.opts.password != "" {
			body += "sentinel auth-pass " + SentinelName + " " + m.opts.password + "\n"
		}
		if err := os.WriteFile(conf, []byte(body), 0o600); err != nil {
			return fmt.Errorf("redistest: %w", err)
		}
		args = append([]string{conf, "--sentinel"}, args...)
	} else {
		args = append(args, "--unixsocket", s.socketPath(), "--unixsocketperm", "700")
	}
	if s.opts.password != "" {
		args = append(args, "--requirepass", s.opts.password)
	}
	if s.opts.cluster || s.opts.clusterNode {
		args = append(args, "--cluster-enabled", "yes", "--cluster-config-file", filepath.Join(s.dir, "nodes.conf"))
	}
	if s.opts.clusterNode {
		args = append(args,
			"--cluster-port", strconv.Itoa(s.busPort),
			"--cluster-node-timeout", strconv.Itoa(int(ClusterNodeTimeout/time.Millisecond)),
			// A replica may take over however long its link was down (a
			// test may have restarted it moments before), and no replica
			// moves to another master behind the test's back.
			"--cluster-replica-validity-factor", "0",
			"--cluster-allow-replica-migration", "no",
		)
	}
	if s.opts.replicated {
		// Replicas sync at once rather than wait for others to join in.
		args = append(args, "--repl-diskless-sync-delay", "0")
	}
	s.mu.Lock()
	replicaOf := s.opts.replicaOf
	s.mu.Unlock()
	if replicaOf != "" {
		host, port, _ := net.SplitHostPort(replicaOf)
		args = append(args, "--replicaof", host, port)
	}
	cmd := exec.Command(Binary, args...)
	dieWithParent(cmd)
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("redistest: start %s: %w", Binary, err)
	}
	p := &process{cmd: cmd, done: make(chan struct{})}
	go func() {
		p.err = cmd.Wait()
		close(p.done)
	}()
	deadline := time.Now().Add(startTimeout)
	for {
		err := s.ready(cmd.Process.Pid)
		if err == nil {
			break
		}
		select {
		case <-p.done:
			return fmt.Errorf("redistest: redis-server exited at start: %s", tail(logFile))
		default:
		}
		if time.Now().After(deadline) {
			p.kill()
			return fmt.Errorf("redistest: redis-server did not answer PING within %v: %v; log: %s", startTimeout, err, tail(logFile))
		}
		time.Sleep(10 * time.Millisecond)
	}
	s.mu.Lock()
	s.proc = p
	s.mu.Unlock()
	return nil
}

// ready reports whether the server of process pid answers (not another
// that took the port first) and has loaded its data, and for a one-node
// cluster whether the cluster is up, assigning it every slot the first
// time.
func (s *Server) ready(pid int) error {
	if _, err := s.command("PING"); err != nil {
		return err
	}
	info, err := s.command("INFO", "server")
	if err != nil {
		return err
	}
	if !strings.Contains(info, "process_id:"+strconv.Itoa(pid)+"\r\n") {
		return errors.New("redistest: another process answers on the port")
	}
	if s.opts.sentinel != nil {
		return nil
	}
	// Redis answers PING with an error while it loads its data, but say
	// what is waited for rather than lean on that.
	info, err = s.command("INFO", "persistence")
	if err != nil {
		return err
	}
	if strings.Contains(info, "loading:1") || strings.Contains(info, "async_loading:1") {
		return errors.New("redistest: still loading its data")
	}
	if !s.opts.cluster {
		// A member of a cluster of several is waited for by its ClusterSet.
		return nil
	}
	info, err = s.command("CLUSTER", "INFO")
	if err != nil {
		return err
	}
	if strings.Contains(info, "cluster_state:ok") {
		return nil
	}
	if strings.Contains(info, "cluster_slots_assigned:0") {
		if _, err := s.command("CLUSTER", "ADDSLOTSRANGE", "0", "16383"); err != nil {
			return err
		}
	}
	return errors.New("redistest: cluster not ready")
}

func (p *process) kill() {
	_ = p.cmd.Process.Kill()
	<-p.done
}

func (s *Server) socketPath() string { return filepath.Join(s.dir, "redis.sock") }

// tail returns the end of a log file, for error messages.
func tail(path string) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return "(no log: " + err.Error() + ")"
	}
	if len(b) > 2000 {
		b = b[len(b)-2000:]
	}
	return string(b)
}

// Log returns the server's log, to explain a failure.
func (s *Server) Log() string {
	b, err := os.ReadFile(s.logFile())
	if err != nil {
		return "(no log: " + err.Error() + ")"
	}
	return string(b)
}

// TLSConfig returns a TLS configuration that trusts the certificate of a
// server started with TLS, nil for others.
func (s *Server) TLSConfig() *tls.Config {
	if s.tlsConf == nil {
		return nil
	}
	return s.tlsConf.Clone()
}

// writeCert writes a fresh self-signed certificate for 127.0.0.1 and its
// key to dir, and returns a client configuration that trusts it.
func writeCert(dir string) (*tls.Config, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("redistest: %w", err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "redistest"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(24 * time.Hour),
		IPAddresses:           []net.IP{net.IPv4(127, 0, 0, 1)},
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, fmt.Errorf("redistest: %w", err)
	}
	keyDER, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		return nil, fmt.Errorf("redistest: %w", err)
	}
	certPEM := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
	keyPEM := pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER})
	if err := os.WriteFile(filepath.Join(dir, "cert.pem"), certPEM, 0o600); err != nil {
		return nil, fmt.Errorf("redistest: %w", err)
	}
	if err := os.WriteFile(filepath.Join(dir, "key.pem"), keyPEM, 0o600); err != nil {
		return nil, fmt.Errorf("redistest: %w", err)
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(certPEM)
	return &tls.Config{RootCAs: pool, ServerName: "127.0.0.1", MinVersion: tls.VersionTLS12}, nil
}

// URL returns the server's redis:// (or rediss://) URL.
func (s *Server) URL() string { return s.url }

// Addr returns the server's host:port.
func (s *Server) Addr() string {
	u, err := url.Parse(s.url)
	if err != nil {
		return ""
	}
	return u.Host
}

// SocketURL returns a unix:// URL of the server's socket. Only the
// harness's own servers have one.
func (s *Server) SocketURL(t testing.TB) string {
	t.Helper()
	if s.external {
		t.Fatalf("redistest: SocketURL needs the harness's own server, not %s", EnvURL)
	}
	return "unix://" + s.socketPath() + "?db=0"
}

// terminateTimeout bounds how long a server may take to shut down on
// SIGTERM.
const terminateTimeout = 15 * time.Second

// Kill kills the server with SIGKILL, as a crash would, and waits until it
// is gone: writes it had not yet made durable are lost (with AOF, none it
// had acknowledged). Killing a stopped server does nothing. Only a server
// from StartOwn may be killed.
func (s *Server) Kill(t testing.TB) {
	t.Helper()
	s.checkOwn(t, "Kill")
	if p := s.takeProc(); p != nil {
		p.kill()
	}
}

// Stop is Kill, under its older name.
func (s *Server) Stop(t testing.TB) {
	t.Helper()
	s.Kill(t)
}

// Terminate shuts the server down with SIGTERM, as an operator or a
// service manager would, and waits until it has exited: it closes its
// clients' connections and, with AOF, flushes the file first. It fails
// the test if the server takes longer than 15s or exits with an error.
// Terminating a stopped server does nothing.
func (s *Server) Terminate(t testing.TB) {
	t.Helper()
	s.checkOwn(t, "Terminate")
	p := s.takeProc()
	if p == nil {
		return
	}
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		p.kill()
		t.Fatalf("redistest: SIGTERM: %v", err)
	}
	select {
	case <-p.done:
	case <-time.After(terminateTimeout):
		p.kill()
		t.Fatalf("redistest: redis-server did not exit within %v of SIGTERM; log: %s", terminateTimeout, tail(s.logFile()))
	}
	if p.err != nil {
		t.Fatalf("redistest: redis-server exited on SIGTERM with %v; log: %s", p.err, tail(s.logFile()))
	}
}

// Restart starts the server again on the same port and in the same
// directory, killing it first if it runs, and waits until it answers and
// has loaded its data. With AOF the data survives; without, it is gone.
func (s *Server) Restart(t testing.TB) {
	t.Helper()
	s.Kill(t)
	if err := s.launch(); err != nil {
		t.Fatal(err)
	}
}

// takeProc returns the running process, if any, and marks the server
// stopped.
func (s *Server) takeProc() *process {
	s.mu.Lock()
	defer s.mu.Unlock()
	p := s.proc
	s.proc = nil
	return p
}

func (s *Server) checkOwn(t testing.TB, what string) {
	t.Helper()
	switch {
	case s.external:
		t.Fatalf("redistest: %s needs the harness's own server (StartOwn), not %s", what, EnvURL)
	case s.shared:
		t.Fatalf("redistest: %s needs a server of the test's own (StartOwn), not the shared one", what)
	}
}

// close stops the server and removes its directory.
func (s *Server) close() {
	if p := s.takeProc(); p != nil {
		p.kill()
	}
	if s.dir != "" {
		_ = os.RemoveAll(s.dir)
	}
}

var (
	sharedMu    sync.Mutex
	shared      *Server // guarded by sharedMu; set by Main
	mainRunning bool    // guarded by sharedMu; Main runs the tests
)

// Main runs a package's tests with one server shared by them (see Shared)
// and a cluster shared by those that ask for it (see SharedCluster), stops
// them, runs each check (such as goleak.Find) if the tests passed, and
// exits. Call it from TestMain.
func Main(m *testing.M, checks ...func() error) {
	os.Exit(runMain(m, checks))
}

func runMain(m *testing.M, checks []func() error) int {
	if os.Getenv(EnvURL) == "" {
		s, err := start(options{})
		if err != nil {
			slog.Error("redistest: cannot start the shared server", "err", err)
			return 1
		}
		s.shared = true
		sharedMu.Lock()
		shared = s
		sharedMu.Unlock()
	}
	sharedMu.Lock()
	mainRunning = true
	sharedMu.Unlock()
	code := m.Run()
	sharedMu.Lock()
	if shared != nil {
		shared.close()
	}
	if sharedCluster != nil {
		sharedCluster.Close()
	}
	sharedMu.Unlock()
	if code != 0 {
		return code
	}
	for _, check := range checks {
		if err := check(); err != nil {
			slog.Error("redistest: check after the tests failed", "err", err)
			return 1
		}
	}
	return 0
}

// Shared returns the server shared by the package's tests (see Main), or
// Start(t) when there is none. Keep tests apart with Prefix.
func Shared(t testing.TB) *Server {
	t.Helper()
	sharedMu.Lock()
	s := shared
	sharedMu.Unlock()
	if s != nil {
		return s
	}
	return Start(t)
}

// Prefix returns a key prefix unique to this call, naming t, so that tests
// sharing a server never see each other's keys.
func Prefix(t testing.TB) string {
	var b [4]byte
	_, _ = rand.Read(b[:])
	name := strings.Map(func(r rune) rune {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '-', r == '_', r == '/', r == '.':
			return r
		}
		return '_'
	}, t.Name())
	return "test:" + name + ":" + hex.EncodeToString(b[:]) + ":"
}

// CommandCalls returns how many times the server has run each command
// since it started, by lower-case name, from INFO commandstats: the
// commands that scripts run count as well as the scripts' EVALSHA. A
// server named by EnvURL has no port of ours to ask; for it the error
// says so.
func (s *Server) CommandCalls() (map[string]int64, error) {
	if s.external {
		return nil, errors.New("redistest: CommandCalls: not on a server named by " + EnvURL)
	}
	info, err := s.command("INFO", "commandstats")
	if err != nil {
		return nil, err
	}
	out := make(map[string]int64)
	for _, line := range strings.Split(info, "\n") {
		// cmdstat_get:calls=2,usec=10,usec_per_call=5.00,...
		name, stats, ok := strings.Cut(strings.TrimSpace(line), ":")
		name, isCmd := strings.CutPrefix(name, "cmdstat_")
		if !ok || !isCmd {
			continue
		}
		for _, f := range strings.Split(stats, ",") {
			if v, ok := strings.CutPrefix(f, "calls="); ok {
				n, err := strconv.ParseInt(v, 10, 64)
				if err != nil {
					return nil, fmt.Errorf("redistest: CommandCalls: %q: %w", line, err)
				}
				out[name] = n
			}
		}
	}
	return out, nil
}

// command sends one command to the server, with its password and TLS.
func (s *Server) command(args ...string) (string, error) {
	return dialCommand("127.0.0.1:"+strconv.Itoa(s.port), s.opts.password, s.tlsConf, args...)
}

// command sends one command to addr in plain text.
func command(addr, password string, args ...string) (string, error) {
	return dialCommand(addr, password, nil, args...)
}

// errNil is the reply to a GET of a missing key.
var errNil = errors.New("redistest: nil reply")

// dialCommand sends one command to addr, after AUTH if password is set,
// over TLS if tlsConf is set, and returns its reply, with a short timeout:
// a simple or bulk string as it is, an integer in decimal, an array of
// those one per line; errNil for a nil reply.
func dialCommand(addr, password string, tlsConf *tls.Config, args ...string) (string, error) {
	d := &net.Dialer{Timeout: time.Second}
	var c net.Conn
	var err error
	if tlsConf != nil {
		c, err = tls.DialWithDialer(d, "tcp", addr, tlsConf)
	} else {
		c, err = d.Dial("tcp", addr)
	}
	if err != nil {
		return "", err
	}
	defer c.Close()
	// Generous: a test may run a script over many keys on a busy machine.
	_ = c.SetDeadline(time.Now().Add(10 * time.Second))
	r := bufio.NewReader(c)
	if password != "" {
		if _, err := roundTrip(c, r, "AUTH", password); err != nil {
			return "", err
		}
	}
	return roundTrip(c, r, args...)
}

func roundTrip(c net.Conn, r *bufio.Reader, args ...string) (string, error) {
	var b strings.Builder
	fmt.Fprintf(&b, "*%d\r\n", len(args))
	for _, a := range args {
		fmt.Fprintf(&b, "$%d\r\n%s\r\n", len(a), a)
	}
	if _, err := c.Write([]byte(b.String())); err != nil {
		return "", err
	}
	reply, err := readReply(r)
	var re replyError
	if errors.As(err, &re) {
		return "", errors.New("redistest: " + args[0] + ": " + string(re))
	}
	return reply, err
}

// replyError is an error reply of the server.
type replyError string

func (e replyError) Error() string { return string(e) }

// readReply reads one reply; see dialCommand.
func readReply(r *bufio.Reader) (string, error) {
	line, err := r.ReadString('\n')
	if err != nil {
		return "", err
	}
	line = strings.TrimSuffix(line, "\r\n")
	if line == "" {
		return "", fmt.Errorf("redistest: empty reply line")
	}
	switch line[0] {
	case '+':
		return line[1:], nil
	case '-':
		return "", replyError(line[1:])
	case ':':
		return line[1:], nil
	case '$':
		n, err := strconv.Atoi(line[1:])
		if err != nil || n < -1 {
			return "", fmt.Errorf("redistest: bad bulk reply %q", line)
		}
		if n == -1 {
			return "", errNil
		}
		buf := make([]byte, n+2)
		if _, err := io.ReadFull(r, buf); err != nil {
			return "", err
		}
		return string(buf[:n]), nil
	case '*':
		n, err := strconv.Atoi(line[1:])
		if err != nil || n < -1 {
			return "", fmt.Errorf("redistest: bad array reply %q", line)
		}
		if n == -1 {
			return "", errNil
		}
		items := make([]string, n)
		for i := range items {
			if items[i], err = readReply(r); err != nil {
				return "", err
			}
		}
		return strings.Join(items, "\n"), nil
	}
	return "", fmt.Errorf("redistest: unexpected reply %q", line)
}

// ping sends PING to addr and expects PONG.
func ping(addr string) error {
	reply, err := command(addr, "", "PING")
	if err != nil {
		return err
	}
	if reply != "PONG" {
		return errors.New("redistest: PING answered " + reply)
	}
	return nil
}
