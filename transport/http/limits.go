package http

import (
	"encoding/json"
	"fmt"
	"io"
	"math"
	"mime"
	"net/http"
	"slices"
	"strings"

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

// valueCost is what a JSON body is charged for each value it holds, on
// top of its bytes: about what a small value costs once decoded (an array
// of 32,768 small numbers, 64 KiB of JSON, takes 1.1 MB decoded). It is
// counted by the bytes that open or separate values (, : [ {), strings
// included: an estimate that errs on the side of the node.
const valueCost = 32

// admitBody bounds r's body by Config.MaxBodyBytes and charges it to the
// node's budget of bytes in flight (Config.MaxBodyBytesInFlight): its
// bytes and, for JSON, valueCost for each value. A body declared larger
// than MaxBodyBytes fails at once with 413 body_too_large, one declared
// larger than the budget has left with 503 server_busy; what is learnt
// as the body is read (the bytes of a body of unknown length, the values
// of JSON) is charged as it is read, and the read fails with server_busy
// when the budget runs out, or with body_too_large when the body alone
// would take more than the whole budget. release gives back the charge.
func (s *Server) admitBody(w http.ResponseWriter, r *http.Request) (release func(), err error) {
	if r.Body == nil || r.Body == http.NoBody {
		return func() {}, nil
	}
	if r.ContentLength > s.cfg.MaxBodyBytes {
		return nil, tooLarge(s.cfg.MaxBodyBytes)
	}
	b := &bodyCharge{s: s}
	if r.ContentLength > 0 {
		if err := b.take(r.ContentLength); err != nil {
			return nil, err
		}
	}
	r.Body = &chargedReader{
		ReadCloser:  http.MaxBytesReader(w, r.Body, s.cfg.MaxBodyBytes),
		charge:      b,
		countBytes:  r.ContentLength <= 0,
		countValues: isJSON(r.Header.Get("Content-Type")),
	}
	return b.release, nil
}

func isJSON(contentType string) bool {
	mt, _, err := mime.ParseMediaType(contentType)
	return err == nil && (mt == "application/json" || strings.HasSuffix(mt, "+json"))
}

// bodyCharge is what one request's body took from the budget. The body
// is read by one goroutine at a time, and released after the request.
type bodyCharge struct {
	s    *Server
	held int64
	err  error // once the budget refused, every read fails with it
}

func (b *bodyCharge) take(n int64) error {
	switch {
	case b.err != nil:
	case b.held+n > b.s.bodies.Max():
		b.err = apierror.Newf(apierror.CodeBodyTooLarge, http.StatusRequestEntityTooLarge,
			"the JSON body holds too many values: decoded, it would take more than the node reads at once "+
				"(http.max_body_bytes_in_flight, %d bytes, counting %d a value)", b.s.bodies.Max(), valueCost)
	case !b.s.bodies.Acquire(n):
		b.err = b.s.busy()
	default:
		b.held += n
	}
	return b.err
}

func (b *bodyCharge) release() {
	b.s.bodies.Release(b.held)
	b.held = 0
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

// chargedReader charges what it reads to the request's bodyCharge: the
// bytes, when the length was not declared (a declared one was charged
// whole), and the values of a JSON body.
type chargedReader struct {
	io.ReadCloser
	charge      *bodyCharge
	countBytes  bool
	countValues bool
}

func (c *chargedReader) Read(p []byte) (int, error) {
	if c.charge.err != nil {
		return 0, c.charge.err
	}
	n, err := c.ReadCloser.Read(p)
	if n > 0 {
		var cost int64
		if c.countBytes {
			cost += int64(n)
		}
		if c.countValues {
			cost += valueCost * int64(valueMarks(p[:n]))
		}
		if cost > 0 {
			if cerr := c.charge.take(cost); cerr != nil {
				return 0, cerr
			}
		}
	}
	return n, err
}

// valueMarks counts the bytes of b that open or separate JSON values.
func valueMarks(b []byte) int {
	n := 0
	for _, c := range b {
		switch c {
		case ',', ':', '[', '{':
			n++
		}
	}
	return n
}

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
	var small [16]string // the keys of most requests, on the stack
	keys := small[:0]
	for k := range raw {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
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
