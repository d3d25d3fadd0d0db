package http

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"mime"
	"net/http"
	"strings"

	"github.com/stellarfw/stellar-go/apierror"
)

// multipartMemory is how much of a multipart body is kept in memory; the
// rest of its files go to temporary files, removed after the request.
const multipartMemory = 8 << 20

// ParamPayload receives a JSON body that is an array rather than an object.
const ParamPayload = "payload"

// UploadedFile describes a file sent in a multipart form. The file itself
// is read through the request (Request.HTTPRequest.MultipartForm).
type UploadedFile struct {
	Name string `json:"name"` // the client's file name
	Type string `json:"type"` // the declared content type
	Size int64  `json:"size"` // bytes
}

// parseParams collects the parameters of r, each source overriding the
// one before: query string, then the body (urlencoded form, multipart form
// or JSON). Route path parameters are applied by the caller, last. A value
// sent once is a string (or a JSON value); a key repeated in a query or
// form gives a []any of strings.
//
// Errors are *apierror.Error: 400 malformed_request, 413 body_too_large,
// or 503 server_busy when the node's budget of body bytes in flight runs
// out while the body is read.
func parseParams(r *http.Request) (map[string]any, error) {
	params := make(map[string]any)
	if r.URL.RawQuery != "" { // Query allocates its map even for none
		for k, vs := range r.URL.Query() {
			params[k] = formValue(vs)
		}
	}
	if r.Body == nil || r.Body == http.NoBody {
		return params, nil
	}
	ct := r.Header.Get("Content-Type")
	mediaType := ""
	if ct != "" {
		var err error
		mediaType, _, err = mime.ParseMediaType(ct)
		if err != nil {
			return nil, malformed("bad Content-Type %q: %v", ct, err)
		}
	}
	switch {
	case mediaType == "application/x-www-form-urlencoded":
		if err := r.ParseForm(); err != nil {
			return nil, bodyError("form body", err)
		}
		for k, vs := range r.PostForm {
			params[k] = formValue(vs)
		}
	case mediaType == "multipart/form-data":
		if err := r.ParseMultipartForm(multipartMemory); err != nil {
			return nil, bodyError("multipart body", err)
		}
		for k, vs := range r.MultipartForm.Value {
			params[k] = formValue(vs)
		}
		for k, fhs := range r.MultipartForm.File {
			files := make([]any, len(fhs))
			for i, fh := range fhs {
				files[i] = UploadedFile{Name: fh.Filename, Type: fh.Header.Get("Content-Type"), Size: fh.Size}
			}
			if len(files) == 1 {
				params[k] = files[0]
			} else {
				params[k] = files
			}
		}
	case mediaType == "application/json" || strings.HasSuffix(mediaType, "+json"):
		if err := mergeJSON(params, r.Body); err != nil {
			return nil, err
		}
	default:
		// Other bodies (text, binary) are left for the action to read
		// through Request.HTTPRequest.
	}
	return params, nil
}

// mergeJSON decodes a JSON object into params, or an array into
// params["payload"]. An empty body is no parameters. The body is decoded
// as it is read, not read whole first: a body costs its decoded value
// and the decoder's buffer, not a copy more.
func mergeJSON(params map[string]any, body io.Reader) error {
	dec := json.NewDecoder(body)
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		if errors.Is(err, io.EOF) {
			return nil
		}
		if re := readError(err); re != nil {
			return re
		}
		return malformed("malformed JSON body: %v", err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		if re := readError(err); re != nil {
			return re
		}
		return malformed("malformed JSON body: more than one JSON value")
	}
	switch x := normalizeJSON(v).(type) {
	case map[string]any:
		for k, val := range x {
			params[k] = val
		}
	case []any:
		params[ParamPayload] = x
	default:
		return malformed("JSON body must be an object or an array, got %s", jsonKind(x))
	}
	return nil
}

// readError is the error of a body that could not be read to its end
// (too large, the node busy), or nil for another error.
func readError(err error) *apierror.Error {
	var mbe *http.MaxBytesError
	var ae *apierror.Error
	if errors.As(err, &mbe) || errors.As(err, &ae) {
		return bodyError("JSON body", err)
	}
	return nil
}

// normalizeJSON turns json.Number into int64 when integral and in range,
// else float64, so actions never see json.Number.
func normalizeJSON(v any) any {
	switch x := v.(type) {
	case json.Number:
		if n, err := x.Int64(); err == nil {
			return n
		}
		f, err := x.Float64()
		if err != nil || math.IsInf(f, 0) {
			return x.String()
		}
		return f
	case map[string]any:
		for k, val := range x {
			x[k] = normalizeJSON(val)
		}
		return x
	case []any:
		for i, val := range x {
			x[i] = normalizeJSON(val)
		}
		return x
	}
	return v
}

func jsonKind(v any) string {
	switch v.(type) {
	case nil:
		return "null"
	case string:
		return "a string"
	case bool:
		return "a boolean"
	}
	return "a number"
}

func formValue(vs []string) any {
	if len(vs) == 1 {
		return vs[0]
	}
	out := make([]any, len(vs))
	for i, v := range vs {
		out[i] = v
	}
	return out
}

func malformed(format string, args ...any) *apierror.Error {
	return apierror.Newf(apierror.CodeMalformedRequest, http.StatusBadRequest, format, args...)
}

// bodyError maps a body read error to 413 when the size limit was hit, and
// to 400 otherwise.
func bodyError(what string, err error) *apierror.Error {
	var mbe *http.MaxBytesError
	if errors.As(err, &mbe) {
		return tooLarge(mbe.Limit)
	}
	var ae *apierror.Error
	if errors.As(err, &ae) {
		return ae // server_busy, from the budget of bytes in flight
	}
	if errors.Is(err, http.ErrNotMultipart) || errors.Is(err, http.ErrMissingBoundary) {
		return malformed("malformed %s: %v", what, err)
	}
	return &apierror.Error{Code: apierror.CodeMalformedRequest, Status: http.StatusBadRequest,
		Message: fmt.Sprintf("could not read %s: %v", what, err), Err: err}
}
