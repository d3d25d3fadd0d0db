package tracing

import (
	"go.opentelemetry.io/otel/trace"
)

// traceparentLen is the length of a version 00 traceparent:
// "00-" 32 hex "-" 16 hex "-" 2 hex.
const traceparentLen = 55

// maxTraceparentLen bounds a traceparent of a later version, which may
// append fields.
const maxTraceparentLen = 256

// Parse reads a W3C traceparent header (and its tracestate, which may be
// empty) into a remote span context. It reports false for anything the
// Trace Context recommendation says to ignore: a wrong length or
// separator, a hex digit that is not lowercase, version ff, an all-zero
// trace or parent id, or a version 00 header with anything after the
// flags. A later version is read for its first four fields, as the
// recommendation says. A tracestate that does not parse is dropped, the
// traceparent kept.
func Parse(traceparent, tracestate string) (trace.SpanContext, bool) {
	s := traceparent
	if len(s) < traceparentLen || len(s) > maxTraceparentLen {
		return trace.SpanContext{}, false
	}
	if s[2] != '-' || s[35] != '-' || s[52] != '-' {
		return trace.SpanContext{}, false
	}
	var version [1]byte
	if !decodeHex(version[:], s[0:2]) || version[0] == 0xff {
		return trace.SpanContext{}, false
	}
	if version[0] == 0 && len(s) != traceparentLen {
		return trace.SpanContext{}, false
	}
	if len(s) > traceparentLen && s[traceparentLen] != '-' {
		return trace.SpanContext{}, false
	}
	var cfg trace.SpanContextConfig
	var flags [1]byte
	if !decodeHex(cfg.TraceID[:], s[3:35]) || !decodeHex(cfg.SpanID[:], s[36:52]) || !decodeHex(flags[:], s[53:55]) {
		return trace.SpanContext{}, false
	}
	if !cfg.TraceID.IsValid() || !cfg.SpanID.IsValid() {
		return trace.SpanContext{}, false
	}
	// Only the sampled flag is defined; a later version's other bits are
	// not passed on.
	cfg.TraceFlags = trace.TraceFlags(flags[0]) & trace.FlagsSampled
	cfg.Remote = true
	if tracestate != "" {
		if ts, err := trace.ParseTraceState(tracestate); err == nil {
			cfg.TraceState = ts
		}
	}
	return trace.NewSpanContext(cfg), true
}

// Format returns the version 00 traceparent of sc.
func Format(sc trace.SpanContext) string {
	var b [traceparentLen]byte
	b[0], b[1], b[2] = '0', '0', '-'
	tid, sid := sc.TraceID(), sc.SpanID()
	encodeHex(b[3:35], tid[:])
	b[35] = '-'
	encodeHex(b[36:52], sid[:])
	b[52] = '-'
	encodeHex(b[53:55], []byte{byte(sc.TraceFlags())})
	return string(b[:])
}

const hexDigits = "0123456789abcdef"

func encodeHex(dst, src []byte) {
	for i, v := range src {
		dst[2*i] = hexDigits[v>>4]
		dst[2*i+1] = hexDigits[v&0x0f]
	}
}

// decodeHex decodes lowercase hex s into dst, len(s) == 2*len(dst).
func decodeHex(dst []byte, s string) bool {
	for i := range dst {
		hi, ok1 := fromHex(s[2*i])
		lo, ok2 := fromHex(s[2*i+1])
		if !ok1 || !ok2 {
			return false
		}
		dst[i] = hi<<4 | lo
	}
	return true
}

func fromHex(c byte) (byte, bool) {
	switch {
	case c >= '0' && c <= '9':
		return c - '0', true
	case c >= 'a' && c <= 'f':
		return c - 'a' + 10, true
	}
	return 0, false
}
