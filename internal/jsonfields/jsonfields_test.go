package jsonfields

import (
	"encoding/json"
	"reflect"
	"testing"
	"time"
)

type Inner struct {
	ID    int    `json:"id"`
	Label string // promoted, but Outer's tagged Label wins
	Deep  string
}

type Other struct {
	Deep string // collides with Inner.Deep at the same depth: both dropped
	Own  int
}

type hidden struct {
	Secret string `json:"secret"`
}

type Outer struct {
	Inner
	Other
	*hidden
	Label  string    `json:"Label"`
	Name   string    `json:"name,omitempty"`
	Count  int       `json:",omitempty"`
	Quoted int64     `json:"quoted,string"`
	QStr   string    `json:"qstr,string"`
	When   time.Time `json:"when,omitzero"`
	Skip   string    `json:"-"`
	//lint:ignore SA5008 encoding/json names this field "-"
	Dash    string            `json:"-,"`
	Ptr     *int              `json:"ptr"`
	Map     map[string]string `json:"map,omitempty"`
	private int
	//lint:ignore SA5008 encoding/json ignores an invalid name
	BadName  string          `json:"a\"b"`
	Embedded struct{ X int } `json:"embedded"`
}

// encoded is what the fields say v encodes to, as encoding/json would
// decode it.
func encoded(t *testing.T, v any) map[string]any {
	t.Helper()
	rv := reflect.ValueOf(v)
	out := map[string]any{}
	for _, f := range Of(rv.Type()) {
		fv, ok := f.Value(rv)
		if !ok || f.Omit(fv) {
			continue
		}
		if f.Hidden {
			t.Fatalf("field %s is hidden", f.Name)
		}
		val := fv.Interface()
		if f.Quoted {
			b, _ := json.Marshal(val)
			val = string(b)
		}
		out[f.Name] = val
	}
	b, err := json.Marshal(out)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	return m
}

func TestOfMatchesEncodingJSON(t *testing.T) {
	n := 3
	for _, v := range []Outer{
		{},
		{Inner: Inner{ID: 1, Label: "inner", Deep: "d"}, Other: Other{Deep: "o", Own: 2}, Label: "outer", Name: "n",
			Count: 4, Quoted: 5, QStr: "q", When: time.Unix(1, 0).UTC(), Skip: "s", Dash: "dash", Ptr: &n,
			Map: map[string]string{"k": "v"}, private: 9, BadName: "b"},
	} {
		want := map[string]any{}
		b, _ := json.Marshal(v)
		if err := json.Unmarshal(b, &want); err != nil {
			t.Fatal(err)
		}
		if got := encoded(t, v); !reflect.DeepEqual(got, want) {
			t.Errorf("fields encode to\n%v\nencoding/json gives\n%v", got, want)
		}
	}
}

func TestHidden(t *testing.T) {
	for _, f := range Of(reflect.TypeFor[Outer]()) {
		if f.Name == "secret" && !f.Hidden {
			t.Error("a field promoted through an unexported embedded struct is not marked Hidden")
		}
	}
	if Of(reflect.TypeFor[int]()) != nil {
		t.Error("Of(int) is not nil")
	}
}
