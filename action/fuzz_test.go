package action

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/stellarfw/stellar-go/apierror"
	"github.com/stellarfw/stellar-go/connection"
)

// FuzzRun sends client parameters, apiVersion among them, through
// Registry.Run; package input fuzzes the inputs themselves.
func FuzzRun(f *testing.F) {
	for _, s := range [][3]string{
		{"1", "ann", "42"},
		{"2", "", "1e3"},
		{"", "root", "-1"},
		{"abc", "日本語", "9223372036854775808"},
		{"99999999999", "a b", "0"},
		{"-1", "x", "1.5"},
	} {
		f.Add(s[0], s[1], s[2])
	}
	g := NewRegistry(discardLogger(), "fuzz")
	run := func(version int) *Action {
		return &Action{Name: "fuzz", Version: version, Inputs: map[string]Input{
			"name": {Required: true, Format: String, Validator: "alpha_dash|between:1,20"},
			"n":    {Format: Integer, Validator: "min:0"},
		}, Run: func(_ context.Context, r *Request) error {
			if r.Action.version() != version {
				return fmt.Errorf("version %d ran, want %d", r.Action.version(), version)
			}
			if _, ok := r.Params[ParamAPIVersion]; ok {
				return errors.New("apiVersion reached the action")
			}
			if _, ok := r.Params["n"].(int64); !ok && r.Params.Has("n") {
				return fmt.Errorf("n is a %T, want int64", r.Params["n"])
			}
			return nil
		}}
	}
	if err := g.Register(run(1), run(2)); err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, version, name, n string) {
		raw := map[string]any{ParamAction: "fuzz"}
		for k, v := range map[string]string{ParamAPIVersion: version, "name": name, "n": n} {
			if v != "" {
				raw[k] = v
			}
		}
		err := g.Run(context.Background(), "fuzz", raw, &Request{Conn: connection.New(connection.TypeWeb, "", "fuzz")})
		if err == nil {
			return
		}
		var ae *apierror.Error
		if !errors.As(err, &ae) {
			t.Fatalf("error %v (%T) is not an *apierror.Error", err, err)
		}
		if s := ae.HTTPStatus(); s < 400 || s > 499 {
			t.Fatalf("status %d for %v: %v", s, raw, ae)
		}
		if ae.Code == apierror.CodeValidationFailed && ae.Fields == nil {
			t.Fatalf("validation error without fields: %v", ae)
		}
	})
}
