package nowait_test

import (
	"bytes"
	"errors"
	"io"
	"net"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stellarfw/stellar-go/internal/nowait"
)

// pair returns the two ends of a loopback TCP connection.
func pair(t *testing.T) (server, client net.Conn) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	accepted := make(chan net.Conn, 1)
	go func() {
		c, _ := ln.Accept()
		accepted <- c
	}()
	client, err = net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	server = <-accepted
	if server == nil {
		t.Fatal("accept failed")
	}
	t.Cleanup(func() { _ = server.Close(); _ = client.Close() })
	return server, client
}

// within fails the test when f does not return within a generous
// bound: a Write that waited for the peer would hang here.
func within(t *testing.T, what string, f func()) {
	t.Helper()
	done := make(chan struct{})
	go func() { defer close(done); f() }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatalf("%s waited for the peer", what)
	}
}

func chunk(i int) []byte { return bytes.Repeat([]byte{byte('a' + i%26)}, 16<<10) }

// TestWriteKeepsWhatTheSocketRefuses: to a peer that reads nothing,
// Writes return at once and keep what the socket did not take, telling
// Notify; Flush writes it once the peer reads, every byte in order.
func TestWriteKeepsWhatTheSocketRefuses(t *testing.T) {
	server, client := pair(t)
	c := nowait.New(server, 1<<30, 10*time.Second)
	var notified atomic.Int32
	c.Notify(func() { notified.Add(1) })
	const n = 1024 // 16 MiB, more than loopback socket buffers hold
	within(t, "Write", func() {
		for i := range n {
			if m, err := c.Write(chunk(i)); err != nil || m != 16<<10 {
				t.Errorf("write %d: %d, %v", i, m, err)
			}
		}
	})
	if c.Kept() == 0 || notified.Load() == 0 {
		t.Fatalf("kept %d bytes, notified %d times", c.Kept(), notified.Load())
	}
	got := make(chan []byte)
	go func() {
		b, _ := io.ReadAll(io.LimitReader(client, n*16<<10))
		got <- b
	}()
	if err := c.Flush(); err != nil {
		t.Fatal(err)
	}
	if c.Kept() != 0 {
		t.Fatalf("%d bytes kept after Flush", c.Kept())
	}
	var want []byte
	for i := range n {
		want = append(want, chunk(i)...)
	}
	if b := <-got; !bytes.Equal(b, want) {
		t.Fatalf("the peer read %d bytes, not the %d written in order", len(b), len(want))
	}
	// With nothing kept, a Write goes to the socket again.
	if _, err := c.Write([]byte("x")); err != nil || c.Kept() != 0 {
		t.Fatalf("write after flush: kept %d, %v", c.Kept(), err)
	}
}

// TestKeptBound: one Write may keep any amount (a large message goes
// out alone); past maxKept on top of kept bytes a Write fails with
// ErrTooMuchKept, and so does every later one.
func TestKeptBound(t *testing.T) {
	server, _ := pair(t)
	c := nowait.New(server, 64<<10, 10*time.Second)
	within(t, "Write", func() {
		if _, err := c.Write(make([]byte, 32<<20)); err != nil {
			t.Errorf("a large write alone: %v", err)
		}
		if _, err := c.Write(make([]byte, 64<<10)); !errors.Is(err, nowait.ErrTooMuchKept) {
			t.Errorf("past the bound: %v", err)
		}
		if _, err := c.Write([]byte("x")); !errors.Is(err, nowait.ErrTooMuchKept) {
			t.Errorf("after the failure: %v", err)
		}
	})
	if err := c.Flush(); !errors.Is(err, nowait.ErrTooMuchKept) {
		t.Fatalf("flush after the failure: %v", err)
	}
}

// TestFlushTimeout: Flush to a peer that reads nothing gives up at the
// timeout with a timeout error, which stays.
func TestFlushTimeout(t *testing.T) {
	server, _ := pair(t)
	c := nowait.New(server, 1<<30, 50*time.Millisecond)
	if _, err := c.Write(make([]byte, 32<<20)); err != nil {
		t.Fatal(err)
	}
	err := c.Flush()
	var ne net.Error
	if !errors.As(err, &ne) || !ne.Timeout() {
		t.Fatalf("flush: %v", err)
	}
	if _, err := c.Write([]byte("x")); err == nil {
		t.Fatal("write after a failed flush succeeded")
	}
}

// TestWriteAfterClose fails at once and keeps nothing.
func TestWriteAfterClose(t *testing.T) {
	server, _ := pair(t)
	c := nowait.New(server, 1<<30, time.Second)
	_ = c.Close()
	if _, err := c.Write([]byte("x")); !errors.Is(err, net.ErrClosed) || c.Kept() != 0 {
		t.Fatalf("write after close: kept %d, %v", c.Kept(), err)
	}
}
