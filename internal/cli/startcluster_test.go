package cli

import (
	"bytes"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/stellarfw/stellar-go/config"
)

// TestWorkerConfigKeepsSecretsOffTheCommandLine: the Redis URL and the
// token reach the workers through their environment only.
func TestWorkerConfigKeepsSecretsOffTheCommandLine(t *testing.T) {
	const url = "redis://:pa55word@127.0.0.1:6379/2"
	nf := newStartClusterFlags("stellar")
	loaded, err := nf.load(config.Config{}, []string{"--redis", url, "--token", "t0ken", "--workers", "2", "--http", "127.0.0.1:0", "--log-level", "debug"})
	if err != nil {
		t.Fatal(err)
	}
	sc := workerConfig(nf, loaded.Config, "t0ken")
	args := strings.Join(sc.Args("w-1"), " ")
	if strings.Contains(args, "pa55word") || strings.Contains(args, "t0ken") || strings.Contains(args, "--redis") {
		t.Errorf("worker args carry a secret: %s", args)
	}
	for _, want := range []string{"run", "--http=127.0.0.1:0", "--log-level=debug", "--id w-1"} {
		if !strings.Contains(args, want) {
			t.Errorf("worker args %q lack %q", args, want)
		}
	}
	for _, want := range []string{"STELLAR_REDIS_URL=" + url, "STELLAR_SERVER_TOKEN=t0ken"} {
		if !slices.Contains(sc.Env, want) {
			t.Errorf("worker env %q lacks %q", sc.Env, want)
		}
	}
}

func TestURLHasPassword(t *testing.T) {
	for url, want := range map[string]bool{
		"":                             false,
		"redis://127.0.0.1:6379/0":     false,
		"redis://app@127.0.0.1:6379/0": false,
		"redis://:pw@127.0.0.1:6379/0": true,
		"rediss://app:pw@h:1/0":        true,
		"redis://h:1/0?password=pw":    true,
		"unix:///tmp/r.sock?db=0":      false,
		"redis://%zz@h:1/0":            true, // does not parse
	} {
		if got := urlHasPassword(url); got != want {
			t.Errorf("urlHasPassword(%q) = %v, want %v", url, got, want)
		}
	}
}

// TestWarnSecretsOnCommandLine: one warning for secrets given as flags,
// none for those from the environment or without a password.
func TestWarnSecretsOnCommandLine(t *testing.T) {
	tests := []struct {
		name    string
		origins map[string]string
		cfg     config.Config
		want    string // the flags named, "" for no warning
	}{
		{"both as flags", map[string]string{"redis.url": originFlag, "cluster.token": originFlag},
			config.Config{Redis: config.Redis{URL: "redis://:pw@h:1/0"}, Cluster: config.Cluster{Token: "t"}}, "--redis (its password), --token"},
		{"redis without a password", map[string]string{"redis.url": originFlag},
			config.Config{Redis: config.Redis{URL: "redis://h:1/0"}}, ""},
		{"from the environment", map[string]string{"redis.url": "STELLAR_REDIS_URL", "cluster.token": "STELLAR_SERVER_TOKEN"},
			config.Config{Redis: config.Redis{URL: "redis://:pw@h:1/0"}, Cluster: config.Cluster{Token: "t"}}, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var buf bytes.Buffer
			warnSecretsOnCommandLine(slog.New(slog.NewTextHandler(&buf, nil)), config.Loaded{Config: tc.cfg, Origins: tc.origins}, "")
			lines := strings.Count(buf.String(), "\n")
			switch {
			case tc.want == "" && lines != 0:
				t.Errorf("warned: %s", buf.String())
			case tc.want != "" && (lines != 1 || !strings.Contains(buf.String(), `flags="`+tc.want+`"`) || !strings.Contains(buf.String(), "STELLAR_REDIS_URL")):
				t.Errorf("log = %s, want one warning naming %s", buf.String(), tc.want)
			}
		})
	}
}

// TestClusterToken: the configured token wins; else the token file
// beside the pid file, or the one named.
func TestClusterToken(t *testing.T) {
	dir := t.TempDir()
	pidFile := filepath.Join(dir, "c.pid")
	write := func(name, content string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	loaded := func(token string) config.Loaded {
		l := config.Loaded{Config: config.Config{Cluster: config.Cluster{Token: token}, Supervisor: config.Supervisor{PIDFile: pidFile}}}
		if token != "" {
			l.Origins = map[string]string{"cluster.token": "STELLAR_SERVER_TOKEN"}
		}
		return l
	}
	// No file: no token, and no error unless one was named.
	if tok, _, err := clusterToken(loaded(""), ""); tok != "" || err != nil {
		t.Errorf("no file: %q, %v", tok, err)
	}
	if _, _, err := clusterToken(loaded(""), filepath.Join(dir, "missing")); err == nil {
		t.Error("a missing --token-file is no error")
	}
	beside := write("c.token", "generated\n")
	if tok, from, err := clusterToken(loaded(""), ""); tok != "generated" || err != nil || !strings.Contains(from, beside) {
		t.Errorf("beside the pid file: %q from %q, %v", tok, from, err)
	}
	if tok, from, err := clusterToken(loaded("configured"), ""); tok != "configured" || err != nil || from != "STELLAR_SERVER_TOKEN" {
		t.Errorf("configured: %q from %q, %v", tok, from, err)
	}
	named := write("other", "  named \n")
	if tok, _, err := clusterToken(loaded(""), named); tok != "named" || err != nil {
		t.Errorf("named: %q, %v", tok, err)
	}
	if _, _, err := clusterToken(loaded(""), write("empty", "\n")); err == nil {
		t.Error("an empty token file is no error")
	}
	if got := tokenFilePath("run/stellar-cluster.pid"); got != "run/stellar-cluster.token" {
		t.Errorf("tokenFilePath = %q", got)
	}
	if got := tokenFilePath("off"); got != "" {
		t.Errorf("tokenFilePath(off) = %q", got)
	}
}

// TestWorkerConfigListensForTheRedirect: under startCluster the
// supervisor opens the HTTPS redirect listener too, for its workers to
// share.
func TestWorkerConfigListensForTheRedirect(t *testing.T) {
	nf := newStartClusterFlags("stellar")
	loaded, err := nf.load(config.Config{}, []string{"--http", "127.0.0.1:8443", "--tcp", "off"})
	if err != nil {
		t.Fatal(err)
	}
	c := loaded.Config
	if sc := workerConfig(nf, c, "t"); !slices.Equal(sc.Listen, []string{"127.0.0.1:8443"}) {
		t.Errorf("listen without a redirect: %q", sc.Listen)
	}
	c.HTTP.RedirectAddr = "127.0.0.1:8080"
	if sc := workerConfig(nf, c, "t"); !slices.Equal(sc.Listen, []string{"127.0.0.1:8443", "127.0.0.1:8080"}) {
		t.Errorf("listen with a redirect: %q", sc.Listen)
	}
}
