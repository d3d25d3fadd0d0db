package supervisor

import (
	"fmt"
	"os"
	"path/filepath"
)

// writeTokenFile writes Config.Token to Config.TokenFile, mode 0600. It
// goes through a new file renamed over the old one, so that the token is
// never readable by others, even for an instant, whatever mode a file
// left there had.
func (s *Supervisor) writeTokenFile() error {
	path := s.cfg.TokenFile
	if path == "" {
		return nil
	}
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*") // mode 0600
	if err != nil {
		return fmt.Errorf("supervisor: token file: %w", err)
	}
	_, werr := f.WriteString(s.cfg.Token + "\n")
	if cerr := f.Close(); werr == nil {
		werr = cerr
	}
	if werr == nil {
		werr = os.Rename(f.Name(), path)
	}
	if werr != nil {
		_ = os.Remove(f.Name())
		return fmt.Errorf("supervisor: token file: %w", werr)
	}
	s.cfg.Logger.Info("token file written", "path", path)
	return nil
}

// removeTokenFile removes the token file if it still holds our token.
func (s *Supervisor) removeTokenFile() {
	path := s.cfg.TokenFile
	if path == "" {
		return
	}
	if b, err := os.ReadFile(path); err == nil && string(b) == s.cfg.Token+"\n" {
		_ = os.Remove(path)
	}
}
