package http

import (
	"bufio"
	"compress/gzip"
	"errors"
	"io"
	"mime"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"

	"github.com/klauspost/compress/zstd"
)

// Compression: a response of a compressible type reaching minBytes is
// compressed with zstd or gzip, whichever the client's Accept-Encoding
// ranks higher (zstd on a tie). Responses that
// are already encoded (a precompressed file, a handler's own encoding),
// of types that are compressed already (images, archives, fonts…), to
// HEAD, Range and upgrade requests, and 204, 206 and 304 answers are sent
// as they are. Compressible responses carry Vary: Accept-Encoding
// whether or not they were compressed.

// gzipLevel is the compression level: the standard library's default.
const gzipLevel = gzip.DefaultCompression

// zstdWindow is the zstd window: well under the 8 MiB that RFC 8878 asks
// HTTP decoders to handle.
const zstdWindow = 1 << 20

// encoder is a pooled compressor: *gzip.Writer or *zstd.Encoder.
type encoder interface {
	io.Writer
	Flush() error
	Close() error
	Reset(io.Writer)
}

var encoderPools = map[string]*sync.Pool{
	"gzip": {New: func() any {
		zw, _ := gzip.NewWriterLevel(io.Discard, gzipLevel)
		return zw
	}},
	"zstd": {New: func() any {
		zw, _ := zstd.NewWriter(io.Discard, zstd.WithEncoderConcurrency(1), zstd.WithWindowSize(zstdWindow),
			zstd.WithEncoderLevel(zstd.SpeedDefault))
		return zw
	}},
}

// compressor wraps next with gzip compression.
type compressor struct {
	next     http.Handler
	minBytes int
}

func (c compressor) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h := r.Header
	if r.Method == http.MethodHead || headerValue(h, "Range") != "" || headerValue(h, "Upgrade") != "" {
		c.next.ServeHTTP(w, r)
		return
	}
	gw := &compressWriter{ResponseWriter: w, minBytes: c.minBytes, coding: ChooseEncoding(h["Accept-Encoding"])}
	defer gw.finish()
	c.next.ServeHTTP(gw, r)
}

// AcceptsGzip reports whether an Accept-Encoding (its header values)
// takes gzip: gzip (or x-gzip) with a q-value above 0, or else "*" with
// one. A malformed q-value counts as 0.
func AcceptsGzip(values []string) bool { return acceptQ(values, "gzip") > 0 }

// ChooseEncoding returns the encoding to compress with for an
// Accept-Encoding: "zstd" or "gzip", whichever has the higher q-value
// (zstd on a tie), or "" for neither.
func ChooseEncoding(values []string) string {
	z, g := acceptQ(values, "zstd"), acceptQ(values, "gzip")
	switch {
	case z > 0 && z >= g:
		return "zstd"
	case g > 0:
		return "gzip"
	}
	return ""
}

// acceptQ is the q-value an Accept-Encoding gives coding (gzip counts
// x-gzip too): its own, else that of "*", else 0.
func acceptQ(values []string, coding string) float64 {
	own, star := -1.0, -1.0
	for _, v := range values {
		for _, part := range strings.Split(v, ",") {
			name, params, _ := strings.Cut(part, ";")
			name = strings.ToLower(strings.TrimSpace(name))
			isOwn := name == coding || (coding == "gzip" && name == "x-gzip")
			if !isOwn && name != "*" {
				continue
			}
			q := 1.0
			for _, p := range strings.Split(params, ";") {
				k, val, ok := strings.Cut(strings.TrimSpace(p), "=")
				if !ok || !strings.EqualFold(strings.TrimSpace(k), "q") {
					continue
				}
				f, err := strconv.ParseFloat(strings.TrimSpace(val), 64)
				if err != nil || f < 0 || f > 1 {
					f = 0
				}
				q = f
			}
			if isOwn {
				own = max(own, q)
			} else {
				star = max(star, q)
			}
		}
	}
	if own >= 0 {
		return own
	}
	return max(star, 0)
}

// compressible reports whether a Content-Type is worth gzipping: text,
// JSON, XML, JavaScript, SVG, WebAssembly and the like, not images,
// audio, video, archives or fonts that are compressed already.
func compressible(contentType string) bool {
	if contentType == contentTypeJSON[0] { // the server's own: spare the parse
		return true
	}
	mt, _, err := mime.ParseMediaType(contentType)
	if err != nil {
		return false
	}
	switch {
	case strings.HasPrefix(mt, "text/"):
		return true
	case strings.HasSuffix(mt, "+json"), strings.HasSuffix(mt, "+xml"):
		return true
	}
	switch mt {
	case "application/json", "application/javascript", "application/xml", "application/wasm",
		"application/x-javascript", "application/ld+json", "application/manifest+json",
		"image/svg+xml", "image/x-icon", "image/bmp", "font/ttf", "font/otf",
		"application/x-font-ttf", "application/vnd.ms-fontobject":
		return true
	}
	return false
}

// compressWriter holds back the first minBytes of a response to decide
// whether to compress it.
type compressWriter struct {
	http.ResponseWriter
	minBytes int
	coding   string // "zstd", "gzip" or "" for none

	status  int    // 0 until WriteHeader
	buf     []byte // held back until decided
	decided bool
	zw      encoder // set when compressing
}

func (g *compressWriter) WriteHeader(code int) {
	if g.status != 0 || g.decided {
		return
	}
	if code < 200 { // informational: passes through
		g.ResponseWriter.WriteHeader(code)
		return
	}
	g.status = code
	if code == http.StatusNoContent || code == http.StatusNotModified || code == http.StatusPartialContent {
		g.decide(false)
	}
}

func (g *compressWriter) Write(p []byte) (int, error) {
	if g.status == 0 {
		g.WriteHeader(http.StatusOK)
	}
	if !g.decided {
		if len(g.buf)+len(p) < g.minBytes {
			g.buf = append(g.buf, p...)
			return len(p), nil
		}
		g.buf = append(g.buf, p...)
		if err := g.decideAndFlush(true); err != nil {
			return 0, err
		}
		return len(p), nil
	}
	if g.zw != nil {
		return g.zw.Write(p)
	}
	return g.ResponseWriter.Write(p)
}

// writeLast writes p, the last bytes of the response (its whole body,
// usually): nothing is to come after it, so the choice need not wait for
// the handler to return, nor p be copied to be held back. It decides as
// finish would after a Write of p.
func (g *compressWriter) writeLast(p []byte) (int, error) {
	if g.status == 0 {
		g.WriteHeader(http.StatusOK)
	}
	if g.decided || len(g.buf) > 0 {
		return g.Write(p)
	}
	g.buf = p // read by decide, not kept
	g.decide(len(p) >= g.minBytes)
	g.buf = nil
	return g.Write(p)
}

// decideAndFlush decides and writes what was held back.
func (g *compressWriter) decideAndFlush(bigEnough bool) error {
	g.decide(bigEnough)
	buf := g.buf
	g.buf = nil
	if len(buf) == 0 {
		return nil
	}
	var err error
	if g.zw != nil {
		_, err = g.zw.Write(buf)
	} else {
		_, err = g.ResponseWriter.Write(buf)
	}
	return err
}

// decide sends the header, compressing when bigEnough and everything
// else allows it.
func (g *compressWriter) decide(bigEnough bool) {
	g.decided = true
	if g.status == 0 {
		g.status = http.StatusOK
	}
	h := g.Header()
	ok := g.status != http.StatusNoContent && g.status != http.StatusNotModified && g.status != http.StatusPartialContent &&
		headerValue(h, "Content-Encoding") == ""
	if ok {
		if _, set := h["Content-Type"]; !set && len(g.buf) > 0 {
			h.Set("Content-Type", http.DetectContentType(g.buf))
		}
		ok = compressible(headerValue(h, "Content-Type"))
	}
	if ok {
		addVary(h, "Accept-Encoding")
	}
	if ok && bigEnough && g.coding != "" {
		h.Set("Content-Encoding", g.coding)
		h.Del("Content-Length")
		h.Del("Accept-Ranges")
		if et := h.Get("ETag"); strings.HasPrefix(et, `"`) {
			h.Set("ETag", "W/"+et) // the bytes differ; weakly the same
		}
		zw := encoderPools[g.coding].Get().(encoder)
		zw.Reset(g.ResponseWriter)
		g.zw = zw
	}
	g.ResponseWriter.WriteHeader(g.status)
}

// varyAcceptEncoding is the Vary header most compressible responses get,
// shared: a value is added to a header by append, which copies a slice
// this full.
var varyAcceptEncoding = []string{"Accept-Encoding"}

// addVary adds v to the Vary header unless it is there.
func addVary(h http.Header, v string) {
	if _, ok := h["Vary"]; !ok && v == varyAcceptEncoding[0] {
		h["Vary"] = varyAcceptEncoding[:1:1]
		return
	}
	for _, have := range h.Values("Vary") {
		for _, f := range strings.Split(have, ",") {
			if t := strings.TrimSpace(f); strings.EqualFold(t, v) || t == "*" {
				return
			}
		}
	}
	h.Add("Vary", v)
}

// Flush sends what is held back, compressed when it may be (a response
// that flushes is a stream: its size so far says little), then flushes.
func (g *compressWriter) Flush() {
	if !g.decided {
		if g.status == 0 {
			g.status = http.StatusOK
		}
		_ = g.decideAndFlush(true)
	}
	if g.zw != nil {
		_ = g.zw.Flush()
	}
	_ = http.NewResponseController(g.ResponseWriter).Flush()
}

// finish ends the response once the handler returned.
func (g *compressWriter) finish() {
	if !g.decided {
		if g.status == 0 && len(g.buf) == 0 {
			return // the handler wrote nothing: net/http answers 200 itself
		}
		_ = g.decideAndFlush(false)
	}
	if g.zw != nil {
		_ = g.zw.Close()
		encoderPools[g.coding].Put(g.zw)
		g.zw = nil
	}
}

// ReadFrom copies from r (http.ServeContent does, for files): when the
// response will not be compressed, straight to the connection, so that
// net/http can use sendfile.
func (g *compressWriter) ReadFrom(r io.Reader) (int64, error) {
	if g.status == 0 {
		g.WriteHeader(http.StatusOK)
	}
	if !g.decided && len(g.buf) == 0 {
		h := g.Header()
		if g.coding == "" || h.Get("Content-Encoding") != "" || (h.Get("Content-Type") != "" && !compressible(h.Get("Content-Type"))) {
			g.decide(false)
		}
	}
	if g.decided && g.zw == nil {
		return io.Copy(g.ResponseWriter, r)
	}
	return io.Copy(writerOnly{g}, r)
}

// writerOnly hides ReadFrom, so that io.Copy writes.
type writerOnly struct{ io.Writer }

// Unwrap lets http.ResponseController reach the connection.
func (g *compressWriter) Unwrap() http.ResponseWriter { return g.ResponseWriter }

// Hijack hands over the connection, for a handler that takes it; what
// was held back is dropped.
func (g *compressWriter) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	hj, ok := g.ResponseWriter.(http.Hijacker)
	if !ok {
		return nil, nil, errors.New("http: the response writer cannot be hijacked")
	}
	g.decided = true
	return hj.Hijack()
}
