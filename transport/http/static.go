package http

import (
	"crypto/sha256"
	"encoding/hex"
	"io"
	"io/fs"
	"mime"
	"net/http"
	"os"
	"path"
	"strconv"
	"strings"
	"sync"
)

// staticFiles serves Stellar's public folder: files below a directory on
// disk (read on each request, as in Stellar; an os.Root keeps every open
// inside it, whatever the path says) or from an fs.FS such as an embedded
// one. A folder is served through its index file; there are no listings.
//
// Each file has an ETag (its size and modification time, or a hash of its
// content when it has no time, as in an embed.FS), so If-None-Match gets
// 304; Cache-Control comes from the rules by URL prefix; name.gz is sent
// in place of name, with Content-Encoding: gzip, to a client that takes
// gzip.
type staticFiles struct {
	fsys  fs.FS  // when set, used instead of dir
	dir   string // folder on disk
	index string
	cache []CacheRule

	hashes sync.Map // name + size → ETag, for files without a time
}

// serve writes the file at name (a URL path below the files' root) for r
// and reports whether it found one.
func (sf *staticFiles) serve(w http.ResponseWriter, r *http.Request, urlPath string) bool {
	fsys := sf.fsys
	if fsys == nil {
		root, err := os.OpenRoot(sf.dir)
		if err != nil {
			return false
		}
		defer root.Close()
		fsys = root.FS()
	}
	name := strings.TrimPrefix(path.Clean("/"+urlPath), "/")
	if name == "" {
		name = "."
	}
	f, fi, ok := openFile(fsys, name)
	if ok && fi.IsDir() {
		f.Close()
		if sf.index == "" {
			return false
		}
		name = path.Join(name, sf.index)
		f, fi, ok = openFile(fsys, name)
	}
	if !ok {
		return false
	}
	defer f.Close()
	if !fi.Mode().IsRegular() {
		return false
	}
	h := w.Header()
	if v := sf.cacheControl(r.URL.Path); v != "" {
		h.Set("Cache-Control", v)
	}
	ctype := mime.TypeByExtension(path.Ext(name))
	if ctype != "" {
		if gf, gfi, ok := openFile(fsys, name+".gz"); ok {
			defer gf.Close()
			if gfi.Mode().IsRegular() {
				addVary(h, "Accept-Encoding")
				if AcceptsGzip(r.Header.Values("Accept-Encoding")) {
					h.Set("Content-Type", ctype)
					h.Set("Content-Encoding", "gzip")
					return sf.send(w, r, name+".gz", gf, gfi)
				}
			}
		}
	}
	return sf.send(w, r, name, f, fi)
}

// send writes f with its ETag through http.ServeContent, which answers
// If-None-Match, If-Modified-Since and Range.
func (sf *staticFiles) send(w http.ResponseWriter, r *http.Request, name string, f fs.File, fi fs.FileInfo) bool {
	rs, seekable := f.(io.ReadSeeker)
	var data []byte
	if !seekable {
		var err error
		if data, err = io.ReadAll(f); err != nil {
			return false
		}
		rs = strings.NewReader(string(data))
	}
	etag, err := sf.etag(name, fi, rs)
	if err != nil {
		return false
	}
	w.Header().Set("ETag", etag)
	http.ServeContent(w, r, path.Base(strings.TrimSuffix(name, ".gz")), fi.ModTime(), rs)
	return true
}

// etag is a strong ETag of a file: its size and modification time, or,
// for a file without a time, a hash of its content, computed once.
func (sf *staticFiles) etag(name string, fi fs.FileInfo, rs io.ReadSeeker) (string, error) {
	size := strconv.FormatInt(fi.Size(), 16)
	if t := fi.ModTime(); !t.IsZero() {
		return `"` + size + "-" + strconv.FormatInt(t.UnixNano(), 16) + `"`, nil
	}
	key := name + "\x00" + size
	if v, ok := sf.hashes.Load(key); ok {
		return v.(string), nil
	}
	sum := sha256.New()
	if _, err := io.Copy(sum, rs); err != nil {
		return "", err
	}
	if _, err := rs.Seek(0, io.SeekStart); err != nil {
		return "", err
	}
	etag := `"` + hex.EncodeToString(sum.Sum(nil)[:12]) + `"`
	sf.hashes.Store(key, etag)
	return etag, nil
}

// cacheControl is the value of the longest rule prefix of urlPath.
func (sf *staticFiles) cacheControl(urlPath string) string {
	best, value := -1, ""
	for _, c := range sf.cache {
		if strings.HasPrefix(urlPath, c.Prefix) && len(c.Prefix) > best {
			best, value = len(c.Prefix), c.Value
		}
	}
	return value
}

func openFile(fsys fs.FS, name string) (fs.File, fs.FileInfo, bool) {
	f, err := fsys.Open(name)
	if err != nil {
		return nil, nil, false
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, nil, false
	}
	return f, fi, true
}
