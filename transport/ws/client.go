package ws

import (
	_ "embed"
	"net/http"
	"strings"
)

// ClientPath is where the browser client is served.
const ClientPath = "/stellar-client.js"

//go:embed client/stellar-client.js
var clientJS string

// ClientJS returns the browser client script.
func ClientJS() string { return clientJS }

// ClientHandler serves the browser client, configured for a WebSocket
// endpoint at wsPath (the client's default path is DefaultPath).
func ClientHandler(wsPath string) http.Handler {
	body := clientJS
	if wsPath != DefaultPath {
		body = strings.Replace(body, "options.path || '"+DefaultPath+"'", "options.path || '"+strings.ReplaceAll(wsPath, "'", `\'`)+"'", 1)
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			w.Header().Set("Allow", "GET, HEAD")
			http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
			return
		}
		w.Header().Set("Content-Type", "text/javascript; charset=utf-8")
		w.Header().Set("Cache-Control", "no-cache")
		_, _ = w.Write([]byte(body))
	})
}
