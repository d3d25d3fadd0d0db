//go:build unix

package supervisor

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/stellarfw/stellar-go/internal/listen"
	"github.com/stellarfw/stellar-go/internal/poll"
)

// The test binary doubles as a worker: with envFake set it runs
// fakeWorker, which speaks the worker side of the protocol.
const (
	envFake     = "SUPERVISOR_TEST_WORKER"
	envFakeAddr = "SUPERVISOR_TEST_ADDR"
)

func TestMain(m *testing.M) {
	if mode := os.Getenv(envFake); mode != "" {
		os.Exit(fakeWorker(mode))
	}
	os.Exit(m.Run())
}

// fakeWorker crashes at once ("crash"), or serves its name over HTTP on
// the inherited listener until SIGTERM or its supervisor goes ("serve").
func fakeWorker(mode string) int {
	link, err := Attach()
	if err != nil || link == nil {
		return 3
	}
	defer link.Close()
	switch mode {
	case "crash":
		return 1
	case "held":
		_ = link.Failed(errors.New("cluster: node id is already live in the cluster"), true)
		return 2
	}
	ln, err := listen.Listen("tcp", os.Getenv(envFakeAddr))
	if err != nil {
		return 4
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.WriteString(w, link.Name())
	})}
	go func() { _ = srv.Serve(ln) }()
	if err := link.Ready(); err != nil {
		return 5
	}
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, syscall.SIGTERM)
	select {
	case <-sigs:
	case <-link.Gone():
	}
	_ = srv.Shutdown(context.Background())
	return 0
}

type run struct {
	s    *Supervisor
	done chan error
	stop context.CancelFunc
}

func start(t *testing.T, mode string, cfg Config) *run {
	t.Helper()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	cfg.Command = exe
	cfg.Args = func(string) []string { return nil }
	cfg.Env = append(cfg.Env, envFake+"="+mode)
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	ctx, cancel := context.WithCancel(context.Background())
	r := &run{s: New(cfg), done: make(chan error, 1), stop: cancel}
	go func() { r.done <- r.s.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		select {
		case <-r.done:
		case <-time.After(20 * time.Second):
			t.Error("Run did not return")
		}
	})
	return r
}

func (r *run) waitFor(t *testing.T, what string, cond func([]WorkerStatus) bool) []WorkerStatus {
	t.Helper()
	var ws []WorkerStatus
	var runErr error
	returned := false
	ok := poll.Wait(0, func() bool {
		ws = r.s.Workers()
		if cond(ws) {
			return true
		}
		select {
		case runErr = <-r.done:
			returned = true
			r.done <- runErr // for the cleanup, which waits for it
			return true
		default:
			return false
		}
	})
	switch {
	case returned:
		t.Fatalf("%s: Run returned %v", what, runErr)
	case !ok:
		t.Fatalf("%s: workers are %+v", what, ws)
	}
	return ws
}

func allReady(n int) func([]WorkerStatus) bool {
	return func(ws []WorkerStatus) bool {
		if len(ws) != n {
			return false
		}
		for _, w := range ws {
			if w.State != StateReady {
				return false
			}
		}
		return true
	}
}

func names(ws []WorkerStatus) string {
	var s []string
	for _, w := range ws {
		s = append(s, w.Name)
	}
	return strings.Join(s, ",")
}

// TestCrashLoop: a worker that keeps crashing is restarted with backoff,
// then left stopped; the others are not disturbed.
func TestCrashLoop(t *testing.T) {
	r := start(t, "crash", Config{Workers: 1, RestartBackoff: 5 * time.Millisecond, MaxRestarts: 3})
	ws := r.waitFor(t, "worker left stopped", func(ws []WorkerStatus) bool {
		return len(ws) == 1 && ws[0].State == StateFailed
	})
	if ws[0].Restarts != 3 || ws[0].PID != 0 {
		t.Errorf("worker = %+v, want 3 restarts and no process", ws[0])
	}
	r.stop()
	if err := <-r.done; err != nil {
		t.Errorf("Run = %v", err)
	}
	r.done <- nil // for the cleanup
}

// logRecords keeps what a supervisor logs.
type logRecords struct {
	mu   sync.Mutex
	recs []slog.Record
}

func (l *logRecords) Enabled(context.Context, slog.Level) bool { return true }
func (l *logRecords) Handle(_ context.Context, r slog.Record) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.recs = append(l.recs, r)
	return nil
}
func (l *logRecords) WithAttrs([]slog.Attr) slog.Handler { return l }
func (l *logRecords) WithGroup(string) slog.Handler      { return l }

// find returns the records with message msg.
func (l *logRecords) find(msg string) []slog.Record {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []slog.Record
	for _, r := range l.recs {
		if r.Message == msg {
			out = append(out, r)
		}
	}
	return out
}

// TestNameHeld: a worker whose name a live node holds is not counted as
// crashing; it is tried again with a growing wait, and the supervisor
// says so once, with the worker's reason, not at every try.
func TestNameHeld(t *testing.T) {
	logs := &logRecords{}
	r := start(t, "held", Config{Workers: 1, MaxRestarts: 1, Logger: slog.New(logs)})
	if !poll.Wait(0, func() bool { return len(logs.find("worker started")) >= 4 }) {
		t.Fatalf("the worker was started %d times", len(logs.find("worker started")))
	}
	starts := logs.find("worker started")
	for i, want := range []time.Duration{nameHeldRetry, 2 * nameHeldRetry, 4 * nameHeldRetry} {
		if gap := starts[i+1].Time.Sub(starts[i].Time); gap < want {
			t.Errorf("try %d came %s after the one before, want at least %s", i+2, gap, want)
		}
	}
	held := logs.find("worker name held by another live node; retrying with backoff until it is free")
	if len(held) != 1 || held[0].Level != slog.LevelWarn {
		t.Fatalf("%d warnings about the held name, want 1", len(held))
	}
	var reason string
	held[0].Attrs(func(a slog.Attr) bool {
		if a.Key == "error" {
			reason = a.Value.String()
		}
		return true
	})
	if !strings.Contains(reason, "already live") {
		t.Errorf("the warning does not give the worker's reason: %q", reason)
	}
	if n := len(logs.find("worker exited unexpectedly")); n != 0 {
		t.Errorf("a held name was logged as a crash %d times", n)
	}
	if ws := r.s.Workers(); len(ws) != 1 || ws[0].State == StateFailed || ws[0].Restarts != 0 {
		t.Errorf("workers = %+v: a held name counted as a crash", ws)
	}
}

// TestGrowShrinkRoll: workers share one listener; Add takes the lowest
// free number, Remove the highest; Roll replaces every process; stopping
// leaves none behind and removes the pid file.
func TestGrowShrinkRoll(t *testing.T) {
	pidFile := filepath.Join(t.TempDir(), "sup.pid")
	addr := "127.0.0.1:0"
	var reloads atomic.Int32
	env := []string{envFakeAddr + "=" + addr}
	r := start(t, "serve", Config{Workers: 2, NamePrefix: "w-", Listen: []string{addr}, PIDFile: pidFile, StopTimeout: 5 * time.Second,
		Env: env, Reload: func() (Config, error) {
			reloads.Add(1)
			return Config{Env: append(env, envFake+"=serve")}, nil
		}})
	ws := r.waitFor(t, "two workers ready", allReady(2))
	if names(ws) != "w-1,w-2" {
		t.Fatalf("names = %s", names(ws))
	}
	if b, err := os.ReadFile(pidFile); err != nil || strings.TrimSpace(string(b)) != strconv.Itoa(os.Getpid()) {
		t.Errorf("pid file = %q, %v", b, err)
	}
	// Both serve on the supervisor's port.
	var port string
	r.s.do(func() { port = strconv.Itoa(listenerPort(t, r.s.files[0])) })
	seen := map[string]bool{}
	client := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}
	if !poll.Wait(0, func() bool {
		res, err := client.Get("http://127.0.0.1:" + port)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(res.Body)
		res.Body.Close()
		seen[string(b)] = true
		return seen["w-1"] && seen["w-2"]
	}) {
		t.Errorf("answered by %v, want w-1 and w-2", seen)
	}

	r.s.Add()
	if ws := r.waitFor(t, "three workers", allReady(3)); names(ws) != "w-1,w-2,w-3" {
		t.Fatalf("after adding: %s", names(ws))
	}
	r.s.Remove()
	r.s.Remove() // the last-but-one
	r.s.Remove() // refused: one worker is left
	ws = r.waitFor(t, "one worker", allReady(1))
	if names(ws) != "w-1" {
		t.Fatalf("after removing: %s", names(ws))
	}
	r.s.Add()
	before := r.waitFor(t, "w-2 back", allReady(2))
	r.s.Roll()
	rolled := r.waitFor(t, "rolled", func(ws []WorkerStatus) bool {
		return allReady(2)(ws) && ws[0].PID != before[0].PID && ws[1].PID != before[1].PID
	})
	r.s.Reload()
	after := r.waitFor(t, "reloaded and rolled", func(ws []WorkerStatus) bool {
		return allReady(2)(ws) && ws[0].PID != rolled[0].PID && ws[1].PID != rolled[1].PID
	})
	if reloads.Load() != 1 {
		t.Errorf("Reload called %d times", reloads.Load())
	}
	pids := []int{after[0].PID, after[1].PID, rolled[0].PID, rolled[1].PID, before[0].PID, before[1].PID}

	r.stop()
	if err := <-r.done; err != nil {
		t.Errorf("Run = %v", err)
	}
	r.done <- nil
	for _, pid := range pids {
		if alive(pid) {
			t.Errorf("worker %d still running", pid)
		}
	}
	if _, err := os.Stat(pidFile); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("pid file left: %v", err)
	}
}

func listenerPort(t *testing.T, f *os.File) int {
	t.Helper()
	sa, err := syscall.Getsockname(int(f.Fd()))
	if err != nil {
		t.Fatal(err)
	}
	return sa.(*syscall.SockaddrInet4).Port
}

// TestPIDFileOfALiveSupervisor: Run refuses to start over the pid file of
// a live process.
func TestPIDFileOfALiveSupervisor(t *testing.T) {
	pidFile := filepath.Join(t.TempDir(), "sup.pid")
	if err := os.WriteFile(pidFile, []byte(strconv.Itoa(os.Getppid())+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	// The running supervisor's token file is left alone.
	tokenFile := filepath.Join(t.TempDir(), "sup.token")
	if err := os.WriteFile(tokenFile, []byte("first\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	err := New(Config{Workers: 1, PIDFile: pidFile, TokenFile: tokenFile, Token: "second",
		Logger: slog.New(slog.DiscardHandler)}).Run(context.Background())
	if !errors.Is(err, ErrRunning) {
		t.Fatalf("Run = %v, want ErrRunning", err)
	}
	if b, err := os.ReadFile(tokenFile); err != nil || string(b) != "first\n" {
		t.Errorf("token file = %q, %v; want the running supervisor's", b, err)
	}
}

// TestTokenFile: the token file holds the token, readable by the owner
// only even over a file that was not, while the supervisor runs; it is
// removed when the supervisor stops.
func TestTokenFile(t *testing.T) {
	dir := t.TempDir()
	tokenFile := filepath.Join(dir, "sup.token")
	if err := os.WriteFile(tokenFile, []byte("stale\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	r := start(t, "serve", Config{Workers: 1, PIDFile: filepath.Join(dir, "sup.pid"), TokenFile: tokenFile, Token: "s3cret",
		Listen: []string{"127.0.0.1:0"}, Env: []string{envFakeAddr + "=127.0.0.1:0"}, StopTimeout: 5 * time.Second})
	r.waitFor(t, "worker ready", allReady(1))
	st, err := os.Stat(tokenFile)
	if err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("token file: %v, %v; want mode 0600", st, err)
	}
	if b, err := os.ReadFile(tokenFile); err != nil || string(b) != "s3cret\n" {
		t.Errorf("token file = %q, %v", b, err)
	}
	if left, _ := filepath.Glob(filepath.Join(dir, ".sup.token.*")); len(left) > 0 {
		t.Errorf("temporary files left: %v", left)
	}
	r.stop()
	if err := <-r.done; err != nil {
		t.Errorf("Run = %v", err)
	}
	r.done <- nil
	if _, err := os.Stat(tokenFile); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("token file left: %v", err)
	}
}

// TestLinkGone: a worker's link reports its supervisor gone when the
// lifeline closes, and carries its messages.
func TestLinkGone(t *testing.T) {
	statusR, statusW, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	lifeR, lifeW, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer statusR.Close()
	// Attach takes descriptors it owns: give it copies.
	sfd, _ := syscall.Dup(int(statusW.Fd()))
	lfd, _ := syscall.Dup(int(lifeR.Fd()))
	statusW.Close()
	lifeR.Close()
	t.Setenv(EnvName, "w-9")
	t.Setenv(EnvStatusFD, strconv.Itoa(sfd))
	t.Setenv(EnvLifelineFD, strconv.Itoa(lfd))
	link, err := Attach()
	if err != nil || link == nil || link.Name() != "w-9" {
		t.Fatalf("Attach = %v, %v", link, err)
	}
	defer link.Close()
	if err := link.Failed(errors.New("boom"), true); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 256)
	n, _ := statusR.Read(buf)
	if got := string(buf[:n]); !strings.Contains(got, `"event":"failed"`) || !strings.Contains(got, `"nameHeld":true`) {
		t.Errorf("message = %s", got)
	}
	select {
	case <-link.Gone():
		t.Fatal("gone while the supervisor holds the lifeline")
	case <-time.After(20 * time.Millisecond):
	}
	lifeW.Close()
	select {
	case <-link.Gone():
	case <-time.After(5 * time.Second):
		t.Fatal("not gone after the lifeline closed")
	}
	if err := link.Close(); err != nil {
		t.Error(err)
	}
	if err := link.Ready(); !errors.Is(err, os.ErrClosed) {
		t.Errorf("Ready after Close = %v", err)
	}
}

func TestNoSupervisor(t *testing.T) {
	t.Setenv(EnvName, "")
	if link, err := Attach(); link != nil || err != nil {
		t.Fatalf("Attach = %v, %v; want nil, nil", link, err)
	}
}
