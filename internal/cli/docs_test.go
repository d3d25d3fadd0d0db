package cli

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stellarfw/stellar-go/config"
	"github.com/stellarfw/stellar-go/task"
)

// docsApp is an App whose OpenAPI document names the configuration it was
// given.
type docsApp struct {
	cfg config.Config
	err error
}

func (d *docsApp) Configure(cfg config.Config) error { d.cfg = cfg; return nil }
func (d *docsApp) Config() config.Config             { return d.cfg }
func (d *docsApp) Logger() *slog.Logger              { return slog.New(slog.DiscardHandler) }
func (d *docsApp) Start(context.Context) error       { return errors.New("not started by docs") }
func (d *docsApp) Run(context.Context) error         { return errors.New("not run by docs") }
func (d *docsApp) Ready(context.Context) error       { return nil }
func (d *docsApp) Shutdown(context.Context) error    { return nil }
func (d *docsApp) Done() <-chan struct{}             { return nil }
func (d *docsApp) TaskManager() *task.Manager        { return task.New() }
func (d *docsApp) OpenAPI() ([]byte, error) {
	if d.err != nil {
		return nil, d.err
	}
	return []byte(`{"openapi":"3.1.0","actionPath":"` + d.cfg.HTTP.ActionPath + `"}` + "\n"), nil
}

func TestDocs(t *testing.T) {
	file := filepath.Join(t.TempDir(), "stellar.toml")
	if err := os.WriteFile(file, []byte("[http]\naction_path = \"/v1\"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	run := func(app *docsApp, args ...string) (int, string, string) {
		var out, errOut bytes.Buffer
		code := Main(app, Info{Version: "test"}, append([]string{"stellar", "docs"}, args...), &out, &errOut)
		return code, out.String(), errOut.String()
	}
	code, out, errOut := run(&docsApp{}, "--config", file)
	if code != ExitOK || out != `{"openapi":"3.1.0","actionPath":"/v1"}`+"\n" || errOut != "" {
		t.Fatalf("docs: %d %q %q", code, out, errOut)
	}
	if code, _, errOut := run(&docsApp{}, "--config", filepath.Join(t.TempDir(), "none.toml")); code != ExitUsage || errOut == "" {
		t.Errorf("docs with a missing file: %d %q", code, errOut)
	}
	if code, out, errOut := run(&docsApp{err: errors.New("route 3 is bad")}); code != ExitFailure || out != "" || !strings.Contains(errOut, "route 3 is bad") {
		t.Errorf("docs with a failing document: %d %q %q", code, out, errOut)
	}
	var help bytes.Buffer
	Main(&docsApp{}, Info{}, []string{"stellar", "help"}, &help, &help)
	if !strings.Contains(help.String(), "stellar docs [flags]") {
		t.Errorf("help does not list docs:\n%s", help.String())
	}
}
