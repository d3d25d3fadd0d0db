package http

import (
	"io"
	"io/fs"
	"net/http"
	"os"
	"path"
	"strings"
)

// staticFiles serves Stellar's public folder: files below a directory on
// disk (read on each request, as in Stellar; an os.Root keeps every open
// inside it, whatever the path says) or from an fs.FS such as an embedded
// one. A folder is served through its index file; there are no listings.
type staticFiles struct {
	fsys  fs.FS  // when set, used instead of dir
	dir   string // folder on disk
	index string
}

// serve writes the file for r and reports whether it found one.
func (sf *staticFiles) serve(w http.ResponseWriter, r *http.Request) bool {
	fsys := sf.fsys
	if fsys == nil {
		root, err := os.OpenRoot(sf.dir)
		if err != nil {
			return false
		}
		defer root.Close()
		fsys = root.FS()
	}
	name := strings.TrimPrefix(path.Clean("/"+r.URL.Path), "/")
	if name == "" {
		name = "."
	}
	f, fi, ok := openFile(fsys, name)
	if ok && fi.IsDir() {
		f.Close()
		if sf.index == "" {
			return false
		}
		f, fi, ok = openFile(fsys, path.Join(name, sf.index))
	}
	if !ok {
		return false
	}
	defer f.Close()
	if !fi.Mode().IsRegular() {
		return false
	}
	if rs, seekable := f.(io.ReadSeeker); seekable {
		http.ServeContent(w, r, fi.Name(), fi.ModTime(), rs)
		return true
	}
	data, err := io.ReadAll(f)
	if err != nil {
		return false
	}
	http.ServeContent(w, r, fi.Name(), fi.ModTime(), strings.NewReader(string(data)))
	return true
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
