// Package redistest runs a real redis-server for tests: on a free loopback
// port (and a unix socket) in a temporary directory, with persistence off,
// stopped when the test ends. Fault tests can stop and restart it on the
// same port.
//
// Set STELLAR_TEST_REDIS_URL to run the tests against an existing server
// instead; Start and Shared then use it (StartOwn never does, since it must
// be able to stop its server). Tests sharing a server keep apart by key
// prefix: use Prefix.
package redistest

import (
	"bufio"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
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

	mu   sync.Mutex
	port int
	dir  string
	proc *process // guarded by mu; nil while stopped
}

type process struct {
	cmd  *exec.Cmd
	done chan struct{} // closed once the process has exited and been reaped
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
func StartOwn(t testing.TB) *Server {
	t.Helper()
	s, err := start()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.close)
	return s
}

func start() (*Server, error) {
	dir, err := os.MkdirTemp("", "redistest-")
	if err != nil {
		return nil, fmt.Errorf("redistest: %w", err)
	}
	s := &Server{dir: dir}
	// A free port can be taken by someone else before redis binds it: try
	// a few.
	for attempt := 0; ; attempt++ {
		s.port, err = freePort()
		if err == nil {
			s.url = "redis://127.0.0.1:" + strconv.Itoa(s.port) + "/0"
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

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("redistest: find a free port: %w", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// launch starts redis-server on s.port and waits until it answers PING.
func (s *Server) launch() error {
	logFile := filepath.Join(s.dir, "redis.log")
	cmd := exec.Command(Binary,
		"--port", strconv.Itoa(s.port),
		"--bind", "127.0.0.1",
		"--unixsocket", s.socketPath(),
		"--unixsocketperm", "700",
		"--save", "",
		"--appendonly", "no",
		"--dir", s.dir,
		"--logfile", logFile,
		"--daemonize", "no",
	)
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("redistest: start %s: %w", Binary, err)
	}
	p := &process{cmd: cmd, done: make(chan struct{})}
	go func() {
		_ = cmd.Wait()
		close(p.done)
	}()
	deadline := time.Now().Add(startTimeout)
	for {
		err := ping("127.0.0.1:" + strconv.Itoa(s.port))
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

// URL returns the server's redis:// URL.
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

// Stop kills the server, as a crash would, and waits until it is gone.
// Only a server from StartOwn may be stopped.
func (s *Server) Stop(t testing.TB) {
	t.Helper()
	s.checkOwn(t, "Stop")
	s.mu.Lock()
	p := s.proc
	s.proc = nil
	s.mu.Unlock()
	if p != nil {
		p.kill()
	}
}

// Restart starts the server again on the same port, stopping it first if
// it runs, and waits until it answers. Its data is gone: persistence is
// off.
func (s *Server) Restart(t testing.TB) {
	t.Helper()
	s.Stop(t)
	if err := s.launch(); err != nil {
		t.Fatal(err)
	}
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
	s.mu.Lock()
	p := s.proc
	s.proc = nil
	s.mu.Unlock()
	if p != nil {
		p.kill()
	}
	if s.dir != "" {
		_ = os.RemoveAll(s.dir)
	}
}

var (
	sharedMu sync.Mutex
	shared   *Server // guarded by sharedMu; set by Main
)

// Main runs a package's tests with one server shared by them (see Shared),
// stops it, runs each check (such as goleak.Find) if the tests passed, and
// exits. Call it from TestMain.
func Main(m *testing.M, checks ...func() error) {
	os.Exit(runMain(m, checks))
}

func runMain(m *testing.M, checks []func() error) int {
	if os.Getenv(EnvURL) == "" {
		s, err := start()
		if err != nil {
			slog.Error("redistest: cannot start the shared server", "err", err)
			return 1
		}
		s.shared = true
		sharedMu.Lock()
		shared = s
		sharedMu.Unlock()
	}
	code := m.Run()
	sharedMu.Lock()
	if shared != nil {
		shared.close()
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

// ping sends PING to addr and expects PONG, with a short timeout.
func ping(addr string) error {
	c, err := net.DialTimeout("tcp", addr, time.Second)
	if err != nil {
		return err
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(time.Second))
	if _, err := c.Write([]byte("*1\r\n$4\r\nPING\r\n")); err != nil {
		return err
	}
	line, err := bufio.NewReader(c).ReadString('\n')
	if err != nil {
		return err
	}
	if line != "+PONG\r\n" {
		return errors.New("redistest: PING answered " + strings.TrimSpace(line))
	}
	return nil
}
