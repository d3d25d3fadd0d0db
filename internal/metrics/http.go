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
		// The HTTP transport's context holds the labels already, and
		// records the status in them; a request that did not come
		// through it gets its own, and a writer that records.
		l := requestLabels(r.Context())
		if l == nil || !l.Recorded {
			rec := &recorder{ResponseWriter: w}
			if l == nil {
				l = &rec.labels // one allocation for both
				r = r.WithContext(reqlabels.With(r.Context(), l))
			}
			rec.l = l
			w = rec
		}
		if exact[r.URL.Path] {
			l.Route = r.URL.Path
		}
		defer func() {
			if v := recover(); v != nil {
				if l.Status == 0 {
					l.Status = http.StatusInternalServerError
				}
				m.observeHTTP(l, start)
				panic(v)
			}
			m.observeHTTP(l, start)
		}()
		next.ServeHTTP(w, r)
	})
}

func (m *Metrics) observeHTTP(l *labels, start time.Time) {
	status := l.Status
	switch {
	case status == 0 && l.Hijacked:
		m.httpCounts.get([3]string{l.Action, l.Route, "hijacked"}).Inc()
		return
	case status == 0:
		status = http.StatusOK // nothing written: net/http answers 200
	}
	m.httpCounts.get([3]string{l.Action, l.Route, statusLabel(status)}).Inc()
	if !l.Hijacked {
		m.httpDurations.get([2]string{l.Action, l.Route}).Observe(time.Since(start).Seconds())
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

// recorder notes the status a handler answered with in its labels. It
// keeps the writer's optional interfaces reachable: Flush, Hijack (for
// the WebSocket upgrade), ReadFrom (for sendfile), and Unwrap for
// http.ResponseController.
type recorder struct {
	http.ResponseWriter
	l      *labels
	labels labels // of the request, in its context, unless it had some
}

func (w *recorder) WriteHeader(code int) {
	w.l.WriteHeader(code)
	w.ResponseWriter.WriteHeader(code)
}

func (w *recorder) Write(b []byte) (int, error) {
	w.l.Wrote()
	return w.ResponseWriter.Write(b)
}

func (w *recorder) ReadFrom(r io.Reader) (int64, error) {
	w.l.Wrote()
	return io.Copy(w.ResponseWriter, r)
}

func (w *recorder) Flush() {
	w.l.Wrote()
	_ = http.NewResponseController(w.ResponseWriter).Flush()
}

func (w *recorder) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	c, rw, err := http.NewResponseController(w.ResponseWriter).Hijack()
	if err == nil {
		w.l.Hijacked = true
	}
	return c, rw, err
}

func (w *recorder) Unwrap() http.ResponseWriter { return w.ResponseWriter }
