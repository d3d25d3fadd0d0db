package http

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"testing/fstest"
	"time"

	"github.com/klauspost/compress/zstd"
)

// rawClient sends Accept-Encoding as given and does not decompress.
var rawClient = &http.Client{Transport: &http.Transport{DisableCompression: true}}

func rawGet(t *testing.T, method, url string, header ...string) (*http.Response, []byte) {
	t.Helper()
	req, err := http.NewRequest(method, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := rawClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, b
}

func gunzip(t *testing.T, b []byte) string {
	t.Helper()
	zr, err := gzip.NewReader(bytes.NewReader(b))
	if err != nil {
		t.Fatalf("not gzip: %v", err)
	}
	out, err := io.ReadAll(zr)
	if err != nil {
		t.Fatal(err)
	}
	return string(out)
}

func unzstd(t *testing.T, b []byte) string {
	t.Helper()
	zr, err := zstd.NewReader(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	defer zr.Close()
	out, err := io.ReadAll(zr)
	if err != nil {
		t.Fatalf("not zstd: %v", err)
	}
	return string(out)
}

func hasVary(resp *http.Response) bool {
	return strings.Contains(strings.Join(resp.Header.Values("Vary"), ","), "Accept-Encoding")
}

// TestGzipNegotiated: an action's JSON above http.compress_min_bytes is
// compressed with zstd or gzip, whichever the client's q-values rank
// higher (zstd on a tie), and sent as is to a client that takes neither;
// Vary: Accept-Encoding either way.
func TestGzipNegotiated(t *testing.T) {
	s := startServer(t, testConfig())
	big := s.url + "/api/echo?big=" + strings.Repeat("stellar", 300)
	for _, tc := range []struct {
		accept string
		coding string // "" for none
	}{
		{"gzip", "gzip"},
		{"br, gzip;q=0.5", "gzip"},
		{"x-gzip", "gzip"},
		{"*", "zstd"},
		{"*;q=0.1, identity", "zstd"},
		{"zstd", "zstd"},
		{"gzip, deflate, br, zstd", "zstd"},
		{"zstd;q=0.5, gzip", "gzip"},
		{"zstd;q=0, *", "gzip"},
		{"gzip;q=0, *;q=1", "zstd"},
		{"", ""},
		{"identity", ""},
		{"gzip;q=0", ""},
		{"gzip;q=0, zstd;q=0, *;q=1", ""},
		{"deflate, br", ""},
		{"gzip;q=bad", ""},
	} {
		resp, b := rawGet(t, "GET", big, "Accept-Encoding", tc.accept)
		if resp.StatusCode != 200 || !hasVary(resp) {
			t.Fatalf("%q: status %d, Vary %q", tc.accept, resp.StatusCode, resp.Header.Values("Vary"))
		}
		got := resp.Header.Get("Content-Encoding")
		if got != tc.coding {
			t.Errorf("Accept-Encoding %q: Content-Encoding %q, want %q", tc.accept, got, tc.coding)
			continue
		}
		body := string(b)
		switch got {
		case "gzip":
			body = gunzip(t, b)
		case "zstd":
			body = unzstd(t, b)
		}
		if got != "" && resp.Header.Get("Content-Length") != "" && resp.ContentLength != int64(len(b)) {
			t.Errorf("Content-Length %d of %d compressed bytes", resp.ContentLength, len(b))
		}
		if !strings.Contains(body, strings.Repeat("stellar", 300)) || resp.Header.Get("Content-Type") != "application/json; charset=utf-8" {
			t.Errorf("%q: body %.80s…, type %q", tc.accept, body, resp.Header.Get("Content-Type"))
		}
	}
}

// TestGzipSkipped: small responses, HEAD, 304 and types compressed
// already are never gzipped; compress_min_bytes -1 turns it off.
func TestGzipSkipped(t *testing.T) {
	dir := t.TempDir()
	png := append([]byte("\x89PNG\r\n\x1a\n"), bytes.Repeat([]byte{0}, 4000)...)
	writeTestFile(t, filepath.Join(dir, "big.png"), string(png))
	writeTestFile(t, filepath.Join(dir, "big.woff2"), strings.Repeat("w", 4000))
	writeTestFile(t, filepath.Join(dir, "page.html"), strings.Repeat("<p>stellar</p>", 300))
	cfg := testConfig()
	cfg.PublicDir = dir
	s := startServer(t, cfg)

	resp, _ := rawGet(t, "GET", s.url+"/api/echo?x=1", "Accept-Encoding", "gzip")
	if resp.Header.Get("Content-Encoding") != "" || !hasVary(resp) {
		t.Errorf("small JSON: encoding %q, Vary %q", resp.Header.Get("Content-Encoding"), resp.Header.Values("Vary"))
	}
	for _, name := range []string{"big.png", "big.woff2"} {
		resp, b := rawGet(t, "GET", s.url+"/"+name, "Accept-Encoding", "gzip")
		if resp.StatusCode != 200 || resp.Header.Get("Content-Encoding") != "" || len(b) < 4000 {
			t.Errorf("%s: %d, encoding %q, %d bytes", name, resp.StatusCode, resp.Header.Get("Content-Encoding"), len(b))
		}
	}
	resp, b := rawGet(t, "GET", s.url+"/page.html", "Accept-Encoding", "gzip")
	if resp.Header.Get("Content-Encoding") != "gzip" || !strings.Contains(gunzip(t, b), "<p>stellar</p>") {
		t.Fatalf("HTML page: encoding %q", resp.Header.Get("Content-Encoding"))
	}
	etag := resp.Header.Get("ETag")
	if !strings.HasPrefix(etag, `W/"`) {
		t.Errorf("a gzipped file's ETag %q is not weak", etag)
	}
	resp, b = rawGet(t, "GET", s.url+"/page.html", "Accept-Encoding", "gzip", "If-None-Match", etag)
	if resp.StatusCode != http.StatusNotModified || len(b) != 0 || resp.Header.Get("Content-Encoding") != "" {
		t.Errorf("304: %d, %d bytes, encoding %q", resp.StatusCode, len(b), resp.Header.Get("Content-Encoding"))
	}
	resp, b = rawGet(t, "HEAD", s.url+"/page.html", "Accept-Encoding", "gzip")
	if resp.StatusCode != 200 || resp.Header.Get("Content-Encoding") != "" || len(b) != 0 {
		t.Errorf("HEAD: %d, encoding %q", resp.StatusCode, resp.Header.Get("Content-Encoding"))
	}
	resp, b = rawGet(t, "GET", s.url+"/page.html", "Accept-Encoding", "gzip", "Range", "bytes=0-9")
	if resp.StatusCode != http.StatusPartialContent || resp.Header.Get("Content-Encoding") != "" || string(b) != "<p>stellar" {
		t.Errorf("Range: %d, encoding %q, %q", resp.StatusCode, resp.Header.Get("Content-Encoding"), b)
	}

	off := testConfig()
	off.PublicDir = dir
	off.CompressMinBytes = -1
	so := startServer(t, off)
	resp, _ = rawGet(t, "GET", so.url+"/page.html", "Accept-Encoding", "gzip")
	if resp.Header.Get("Content-Encoding") != "" {
		t.Errorf("compress_min_bytes -1 still gzips")
	}
}

// TestGzipStreams: a handler that flushes reaches the client at once,
// compressed, and an upgrade request goes through untouched.
func TestGzipStreams(t *testing.T) {
	release := make(chan struct{})
	stream := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/event-stream")
		_, _ = io.WriteString(w, "data: first\n\n")
		_ = http.NewResponseController(w).Flush()
		<-release
		_, _ = io.WriteString(w, "data: second\n\n")
	})
	upgrade := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		conn, rw, err := http.NewResponseController(w).Hijack()
		if err != nil {
			http.Error(w, err.Error(), 500)
			return
		}
		defer conn.Close()
		_, _ = rw.WriteString("HTTP/1.1 101 Switching Protocols\r\nUpgrade: test\r\nConnection: Upgrade\r\n\r\nhello")
		_ = rw.Flush()
	})
	s := startServer(t, testConfig(), func(o *Options) {
		o.Handlers = map[string]http.Handler{"/stream": stream, "/upgrade": upgrade}
	})
	req, _ := http.NewRequest("GET", s.url+"/stream", nil)
	req.Header.Set("Accept-Encoding", "gzip")
	resp, err := rawClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.Header.Get("Content-Encoding") != "gzip" {
		t.Fatalf("stream encoding %q", resp.Header.Get("Content-Encoding"))
	}
	zr, err := gzip.NewReader(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	br := bufio.NewReader(zr)
	line, err := br.ReadString('\n')
	if err != nil || line != "data: first\n" {
		t.Fatalf("first event before the handler ends: %q, %v", line, err)
	}
	close(release)
	rest, _ := io.ReadAll(br)
	if !strings.Contains(string(rest), "data: second") {
		t.Fatalf("rest %q", rest)
	}

	req, _ = http.NewRequest("GET", s.url+"/upgrade", nil)
	req.Header.Set("Accept-Encoding", "gzip")
	req.Header.Set("Connection", "Upgrade")
	req.Header.Set("Upgrade", "test")
	resp, err = rawClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusSwitchingProtocols {
		t.Fatalf("upgrade: %d", resp.StatusCode)
	}
	b, _ := io.ReadAll(resp.Body)
	if string(b) != "hello" {
		t.Fatalf("upgraded stream %q", b)
	}
}

func writeTestFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestStaticETag: a file has an ETag and If-None-Match with it gets 304;
// a changed file gets a new one. Files without a time (embed.FS) get a
// content hash.
func TestStaticETag(t *testing.T) {
	dir := t.TempDir()
	writeTestFile(t, filepath.Join(dir, "a.txt"), "one")
	cfg := testConfig()
	cfg.PublicDir = dir
	s := startServer(t, cfg)
	resp, b := rawGet(t, "GET", s.url+"/a.txt")
	etag := resp.Header.Get("ETag")
	if resp.StatusCode != 200 || string(b) != "one" || !strings.HasPrefix(etag, `"`) {
		t.Fatalf("%d %q ETag %q", resp.StatusCode, b, etag)
	}
	resp, b = rawGet(t, "GET", s.url+"/a.txt", "If-None-Match", etag)
	if resp.StatusCode != http.StatusNotModified || len(b) != 0 || resp.Header.Get("ETag") != etag {
		t.Fatalf("If-None-Match: %d, %d bytes, ETag %q", resp.StatusCode, len(b), resp.Header.Get("ETag"))
	}
	later := time.Now().Add(time.Hour)
	writeTestFile(t, filepath.Join(dir, "a.txt"), "two!")
	if err := os.Chtimes(filepath.Join(dir, "a.txt"), later, later); err != nil {
		t.Fatal(err)
	}
	resp, b = rawGet(t, "GET", s.url+"/a.txt", "If-None-Match", etag)
	if resp.StatusCode != 200 || string(b) != "two!" || resp.Header.Get("ETag") == etag {
		t.Fatalf("changed file: %d %q ETag %q", resp.StatusCode, b, resp.Header.Get("ETag"))
	}

	fsys := fstest.MapFS{"e.txt": {Data: []byte("embedded")}}
	se := startServer(t, testConfig(), func(o *Options) { o.Files = fsys })
	resp, _ = rawGet(t, "GET", se.url+"/e.txt")
	etag = resp.Header.Get("ETag")
	if etag == "" {
		t.Fatal("no ETag for a file without a time")
	}
	resp, _ = rawGet(t, "GET", se.url+"/e.txt", "If-None-Match", etag)
	if resp.StatusCode != http.StatusNotModified {
		t.Fatalf("embedded If-None-Match: %d", resp.StatusCode)
	}
}

// TestStaticCacheControlAndFilesPath: Cache-Control by the longest
// matching prefix; files under http.files_path (default /public) both
// with the root serving files and with the root serving the API.
func TestStaticCacheControlAndFilesPath(t *testing.T) {
	dir := t.TempDir()
	writeTestFile(t, filepath.Join(dir, "index.html"), "home")
	writeTestFile(t, filepath.Join(dir, "assets", "app.css"), "body{}")
	cfg := testConfig()
	cfg.PublicDir = dir
	cfg.CacheControl = []CacheRule{{Prefix: "/", Value: "no-cache"}, {Prefix: "/assets/", Value: "public, max-age=31536000, immutable"}}
	s := startServer(t, cfg)
	for path, want := range map[string]string{
		"/":                  "no-cache",
		"/assets/app.css":    "public, max-age=31536000, immutable",
		"/public/index.html": "no-cache",
	} {
		resp, _ := rawGet(t, "GET", s.url+path)
		if resp.StatusCode != 200 || resp.Header.Get("Cache-Control") != want {
			t.Errorf("%s: %d Cache-Control %q, want %q", path, resp.StatusCode, resp.Header.Get("Cache-Control"), want)
		}
	}
	resp, _ := rawGet(t, "GET", s.url+"/public/assets/app.css")
	if resp.StatusCode != 200 {
		t.Errorf("/public/assets/app.css: %d", resp.StatusCode)
	}

	api := testConfig()
	api.PublicDir = dir
	api.RootEndpointType = RootAPI
	api.FilesPath = "/static"
	sa := startServer(t, api)
	resp, b := rawGet(t, "GET", sa.url+"/static/assets/app.css")
	if resp.StatusCode != 200 || string(b) != "body{}" {
		t.Errorf("files under /static with the API at the root: %d %q", resp.StatusCode, b)
	}
	resp, _ = rawGet(t, "GET", sa.url+"/static/nothing.css")
	if resp.StatusCode != 404 {
		t.Errorf("missing file under the files path: %d", resp.StatusCode)
	}
	resp, b = rawGet(t, "GET", sa.url+"/echo?x=1")
	if resp.StatusCode != 200 || !strings.Contains(string(b), `"x":"1"`) {
		t.Errorf("the API at the root: %d %s", resp.StatusCode, b)
	}
	def := testConfig()
	def.PublicDir = dir
	def.RootEndpointType = RootAPI
	sd := startServer(t, def)
	if resp, _ := rawGet(t, "GET", sd.url+"/public/index.html"); resp.StatusCode != 200 {
		t.Errorf("default files path /public with the API at the root: %d", resp.StatusCode)
	}
}

// TestStaticPrecompressed: name.gz is sent for name to a client that
// takes gzip, with name's type, and never compressed again.
func TestStaticPrecompressed(t *testing.T) {
	dir := t.TempDir()
	js := strings.Repeat("console.log('stellar');\n", 100)
	writeTestFile(t, filepath.Join(dir, "app.js"), js)
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	_, _ = io.WriteString(zw, "// from the .gz file\n"+js)
	_ = zw.Close()
	writeTestFile(t, filepath.Join(dir, "app.js.gz"), gz.String())
	cfg := testConfig()
	cfg.PublicDir = dir
	s := startServer(t, cfg)

	resp, b := rawGet(t, "GET", s.url+"/app.js", "Accept-Encoding", "gzip")
	if resp.Header.Get("Content-Encoding") != "gzip" || !bytes.Equal(b, gz.Bytes()) || !hasVary(resp) {
		t.Fatalf("encoding %q, same bytes as the .gz %v, Vary %q", resp.Header.Get("Content-Encoding"), bytes.Equal(b, gz.Bytes()), resp.Header.Values("Vary"))
	}
	if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/javascript") {
		t.Errorf("Content-Type %q", ct)
	}
	etag := resp.Header.Get("ETag")
	resp, _ = rawGet(t, "GET", s.url+"/app.js", "Accept-Encoding", "gzip", "If-None-Match", etag)
	if resp.StatusCode != http.StatusNotModified {
		t.Errorf("304 on the .gz ETag: %d", resp.StatusCode)
	}
	resp, b = rawGet(t, "GET", s.url+"/app.js", "Accept-Encoding", "identity")
	if resp.Header.Get("Content-Encoding") != "" || string(b) != js || !hasVary(resp) || resp.Header.Get("ETag") == etag {
		t.Fatalf("without gzip: encoding %q, plain %v, Vary %q", resp.Header.Get("Content-Encoding"), string(b) == js, resp.Header.Values("Vary"))
	}
}

// TestRedirectTarget: the redirect keeps host, path and query, puts the
// HTTPS port in the URL unless it is 443, and refuses a Host that could
// point elsewhere.
func TestRedirectTarget(t *testing.T) {
	for _, tc := range []struct{ port, host, uri, want string }{
		{"8443", "example.com:8080", "/a/b?c=d", "https://example.com:8443/a/b?c=d"},
		{"443", "example.com", "/", "https://example.com/"},
		{"443", "[::1]:80", "/x", "https://[::1]/x"},
		{"8443", "[::1]", "/x", "https://[::1]:8443/x"},
	} {
		w := httptest.NewRecorder()
		r := httptest.NewRequest("GET", tc.uri, nil)
		r.Host = tc.host
		redirectHandler{port: tc.port}.ServeHTTP(w, r)
		if w.Code != http.StatusPermanentRedirect || w.Header().Get("Location") != tc.want {
			t.Errorf("%s%s: %d %q, want %q", tc.host, tc.uri, w.Code, w.Header().Get("Location"), tc.want)
		}
	}
	w := httptest.NewRecorder()
	r := httptest.NewRequest("GET", "/", nil)
	r.Host = "evil.example/@x"
	redirectHandler{port: "443"}.ServeHTTP(w, r)
	if w.Code != http.StatusBadRequest {
		t.Errorf("bad Host: %d", w.Code)
	}
}

// TestZstdStreams: a flushed zstd stream reaches the client at once.
func TestZstdStreams(t *testing.T) {
	release := make(chan struct{})
	stream := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/event-stream")
		_, _ = io.WriteString(w, "data: first\n\n")
		_ = http.NewResponseController(w).Flush()
		<-release
		_, _ = io.WriteString(w, "data: second\n\n")
	})
	s := startServer(t, testConfig(), func(o *Options) { o.Handlers = map[string]http.Handler{"/stream": stream} })
	req, _ := http.NewRequest("GET", s.url+"/stream", nil)
	req.Header.Set("Accept-Encoding", "zstd")
	resp, err := rawClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.Header.Get("Content-Encoding") != "zstd" {
		t.Fatalf("stream encoding %q", resp.Header.Get("Content-Encoding"))
	}
	zr, err := zstd.NewReader(resp.Body, zstd.WithDecoderConcurrency(0))
	if err != nil {
		t.Fatal(err)
	}
	defer zr.Close()
	br := bufio.NewReader(zr)
	line, err := br.ReadString('\n')
	if err != nil || line != "data: first\n" {
		t.Fatalf("first event before the handler ends: %q, %v", line, err)
	}
	close(release)
	rest, _ := io.ReadAll(br)
	if !strings.Contains(string(rest), "data: second") {
		t.Fatalf("rest %q", rest)
	}
}

// TestCompressNoBody: a 204 is sent as it is, without Content-Encoding.
func TestCompressNoBody(t *testing.T) {
	noContent := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusNoContent)
	})
	s := startServer(t, testConfig(), func(o *Options) { o.Handlers = map[string]http.Handler{"/none": noContent} })
	resp, b := rawGet(t, "GET", s.url+"/none", "Accept-Encoding", "gzip, zstd")
	if resp.StatusCode != http.StatusNoContent || resp.Header.Get("Content-Encoding") != "" || len(b) != 0 {
		t.Fatalf("204: %d, encoding %q, %d bytes", resp.StatusCode, resp.Header.Get("Content-Encoding"), len(b))
	}
}
