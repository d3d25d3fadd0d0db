package stellar_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/stellarfw/stellar-go"
	"github.com/stellarfw/stellar-go/action"
	"github.com/stellarfw/stellar-go/apierror"
	"github.com/stellarfw/stellar-go/cluster"
	"github.com/stellarfw/stellar-go/internal/poll"
	"github.com/stellarfw/stellar-go/task"
)

// families is one scrape of /metrics, parsed by the Prometheus text
// parser.
type families map[string]*dto.MetricFamily

func scrape(t *testing.T, url string) families {
	t.Helper()
	res, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	if res.StatusCode != http.StatusOK || !strings.HasPrefix(res.Header.Get("Content-Type"), "text/plain") {
		body, _ := io.ReadAll(res.Body)
		t.Fatalf("GET %s: %d %s: %s", url, res.StatusCode, res.Header.Get("Content-Type"), body)
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(res.Body)
	if err != nil {
		t.Fatalf("the metrics do not parse: %v", err)
	}
	return fams
}

// value sums the samples of family name whose labels include want
// ("label=value" each): a counter's or a gauge's value, a histogram's
// count. ok is false when no sample matches.
func (f families) value(name string, want ...string) (sum float64, ok bool) {
	fam := f[name]
	if fam == nil {
		return 0, false
	}
	for _, m := range fam.GetMetric() {
		labels := map[string]string{}
		for _, l := range m.GetLabel() {
			labels[l.GetName()] = l.GetValue()
		}
		match := true
		for _, w := range want {
			k, v, _ := strings.Cut(w, "=")
			if got, has := labels[k]; !has || got != v {
				match = false
			}
		}
		if !match {
			continue
		}
		ok = true
		switch {
		case m.Counter != nil:
			sum += m.GetCounter().GetValue()
		case m.Gauge != nil:
			sum += m.GetGauge().GetValue()
		case m.Histogram != nil:
			sum += float64(m.GetHistogram().GetSampleCount())
		case m.Untyped != nil:
			sum += m.GetUntyped().GetValue()
		}
	}
	return sum, ok
}

func (f families) must(t *testing.T, name string, want ...string) float64 {
	t.Helper()
	v, ok := f.value(name, want...)
	if !ok {
		t.Fatalf("no sample of %s%v in the metrics", name, want)
	}
	return v
}

// metricsApp starts an app with HTTP and TCP on free ports, an action
// that answers and one that fails, a route, three tasks (one succeeds,
// one fails for good, one fails once then succeeds) and two cluster
// methods (one answers, one never does).
func metricsApp(t *testing.T, cfg stellar.Config) *stellar.App {
	t.Helper()
	if cfg.ID == "" {
		cfg.ID = "metrics-node"
	}
	cfg.HTTP.Addr = "127.0.0.1:0"
	cfg.TCP.Addr = "127.0.0.1:0"
	cfg.Log.Format = "json"
	app := stellar.New(cfg, stellar.WithLogOutput(io.Discard))
	if err := app.Actions.Register(
		&action.Action{Name: "hello", Run: func(ctx context.Context, r *action.Request) error {
			r.Response["hello"] = r.Params.String("name")
			return nil
		}},
		&action.Action{Name: "fail", Run: func(ctx context.Context, r *action.Request) error {
			return apierror.New("sold_out", http.StatusConflict, "no")
		}},
	); err != nil {
		t.Fatal(err)
	}
	if err := app.Routes.Get("/greet/:name", "hello"); err != nil {
		t.Fatal(err)
	}
	var flaky atomic.Int32
	for _, d := range []*stellar.TaskDefinition{
		{Name: "ok", Queue: "mail", Handler: stellar.TaskHandlerFunc(func(context.Context, *stellar.Task) error { return nil })},
		{Name: "boom", Queue: "mail", MaxAttempts: 1, Handler: stellar.TaskHandlerFunc(func(context.Context, *stellar.Task) error {
			return errors.New("boom")
		})},
		{Name: "flaky", Queue: "mail", MaxAttempts: 2, Backoff: func(int) time.Duration { return time.Millisecond },
			Handler: stellar.TaskHandlerFunc(func(context.Context, *stellar.Task) error {
				if flaky.Add(1) == 1 {
					return errors.New("once")
				}
				return nil
			})},
	} {
		if err := app.Tasks.Register(d); err != nil {
			t.Fatal(err)
		}
	}
	app.Cluster.HandleFunc("ping", func(context.Context, *cluster.Call) (any, error) { return "pong", nil })
	app.Cluster.HandleFunc("slow", func(ctx context.Context, _ *cluster.Call) (any, error) {
		<-ctx.Done()
		return nil, ctx.Err()
	})
	return app
}

func startApp(t *testing.T, app *stellar.App) {
	t.Helper()
	if err := app.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := app.Shutdown(ctx); err != nil {
			t.Errorf("shutdown: %v", err)
		}
	})
}

func get(t *testing.T, url string) (int, string) {
	t.Helper()
	res, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res.StatusCode, string(b)
}

// TestMetricsFamilies scrapes /metrics before and after the work each
// family counts: HTTP requests and actions, tasks that succeed, fail and
// retry, queue depths, cluster calls that answer, fail and time out,
// WebSocket and TCP connections and a room membership.
func TestMetricsFamilies(t *testing.T) {
	app := metricsApp(t, stellar.Config{})
	startApp(t, app)
	base := "http://" + app.HTTPAddr().String()
	ctx := context.Background()

	before := scrape(t, base+"/metrics")
	for _, name := range []string{
		"stellar_node_info", "stellar_task_worker_nodes", "stellar_task_worker_concurrency", "stellar_tasks_running",
		"stellar_cluster_nodes", "stellar_cluster_messages_published_total", "stellar_cluster_messages_dropped_total",
		"stellar_rpc_late_replies_total", "stellar_connections", "stellar_chat_rooms", "stellar_chat_members",
		"stellar_task_queue_read_errors_total", "go_goroutines", "process_cpu_seconds_total",
	} {
		if before[name] == nil {
			t.Errorf("family %s missing before any work", name)
		}
	}
	if v := before.must(t, "stellar_node_info", "node=metrics-node", "version="+stellar.Version, "backend=memory"); v != 1 {
		t.Errorf("stellar_node_info = %v", v)
	}
	if v := before.must(t, "stellar_cluster_messages_dropped_total", "reason=malformed"); v != 0 {
		t.Errorf("dropped before any message = %v", v)
	}
	published := before.must(t, "stellar_cluster_messages_published_total")
	for _, tr := range []string{"websocket", "tcp"} {
		if v := before.must(t, "stellar_connections", "transport="+tr); v != 0 {
			t.Errorf("%s connections before any = %v", tr, v)
		}
	}

	// HTTP and actions.
	for path, want := range map[string]int{"/api/hello": 200, "/api/greet/bob": 200, "/api/fail": 409, "/nothing/here": 404} {
		if code, body := get(t, base+path); code != want {
			t.Fatalf("GET %s = %d %s, want %d", path, code, body, want)
		}
	}
	// Tasks: the delayed one stays delayed.
	for _, name := range []string{"ok", "boom", "flaky"} {
		if _, err := app.Tasks.Enqueue(ctx, name, nil); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := app.Tasks.Enqueue(ctx, "ok", nil, task.In(time.Hour), task.Queue("later")); err != nil {
		t.Fatal(err)
	}
	// Cluster calls: one answered, one failed, one timed out.
	if _, err := app.Cluster.Do(ctx, "ping", nil); err != nil {
		t.Fatal(err)
	}
	if _, err := app.Cluster.Do(ctx, "nosuch", nil); err == nil {
		t.Fatal("a call of an unknown method succeeded")
	}
	tctx, cancel := context.WithTimeout(ctx, 100*time.Millisecond)
	_, err := app.Cluster.Do(tctx, "slow", nil)
	cancel()
	if !errors.Is(err, cluster.ErrTimeout) {
		t.Fatalf("slow call = %v, want a timeout", err)
	}
	// Connections: a WebSocket client in the default room, a TCP client
	// that calls an action.
	ws := dialWS(t, app)
	ws.send(msg{"verb": "roomAdd"})
	if m := ws.read(); m["data"] != true {
		t.Fatalf("roomAdd = %v", m)
	}
	tcp := dialTCP(t, app.TCPAddr())
	tcp.send(`{"action":"hello","params":{"name":"tcp"}}`)
	if m := tcp.read(); m["hello"] != "tcp" {
		t.Fatalf("tcp action = %v", m)
	}

	var after families
	poll.Until(t, "the task runs and the queue depths in the metrics", 0, func() bool {
		after = scrape(t, base+"/metrics")
		done, _ := after.value("stellar_task_runs_total", "queue=mail")
		delayed, _ := after.value("stellar_task_queue_depth", "queue=later", "state=delayed")
		failed, _ := after.value("stellar_task_queue_depth", "queue=mail", "state=failed")
		return done == 4 && delayed == 1 && failed == 1
	})
	checks := []struct {
		name   string
		labels []string
		want   float64
	}{
		{"stellar_http_requests_total", []string{"action=hello", "route=", "status=200"}, 1},
		{"stellar_http_requests_total", []string{"action=hello", "route=/greet/:name", "status=200"}, 1},
		{"stellar_http_requests_total", []string{"action=fail", "route=", "status=409"}, 1},
		{"stellar_http_requests_total", []string{"action=", "route=", "status=404"}, 1},
		{"stellar_http_request_duration_seconds", []string{"action=hello"}, 2},
		{"stellar_actions_total", []string{"action=hello", "transport=web", "outcome=ok"}, 2},
		{"stellar_actions_total", []string{"action=fail", "transport=web", "outcome=sold_out"}, 1},
		{"stellar_actions_total", []string{"action=hello", "transport=tcp", "outcome=ok"}, 1},
		{"stellar_action_duration_seconds", []string{"action=hello", "transport=web"}, 2},
		{"stellar_tasks_enqueued_total", []string{"queue=mail", "task=ok"}, 1},
		{"stellar_tasks_enqueued_total", []string{"queue=later", "task=ok"}, 1},
		{"stellar_task_runs_total", []string{"queue=mail", "task=ok", "outcome=completed"}, 1},
		{"stellar_task_runs_total", []string{"queue=mail", "task=boom", "outcome=failed"}, 1},
		{"stellar_task_runs_total", []string{"queue=mail", "task=flaky", "outcome=retried"}, 1},
		{"stellar_task_runs_total", []string{"queue=mail", "task=flaky", "outcome=completed"}, 1},
		{"stellar_task_run_duration_seconds", []string{"queue=mail"}, 4},
		{"stellar_task_wait_seconds", []string{"queue=mail"}, 3}, // first runs only
		{"stellar_task_queue_depth", []string{"queue=mail", "state=pending"}, 0},
		{"stellar_task_queue_paused", []string{"queue=mail"}, 0},
		{"stellar_rpc_calls_total", []string{"method=ping", "outcome=ok"}, 1},
		{"stellar_rpc_calls_total", []string{"method=nosuch", "outcome=error"}, 1},
		{"stellar_rpc_calls_total", []string{"method=slow", "outcome=timeout"}, 1},
		{"stellar_rpc_call_duration_seconds", []string{"method=ping"}, 1},
		{"stellar_connections", []string{"transport=websocket"}, 1},
		{"stellar_connections", []string{"transport=tcp"}, 1},
		{"stellar_chat_members", nil, 1},
		{"stellar_task_worker_nodes", nil, 1},
	}
	for _, c := range checks {
		if got := after.must(t, c.name, c.labels...); got != c.want {
			t.Errorf("%s%v = %v, want %v", c.name, c.labels, got, c.want)
		}
	}
	if got := after.must(t, "stellar_http_requests_total", "route=/metrics", "status=200"); got < 1 {
		t.Errorf("scrapes counted = %v", got)
	}
	// The open WebSocket counts once, at its upgrade: its handler
	// returns as the connection is handed over, about when the welcome
	// goes out.
	poll.Until(t, "the open WebSocket counted at its upgrade", 0, func() bool {
		got, _ := scrape(t, base+"/metrics").value("stellar_http_requests_total", "route=/ws", "status=101")
		return got == 1
	})
	if got := after.must(t, "stellar_chat_rooms"); got < 1 {
		t.Errorf("stellar_chat_rooms = %v", got)
	}
	if got := after.must(t, "stellar_cluster_messages_published_total"); got <= published {
		t.Errorf("published %v after the calls, %v before", got, published)
	}

	// A closed WebSocket still counts as one request, upgraded, without
	// a latency; the connection gauges go back down.
	_ = ws.c.Close(websocket.StatusNormalClosure, "")
	_ = tcp.c.Close()
	poll.Until(t, "the closed connections in the metrics", 0, func() bool {
		f := scrape(t, base+"/metrics")
		upgraded, _ := f.value("stellar_http_requests_total", "route=/ws", "status=101")
		conns, _ := f.value("stellar_connections")
		timed, _ := f.value("stellar_http_request_duration_seconds", "route=/ws")
		return upgraded == 1 && conns == 0 && timed == 0
	})
}

// TestMetricsPerApp: two apps in one process have registries of their
// own, and a collector of the user's is served beside the framework's.
func TestMetricsPerApp(t *testing.T) {
	a := metricsApp(t, stellar.Config{ID: "node-a"})
	b := metricsApp(t, stellar.Config{ID: "node-b"})
	mine := prometheus.NewCounter(prometheus.CounterOpts{Name: "myapp_signups_total", Help: "Signups."})
	a.Metrics.MustRegister(mine)
	mine.Add(3)
	startApp(t, a)
	startApp(t, b)
	fa := scrape(t, "http://"+a.HTTPAddr().String()+"/metrics")
	fb := scrape(t, "http://"+b.HTTPAddr().String()+"/metrics")
	if v := fa.must(t, "myapp_signups_total"); v != 3 {
		t.Errorf("the user's counter = %v", v)
	}
	if fb["myapp_signups_total"] != nil {
		t.Error("a's collector is served by b")
	}
	for f, want := range map[*families]string{&fa: "node-a", &fb: "node-b"} {
		if n := len((*f)["stellar_node_info"].GetMetric()); n != 1 {
			t.Errorf("%s: %d node_info samples", want, n)
		}
		if _, ok := f.value("stellar_node_info", "node="+want); !ok {
			t.Errorf("%s serves another node's info", want)
		}
	}
}

// TestMetricsPath: http.metrics_path moves the metrics, "off" removes
// them.
func TestMetricsPath(t *testing.T) {
	for _, tc := range []struct {
		path       string
		at, absent string
	}{
		{path: "/prom", at: "/prom", absent: "/metrics"},
		{path: "off", absent: "/metrics"},
	} {
		t.Run(tc.path, func(t *testing.T) {
			cfg := stellar.Config{}
			cfg.HTTP.MetricsPath = tc.path
			app := metricsApp(t, cfg)
			startApp(t, app)
			base := "http://" + app.HTTPAddr().String()
			if tc.at != "" {
				scrape(t, base+tc.at)
			}
			if code, _ := get(t, base+tc.absent); code != http.StatusNotFound {
				t.Errorf("GET %s = %d, want 404", tc.absent, code)
			}
		})
	}
}

// TestHandleAndUse mounts a handler and two middleware on a real
// listener: the handler gets its path values, the middleware wrap every
// request (the node's own included) in registration order, and the
// handler's requests are counted under its pattern.
func TestHandleAndUse(t *testing.T) {
	app := metricsApp(t, stellar.Config{})
	app.Handle("GET /items/{id}", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "item %s", r.PathValue("id"))
	}))
	app.Handle("/hooks/", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusAccepted)
	}))
	for _, name := range []string{"outer", "inner"} {
		app.Use(func(next http.Handler) http.Handler {
			return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				w.Header().Add("X-Chain", name)
				next.ServeHTTP(w, r)
			})
		})
	}
	startApp(t, app)
	base := "http://" + app.HTTPAddr().String()

	for _, tc := range []struct {
		method, path string
		status       int
		body         string
	}{
		{method: "GET", path: "/items/42", status: 200, body: "item 42"},
		{method: "POST", path: "/hooks/github", status: 202},
		{method: "GET", path: "/api/hello?name=x", status: 200, body: `"hello":"x"`},
		{method: "GET", path: "/healthz", status: 200, body: `"ok"`},
		// A method the pattern does not allow goes on to the node.
		{method: "POST", path: "/items/42", status: 404, body: "not_found"},
	} {
		req, _ := http.NewRequest(tc.method, base+tc.path, nil)
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(res.Body)
		res.Body.Close()
		if res.StatusCode != tc.status || !strings.Contains(string(b), tc.body) {
			t.Errorf("%s %s = %d %q, want %d with %q", tc.method, tc.path, res.StatusCode, b, tc.status, tc.body)
		}
		if got := strings.Join(res.Header.Values("X-Chain"), ","); got != "outer,inner" {
			t.Errorf("%s %s: middleware ran as %q, want outer,inner", tc.method, tc.path, got)
		}
	}
	f := scrape(t, base+"/metrics")
	if v := f.must(t, "stellar_http_requests_total", "route=GET /items/{id}", "status=200"); v != 1 {
		t.Errorf("requests of the mounted handler = %v", v)
	}
	if v := f.must(t, "stellar_http_requests_total", "route=/hooks/", "status=202"); v != 1 {
		t.Errorf("requests of the mounted hooks = %v", v)
	}

	defer func() {
		if recover() == nil {
			t.Error("Handle after Start did not panic")
		}
	}()
	app.Handle("/late", http.NotFoundHandler())
}

// TestHandleCollides: a pattern that takes a request meant for the node
// fails Start.
func TestHandleCollides(t *testing.T) {
	for _, tc := range []struct {
		pattern string
		root    string // http.root_endpoint_type
		pprof   bool
		want    string
	}{
		{pattern: "/api/", want: "/api"},
		{pattern: "POST /api/hello", want: `the action "hello"`},
		{pattern: "/api/{x}/{y}", want: "under the action path /api"},
		{pattern: "/{any}/hello", want: `the action "hello"`},
		{pattern: "/", want: "health check"},
		{pattern: "/healthz", want: "health check"},
		{pattern: "GET /readyz", want: "readiness"},
		{pattern: "/metrics", want: "metrics"},
		{pattern: "/ws", want: "WebSocket"},
		{pattern: "/debug/pprof/", pprof: true, want: "profiler"},
		{pattern: "/hello", root: "api", want: `the action "hello"`},
		{pattern: "/greet/{who}", root: "api", want: "route /greet/:name"},
	} {
		t.Run(tc.pattern, func(t *testing.T) {
			cfg := stellar.Config{}
			cfg.HTTP.RootEndpointType = tc.root
			cfg.HTTP.Pprof = tc.pprof
			app := metricsApp(t, cfg)
			app.Handle(tc.pattern, http.NotFoundHandler())
			err := app.Start(context.Background())
			if err == nil {
				_ = app.Shutdown(context.Background())
				t.Fatalf("Start with %q succeeded", tc.pattern)
			}
			if !strings.Contains(err.Error(), "collides") || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Start = %v, want a collision with %s", err, tc.want)
			}
		})
	}
}

// TestPprof: the profiler is off by default (a user may mount their own
// there), and on with http.pprof.
func TestPprof(t *testing.T) {
	t.Run("off by default", func(t *testing.T) {
		app := metricsApp(t, stellar.Config{})
		startApp(t, app)
		if code, _ := get(t, "http://"+app.HTTPAddr().String()+"/debug/pprof/"); code != http.StatusNotFound {
			t.Errorf("GET /debug/pprof/ = %d, want 404", code)
		}
	})
	t.Run("off leaves the path to the user", func(t *testing.T) {
		app := metricsApp(t, stellar.Config{})
		app.Handle("/debug/pprof/", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "mine") }))
		startApp(t, app)
		if code, body := get(t, "http://"+app.HTTPAddr().String()+"/debug/pprof/"); code != 200 || body != "mine" {
			t.Errorf("GET /debug/pprof/ = %d %q", code, body)
		}
	})
	t.Run("on", func(t *testing.T) {
		cfg := stellar.Config{}
		cfg.HTTP.Pprof = true
		app := metricsApp(t, cfg)
		startApp(t, app)
		base := "http://" + app.HTTPAddr().String() + "/debug/pprof/"
		for _, tc := range []struct {
			path string
			want string
		}{
			{"", "goroutine"},
			{"goroutine?debug=1", "goroutine profile:"},
			{"heap?debug=1&gc=1", "heap profile:"},
			{"cmdline", ""},
		} {
			code, body := get(t, base+tc.path)
			if code != 200 || !strings.Contains(body, tc.want) {
				t.Errorf("GET %s = %d %.80q, want 200 with %q", tc.path, code, body, tc.want)
			}
		}
		if code, body := get(t, base+"profile?seconds=1"); code != 200 || len(body) == 0 {
			t.Errorf("CPU profile = %d, %d bytes", code, len(body))
		}
		if code, _ := get(t, base+"profile?seconds=3600"); code != http.StatusBadRequest {
			t.Errorf("an hour's CPU profile = %d, want 400", code)
		}
		if code, _ := get(t, base+"nosuch"); code != http.StatusNotFound {
			t.Errorf("unknown profile = %d, want 404", code)
		}
		f := scrape(t, "http://"+app.HTTPAddr().String()+"/metrics")
		if v := f.must(t, "stellar_http_requests_total", "route=/debug/pprof/"); v != 7 {
			t.Errorf("profiler requests counted = %v, want 7", v)
		}
	})
}
