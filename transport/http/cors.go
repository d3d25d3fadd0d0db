package http

import (
	"net/http"
	"slices"
	"strconv"
	"strings"
)

// cors sets cross-origin headers from the configuration and answers
// preflight requests. It reports whether the request was fully answered.
func (s *Server) cors(w http.ResponseWriter, r *http.Request) bool {
	c := s.cfg.CORS
	origin := r.Header.Get("Origin")
	if len(c.AllowOrigins) == 0 || origin == "" {
		return false
	}
	wildcard := slices.Contains(c.AllowOrigins, "*")
	if !wildcard && !slices.Contains(c.AllowOrigins, origin) {
		return false
	}
	h := w.Header()
	h.Add("Vary", "Origin")
	if wildcard && !c.AllowCredentials {
		h.Set("Access-Control-Allow-Origin", "*")
	} else {
		h.Set("Access-Control-Allow-Origin", origin)
	}
	if c.AllowCredentials {
		h.Set("Access-Control-Allow-Credentials", "true")
	}
	if r.Method != http.MethodOptions || r.Header.Get("Access-Control-Request-Method") == "" {
		return false
	}
	h.Set("Access-Control-Allow-Methods", strings.Join(c.AllowMethods, ", "))
	h.Set("Access-Control-Allow-Headers", strings.Join(c.AllowHeaders, ", "))
	if c.MaxAge > 0 {
		h.Set("Access-Control-Max-Age", strconv.Itoa(int(c.MaxAge.Seconds())))
	}
	w.WriteHeader(http.StatusNoContent)
	return true
}
