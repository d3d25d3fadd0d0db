package http

import (
	"bytes"
	"encoding/json"
	"slices"
	"strconv"
)

// maxEncodeDepth bounds the nesting appendJSON walks itself; deeper values
// (and cycles) go to encoding/json, which reports a cycle.
const maxEncodeDepth = 32

// encodeBody writes v to buf (empty) as json.NewEncoder(buf).Encode(v)
// does, newline included, byte for byte: a response's map, its nested
// maps and slices, strings, numbers and booleans are written directly,
// and any other value by encoding/json. It spares encoding/json's
// reflection over the response map, most of a trivial action's
// allocations.
func encodeBody(buf *bytes.Buffer, v any) error {
	b, err := appendJSON(buf.AvailableBuffer(), v, 0)
	if err != nil {
		return err
	}
	buf.Write(b)
	buf.WriteByte('\n')
	return nil
}

func appendJSON(b []byte, v any, depth int) ([]byte, error) {
	if depth > maxEncodeDepth {
		return appendMarshal(b, v)
	}
	switch x := v.(type) {
	case nil:
		return append(b, "null"...), nil
	case bool:
		return strconv.AppendBool(b, x), nil
	case string:
		return appendString(b, x)
	case int:
		return strconv.AppendInt(b, int64(x), 10), nil
	case int64:
		return strconv.AppendInt(b, x, 10), nil
	case int32:
		return strconv.AppendInt(b, int64(x), 10), nil
	case uint64:
		return strconv.AppendUint(b, x, 10), nil
	case float64:
		// encoding/json writes %f-like digits in this range, and an
		// exponent (with its own clean-up) outside it.
		if a := max(x, -x); x == 0 || (a >= 1e-6 && a < 1e21) {
			return strconv.AppendFloat(b, x, 'f', -1, 64), nil
		}
		return appendMarshal(b, v)
	case serverInformation:
		return appendServerInformation(b, &x)
	case *serverInformation:
		if x == nil {
			return append(b, "null"...), nil
		}
		return appendServerInformation(b, x)
	case requesterInformation:
		return appendRequesterInformation(b, &x, depth)
	case *requesterInformation:
		if x == nil {
			return append(b, "null"...), nil
		}
		return appendRequesterInformation(b, x, depth)
	case map[string]any:
		if x == nil {
			return append(b, "null"...), nil
		}
		var small [16]string
		keys := small[:0]
		for k := range x {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		b = append(b, '{')
		var err error
		for i, k := range keys {
			if i > 0 {
				b = append(b, ',')
			}
			if b, err = appendString(b, k); err != nil {
				return b, err
			}
			b = append(b, ':')
			if b, err = appendJSON(b, x[k], depth+1); err != nil {
				return b, err
			}
		}
		return append(b, '}'), nil
	case []any:
		if x == nil {
			return append(b, "null"...), nil
		}
		b = append(b, '[')
		var err error
		for i, e := range x {
			if i > 0 {
				b = append(b, ',')
			}
			if b, err = appendJSON(b, e, depth+1); err != nil {
				return b, err
			}
		}
		return append(b, ']'), nil
	}
	return appendMarshal(b, v)
}

// appendString writes s as a JSON string; one that needs escaping (with
// encoding/json's HTML escaping) is left to encoding/json.
func appendString(b []byte, s string) ([]byte, error) {
	for i := range len(s) {
		if c := s[i]; c < 0x20 || c >= 0x7f || c == '"' || c == '\\' || c == '<' || c == '>' || c == '&' {
			return appendMarshal(b, s)
		}
	}
	b = append(b, '"')
	b = append(b, s...)
	return append(b, '"'), nil
}

func appendMarshal(b []byte, v any) ([]byte, error) {
	j, err := json.Marshal(v)
	if err != nil {
		return b, err
	}
	return append(b, j...), nil
}

func appendServerInformation(b []byte, x *serverInformation) ([]byte, error) {
	b = append(b, `{"serverName":`...)
	b, err := appendString(b, x.ServerName)
	if err != nil {
		return b, err
	}
	b = append(b, `,"apiVersion":`...)
	if b, err = appendString(b, x.APIVersion); err != nil {
		return b, err
	}
	b = append(b, `,"requestDuration":`...)
	b = strconv.AppendInt(b, x.RequestDuration, 10)
	b = append(b, `,"currentTime":`...)
	b = strconv.AppendInt(b, x.CurrentTime, 10)
	return append(b, '}'), nil
}

func appendRequesterInformation(b []byte, x *requesterInformation, depth int) ([]byte, error) {
	b = append(b, `{"id":`...)
	b, err := appendString(b, x.ID)
	if err != nil {
		return b, err
	}
	b = append(b, `,"fingerprint":`...)
	if b, err = appendString(b, x.Fingerprint); err != nil {
		return b, err
	}
	b = append(b, `,"remoteIP":`...)
	if b, err = appendString(b, x.RemoteIP); err != nil {
		return b, err
	}
	b = append(b, `,"receivedParams":`...)
	if b, err = appendJSON(b, x.ReceivedParams, depth+1); err != nil {
		return b, err
	}
	if x.ReceivedParamsOmitted != 0 {
		b = append(b, `,"receivedParamsOmitted":`...)
		b = strconv.AppendInt(b, int64(x.ReceivedParamsOmitted), 10)
	}
	return append(b, '}'), nil
}
