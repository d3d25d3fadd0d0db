package logging

import (
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// TestNoRawDurations: the module's log lines give durations in
// milliseconds (Ms, or an _ms key), never as a time.Duration that a JSON
// line would print in nanoseconds, or as a Go duration string.
func TestNoRawDurations(t *testing.T) {
	root := filepath.Join("..", "..")
	bad := regexp.MustCompile(`slog\.Duration\(|(Info|Warn|Error|Debug)(Context)?\(.*(Timeout|Interval|Backoff|backoff|wait|Lease)\.String\(\)`)
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && (d.Name() == "bench" || strings.HasPrefix(d.Name(), ".")) && path != root {
			return filepath.SkipDir
		}
		if d.IsDir() || !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return nil
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		for i, line := range strings.Split(string(b), "\n") {
			if bad.MatchString(line) {
				t.Errorf("%s:%d logs a raw duration: %s", path, i+1, strings.TrimSpace(line))
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}
