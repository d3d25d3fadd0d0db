package main

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"net"
	"net/url"
	"syscall"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/stellarfw/stellar-go/internal/redistest"
)

// chatProc starts an example process on Redis with HTTP and TCP on free
// ports.
func chatProc(t *testing.T, redisURL, prefix, id, token string) (p *clusterProc, tcpAddr string) {
	t.Helper()
	p = &clusterProc{id: id, addr: freePort(t), stderr: &lockedBuffer{}, done: make(chan struct{})}
	tcpAddr = freePort(t)
	env := []string{"STELLAR_REDIS_PREFIX=" + prefix, "STELLAR_LOG_FORMAT=text",
		"STELLAR_CLUSTER_HEARTBEAT_INTERVAL=100ms", "STELLAR_CLUSTER_NODE_TTL=2s", "STELLAR_SHUTDOWN_TIMEOUT=5s"}
	p.cmd = command(t, t.TempDir(), env, "run", "--redis", redisURL, "--token", token, "--id", id, "--http", p.addr, "--tcp", tcpAddr)
	p.cmd.Stderr, p.cmd.Stdout = p.stderr, io.Discard
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { _ = p.cmd.Wait(); close(p.done) }()
	t.Cleanup(func() {
		_ = p.cmd.Process.Kill()
		<-p.done
	})
	p.waitReady(t, 200)
	return p, tcpAddr
}

type lineConn struct {
	c net.Conn
	r *bufio.Reader
}

func (l *lineConn) next(t *testing.T, ok func(map[string]any) bool) map[string]any {
	t.Helper()
	for {
		_ = l.c.SetReadDeadline(time.Now().Add(10 * time.Second))
		line, err := l.r.ReadBytes('\n')
		if err != nil {
			t.Fatalf("TCP read: %v", err)
		}
		var m map[string]any
		if err := json.Unmarshal(line, &m); err != nil {
			t.Fatalf("TCP line %q: %v", line, err)
		}
		if ok(m) {
			return m
		}
	}
}

// TestChatProcesses: two example processes on one Redis. A TCP client on
// node A and a WebSocket client on node B chat in one room; B's client
// is joined to the room through node A (RPC to B); when B is killed its
// member leaves the room once B's heartbeat expires.
func TestChatProcesses(t *testing.T) {
	srv := redistest.Shared(t)
	prefix := redistest.Prefix(t)
	a, tcpA := chatProc(t, srv.URL(), prefix, "chat-proc-a", "chat-proc-token")
	b, _ := chatProc(t, srv.URL(), prefix, "chat-proc-b", "chat-proc-token")
	a.action(t, "POST", "chatCreate", url.Values{"room": {"lobby"}})

	nc, err := net.Dial("tcp", tcpA)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	tc := &lineConn{c: nc, r: bufio.NewReader(nc)}
	welcome := tc.next(t, func(m map[string]any) bool { return m["welcome"] != nil })
	if welcome["node"] != "chat-proc-a" {
		t.Fatalf("welcome = %v", welcome)
	}
	io.WriteString(nc, "roomAdd lobby\n")
	tc.next(t, func(m map[string]any) bool { return m["messageId"] == float64(1) && m["data"] == true })

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	ws, _, err := websocket.Dial(ctx, "ws://"+b.addr+"/ws", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer ws.CloseNow()
	read := func(ok func(map[string]any) bool) map[string]any {
		t.Helper()
		for {
			_, raw, err := ws.Read(ctx)
			if err != nil {
				t.Fatalf("WebSocket read: %v", err)
			}
			var m map[string]any
			if err := json.Unmarshal(raw, &m); err != nil {
				t.Fatal(err)
			}
			if ok(m) {
				return m
			}
		}
	}
	wsWelcome := read(func(m map[string]any) bool { return m["welcome"] != nil })
	wsID := wsWelcome["id"].(string)

	// Node A joins B's client: the cluster routes it to B, its owner.
	joined := a.action(t, "POST", "chatJoin", url.Values{"room": {"lobby"}, "connection": {wsID}})
	if joined["added"] != true {
		t.Fatalf("chatJoin = %v", joined)
	}
	// A connection no node owns is the caller's mistake: 404, not a 500.
	status, body, _ := call(t, "POST", "http://"+a.addr+"/api/chatJoin?"+url.Values{"room": {"lobby"}, "connection": {"no-such-connection"}}.Encode(), nil, "")
	if e, _ := body["error"].(map[string]any); status != 404 || e["code"] != "connection_not_found" {
		t.Fatalf("chatJoin of an unknown connection: %d %v", status, body)
	}
	st := a.action(t, "GET", "chatStatus", url.Values{"room": {"lobby"}})["room"].(map[string]any)
	if st["membersCount"] != float64(2) {
		t.Fatalf("status = %v", st)
	}

	io.WriteString(nc, "say lobby hello darn browser\n")
	m := read(func(m map[string]any) bool { return m["context"] == "user" })
	if m["message"] != "hello **** browser" || m["room"] != "lobby" || m["from"] != welcome["id"] {
		t.Fatalf("B's client got %v", m)
	}
	if err := ws.Write(ctx, websocket.MessageText, []byte(`{"verb":"say","room":"lobby","message":"hello tcp"}`)); err != nil {
		t.Fatal(err)
	}
	if m := tc.next(t, func(m map[string]any) bool { return m["context"] == "user" && m["from"] == wsID }); m["message"] != "hello tcp" {
		t.Fatalf("A's client got %v", m)
	}

	// Kill B: its member is swept once its heartbeat expires.
	if err := b.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	<-b.done
	deadline := time.Now().Add(15 * time.Second)
	for {
		st := a.action(t, "GET", "chatStatus", url.Values{"room": {"lobby"}})["room"].(map[string]any)
		if st["membersCount"] == float64(1) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("B's member is still in the room: %v", st)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
