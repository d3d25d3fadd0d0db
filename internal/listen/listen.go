// Package listen opens a node's network listeners. Under stellar
// startCluster the supervisor opens each listener once and hands the open
// socket to every worker; Listen takes that socket over instead of binding
// the address again, so that all the workers accept from one queue.
//
// Every transport that listens (HTTP, TCP, WebSocket) calls Listen, and on
// shutdown closes a Shared listener before it drains: the connections that
// are waiting go to the sibling workers instead of being refused.
package listen

import (
	"fmt"
	"net"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
)

// EnvFDs names the environment variable through which a supervisor passes
// open listeners to a worker: comma-separated fd=address pairs, e.g.
// "3=:8080,4=127.0.0.1:5000". The address is the one the worker is
// configured to listen on, written exactly as in its configuration.
const EnvFDs = "STELLAR_WORKER_LISTEN_FDS"

// Pair is one inherited listener: the descriptor the worker finds it on
// and the address it is for.
type Pair struct {
	FD   int
	Addr string
}

// Format returns the value of EnvFDs for pairs.
func Format(pairs []Pair) string {
	parts := make([]string, len(pairs))
	for i, p := range pairs {
		parts[i] = strconv.Itoa(p.FD) + "=" + p.Addr
	}
	return strings.Join(parts, ",")
}

// Parse reads a value of EnvFDs.
func Parse(s string) ([]Pair, error) {
	var pairs []Pair
	if s == "" {
		return nil, nil
	}
	for _, part := range strings.Split(s, ",") {
		fd, addr, ok := strings.Cut(part, "=")
		n, err := strconv.Atoi(fd)
		if !ok || err != nil || n < 3 {
			return nil, fmt.Errorf("listen: %s: %q is not fd=address with fd ≥ 3", EnvFDs, part)
		}
		if slices.ContainsFunc(pairs, func(p Pair) bool { return p.Addr == addr }) {
			return nil, fmt.Errorf("listen: %s names %q twice", EnvFDs, addr)
		}
		pairs = append(pairs, Pair{FD: n, Addr: addr})
	}
	return pairs, nil
}

var (
	once      sync.Once
	inherited map[string]*os.File // address → the supervisor's socket
	parseErr  error
)

func load() {
	pairs, err := Parse(os.Getenv(EnvFDs))
	if err != nil {
		parseErr = err
		return
	}
	inherited = make(map[string]*os.File, len(pairs))
	for _, p := range pairs {
		inherited[p.Addr] = os.NewFile(uintptr(p.FD), "listener "+p.Addr)
	}
}

// Listen returns a listener for addr on network (tcp, tcp4 or tcp6): the
// one the supervisor passed for addr when there is one, else a new one.
// Taking an inherited listener duplicates the socket, so Listen may be
// called for the same address again after the first listener closed.
func Listen(network, addr string) (net.Listener, error) {
	once.Do(load)
	if parseErr != nil {
		return nil, parseErr
	}
	if f, ok := inherited[addr]; ok && strings.HasPrefix(network, "tcp") {
		ln, err := net.FileListener(f)
		if err != nil {
			return nil, fmt.Errorf("listen: taking over the listener for %s from the supervisor: %w", addr, err)
		}
		return &shared{Listener: ln}, nil
	}
	return net.Listen(network, addr)
}

// shared is a listener whose socket other processes accept from too.
type shared struct{ net.Listener }

// Shared reports whether ln came from the supervisor: other workers
// accept from the same socket, so closing ln stops only this process
// from accepting and leaves waiting connections to the others.
func Shared(ln net.Listener) bool {
	_, ok := ln.(*shared)
	return ok
}
