package tcp

import (
	"bufio"
	"bytes"
	"errors"
	"strings"
	"testing"

	"github.com/stellarfw/stellar-go/apierror"
	"github.com/stellarfw/stellar-go/internal/session"
)

func TestParseLine(t *testing.T) {
	for _, tc := range []struct {
		line  string
		want  session.Request
		text  bool
		empty bool
		code  string
	}{
		{line: "", empty: true},
		{line: "  \r", empty: true},
		{line: `{"action":"status","params":{"a":1}}`, want: session.Request{Action: "status"}},
		{line: `{"verb":"roomAdd","room":"x"}`, want: session.Request{Verb: "roomAdd", Room: "x"}},
		{line: "roomAdd lobby\r", want: session.Request{Verb: "roomAdd", Room: "lobby"}, text: true},
		{line: "say lobby hello world", want: session.Request{Verb: "say", Room: "lobby", Message: "hello world"}, text: true},
		{line: "paramAdd k = v", want: session.Request{Verb: "paramAdd", Key: "k", Value: "v"}, text: true},
		{line: "paramView k", want: session.Request{Verb: "paramView", Key: "k"}, text: true},
		{line: "emit lobby moved", want: session.Request{Verb: "emit", Room: "lobby", Event: "moved"}, text: true},
		{line: "status", want: session.Request{Action: "status"}, text: true},
		{line: "quit", want: session.Request{Verb: "quit"}, text: true},
		{line: "quit now", text: true, code: apierror.CodeMalformedRequest},
		{line: "say lobby", text: true, code: apierror.CodeMalformedRequest},
		{line: "emit lobby moved {bad", text: true, code: apierror.CodeMalformedRequest},
		{line: "status extra", text: true, code: apierror.CodeUnknownVerb},
		{line: `{"verb":"dance"}`, code: apierror.CodeUnknownVerb},
		{line: `{"action":1}`, code: apierror.CodeMalformedRequest},
		{line: `{"action":"a"} {"action":"b"}`, code: apierror.CodeMalformedRequest},
	} {
		t.Run(tc.line, func(t *testing.T) {
			r, text, empty, err := ParseLine([]byte(tc.line))
			if tc.code != "" {
				var ae *apierror.Error
				if !errors.As(err, &ae) || ae.Code != tc.code {
					t.Fatalf("err = %v, want %s", err, tc.code)
				}
				return
			}
			if err != nil || text != tc.text || empty != tc.empty || r.Action != tc.want.Action || r.Verb != tc.want.Verb ||
				r.Room != tc.want.Room || r.Key != tc.want.Key || r.Event != tc.want.Event ||
				(tc.want.Message != nil && r.Message != tc.want.Message) || (tc.want.Value != nil && r.Value != tc.want.Value) {
				t.Fatalf("ParseLine = %+v text=%v empty=%v err=%v", r, text, empty, err)
			}
		})
	}
}

func TestReadLine(t *testing.T) {
	in := "short\n" + strings.Repeat("a", 100) + "\n" + strings.Repeat("b", 101) + "\nlast"
	br := bufio.NewReaderSize(strings.NewReader(in), 16)
	var buf []byte
	for _, want := range []string{"short", strings.Repeat("a", 100)} {
		got, err := readLine(br, 100, &buf)
		if err != nil || string(got) != want {
			t.Fatalf("readLine = %q, %v; want %q", got, err, want)
		}
	}
	if _, err := readLine(br, 100, &buf); !errors.Is(err, errLineTooLong) {
		t.Fatalf("long line: %v", err)
	}
}

// FuzzParseLine: no line makes the parser panic, and whatever it accepts
// names exactly one of an action or a known verb.
func FuzzParseLine(f *testing.F) {
	for _, s := range []string{
		`{"action":"status","params":{"a":[1,2,{"b":null}]}}`, `{"verb":"say","room":"r","message":{"x":1}}`,
		"say room hi", "paramAdd a=b=c", "emit r e [1,2]", "roomAdd", "{", "\x00", `{"verb":"paramAdd","key":"k","value":1e999}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, line []byte) {
		r, _, empty, err := ParseLine(line)
		if err != nil || empty {
			var ae *apierror.Error
			if err != nil && !errors.As(err, &ae) {
				t.Fatalf("error without a client code: %v", err)
			}
			return
		}
		if (r.Action == "") == (r.Verb == "") {
			t.Fatalf("accepted %q as %+v", line, r)
		}
		if r.Verb != "" && !session.IsVerb(r.Verb) {
			t.Fatalf("accepted unknown verb %q", r.Verb)
		}
		// readLine agrees with ParseLine on what a line is.
		br := bufio.NewReader(bytes.NewReader(append(bytes.ReplaceAll(line, []byte("\n"), nil), '\n')))
		var buf []byte
		if _, err := readLine(br, len(line)+1, &buf); err != nil {
			t.Fatalf("readLine: %v", err)
		}
	})
}

func BenchmarkParseLine(b *testing.B) {
	for _, line := range []string{`{"action":"ping","params":{"a":1,"b":"two"}}`, `say lobby hello there`} {
		b.Run(map[bool]string{true: "json", false: "text"}[line[0] == '{'], func(b *testing.B) {
			raw := []byte(line)
			b.ReportAllocs()
			for b.Loop() {
				if _, _, _, err := ParseLine(raw); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
