package supervisor

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strconv"
)

// writePIDFile records the supervisor's pid, refusing to take over the
// file of a supervisor that is still running.
func (s *Supervisor) writePIDFile() error {
	path := s.cfg.PIDFile
	if path == "" {
		return nil
	}
	if b, err := os.ReadFile(path); err == nil {
		if pid, err := strconv.Atoi(string(bytes.TrimSpace(b))); err == nil && pid != os.Getpid() && alive(pid) {
			return fmt.Errorf("%w: pid file %s names process %d; stop it first, or remove the file if that process is not a supervisor", ErrRunning, path, pid)
		}
	} else if !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("supervisor: pid file: %w", err)
	}
	if err := os.WriteFile(path, []byte(strconv.Itoa(os.Getpid())+"\n"), 0o644); err != nil {
		return fmt.Errorf("supervisor: pid file: %w", err)
	}
	s.cfg.Logger.Info("pid file written", "path", path)
	return nil
}

// removePIDFile removes the pid file if it is still ours.
func (s *Supervisor) removePIDFile() {
	path := s.cfg.PIDFile
	if path == "" {
		return
	}
	b, err := os.ReadFile(path)
	if err == nil && string(bytes.TrimSpace(b)) == strconv.Itoa(os.Getpid()) {
		_ = os.Remove(path)
	}
}
