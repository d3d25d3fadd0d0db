package main

import (
	"net"
	"net/http"
	"strings"
	"syscall"
	"testing"

	"github.com/stellarfw/stellar-go/internal/poll"
	"github.com/stellarfw/stellar-go/internal/redistest"
)

// status is the HTTP status of GET url, or 0 when nothing answers.
func status(url string) int {
	res, err := http.Get(url)
	if err != nil {
		return 0
	}
	res.Body.Close()
	return res.StatusCode
}

// TestNodeStartsBeforeRedis starts a real node while no redis-server
// listens on its Redis address, as compose files and systemd do when they
// start services in any order: the node stays up, is alive but not ready,
// and becomes ready and runs its periodic task once redis-server starts.
func TestNodeStartsBeforeRedis(t *testing.T) {
	srv := redistest.StartOwn(t)
	srv.Stop(t) // its port is now free, and stays its port
	addr := freePort(t)
	logs := &lockedBuffer{}
	env := []string{"STELLAR_REDIS_PREFIX=" + redistest.Prefix(t), "STELLAR_LOG_FORMAT=text", "EXAMPLE_HEARTBEAT=200ms"}
	cmd := command(t, t.TempDir(), env, "run", "--redis", srv.URL(), "--token", "t0ken", "--id", "early", "--http", addr, "--tcp", "off")
	cmd.Stderr = logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan struct{})
	go func() { _ = cmd.Wait(); close(exited) }()
	t.Cleanup(func() { _ = cmd.Process.Signal(syscall.SIGTERM); <-exited })

	poll.Until(t, "/healthz to answer 200 with Redis down", 0, func() bool { return status("http://"+addr+"/healthz") == 200 })
	if got := status("http://" + addr + "/readyz"); got != 503 {
		t.Fatalf("/readyz with Redis down: %d, want 503", got)
	}
	select {
	case <-exited:
		t.Fatalf("the node exited while Redis was down:\n%s", logs)
	default:
	}
	if strings.Contains(logs.String(), "msg=heartbeat") {
		t.Fatalf("a task ran while Redis was down:\n%s", logs)
	}

	srv.Restart(t)
	poll.Until(t, "/readyz to answer 200 once Redis is up", 0, func() bool { return status("http://"+addr+"/readyz") == 200 })
	poll.Until(t, "the periodic task to run", 0, func() bool { return strings.Contains(logs.String(), "msg=heartbeat") })
	if n := strings.Count(logs.String(), "backend unavailable"); n != 1 {
		t.Fatalf("the outage at start was logged %d times, want once:\n%s", n, logs)
	}
}

// TestStartRefusals: a taken port and a refused Redis password are
// configuration errors: exit 2 with one clear line, and no task run.
func TestStartRefusals(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	srv := redistest.Shared(t)
	env := []string{"STELLAR_REDIS_PREFIX=" + redistest.Prefix(t), "STELLAR_LOG_FORMAT=text", "EXAMPLE_HEARTBEAT=50ms"}
	code, _, stderr := runCLI(t, "", env, "run", "--redis", srv.URL(), "--token", "t0ken", "--id", "taken", "--http", ln.Addr().String(), "--tcp", "off")
	if code != 2 || !strings.Contains(stderr, "cannot listen on "+ln.Addr().String()) {
		t.Fatalf("taken port: exit %d\n%s", code, stderr)
	}
	if strings.Contains(stderr, "msg=heartbeat") || strings.Contains(stderr, "joined") {
		t.Fatalf("the node ran a task or joined the cluster before finding its port taken:\n%s", stderr)
	}

	locked := redistest.StartOwn(t, redistest.Password("right"))
	wrong := strings.Replace(locked.URL(), ":right@", ":wrong@", 1)
	code, _, stderr = runCLI(t, "", env, "run", "--redis", wrong, "--token", "t0ken", "--id", "locked-out", "--http", "127.0.0.1:0", "--tcp", "off")
	lines := strings.Split(strings.TrimSpace(stderr), "\n")
	if last := lines[len(lines)-1]; code != 2 || !strings.Contains(last, "authentication failed") || strings.Contains(last, ":wrong@") {
		t.Fatalf("wrong password: exit %d, last line %q\n%s", code, last, stderr)
	}
}
