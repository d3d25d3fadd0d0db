package stellar_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime/debug"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stellarfw/stellar-go"
	"github.com/stellarfw/stellar-go/config"
	"github.com/stellarfw/stellar-go/internal/redistest"
)

const browserDashboardToken = "browser-dashboard-token-0123456789"

// TestBrowserDashboard: headless Chromium logs in to the dashboard of
// node A of a 2-node cluster on Redis, sees both live nodes, sees a task
// that fails on node B appear, clicks its Retry button and sees the task
// leave the failed list, run, and complete. With
// STELLAR_UPDATE_SCREENSHOT=1 it saves docs/dashboard.png.
func TestBrowserDashboard(t *testing.T) {
	bin := findChromium()
	if bin == "" {
		t.Fatal("chromium is not installed: ./test.sh installs it (apt-get install -y chromium), or put chromium on PATH")
	}
	srv := redistest.Shared(t)
	prefix := redistest.Prefix(t)

	// mail.send panics on its first run (so that it fails with a stack)
	// and, run again, waits for release before it completes.
	var runs atomic.Int32
	firstFailed := make(chan time.Time, 1)
	rerun := make(chan string, 1)
	release := make(chan struct{})
	var releaseOnce sync.Once
	t.Cleanup(func() { releaseOnce.Do(func() { close(release) }) })
	var completed atomic.Int32
	node := func(id string) *stellar.App {
		cfg := stellar.Config{ID: id, HTTP: config.HTTP{Addr: "127.0.0.1:0"}, TCP: config.TCP{Addr: "127.0.0.1:0"},
			Redis:     config.Redis{URL: srv.URL(), Prefix: prefix},
			Cluster:   config.Cluster{Token: "browser-token", HeartbeatInterval: 50 * time.Millisecond, NodeTTL: 3 * time.Second},
			Tasks:     config.Tasks{PollInterval: 20 * time.Millisecond, Workers: 4},
			Dashboard: config.Dashboard{Token: browserDashboardToken}}
		cfg.General.APIVersion = "1.4.2"
		cfg.Log.Format = "json"
		app := stellar.New(cfg, stellar.WithLogOutput(io.Discard))
		registerConnActions(t, app)
		for _, d := range []*stellar.TaskDefinition{
			{Name: "mail.send", Queue: "mail", MaxAttempts: 1, Handler: stellar.TaskHandlerFunc(func(ctx context.Context, tk *stellar.Task) error {
				if runs.Add(1) == 1 {
					defer func() { firstFailed <- time.Now() }()
					deliver(tk.ID)
				}
				select {
				case rerun <- tk.ID:
				default:
				}
				select {
				case <-release:
				case <-ctx.Done():
					return ctx.Err()
				}
				completed.Add(1)
				return nil
			})},
			{Name: "mail.digest", Queue: "mail", Handler: stellar.TaskHandlerFunc(func(context.Context, *stellar.Task) error { return nil })},
			{Name: "reports.nightly", Queue: "reports", Frequency: 24 * time.Hour, Handler: stellar.TaskHandlerFunc(func(context.Context, *stellar.Task) error { return nil })},
			{Name: "cache.sweep", Frequency: 15 * time.Minute, Handler: stellar.TaskHandlerFunc(func(context.Context, *stellar.Task) error { return nil })},
		} {
			if err := app.Tasks.Register(d); err != nil {
				t.Fatal(err)
			}
		}
		if err := app.Start(context.Background()); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			_ = app.Shutdown(ctx)
		})
		return app
	}
	a, b := node("api-1"), node("api-2")
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()

	// Something in every section, for the screenshot.
	if err := a.Chat.Create(ctx, "support"); err != nil {
		t.Fatal(err)
	}
	for _, app := range []*stellar.App{a, b, b} {
		tc := dialTCP(t, app.TCPAddr())
		tc.send(`roomAdd support`)
		tc.readUntil("roomAdd", reply(1))
	}
	if ok, err := a.Cache.Lock(ctx, "invoice:1042", 10*time.Minute); err != nil || !ok {
		t.Fatal(ok, err)
	}
	for _, d := range []time.Duration{7 * time.Minute, 42 * time.Minute} {
		if _, err := b.Tasks.EnqueueIn(ctx, d, "mail.digest", map[string]any{"user": 7}); err != nil {
			t.Fatal(err)
		}
	}
	if err := a.Inspector.PauseQueue(ctx, "reports"); err != nil {
		t.Fatal(err)
	}

	start := time.Now()
	page := openChromium(ctx, t, bin)
	t.Logf("chromium up after %s", time.Since(start))
	if err := page.call(ctx, "Emulation.setDeviceMetricsOverride", map[string]any{"width": 1440, "height": 900, "deviceScaleFactor": 1, "mobile": false}, nil); err != nil {
		t.Fatal(err)
	}
	if err := page.call(ctx, "Page.navigate", map[string]any{"url": "http://" + a.HTTPAddr().String() + "/dashboard"}, nil); err != nil {
		t.Fatal(err)
	}
	// Without the cookie the page is the login form (a 401): type the
	// token and press the button.
	page.poll(ctx, t, "the login form", "document.getElementById('token') ? 'yes' : ''", func(v string) bool { return v == "yes" })
	if _, err := page.eval(ctx, "document.getElementById('token').focus(), ''"); err != nil {
		t.Fatal(err)
	}
	if err := page.call(ctx, "Input.insertText", map[string]any{"text": browserDashboardToken}, nil); err != nil {
		t.Fatal(err)
	}
	page.click(ctx, t, "form button[type=submit]")
	page.poll(ctx, t, "the dashboard after the login", `document.getElementById('nodes') ? 'ok' :
		location.href + ': ' + document.body.innerText.slice(0, 300)`, func(v string) bool { return v == "ok" })

	page.poll(ctx, t, "both live nodes, with their addresses", `[...document.querySelectorAll('#nodes tbody tr[data-node]')]
		.filter(r => r.textContent.includes('http 127.0.0.1:')).map(r => r.dataset.node).sort().join(',') ||
		('no node: ' + document.getElementById('live').textContent + ' ' + document.body.innerText.slice(0, 600))`,
		func(v string) bool { return v == "api-1,api-2" })
	t.Logf("both nodes shown after %s", time.Since(start))

	id, err := b.Tasks.Enqueue(ctx, "mail.send", map[string]any{"to": "ops@example.com", "template": "welcome"})
	if err != nil {
		t.Fatal(err)
	}
	var failedAt time.Time
	select {
	case failedAt = <-firstFailed:
	case <-ctx.Done():
		t.Fatal("the task did not run")
	}
	row := fmt.Sprintf("#failed tr[data-task=%q]", id)
	page.poll(ctx, t, "the failed task", fmt.Sprintf("(document.querySelector(%q) || {}).textContent || ''", row),
		func(v string) bool {
			return strings.Contains(v, "mail.send") && strings.Contains(v, "550 mailbox unavailable")
		})
	t.Logf("the failed task shown %s after its run failed", time.Since(failedAt))

	// The room's members by node, the delayed and periodic tasks, the
	// cache lock and the paused queue.
	page.poll(ctx, t, "every section filled", `(() => {
		const text = (sel) => (document.querySelector(sel) || {}).textContent
		return [text('#rooms tr[data-room="support"] td:nth-child(2)'), text('#rooms tr[data-room="support"] td:nth-child(3)'),
			document.querySelectorAll('#delayed tbody tr[data-task]').length, document.querySelectorAll('#periodic tbody tr[data-task]').length,
			text('#cache-locks tbody td:nth-child(1)'), text('#cache-locks tbody td:nth-child(2)'),
			text('#queues tr[data-queue="reports"] .tag'), text('#queues tr[data-queue="reports"] button')].join('|') })()`,
		func(v string) bool { return v == "3|api-1: 1api-2: 2|2|2|invoice:1042|api-1|paused|Resume" })
	if os.Getenv("STELLAR_UPDATE_SCREENSHOT") == "1" {
		// The stack in the picture shows file names: the module's, not
		// the paths of the machine that took it.
		if !builtWithTrimpath() {
			t.Fatal("STELLAR_UPDATE_SCREENSHOT=1 needs go test -trimpath, so that the screenshot shows no paths of this machine")
		}
		page.click(ctx, t, fmt.Sprintf("tr[data-stack-of=%q] summary", id))
		page.poll(ctx, t, "the stack unfolded", fmt.Sprintf("document.querySelector('tr[data-stack-of=%q] details').open ? 'yes' : ''", id),
			func(v string) bool { return v == "yes" })
		page.screenshot(ctx, t, filepath.Join("docs", "dashboard.png"))
	}

	page.click(ctx, t, row+" button[data-action=retry]")
	select {
	case got := <-rerun:
		if got != id {
			t.Fatalf("ran %s, want %s", got, id)
		}
	case <-ctx.Done():
		t.Fatal("the retried task did not run")
	}
	page.poll(ctx, t, "the task running, out of the failed list", fmt.Sprintf(
		"[!!document.querySelector(%q), !!document.querySelector('#running tr[data-task=%q]')].join(',')", row, id),
		func(v string) bool { return v == "false,true" })
	releaseOnce.Do(func() { close(release) })
	// Out of the running tasks, none failed in its queue, and counted
	// as processed.
	page.poll(ctx, t, "the task completed", fmt.Sprintf(`[!!document.querySelector('#running tr[data-task=%q]'),
		(document.querySelector('#queues tr[data-queue="mail"] td:nth-child(5)') || {}).textContent,
		Number((document.querySelector('#queues tr[data-queue="mail"] td:nth-child(6)') || {}).textContent) >= 1].join(',')`, id),
		func(v string) bool { return v == "false,0,true" })
	if n := completed.Load(); n != 1 {
		t.Errorf("completed %d times, want 1", n)
	}
	if n, err := a.Inspector.FailedCount(ctx); err != nil || n != 0 {
		t.Errorf("failed tasks after the retry: %d, %v", n, err)
	}
}

// builtWithTrimpath reports whether the test binary was built with
// -trimpath.
func builtWithTrimpath() bool {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return false
	}
	for _, s := range bi.Settings {
		if s.Key == "-trimpath" {
			return s.Value == "true"
		}
	}
	return false
}

// deliver fails like a mail client that got a permanent refusal: a panic
// deep in the call, so the failure has a stack.
func deliver(id string) {
	smtpSend(id)
}

func smtpSend(id string) {
	panic(fmt.Sprintf("smtp: 550 mailbox unavailable (task %s)", id))
}

// eval evaluates expr in the page and returns its value as a string.
func (p *cdpPage) eval(ctx context.Context, expr string) (string, error) {
	var r struct {
		Result struct {
			Value any `json:"value"`
		} `json:"result"`
		ExceptionDetails *struct {
			Text string `json:"text"`
		} `json:"exceptionDetails"`
	}
	if err := p.call(ctx, "Runtime.evaluate", map[string]any{"expression": expr, "returnByValue": true}, &r); err != nil {
		return "", err
	}
	if r.ExceptionDetails != nil {
		return "", errors.New(r.ExceptionDetails.Text)
	}
	s, _ := r.Result.Value.(string)
	return s, nil
}

// click presses and releases the mouse on the middle of the element
// selector finds, as a person would, once it is on the loaded page.
func (p *cdpPage) click(ctx context.Context, t *testing.T, selector string) {
	t.Helper()
	// Only once the page is laid out with its style sheet, or the
	// element may move between the reading and the click.
	expr := fmt.Sprintf(`(() => { const e = document.querySelector(%q); if (!e || document.readyState !== 'complete') return '';
		e.scrollIntoView({block: 'center'}); const b = e.getBoundingClientRect();
		return JSON.stringify({x: b.x + b.width / 2, y: b.y + b.height / 2}) })()`, selector)
	var at struct{ X, Y float64 }
	p.poll(ctx, t, selector, expr, func(v string) bool { return v != "" && json.Unmarshal([]byte(v), &at) == nil })
	for _, typ := range []string{"mouseMoved", "mousePressed", "mouseReleased"} {
		ev := map[string]any{"type": typ, "x": at.X, "y": at.Y}
		if typ != "mouseMoved" {
			ev["button"], ev["clickCount"] = "left", 1
		}
		if err := p.call(ctx, "Input.dispatchMouseEvent", ev, nil); err != nil {
			t.Fatalf("clicking %s: %v", selector, err)
		}
	}
}

// screenshot saves the whole page as a PNG.
func (p *cdpPage) screenshot(ctx context.Context, t *testing.T, path string) {
	t.Helper()
	var shot struct {
		Data string `json:"data"`
	}
	if _, err := p.eval(ctx, "window.scrollTo(0, 0), ''"); err != nil {
		t.Fatal(err)
	}
	if err := p.call(ctx, "Page.captureScreenshot", map[string]any{"format": "png", "captureBeyondViewport": true}, &shot); err != nil {
		t.Fatal(err)
	}
	b, err := base64.StdEncoding.DecodeString(shot.Data)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("saved %s (%d bytes)", path, len(b))
}
