//go:build unix

package redistest

import (
	"syscall"
	"testing"
)

// Freeze stops the server with SIGSTOP, as a stalled machine would: it
// keeps its connections open and answers nothing until Thaw (or the end
// of the test, which thaws it). Only a server from StartOwn or a set may
// be frozen.
func (s *Server) Freeze(t testing.TB) {
	t.Helper()
	s.checkOwn(t, "Freeze")
	s.signal(t, syscall.SIGSTOP)
	t.Cleanup(func() { s.signal(t, syscall.SIGCONT) })
}

// Thaw resumes a frozen server with SIGCONT.
func (s *Server) Thaw(t testing.TB) {
	t.Helper()
	s.signal(t, syscall.SIGCONT)
}

func (s *Server) signal(t testing.TB, sig syscall.Signal) {
	t.Helper()
	s.mu.Lock()
	p := s.proc
	s.mu.Unlock()
	if p == nil {
		return
	}
	if err := p.cmd.Process.Signal(sig); err != nil {
		t.Errorf("redistest: %v: %v", sig, err)
	}
}
