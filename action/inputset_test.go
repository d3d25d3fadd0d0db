package action_test

import (
	"context"
	"errors"
	"testing"

	"github.com/stellarfw/stellar-go/action"
	"github.com/stellarfw/stellar-go/apierror"
)

func TestInputSet(t *testing.T) {
	set, err := action.CompileInputs(map[string]action.Input{
		"to":    {Required: true, Validator: "email"},
		"count": {Default: 1, Format: action.Integer},
	})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		raw     map[string]any
		want    action.Params
		wantErr string
	}{
		{"defaults and formats", map[string]any{"to": "a@b.io"}, action.Params{"to": "a@b.io", "count": int64(1)}, ""},
		{"formatted", map[string]any{"to": "a@b.io", "count": "3"}, action.Params{"to": "a@b.io", "count": int64(3)}, ""},
		{"missing", map[string]any{}, nil, "to"},
		{"invalid", map[string]any{"to": "nope"}, nil, "to"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := set.Process(context.Background(), tc.raw)
			if tc.wantErr != "" {
				var ae *apierror.Error
				if !errors.As(err, &ae) || ae.Fields[tc.wantErr] == "" {
					t.Fatalf("err = %v, want a validation error on %s", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != len(tc.want) || got["to"] != tc.want["to"] || got["count"] != tc.want["count"] {
				t.Errorf("got %v, want %v", got, tc.want)
			}
		})
	}
	if _, err := action.CompileInputs(map[string]action.Input{"x": {Validator: "nosuchrule"}}); err == nil {
		t.Error("a bad rule compiled")
	}
}
