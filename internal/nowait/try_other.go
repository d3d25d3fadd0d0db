//go:build !unix

package nowait

import "syscall"

// canTry is false where a socket cannot be written without waiting
// through syscall.RawConn: every Write keeps its bytes for Flush.
const canTry = false

type attempt struct{}

func (*attempt) try(syscall.RawConn, []byte) (int, error) { return 0, nil }
