package config

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// FuzzLoadFile feeds arbitrary bytes to the loader as a stellar.toml,
// stellar.yaml, stellar.yml or stellar.json (by kind): it must not panic,
// and its errors must name the file and fit on one line.
func FuzzLoadFile(f *testing.F) {
	for i, name := range fileNames {
		testdata := name
		if name == "stellar.yml" {
			testdata = "stellar.yaml"
		}
		data, err := os.ReadFile(filepath.Join("testdata", testdata))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data, uint8(i))
	}
	for _, tc := range fileErrorCases {
		f.Add([]byte(tc.toml), uint8(0))
		f.Add([]byte(tc.yaml), uint8(1))
		f.Add([]byte(tc.json), uint8(3))
	}
	f.Add([]byte("a: &a [*a, *a]\nb: *a\n"), uint8(1))
	f.Add([]byte("? [a, b]\n: c\n"), uint8(1))
	f.Add([]byte("{\"http\": {\"routes\": [{\"method\": \"get\"}, null]}}"), uint8(3))
	f.Add([]byte("[http]\nroutes = [{}, {path = 1}]\n"), uint8(0))

	f.Fuzz(func(t *testing.T, data []byte, kind uint8) {
		name := fileNames[int(kind)%len(fileNames)]
		var c Config
		err := applyFile(reflect.ValueOf(&c).Elem(), name, data, map[string]string{})
		if err != nil {
			msg := err.Error()
			if !strings.HasPrefix(msg, "config: "+name+": ") {
				t.Errorf("error %q does not name the file", msg)
			}
			if strings.Contains(msg, "\n") {
				t.Errorf("error %q has more than one line", msg)
			}
			return
		}
		Defaults(&c)
		if err := c.Validate(); err != nil && strings.Contains(err.Error(), "\n") {
			t.Errorf("Validate error %q has more than one line", err)
		}
		_ = c.Masked()
	})
}
