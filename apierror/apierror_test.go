package apierror

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
)

func TestFrom(t *testing.T) {
	own := New("already_exists", 409, "that user exists")
	tests := []struct {
		name       string
		err        error
		code       string
		status     int
		message    string
		keepsCause bool
	}{
		{"nil", nil, "", 0, "", false},
		{"plain error", errors.New("disk full"), CodeActionFailed, 500, "disk full", true},
		{"own error", own, "already_exists", 409, "that user exists", false},
		{"wrapped own error", fmt.Errorf("saving: %w", own), "already_exists", 409, "that user exists", false},
		{"zero status", &Error{Code: "x", Message: "m"}, "x", 500, "m", false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := From(tc.err)
			if tc.err == nil {
				if e != nil {
					t.Fatalf("From(nil) = %v", e)
				}
				return
			}
			if e.Code != tc.code || e.HTTPStatus() != tc.status || e.Message != tc.message {
				t.Fatalf("From = %+v (status %d)", e, e.HTTPStatus())
			}
			if tc.keepsCause && !errors.Is(e, tc.err) {
				t.Fatal("cause lost")
			}
		})
	}
}

func TestBodyHidesCause(t *testing.T) {
	e := &Error{Code: CodeInternal, Status: 500, Message: "internal server error", Err: errors.New("secret detail"),
		Fields: map[string]string{"a": "is required"}}
	buf, err := json.Marshal(e.Body())
	if err != nil {
		t.Fatal(err)
	}
	want := `{"error":{"code":"internal_error","message":"internal server error","fields":{"a":"is required"}}}`
	if string(buf) != want {
		t.Fatalf("body = %s, want %s", buf, want)
	}
	if e.Error() != "internal_error: internal server error: secret detail" {
		t.Fatalf("Error() = %q", e.Error())
	}
	if got := Newf("c", 400, "bad %d", 7).Message; got != "bad 7" {
		t.Fatalf("Newf message = %q", got)
	}
}

func TestClip(t *testing.T) {
	long := strings.Repeat("x", 150)
	if got := Clip(long); got != strings.Repeat("x", 100)+"…" {
		t.Fatalf("Clip(150 x) = %q", got)
	}
	if got := Clip("short"); got != "short" {
		t.Fatalf("Clip(short) = %q", got)
	}
}

func TestPublic(t *testing.T) {
	leak := errors.New("redis: unavailable: save: dial tcp 127.0.0.1:6420: connect: connection refused")
	tests := []struct {
		name    string
		err     *Error
		code    string
		status  int
		message string
		id      string
	}{
		{"plain error", From(leak), CodeInternal, 500, InternalMessage, "r1"},
		{"panic", &Error{Code: CodeInternal, Status: 500, Message: "internal server error", Err: leak}, CodeInternal, 500, InternalMessage, "r1"},
		{"own 5xx keeps its message", New("unavailable", 503, "try again later"), "unavailable", 503, "try again later", "r1"},
		{"own 4xx has no id", New("quota", 429, "slow down"), "quota", 429, "slow down", ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p := Public(tc.err, "r1")
			if p.Code != tc.code || p.HTTPStatus() != tc.status || p.Message != tc.message || p.RequestID != tc.id {
				t.Fatalf("Public = %+v", p)
			}
			body, err := json.Marshal(p.Body())
			if err != nil {
				t.Fatal(err)
			}
			if strings.Contains(string(body), "6420") {
				t.Fatalf("body leaks the cause: %s", body)
			}
			if tc.id != "" && !strings.Contains(string(body), `"requestId":"r1"`) {
				t.Fatalf("body has no request id: %s", body)
			}
			if tc.err.Unexpected() && !errors.Is(p, leak) {
				t.Fatal("the cause is lost for the log")
			}
		})
	}
	if a, b := NewRequestID(), NewRequestID(); a == b || len(a) != 16 {
		t.Fatalf("request ids %q, %q", a, b)
	}
}
