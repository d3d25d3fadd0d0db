//go:build !unix

package supervisor

import (
	"os"
	"syscall"
)

// The supervisor needs Unix signals and descriptor passing.
const supported = false

var sigGrow, sigShrink, sigRoll, sigReload, sigTerm os.Signal

func setNonblock(int) {}

func alive(int) bool { return false }

func sysProcAttr() *syscall.SysProcAttr { return nil }

func blockingFile(f *os.File) (*os.File, error) { return f, nil }
