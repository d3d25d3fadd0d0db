package http

import (
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"math"
	"net/http"
	"slices"

	"github.com/stellarfw/stellar-go/apierror"
	"github.com/stellarfw/stellar-go/internal/limit"
)

// Limits of what requesterInformation.receivedParams echoes back: a
// client cannot make the node send its body back to it.
const (
	// EchoValueBytes is the largest value echoed, as JSON; a larger one
	// is replaced by a note of its size, "(N bytes, not echoed)" (N
	// counts the value's text, not the escapes JSON adds to it).
	EchoValueBytes = 1 << 10
	// EchoTotalBytes bounds the keys and values echoed in all; the
	// params past it (in key order) are left out, and
	// receivedParamsOmitted counts them.
	EchoTotalBytes = 16 << 10
)

// admitBody takes the bytes of r's body from the node's budget of bytes
// in flight (Config.MaxBodyBytesInFlight), and bounds the body by
// Config.MaxBodyBytes. A body declared larger than MaxBodyBytes fails at
// once with 413 body_too_large, one declared larger than the budget has
// left with 503 server_busy; a body of unknown length takes from the
// budget as it is read, and its read fails with server_busy when the
// budget runs out. release gives back what was taken.
func (s *Server) admitBody(w http.ResponseWriter, r *http.Request) (release func(), err error) {
	if r.Body == nil || r.Body == http.NoBody {
		return func() {}, nil
	}
	if r.ContentLength > s.cfg.MaxBodyBytes {
		return nil, tooLarge(s.cfg.MaxBodyBytes)
	}
	body := http.MaxBytesReader(w, r.Body, s.cfg.MaxBodyBytes)
	if n := r.ContentLength; n > 0 {
		if !s.bodies.Acquire(n) {
			return nil, s.busy()
		}
		r.Body = body
		return func() { s.bodies.Release(n) }, nil
	}
	br := &budgetReader{ReadCloser: body, s: s}
	r.Body = br
	return br.release, nil
}

// busy is the error of a body over the budget of bytes in flight.
func (s *Server) busy() *apierror.Error {
	return apierror.Newf(apierror.CodeServerBusy, http.StatusServiceUnavailable,
		"the server is reading %d bytes of request bodies, as many as it holds at once (http.max_body_bytes_in_flight); retry in a moment",
		s.bodies.Max())
}

func tooLarge(limit int64) *apierror.Error {
	return apierror.Newf(apierror.CodeBodyTooLarge, http.StatusRequestEntityTooLarge,
		"request body is larger than the limit of %d bytes", limit)
}

// budgetReader takes what it reads of a body of unknown length from the
// server's budget of bytes in flight.
type budgetReader struct {
	io.ReadCloser
	s    *Server
	held int64 // read by one goroutine at a time, released after the request
	err  error
}

func (b *budgetReader) Read(p []byte) (int, error) {
	if b.err != nil {
		return 0, b.err
	}
	n, err := b.ReadCloser.Read(p)
	if n > 0 {
		if !b.s.bodies.Acquire(int64(n)) {
			b.err = b.s.busy()
			return 0, b.err
		}
		b.held += int64(n)
	}
	return n, err
}

func (b *budgetReader) release() { b.s.bodies.Release(b.held) }

// refusal counts a refused request by the code of its error.
func (s *Server) refusal(err error) {
	switch apierror.From(err).Code {
	case apierror.CodeBodyTooLarge:
		s.refused.Add(limit.BodySize)
	case apierror.CodeServerBusy:
		s.refused.Add(limit.BodiesInFlight)
	}
}

// Refused returns the number of refused requests by reason:
// limit.BodySize (over http.max_body_bytes) and limit.BodiesInFlight
// (over http.max_body_bytes_in_flight).
func (s *Server) Refused() map[string]uint64 { return s.refused.Snapshot() }

// BodyBytesInFlight is the bytes of request bodies taken from the budget
// of bytes in flight.
func (s *Server) BodyBytesInFlight() int64 { return s.bodies.Used() }

// echoParams is what receivedParams shows of raw: values over
// EchoValueBytes replaced by a note of their size, and at most
// EchoTotalBytes in all; omitted counts the params left out.
func echoParams(raw map[string]any) (echo map[string]any, omitted int) {
	echo = make(map[string]any, len(raw))
	total := 0
	for _, k := range slices.Sorted(maps.Keys(raw)) {
		v := raw[k]
		size := jsonSize(v, EchoValueBytes)
		if size > EchoValueBytes {
			v = fmt.Sprintf("(%d bytes, not echoed)", jsonSize(v, math.MaxInt))
			size = 32
		}
		if len(k) > EchoValueBytes || total+len(k)+size > EchoTotalBytes {
			omitted++
			continue
		}
		total += len(k) + size
		echo[k] = v
	}
	return echo, omitted
}

// jsonSize is the size of v as JSON, counted until it passes budget
// (then some number above budget is returned), without the escapes JSON
// adds to strings, and with 8 bytes for any number. Parameters are the
// types parseParams makes; anything else is encoded to be measured.
func jsonSize(v any, budget int) int {
	switch x := v.(type) {
	case nil:
		return 4
	case string:
		return len(x) + 2
	case bool:
		return 5
	case int64, float64, json.Number:
		return 8
	case UploadedFile:
		return len(x.Name) + len(x.Type) + 40
	case []any:
		n := 1 // [ and the commas between, ] at the end
		for _, e := range x {
			n += jsonSize(e, budget-n) + 1
			if n > budget {
				return n
			}
		}
		return max(n, 2)
	case map[string]any:
		n := 1 // { and the commas between, } at the end
		for k, e := range x {
			n += len(k) + 3 + jsonSize(e, budget-n) + 1
			if n > budget {
				return n
			}
		}
		return max(n, 2)
	}
	b, err := json.Marshal(v)
	if err != nil {
		return 4
	}
	return len(b)
}
