package metrics

import (
	"bufio"
	"context"
	"io"
	"net"
	"net/http"
	"strconv"
	"time"

	"github.com/stellarfw/stellar-go/internal/reqlabels"
)

// labels are a request's labels: the action that ran and the route or
// pattern that matched.
type labels = reqlabels.Labels

func requestLabels(ctx context.Context) *labels { return reqlabels.From(ctx) }

// SetRoute records, for the request of ctx, the pattern of the handler
// that serves it (a pattern of App.Handle, say), as its route label.
func SetRoute(ctx context.Context, pattern string) {
	if l := requestLabels(ctx); l != nil && l.Route == "" {
		l.Route = pattern
	}
}

// HTTP counts and times the requests next answers. paths are the exact
// paths of the node's own endpoints (/healthz, /metrics, the WebSocket
// path…): a request to one of them has it as its route label. Other
// requests are labelled by the action they ran and the route that led
// there, or by SetRoute; raw paths never become labels.
func (m *Metrics) HTTP(next http.Handler, paths []string) http.Handler {
	exact := make(map[string]bool, len(paths))
	for _, p := range paths {
		exact[p] = true
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		rec := &recorder{ResponseWriter: w}
		// The HTTP transport's context holds the labels already; a
		// request that did not come through it gets its own.
		l := requestLabels(r.Context())
		if l == nil {
			l = &rec.labels // one allocation for both
			r = r.WithContext(reqlabels.With(r.Context(), l))
		}
		if exact[r.URL.Path] {
			l.Route = r.URL.Path
		}
		defer func() {
			if v := recover(); v != nil {
				if rec.status == 0 {
					rec.status = http.StatusInternalServerError
				}
				m.observeHTTP(l, rec, start)
				panic(v)
			}
			m.observeHTTP(l, rec, start)
		}()
		next.ServeHTTP(rec, r)
	})
}

func (m *Metrics) observeHTTP(l *labels, rec *recorder, start time.Time) {
	status := rec.status
	switch {
	case status == 0 && rec.hijacked:
		m.httpRequests.WithLabelValues(l.Action, l.Route, "hijacked").Inc()
		return
	case status == 0:
		status = http.StatusOK // nothing written: net/http answers 200
	}
	m.httpRequests.WithLabelValues(l.Action, l.Route, statusLabel(status)).Inc()
	if !rec.hijacked {
		m.httpDuration.WithLabelValues(l.Action, l.Route).Observe(time.Since(start).Seconds())
	}
}

// statusLabels holds the labels of the usual statuses, so that counting
// a request allocates no string.
var statusLabels = func() (s [600]string) {
	for i := 100; i < len(s); i++ {
		s[i] = strconv.Itoa(i)
	}
	return s
}()

func statusLabel(code int) string {
	if code >= 100 && code < len(statusLabels) {
		return statusLabels[code]
	}
	return strconv.Itoa(code)
}

// recorder notes the status a handler answered with. It keeps the
// writer's optional interfaces reachable: Flush, Hijack (for the
// WebSocket upgrade), ReadFrom (for sendfile), and Unwrap for
// http.ResponseController.
type recorder struct {
	http.ResponseWriter
	status   int // the final status written; 0 until then
	hijacked bool
	labels   labels // of the request, in its context
}

func (w *recorder) WriteHeader(code int) {
	// 1xx headers are informational, except the switch of protocols.
	if w.status == 0 && (code >= 200 || code == http.StatusSwitchingProtocols) {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *recorder) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return w.ResponseWriter.Write(b)
}

func (w *recorder) ReadFrom(r io.Reader) (int64, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return io.Copy(w.ResponseWriter, r)
}

func (w *recorder) Flush() {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	_ = http.NewResponseController(w.ResponseWriter).Flush()
}

func (w *recorder) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	c, rw, err := http.NewResponseController(w.ResponseWriter).Hijack()
	if err == nil {
		w.hijacked = true
	}
	return c, rw, err
}

func (w *recorder) Unwrap() http.ResponseWriter { return w.ResponseWriter }
