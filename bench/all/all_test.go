package main

import (
	"bufio"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestRewriteDoc: only what lies between a table's markers is replaced;
// a table without markers is left out and the rest of the page kept.
func TestRewriteDoc(t *testing.T) {
	path := filepath.Join(t.TempDir(), "b.md")
	page := "# T\n\nintro\n<!-- bench:rpc -->\nold\n<!-- /bench:rpc -->\nafter\n"
	if err := os.WriteFile(path, []byte(page), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := rewriteDoc(path, map[string]string{"rpc": "| new |\n", "cache": "| none |\n"}); err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(path)
	want := "# T\n\nintro\n<!-- bench:rpc -->\n| new |\n\n<!-- /bench:rpc -->\nafter\n"
	if string(b) != want {
		t.Fatalf("page = %q, want %q", b, want)
	}
}

// FuzzReadHTTP: the load generator's reply reader takes a 200 with a
// Content-Length and refuses anything else, never panicking.
func FuzzReadHTTP(f *testing.F) {
	f.Add("HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello")
	f.Add("HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n")
	f.Add("HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n")
	f.Add("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n")
	f.Add("HTTP/1.1 200 OK\r\nContent-Length: -3\r\n\r\n")
	f.Fuzz(func(t *testing.T, reply string) {
		err := readHTTP(bufio.NewReader(strings.NewReader(reply)))
		if err == nil && !strings.HasPrefix(reply, "HTTP/1.1 200") {
			t.Fatalf("accepted %q", reply)
		}
	})
}
