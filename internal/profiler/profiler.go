// Package profiler serves the Go runtime's profiles over HTTP in the
// layout go tool pprof expects under /debug/pprof/: the index, profile
// (CPU), trace, cmdline and each named profile (heap, goroutine, allocs,
// block, mutex, threadcreate).
//
// It exists so that the node can serve them on its own listener, behind
// the http.pprof switch, without importing net/http/pprof, whose init
// adds the handlers to http.DefaultServeMux of every program that links
// it.
package profiler

import (
	"bytes"
	"fmt"
	"html"
	"net/http"
	"os"
	"runtime"
	"runtime/pprof"
	"runtime/trace"
	"strconv"
	"strings"
	"time"
)

// Prefix is where the handler is mounted.
const Prefix = "/debug/pprof/"

// Default durations of the profile and the trace, in seconds.
const (
	defaultProfileSeconds = 30
	defaultTraceSeconds   = 1
)

// Handler serves the profiles below Prefix. A CPU profile or a trace
// that would outlast writeTimeout (the server's, zero for none) is
// refused, since its answer could not be written.
func Handler(writeTimeout time.Duration) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Content-Type-Options", "nosniff")
		name, ok := strings.CutPrefix(r.URL.Path, Prefix)
		if !ok {
			http.NotFound(w, r)
			return
		}
		switch name {
		case "":
			index(w)
		case "cmdline":
			w.Header().Set("Content-Type", "text/plain; charset=utf-8")
			_, _ = fmt.Fprint(w, strings.Join(os.Args, "\x00"))
		case "profile":
			timed(w, r, writeTimeout, defaultProfileSeconds, func(w *bytes.Buffer) error { return pprof.StartCPUProfile(w) }, pprof.StopCPUProfile)
		case "trace":
			timed(w, r, writeTimeout, defaultTraceSeconds, func(w *bytes.Buffer) error { return trace.Start(w) }, trace.Stop)
		default:
			named(w, r, name)
		}
	})
}

// index lists the profiles.
func index(w http.ResponseWriter) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	var b strings.Builder
	b.WriteString("<!DOCTYPE html><html><head><title>/debug/pprof/</title></head><body><h1>/debug/pprof/</h1><ul>\n")
	for _, p := range pprof.Profiles() {
		n := html.EscapeString(p.Name())
		fmt.Fprintf(&b, "<li><a href=\"%s?debug=1\">%s</a> (%d)</li>\n", n, n, p.Count())
	}
	b.WriteString("<li><a href=\"profile\">profile</a>: CPU profile, ?seconds=30</li>\n")
	b.WriteString("<li><a href=\"trace?seconds=1\">trace</a>: execution trace, ?seconds=1</li>\n")
	b.WriteString("<li><a href=\"cmdline\">cmdline</a></li>\n</ul></body></html>\n")
	_, _ = w.Write([]byte(b.String()))
}

// named writes the named profile: in the binary format, or as text with
// ?debug=1 (or 2 for goroutine stacks). ?gc=1 collects garbage before a
// heap profile.
func named(w http.ResponseWriter, r *http.Request, name string) {
	p := pprof.Lookup(name)
	if p == nil {
		http.Error(w, fmt.Sprintf("unknown profile %q", name), http.StatusNotFound)
		return
	}
	debug, _ := strconv.Atoi(r.FormValue("debug"))
	if name == "heap" && r.FormValue("gc") == "1" {
		runtime.GC()
	}
	var buf bytes.Buffer
	if err := p.WriteTo(&buf, debug); err != nil {
		http.Error(w, "writing the profile: "+err.Error(), http.StatusInternalServerError)
		return
	}
	if debug > 0 {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	} else {
		w.Header().Set("Content-Type", "application/octet-stream")
		w.Header().Set("Content-Disposition", fmt.Sprintf("attachment; filename=%q", name))
	}
	_, _ = w.Write(buf.Bytes())
}

// timed records for ?seconds (def when absent) between start and stop,
// then writes what was recorded. It ends early if the client goes away.
func timed(w http.ResponseWriter, r *http.Request, writeTimeout time.Duration, def int, start func(*bytes.Buffer) error, stop func()) {
	sec := def
	if s := r.FormValue("seconds"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n <= 0 {
			http.Error(w, "seconds must be a positive number", http.StatusBadRequest)
			return
		}
		sec = n
	}
	d := time.Duration(sec) * time.Second
	if writeTimeout > 0 && d >= writeTimeout {
		http.Error(w, fmt.Sprintf("%d seconds would outlast the server's write timeout of %s (http.write_timeout)", sec, writeTimeout), http.StatusBadRequest)
		return
	}
	var buf bytes.Buffer
	if err := start(&buf); err != nil {
		http.Error(w, "cannot start: "+err.Error(), http.StatusInternalServerError)
		return
	}
	t := time.NewTimer(d)
	select {
	case <-t.C:
	case <-r.Context().Done():
		t.Stop()
	}
	stop()
	w.Header().Set("Content-Type", "application/octet-stream")
	_, _ = w.Write(buf.Bytes())
}
