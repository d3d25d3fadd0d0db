package stellar

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/stellarfw/stellar-go/internal/openapitest"
)

type addIn struct {
	A float64 `validate:"required"`
	B float64 `default:"1"`
}

type addOut struct {
	Sum float64 `json:"sum"`
}

func add(_ context.Context, _ *Request, in addIn) (addOut, error) {
	return addOut{Sum: in.A + in.B}, nil
}

func ExampleTypedAction() {
	app := New(Config{})
	if err := app.Actions.Register(TypedAction("add", add)); err != nil {
		panic(err)
	}
	out, err := CallAs[addOut](context.Background(), app, "add", addIn{A: 2, B: 3})
	fmt.Println(out.Sum, err)
	_, err = CallAs[addOut](context.Background(), app, "add", map[string]any{"b": "x"})
	fmt.Println(err)
	// Output:
	// 5 <nil>
	// validation_failed: invalid parameters: a is required; b must be a number
}

// stellar docs prints the OpenAPI document under the configuration its
// flags select.
func TestDocsCommand(t *testing.T) {
	file := filepath.Join(t.TempDir(), "stellar.toml")
	conf := "[general]\nserver_name = \"Adder\"\n[http]\naction_path = \"/v1\"\n" +
		"[[http.routes]]\nmethod = \"get\"\npath = \"/add/:a/:b\"\naction = \"add\"\n"
	if err := os.WriteFile(file, []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	app := New(Config{})
	if err := app.Actions.Register(TypedAction("add", add)); err != nil {
		t.Fatal(err)
	}
	if err := app.Routes.Post("/sums", "add"); err != nil {
		t.Fatal(err)
	}
	var out, errOut bytes.Buffer
	if code := app.main([]string{"stellar", "docs", "--config", file}, &out, &errOut); code != ExitOK {
		t.Fatalf("docs: exit %d: %s", code, errOut.String())
	}
	if err := openapitest.Validate(out.Bytes()); err != nil {
		t.Fatalf("stellar docs printed an invalid document: %v", err)
	}
	var doc struct {
		Info  struct{ Title string }
		Paths map[string]map[string]any
	}
	if err := json.Unmarshal(out.Bytes(), &doc); err != nil {
		t.Fatal(err)
	}
	if doc.Info.Title != "Adder" {
		t.Errorf("title = %q", doc.Info.Title)
	}
	for _, p := range []string{"/v1/add", "/v1/status", "/v1/sums", "/v1/add/{a}/{b}"} {
		if doc.Paths[p] == nil {
			t.Errorf("no path %s", p)
		}
	}
}
