// Package openapitest checks documents against the OpenAPI 3.1 JSON
// Schemas of the specification, for the tests of package openapi and of
// the transports that serve its documents. The schemas are in oas-3.1,
// with where they come from.
package openapitest

import (
	"bytes"
	"embed"
	"encoding/json"
	"fmt"
	"path"
	"sync"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"go.yaml.in/yaml/v3"
)

// schemaBase validates a whole document, its Schema Objects included,
// against the OAS dialect of JSON Schema 2020-12.
const schemaBase = "https://spec.openapis.org/oas/3.1/schema-base/WORK-IN-PROGRESS"

//go:embed oas-3.1/*.yaml
var files embed.FS

var (
	once      sync.Once
	schema    *jsonschema.Schema
	schemaErr error
)

// compile compiles the specification's schemas once.
func compile() (*jsonschema.Schema, error) {
	once.Do(func() {
		c := jsonschema.NewCompiler()
		c.AssertFormat()
		entries, err := files.ReadDir("oas-3.1")
		if err != nil {
			schemaErr = err
			return
		}
		for _, e := range entries {
			doc, err := loadYAML(path.Join("oas-3.1", e.Name()))
			if err != nil {
				schemaErr = err
				return
			}
			m, _ := doc.(map[string]any)
			id, _ := m["$id"].(string)
			if err := c.AddResource(id, doc); err != nil {
				schemaErr = fmt.Errorf("%s: %w", e.Name(), err)
				return
			}
		}
		schema, schemaErr = c.Compile(schemaBase)
	})
	return schema, schemaErr
}

// loadYAML reads a YAML file as the JSON value it stands for.
func loadYAML(name string) (any, error) {
	b, err := files.ReadFile(name)
	if err != nil {
		return nil, err
	}
	var v any
	if err := yaml.Unmarshal(b, &v); err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	j, err := json.Marshal(v)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	return jsonschema.UnmarshalJSON(bytes.NewReader(j))
}

// Validate returns nil when doc is a valid OpenAPI 3.1 document in JSON,
// else what is wrong with it.
func Validate(doc []byte) error {
	s, err := compile()
	if err != nil {
		return fmt.Errorf("compiling the OpenAPI 3.1 schema: %w", err)
	}
	v, err := jsonschema.UnmarshalJSON(bytes.NewReader(doc))
	if err != nil {
		return err
	}
	return s.Validate(v)
}
