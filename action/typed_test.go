package action

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/stellarfw/stellar-go/apierror"
	"github.com/stellarfw/stellar-go/connection"
)

type sumIn struct {
	A     float64 `validate:"required"`
	B     float64 `default:"1"`
	Label string  `param:"label" validate:"alpha|max:5"`
	Round *bool   `param:"round"`
}

type sumOut struct {
	Sum   float64 `json:"sum"`
	Label string  `json:"label,omitempty"`
	Parts []float64
	note  string
}

func sum(_ context.Context, _ *Request, in sumIn) (sumOut, error) {
	s := in.A + in.B
	if in.Round != nil && *in.Round {
		s = float64(int64(s + 0.5))
	}
	return sumOut{Sum: s, Label: in.Label, Parts: []float64{in.A, in.B}, note: "private"}, nil
}

func TestTypedAction(t *testing.T) {
	a := Typed("sum", sum, func(a *Action) { a.Description = "adds"; a.Version = 2 })
	if a.Description != "adds" || a.Version != 2 || a.InputType() != reflect.TypeFor[sumIn]() || a.OutputType() != reflect.TypeFor[sumOut]() {
		t.Fatalf("action = %+v, in %v out %v", a, a.InputType(), a.OutputType())
	}
	g := newTestRegistry(t, a)
	r, err := webRun(g, "sum", map[string]any{"a": "2.5", "round": "yes", "extra": "dropped"})
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]any{"sum": 4.0, "Parts": []float64{2.5, 1}}
	if !reflect.DeepEqual(r.Response, want) {
		t.Errorf("response = %#v, want %#v", r.Response, want)
	}
	if _, ok := r.Params["extra"]; ok {
		t.Error("an undeclared parameter reached the params")
	}
	r, err = webRun(g, "sum", map[string]any{"a": 1, "b": 2, "label": "ab"})
	if err != nil {
		t.Fatal(err)
	}
	if r.Response["sum"] != 3.0 || r.Response["label"] != "ab" {
		t.Errorf("response = %#v", r.Response)
	}
	b, _ := json.Marshal(r.Response)
	if string(b) != `{"Parts":[1,2],"label":"ab","sum":3}` {
		t.Errorf("encoded response = %s", b)
	}
}

// A typed action's validation errors are those of the map form with the
// same declaration.
func TestTypedValidationLikeMapForm(t *testing.T) {
	mapForm := &Action{Name: "m", Inputs: map[string]Input{
		"a":     {Validator: "required", Format: Float},
		"b":     {Default: 1.0, Format: Float},
		"label": {Validator: "alpha|max:5", Format: String},
		"round": {Format: Boolean},
	}, Run: func(context.Context, *Request) error { return nil }}
	g := newTestRegistry(t, mapForm, Typed("t", sum))
	for _, raw := range []map[string]any{
		{},
		{"a": "x", "b": "y", "label": "toolong1", "round": "maybe"},
		{"a": 1, "label": "a1"},
	} {
		_, errMap := webRun(g, "m", raw)
		_, errTyped := webRun(g, "t", raw)
		mapErr := wantAPIError(t, errMap, apierror.CodeValidationFailed, http.StatusUnprocessableEntity)
		typedErr := wantAPIError(t, errTyped, apierror.CodeValidationFailed, http.StatusUnprocessableEntity)
		if !reflect.DeepEqual(mapErr, typedErr) {
			t.Errorf("raw %v:\nmap form %#v\ntyped    %#v", raw, mapErr, typedErr)
		}
	}
}

func TestTypedRegisterErrors(t *testing.T) {
	type badTag struct {
		N int `validate:"min:x"`
	}
	type badType struct{ M map[string]int }
	type badDefault struct {
		N uint8 `default:"-1"`
	}
	noop := func(context.Context, *Request, struct{}) (struct{}, error) { return struct{}{}, nil }
	cases := []struct {
		name string
		a    *Action
		want string
	}{
		{"bad rule", Typed("bad", func(context.Context, *Request, badTag) (sumOut, error) { return sumOut{}, nil }),
			`action: bad: input: action.badTag: field N: validator rule "min": argument "x" is not a number`},
		{"bad type", Typed("bad", func(context.Context, *Request, badType) (sumOut, error) { return sumOut{}, nil }),
			"action: bad: input: action.badType: field M: type map[string]int is not supported"},
		{"bad default", Typed("bad", func(context.Context, *Request, badDefault) (sumOut, error) { return sumOut{}, nil }),
			`field N: default "-1" must be an integer between 0 and 255`},
		{"input not a struct", Typed("bad", func(context.Context, *Request, int) (sumOut, error) { return sumOut{}, nil }),
			"action: bad: input: int is not a struct type"},
		{"output not an object", Typed("bad", func(context.Context, *Request, struct{}) (int, error) { return 0, nil }),
			"action: bad: output int: an output is a struct, a pointer to one, or a map with string keys"},
		{"nil run", Typed[struct{}, struct{}]("bad", nil), "action: bad: the typed run function is nil"},
		{"no name", Typed("", noop), "action: an action needs a Name"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			g := NewRegistry(discardLogger(), "n")
			err := g.Register(reply("ok", 1, "x"), tc.a)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Register: %v, want an error containing %q", err, tc.want)
			}
			if len(g.List()) != 0 {
				t.Errorf("Register failed but registered %d actions", len(g.List()))
			}
		})
	}
}

type withMarshaler struct{ N int }

func (w withMarshaler) MarshalJSON() ([]byte, error) {
	return []byte(`{"n":` + string(rune('0'+w.N)) + `,"big":12345678901234567890}`), nil
}

type Base struct {
	ID int `json:"id"`
}

type embeddedOut struct {
	Base
	Count   int64     `json:"count,string"`
	When    time.Time `json:"when,omitzero"`
	Nothing *int      `json:"nothing"`
}

func TestTypedOutputs(t *testing.T) {
	g := newTestRegistry(t,
		Typed("pointer", func(_ context.Context, _ *Request, in struct{ Nil bool }) (*sumOut, error) {
			if in.Nil {
				return nil, nil
			}
			return &sumOut{Sum: 1}, nil
		}),
		Typed("map", func(context.Context, *Request, struct{}) (map[string]int, error) {
			return map[string]int{"a": 1, "b": 2}, nil
		}),
		Typed("marshaler", func(context.Context, *Request, struct{}) (withMarshaler, error) { return withMarshaler{N: 7}, nil }),
		Typed("embedded", func(context.Context, *Request, struct{}) (embeddedOut, error) {
			return embeddedOut{Base: Base{ID: 4}, Count: 9}, nil
		}),
		Typed("keys", func(_ context.Context, r *Request, _ struct{}) (sumOut, error) {
			r.Response["extra"] = "set by run"
			r.Status = http.StatusCreated
			return sumOut{Sum: 2}, nil
		}),
	)
	cases := []struct {
		name string
		raw  map[string]any
		want map[string]any
	}{
		{"pointer", nil, map[string]any{"sum": 1.0, "Parts": []float64(nil)}},
		{"nil pointer", map[string]any{"nil": "true"}, map[string]any{}},
		{"map", nil, map[string]any{"a": 1, "b": 2}},
		{"marshaler", nil, map[string]any{"n": json.Number("7"), "big": json.Number("12345678901234567890")}},
		{"embedded", nil, map[string]any{"id": 4, "count": "9", "nothing": (*int)(nil)}},
		{"keys", nil, map[string]any{"sum": 2.0, "Parts": []float64(nil), "extra": "set by run"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			name := strings.Fields(tc.name)[len(strings.Fields(tc.name))-1]
			r, err := webRun(g, name, tc.raw)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(r.Response, tc.want) {
				t.Errorf("response = %#v, want %#v", r.Response, tc.want)
			}
		})
	}
	r, _ := webRun(g, "keys", nil)
	if r.Status != http.StatusCreated {
		t.Errorf("status = %d", r.Status)
	}
}

// Post middleware sees the typed output in the response, and may change
// it; the typed error of run reaches the caller as a map-form action's.
func TestTypedMiddlewareAndErrors(t *testing.T) {
	g := NewRegistry(discardLogger(), "n")
	if err := g.Use(&Middleware{Name: "post", Global: true, Post: func(_ context.Context, r *Request) error {
		r.Response["doubled"] = r.Response["sum"].(float64) * 2
		return nil
	}}); err != nil {
		t.Fatal(err)
	}
	fail := errors.New("boom")
	if err := g.Register(Typed("sum", sum), Typed("fail", func(context.Context, *Request, struct{}) (sumOut, error) {
		return sumOut{}, fail
	})); err != nil {
		t.Fatal(err)
	}
	resp := mustCall(t, g, "sum", map[string]any{"a": 1})
	if resp["doubled"] != 4.0 {
		t.Errorf("response = %v", resp)
	}
	_, err := g.Call(context.Background(), "fail", nil)
	ae := wantAPIError(t, err, apierror.CodeActionFailed, http.StatusInternalServerError)
	if !errors.Is(ae, fail) {
		t.Errorf("error %v does not wrap the action's", ae)
	}
}

func TestCallAs(t *testing.T) {
	g := newTestRegistry(t, Typed("sum", sum), &Action{Name: "legacy", Run: func(_ context.Context, r *Request) error {
		r.Response["sum"] = 7.5
		r.Response["label"] = "old"
		return nil
	}}, func() *Action {
		a := Typed("secret", func(context.Context, *Request, struct{}) (sumOut, error) { return sumOut{Sum: 9}, nil })
		a.Private = true
		return a
	}())
	ctx := context.Background()

	out, err := CallAs[sumOut](ctx, g, "sum", map[string]any{"a": 2, "b": 3})
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(out, sumOut{Sum: 5, Parts: []float64{2, 3}, note: "private"}) {
		t.Errorf("CallAs = %+v: not the value the action returned", out)
	}

	// The In itself as params.
	round := true
	out, err = CallAs[sumOut](ctx, g, "sum", sumIn{A: 1.2, B: 2, Label: "x", Round: &round})
	if err != nil || out.Sum != 3 || out.Label != "x" {
		t.Errorf("CallAs with a struct = %+v, %v", out, err)
	}

	// Another shape, decoded from the response.
	type sumOnly struct {
		Sum float64 `json:"sum"`
	}
	only, err := CallAs[sumOnly](ctx, g, "sum", map[string]any{"a": 1})
	if err != nil || only.Sum != 2 {
		t.Errorf("CallAs into another type = %+v, %v", only, err)
	}

	// A map-form action, decoded from its response.
	legacy, err := CallAs[sumOut](ctx, g, "legacy", nil)
	if err != nil || legacy.Sum != 7.5 || legacy.Label != "old" {
		t.Errorf("CallAs of a map-form action = %+v, %v", legacy, err)
	}

	// Private actions answer internal calls.
	if s, err := CallAs[sumOut](ctx, g, "secret", nil); err != nil || s.Sum != 9 {
		t.Errorf("CallAs of a private action = %+v, %v", s, err)
	}

	// Errors are the call's.
	_, err = CallAs[sumOut](ctx, g, "sum", nil)
	ae := wantAPIError(t, err, apierror.CodeValidationFailed, http.StatusUnprocessableEntity)
	if ae.Fields["a"] != "is required" {
		t.Errorf("fields = %v", ae.Fields)
	}
	_, err = CallAs[sumOut](ctx, g, "nope", nil)
	wantAPIError(t, err, apierror.CodeActionNotFound, http.StatusNotFound)
	if _, err := CallAs[int](ctx, g, "sum", map[string]any{"a": 1}); err == nil {
		t.Error("CallAs decoded an object into an int")
	}
	if _, err := CallAs[sumOut](ctx, g, "sum", 5); err == nil {
		t.Error("CallAs took an int as params")
	}

	// A web client cannot call the private one.
	_, err = webRun(g, "secret", nil)
	wantAPIError(t, err, apierror.CodePrivateAction, http.StatusForbidden)
	r := &Request{Conn: connection.New(connection.TypeInternal, "", "n")}
	if err := g.Run(ctx, "secret", nil, r); err != nil || r.output == nil {
		t.Errorf("internal run: %v, output %v", err, r.output)
	}
}

// BenchmarkCall compares an internal call of a typed action with the
// same action in the map form.
func BenchmarkCall(b *testing.B) {
	mapForm := &Action{Name: "m", Inputs: map[string]Input{
		"a":     {Validator: "required", Format: Float},
		"b":     {Default: 1.0, Format: Float},
		"label": {Validator: "alpha|max:5", Format: String},
		"round": {Format: Boolean},
	}, Run: func(_ context.Context, r *Request) error {
		out, _ := sum(context.Background(), r, sumIn{A: r.Params.Float("a"), B: r.Params.Float("b"), Label: r.Params.String("label")})
		r.Response["sum"], r.Response["label"], r.Response["Parts"] = out.Sum, out.Label, out.Parts
		return nil
	}}
	g := NewRegistry(discardLogger(), "n")
	if err := g.Register(mapForm, Typed("t", sum)); err != nil {
		b.Fatal(err)
	}
	params := map[string]any{"a": "2", "b": 3.5, "label": "abc"}
	for _, name := range []string{"m", "t"} {
		b.Run(map[string]string{"m": "map", "t": "typed"}[name], func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := g.Call(context.Background(), name, params); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
