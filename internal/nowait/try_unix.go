//go:build unix

package nowait

import "syscall"

const canTry = true

// attempt is one try's state, kept with the connection so that a try
// allocates nothing; guarded by the connection's mu.
type attempt struct {
	p   []byte
	n   int
	err error
	f   func(fd uintptr) bool // write, bound once
}

// try writes what of p the socket takes without waiting. The runtime
// keeps sockets non-blocking; returning true from the callback tells it
// not to wait for the socket to become writable.
func (a *attempt) try(raw syscall.RawConn, p []byte) (int, error) {
	if a.f == nil {
		a.f = a.write
	}
	a.p, a.n, a.err = p, 0, nil
	err := raw.Write(a.f)
	n, werr := a.n, a.err
	a.p, a.err = nil, nil
	if err != nil {
		return n, err
	}
	return n, werr
}

func (a *attempt) write(fd uintptr) bool {
	for a.n < len(a.p) {
		m, err := syscall.Write(int(fd), a.p[a.n:])
		if m > 0 {
			a.n += m
		}
		if errno, ok := err.(syscall.Errno); ok && errno == syscall.EINTR {
			continue
		}
		if errno, ok := err.(syscall.Errno); ok && errno == syscall.EAGAIN {
			return true
		}
		if err != nil {
			a.err = err
			return true
		}
		if m <= 0 {
			return true
		}
	}
	return true
}
