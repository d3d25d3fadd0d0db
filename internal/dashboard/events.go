package dashboard

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"time"
)

// Timings of the event stream.
const (
	// keepAliveEvery is the longest the stream stays silent: a "tick"
	// event with the node's clock goes out when the picture has not
	// changed for this long.
	keepAliveEvery = 10 * time.Second
	// writeWindow bounds each write to the stream (the HTTP server's
	// write timeout would otherwise end it).
	writeWindow = 30 * time.Second
	// retryMs is the EventSource's reconnect delay.
	retryMs = 1000
)

// serveEvents streams the picture as server-sent events: a "snapshot"
// event each time it changes (read every Interval), a "tick" when it
// has not changed for a while. The stream ends when the client goes or
// the node stops.
func (d *Dashboard) serveEvents(w http.ResponseWriter, r *http.Request) {
	rc := http.NewResponseController(w)
	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Accel-Buffering", "no") // nginx: do not buffer the stream
	w.WriteHeader(http.StatusOK)
	send := func(chunks ...[]byte) bool {
		_ = rc.SetWriteDeadline(time.Now().Add(writeWindow))
		for _, c := range chunks {
			if _, err := w.Write(c); err != nil {
				return false
			}
		}
		return rc.Flush() == nil
	}
	if !send(fmt.Appendf(nil, "retry: %d\n\n", retryMs)) {
		return
	}
	t := time.NewTicker(d.opts.Interval)
	defer t.Stop()
	var last []byte
	lastSent := time.Now()
	for {
		b, err := d.picture(r.Context())
		now := time.Now()
		switch {
		case err != nil:
			if !send([]byte("event: failure\ndata: "), jsonString(err.Error()), []byte("\n\n")) {
				return
			}
			lastSent = now
		case !sameContent(b, last):
			if !send([]byte("event: snapshot\ndata: "), b, []byte("\n\n")) {
				return
			}
			last, lastSent = b, now
		case now.Sub(lastSent) >= keepAliveEvery:
			if !send(fmt.Appendf(nil, "event: tick\ndata: {\"now\":%q}\n\n", now.UTC().Format(time.RFC3339Nano))) {
				return
			}
			lastSent = now
		}
		select {
		case <-r.Context().Done():
			return
		case <-d.opts.Done:
			return
		case <-t.C:
		}
	}
}

// sameContent reports whether two pictures differ only in their time,
// which comes first: {"node":…,"now":"…",…}.
func sameContent(a, b []byte) bool {
	if a == nil || b == nil {
		return false
	}
	return bytes.Equal(withoutNow(a), withoutNow(b))
}

// withoutNow cuts the "now" field out of a picture's JSON.
func withoutNow(b []byte) []byte {
	i := bytes.Index(b, []byte(`,"now":"`))
	if i < 0 {
		return b
	}
	j := bytes.IndexByte(b[i+len(`,"now":"`):], '"')
	if j < 0 {
		return b
	}
	end := i + len(`,"now":"`) + j + 1
	return append(append([]byte{}, b[:i]...), b[end:]...)
}

// jsonString quotes s as a JSON string.
func jsonString(s string) []byte {
	b, _ := json.Marshal(s) // a string always marshals
	return b
}
