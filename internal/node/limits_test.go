package node

import (
	"bufio"
	"context"
	"encoding/json"
	"net"
	"testing"
	"time"

	"github.com/stellarfw/stellar-go/action"
	"github.com/stellarfw/stellar-go/apierror"
	"github.com/stellarfw/stellar-go/chat"
	"github.com/stellarfw/stellar-go/cluster"
	"github.com/stellarfw/stellar-go/config"
	"github.com/stellarfw/stellar-go/connection"
	"github.com/stellarfw/stellar-go/event"
	"github.com/stellarfw/stellar-go/internal/limit"
	"github.com/stellarfw/stellar-go/internal/logging"
	"github.com/stellarfw/stellar-go/task"
	httpt "github.com/stellarfw/stellar-go/transport/http"
)

// startNode starts a node on the memory backend with cfg, on free
// loopback ports; it is stopped when t ends.
func startNode(t *testing.T, cfg config.Config) *Node {
	t.Helper()
	cfg.ID = "node-test"
	cfg.HTTP.Addr, cfg.TCP.Addr = "127.0.0.1:0", "127.0.0.1:0"
	cfg.Tasks.Workers = -1
	config.Defaults(&cfg)
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	log := logging.Discard()
	conns := connection.NewRegistry()
	cl := cluster.New()
	parts := Parts{
		Actions:     action.NewRegistry(log, cfg.ID),
		Routes:      &httpt.Routes{},
		Cluster:     cl,
		Tasks:       task.New(),
		Chat:        chat.New(conns, cl),
		Connections: conns,
		Events:      event.NewBus(),
	}
	n, err := Open(cfg, log, parts)
	if err != nil {
		t.Fatal(err)
	}
	if err := n.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := n.Stop(ctx); err != nil {
			t.Errorf("stop: %v", err)
		}
	})
	return n
}

// TestStatusLimits: the config keys reach the transports, and the status
// figures count each refusal under limits.<transport>.<reason>.
func TestStatusLimits(t *testing.T) {
	var cfg config.Config
	cfg.TCP.MaxConnectionsPerIP = 1
	cfg.TCP.MaxParams = 1
	n := startNode(t, cfg)

	c, err := net.Dial("tcp", n.TCPAddr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	br := bufio.NewReader(c)
	read := func() map[string]any {
		t.Helper()
		_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
		line, err := br.ReadBytes('\n')
		if err != nil {
			t.Fatal(err)
		}
		var m map[string]any
		_ = json.Unmarshal(line, &m)
		return m
	}
	read() // welcome
	_, _ = c.Write([]byte("paramAdd a=1\nparamAdd b=2\n"))
	read()
	if e, _ := read()["error"].(map[string]any); e["code"] != apierror.CodeParamLimit {
		t.Fatalf("second param: %v", e)
	}
	over, err := net.Dial("tcp", n.TCPAddr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer over.Close()
	_ = over.SetReadDeadline(time.Now().Add(5 * time.Second))
	line, _ := bufio.NewReader(over).ReadBytes('\n')
	var m map[string]any
	_ = json.Unmarshal(line, &m)
	if e, _ := m["error"].(map[string]any); e["code"] != apierror.CodeIPConnectionLimit {
		t.Fatalf("second connection: %s", line)
	}

	out := map[string]any{}
	n.Status(context.Background(), out)
	limits, _ := out["limits"].(map[string]any)
	tcp, _ := limits["tcp"].(map[string]uint64)
	if tcp[limit.Params] != 1 || tcp[limit.ConnectionsPerIP] != 1 || tcp[limit.Connections] != 0 {
		t.Fatalf("limits.tcp = %v", limits["tcp"])
	}
	if _, ok := limits["websocket"].(map[string]uint64)[limit.ConnectionsPerIP]; !ok {
		t.Fatalf("limits.websocket = %v", limits["websocket"])
	}
	if h, _ := limits["http"].(map[string]uint64); len(h) != 2 {
		t.Fatalf("limits.http = %v", limits["http"])
	}
}
