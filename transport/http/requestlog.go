package http

import (
	"bufio"
	"context"
	"io"
	"log/slog"
	"net"
	"net/http"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/trace"

	"github.com/stellarfw/stellar-go/apierror"
	"github.com/stellarfw/stellar-go/connection"
	"github.com/stellarfw/stellar-go/internal/logging"
	"github.com/stellarfw/stellar-go/internal/reqlabels"
	"github.com/stellarfw/stellar-go/internal/tracing"
)

// RequestIDHeader carries a request's id, in and out.
const RequestIDHeader = "X-Request-Id"

// ValidRequestID reports whether id, an X-Request-Id from a client, is
// kept; see apierror.ValidRequestID.
func ValidRequestID(id string) bool { return apierror.ValidRequestID(id) }

// requestInfo is what a request learns about itself on its way through
// the handlers, for its log line. It is written on the request's
// goroutine, before the handler returns.
type requestInfo struct {
	id            string
	action, route string
	code          string // of the error answered, if any
	quiet         bool   // a probe or a scrape: logged at debug
	// labels are the request's metrics labels, which the node's metrics
	// set (see reqlabels): held here, they cost no context of their own.
	labels reqlabels.Labels
}

type infoKey struct{}

// infoContext is a context that carries a request's information, as
// context.WithValue would, without an allocation of its own.
type infoContext struct {
	context.Context
	info *requestInfo
}

func (c *infoContext) Value(key any) any {
	switch key {
	case infoKey{}:
		return c.info
	case reqlabels.Key{}:
		return &c.info.labels
	}
	return c.Context.Value(key)
}

func infoFrom(ctx context.Context) *requestInfo {
	i, _ := ctx.Value(infoKey{}).(*requestInfo)
	return i
}

// RequestID returns the id of the HTTP request whose context is ctx (its
// X-Request-Id, or the one the node gave it), "" outside one. Handlers
// mounted with App.Handle and middleware of App.Use see it too.
func RequestID(ctx context.Context) string {
	if i := infoFrom(ctx); i != nil {
		return i.id
	}
	return ""
}

// requestID is the id of the request of ctx, a new one outside a
// request.
func requestID(ctx context.Context) string {
	if id := RequestID(ctx); id != "" {
		return id
	}
	return apierror.NewRequestID()
}

// noteAction records the action (and the route that led there) of the
// request of ctx, for its log line and span.
func noteAction(ctx context.Context, name, route string) {
	if i := infoFrom(ctx); i != nil {
		i.action, i.route = name, route
	}
}

// noteError records the code of the error the request of ctx answered.
func noteError(ctx context.Context, code string) {
	if i := infoFrom(ctx); i != nil {
		i.code = code
	}
}

// observe wraps the server's whole handler (the user's middleware and
// handlers included): it gives each request its id (X-Request-Id in and
// out), continues the trace its traceparent names (or starts one), starts
// its server span when a TracerProvider is installed, and logs one line
// when it is answered.
func (s *Server) observe(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		h := r.Header
		id := headerValue(h, RequestIDHeader)
		if !ValidRequestID(id) {
			id = apierror.NewRequestID()
		}
		// One allocation holds the writer, the request's information, the
		// context that carries it and the header's value.
		rec := &logRecorder{ResponseWriter: w}
		rec.info.id = id
		rec.info.labels.Recorded = true // by rec, for the metrics
		rec.info.quiet = s.quiet[r.URL.Path]
		rec.idHeader[0] = id
		w.Header()[RequestIDHeader] = rec.idHeader[:]
		ctx := s.tracer.Continue(r.Context(), headerValue(h, "Traceparent"), headerValue(h, "Tracestate"))
		var span trace.Span
		if s.tracer != nil {
			ctx, span = s.tracer.Start(ctx, r.Method, trace.SpanKindServer)
		}
		rec.ctx = infoContext{Context: ctx, info: &rec.info}
		ctx = &rec.ctx
		defer func() {
			if v := recover(); v != nil {
				if rec.info.labels.Status == 0 {
					rec.info.labels.Status = http.StatusInternalServerError
				}
				s.logRequest(ctx, r, rec, start, span)
				panic(v)
			}
			s.logRequest(ctx, r, rec, start, span)
		}()
		next.ServeHTTP(rec, r.WithContext(ctx))
	})
}

// logRequest writes the request's line and ends its span.
func (s *Server) logRequest(ctx context.Context, r *http.Request, rec *logRecorder, start time.Time, span trace.Span) {
	status := rec.info.labels.Status
	if status == 0 {
		status = http.StatusOK // nothing written: net/http answers 200
		if rec.info.labels.Hijacked {
			status = http.StatusSwitchingProtocols
		}
	}
	if span != nil {
		endSpan(span, r, status, &rec.info)
	}
	level := slog.LevelInfo
	if rec.info.quiet {
		level = slog.LevelDebug
	}
	if !s.logger.Enabled(ctx, level) {
		return
	}
	d := time.Since(start)
	attrs := make([]slog.Attr, 0, 12)
	attrs = append(attrs,
		slog.String("method", r.Method),
		slog.String("path", r.URL.Path),
		slog.Int("status", status),
		logging.Ms("duration_ms", d),
		slog.Int64("bytes", rec.bytes),
		slog.String("request_id", rec.info.id),
		slog.String("remote", connection.RemoteIP(r.RemoteAddr)),
	)
	if rec.info.action != "" {
		attrs = append(attrs, slog.String("action", rec.info.action))
	}
	if rec.info.route != "" {
		attrs = append(attrs, slog.String("route", rec.info.route))
	}
	if rec.info.code != "" {
		attrs = append(attrs, slog.String("code", rec.info.code))
	}
	s.logger.LogAttrs(ctx, level, "request", attrs...)
}

func endSpan(span trace.Span, r *http.Request, status int, info *requestInfo) {
	name := r.Method
	switch {
	case info.route != "":
		name += " " + info.route
	case info.action != "":
		name += " " + info.action
	}
	span.SetName(name)
	attrs := []attribute.KeyValue{
		attribute.String("http.request.method", r.Method),
		attribute.String("url.path", r.URL.Path),
		attribute.Int("http.response.status_code", status),
		attribute.String("stellar.request_id", info.id),
	}
	if info.route != "" {
		attrs = append(attrs, attribute.String("http.route", info.route))
	}
	if info.action != "" {
		attrs = append(attrs, attribute.String("stellar.action", info.action))
	}
	if info.code != "" {
		attrs = append(attrs, attribute.String("error.type", info.code))
	}
	span.SetAttributes(attrs...)
	var err error
	if status >= 500 {
		err = statusError(status)
	}
	tracing.End(span, err)
}

type statusError int

func (e statusError) Error() string { return http.StatusText(int(e)) }

// logRecorder notes the status and the body bytes a handler answered
// with. It keeps the writer's optional interfaces reachable: Flush,
// Hijack (for the WebSocket upgrade), ReadFrom (for sendfile), and Unwrap
// for http.ResponseController.
type logRecorder struct {
	http.ResponseWriter
	bytes    int64
	info     requestInfo // of the request, in its context; its labels hold the status written
	ctx      infoContext // the request's context
	idHeader [1]string   // the X-Request-Id header's value
}

func (w *logRecorder) WriteHeader(code int) {
	w.info.labels.WriteHeader(code)
	w.ResponseWriter.WriteHeader(code)
}

func (w *logRecorder) Write(b []byte) (int, error) {
	w.info.labels.Wrote()
	n, err := w.ResponseWriter.Write(b)
	w.bytes += int64(n)
	return n, err
}

func (w *logRecorder) ReadFrom(r io.Reader) (int64, error) {
	w.info.labels.Wrote()
	n, err := io.Copy(w.ResponseWriter, r)
	w.bytes += n
	return n, err
}

func (w *logRecorder) Flush() {
	w.info.labels.Wrote()
	_ = http.NewResponseController(w.ResponseWriter).Flush()
}

func (w *logRecorder) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	c, rw, err := http.NewResponseController(w.ResponseWriter).Hijack()
	if err == nil {
		w.info.labels.Hijacked = true
	}
	return c, rw, err
}

func (w *logRecorder) Unwrap() http.ResponseWriter { return w.ResponseWriter }
