//go:build unix

package nowait

import (
	"errors"
	"syscall"
)

const canTry = true

// try writes what of p the socket takes without waiting. The runtime
// keeps sockets non-blocking; returning true from the callback tells it
// not to wait for the socket to become writable.
func try(raw syscall.RawConn, p []byte) (int, error) {
	n := 0
	var werr error
	err := raw.Write(func(fd uintptr) bool {
		for n < len(p) {
			m, err := syscall.Write(int(fd), p[n:])
			if m > 0 {
				n += m
			}
			switch {
			case errors.Is(err, syscall.EINTR):
				continue
			case errors.Is(err, syscall.EAGAIN):
				return true
			case err != nil:
				werr = err
				return true
			case m <= 0:
				return true
			}
		}
		return true
	})
	if err != nil {
		return n, err
	}
	return n, werr
}
