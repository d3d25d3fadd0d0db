package tcp

import (
	"bytes"
	"encoding/json"
	"net/http"
	"strings"

	"github.com/stellarfw/stellar-go/apierror"
	"github.com/stellarfw/stellar-go/internal/session"
)

// ParseLine reads one line from a client. A line starting with "{" is a
// JSON message ({"action":…,"params":…} or {"verb":…,…}); any other line
// is a verb in Stellar's text form, or the name of an action to run with
// the connection's params:
//
//	quit | paramsView | paramsDelete | detailsView
//	paramAdd key=value | paramView key | paramDelete key
//	roomAdd room | roomLeave room | roomView room
//	say room message text
//	emit room event [JSON data]
//	actionName
//
// It reports empty for a blank line, which is ignored. text is set for a
// line in text form, whose single word may name an action.
func ParseLine(line []byte) (r session.Request, text, empty bool, err error) {
	line = bytes.TrimSpace(line)
	if len(line) == 0 {
		return session.Request{}, false, true, nil
	}
	if line[0] == '{' {
		r, err = session.Parse(line)
		return r, false, false, err
	}
	s := string(line)
	word, rest, _ := strings.Cut(s, " ")
	rest = strings.TrimSpace(rest)
	r = session.Request{Verb: word}
	switch word {
	case session.VerbQuit, session.VerbParamsView, session.VerbParamsDelete, session.VerbDetailsView:
		if rest != "" {
			return session.Request{}, true, false, malformed(word + " takes no argument")
		}
	case session.VerbParamAdd:
		k, v, ok := strings.Cut(rest, "=")
		if !ok || strings.TrimSpace(k) == "" {
			return session.Request{}, true, false, malformed("usage: paramAdd key=value")
		}
		r.Key, r.Value = strings.TrimSpace(k), strings.TrimSpace(v)
	case session.VerbParamView, session.VerbParamDelete:
		if rest == "" {
			return session.Request{}, true, false, malformed("usage: " + word + " key")
		}
		r.Key = rest
	case session.VerbRoomAdd, session.VerbRoomLeave, session.VerbRoomView:
		r.Room = rest
	case session.VerbSay:
		room, msg, ok := strings.Cut(rest, " ")
		if !ok || room == "" {
			return session.Request{}, true, false, malformed("usage: say room message")
		}
		r.Room, r.Message = room, strings.TrimSpace(msg)
	case session.VerbEmit:
		f := strings.SplitN(rest, " ", 3)
		if len(f) < 2 || f[0] == "" || f[1] == "" {
			return session.Request{}, true, false, malformed("usage: emit room event [JSON data]")
		}
		r.Room, r.Event = f[0], f[1]
		if len(f) == 3 && strings.TrimSpace(f[2]) != "" {
			dec := json.NewDecoder(strings.NewReader(f[2]))
			dec.UseNumber()
			if err := dec.Decode(&r.Data); err != nil {
				return session.Request{}, true, false, malformed("emit: the data is not JSON")
			}
		}
	default:
		if rest != "" || !isName(word) {
			return session.Request{}, true, false, apierror.Newf(apierror.CodeUnknownVerb, http.StatusBadRequest,
				"unknown verb %q: send a verb (roomAdd, say, …), an action name, or JSON", apierror.Clip(word))
		}
		r = session.Request{Action: word}
	}
	return r, true, false, nil
}

func malformed(msg string) error {
	return apierror.New(apierror.CodeMalformedRequest, http.StatusBadRequest, msg)
}

// isName reports whether s can be an action name: printable, no spaces.
func isName(s string) bool {
	if s == "" || len(s) > 256 {
		return false
	}
	for _, r := range s {
		if r <= ' ' || r == 0x7f || r == '{' || r == '}' || r == '"' {
			return false
		}
	}
	return true
}
