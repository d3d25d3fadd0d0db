package config

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strconv"
	"strings"

	"github.com/BurntSushi/toml"
	"go.yaml.in/yaml/v3"
)

// fileNames are the config files Load looks for when none is named.
var fileNames = []string{"stellar.toml", "stellar.yaml", "stellar.yml", "stellar.json"}

// Source says where Load finds each layer of the configuration.
type Source struct {
	// Base is the configuration the program starts from, such as the one
	// passed to stellar.New. Every other layer overrides it.
	Base Config
	// File is the config file to read (--config PATH). Its extension says
	// its format: .toml, .yaml, .yml or .json. A relative path is taken
	// from Dir. When empty, STELLAR_CONFIG names the file; when that is
	// unset too, Load reads whichever of stellar.toml, stellar.yaml,
	// stellar.yml and stellar.json is in Dir: none is fine, more than one
	// is an error.
	File string
	// Dir is the directory searched for a config file. Default ".".
	Dir string
	// Env is the environment, in the form of os.Environ; when a variable
	// appears twice the later wins, as in exec.Cmd. Nil means os.Environ().
	Env []string
	// Flags maps config keys (such as "http.addr") to the text of the
	// flags the user set, in the syntax of environment variables.
	Flags map[string]string
}

// Loaded is the result of Load.
type Loaded struct {
	// Config is the effective configuration, with defaults filled in and
	// validated.
	Config Config
	// File is the config file that was read, or "" if none was.
	File string
	// Origins maps each leaf key set by the file, the environment or a
	// flag to where its value came from: the file name, the variable, or
	// "command line". Keys left at their base or default value are absent.
	Origins map[string]string
	// Warnings lists STELLAR_* environment variables that name no key
	// (likely typos), for the program to log. Load ignores them.
	Warnings []string
}

// Load builds the configuration from src: Base, then the config file, then
// STELLAR_* environment variables, then flags, each overriding the keys it
// sets; then Defaults and Validate. Errors name the file, variable or flag
// and the key.
// ErrManyFiles means the working directory holds more than one config
// file, so which to read would be a guess.
var ErrManyFiles = errors.New("more than one config file")

func Load(src Source) (Loaded, error) {
	env := src.Env
	if env == nil {
		env = os.Environ()
	}
	vars := environ(env)
	l := Loaded{Config: src.Base, Origins: map[string]string{}}
	cfg := reflect.ValueOf(&l.Config).Elem()

	name := src.File
	if name == "" {
		name = vars["STELLAR_CONFIG"]
	}
	path, err := findFile(src.Dir, name)
	if err != nil {
		return Loaded{}, err
	}
	if path != "" {
		data, err := os.ReadFile(path)
		if err != nil {
			return Loaded{}, fmt.Errorf("config: %w", err)
		}
		if err := applyFile(cfg, path, data, l.Origins); err != nil {
			return Loaded{}, err
		}
		l.File = path
	}

	known := map[string]bool{}
	for _, f := range leaves() {
		known[f.env] = true
		val := vars[f.env]
		if val == "" {
			continue
		}
		m := mapper{source: f.env, origins: l.Origins}
		if err := m.text(cfg.FieldByIndex(f.index), val, f.key); err != nil {
			return Loaded{}, err
		}
	}
	l.Warnings = envWarnings(vars, known)

	for _, key := range slices.Sorted(maps.Keys(src.Flags)) {
		m := mapper{source: sourceFlags, origins: l.Origins}
		f, ok := leaf(key)
		if !ok {
			hint := ""
			if best := closest(key, leafKeys()); best != "" {
				hint = fmt.Sprintf(" (did you mean %q?)", best)
			}
			return Loaded{}, &Error{Source: sourceFlags, Key: key, Err: &unknownKeyError{hint: hint}}
		}
		if err := m.text(cfg.FieldByIndex(f.index), src.Flags[key], key); err != nil {
			return Loaded{}, err
		}
	}

	// In a file, the environment or a flag an explicit tasks.workers = 0
	// means "no workers", as operators expect; in Go code, where a zero
	// field means the default, that is -1.
	if _, set := l.Origins["tasks.workers"]; set && l.Config.Tasks.Workers == 0 {
		l.Config.Tasks.Workers = -1
	}
	// An explicit supervisor.workers = 0 (--workers 0) would mean "one
	// per CPU" by the rule of Go code, while tasks.workers = 0 means
	// none: refused, so that 0 never means two things.
	if src, set := l.Origins["supervisor.workers"]; set && l.Config.Supervisor.Workers == 0 {
		return Loaded{}, &Error{Source: src, Key: "supervisor.workers", Err: errors.New("must be at least 1, got 0; leave it unset for one worker per CPU")}
	}
	Defaults(&l.Config)
	if err := l.Config.Validate(); err != nil {
		var e *Error
		if errors.As(err, &e) && e.Source == "" {
			key := e.Key
			if i := strings.IndexByte(key, '['); i >= 0 {
				key = key[:i]
			}
			e.Source = l.Origins[key]
		}
		return Loaded{}, err
	}
	return l, nil
}

func leafKeys() []string {
	var keys []string
	for _, f := range leaves() {
		keys = append(keys, f.key)
	}
	return keys
}

// environ turns an os.Environ list into a map; later entries win.
func environ(env []string) map[string]string {
	vars := make(map[string]string, len(env))
	for _, kv := range env {
		if k, v, ok := strings.Cut(kv, "="); ok && k != "" {
			vars[k] = v
		}
	}
	return vars
}

// envWarnings lists the STELLAR_* variables that are not keys.
func envWarnings(vars map[string]string, known map[string]bool) []string {
	envs := slices.Collect(maps.Keys(known))
	var warnings []string
	for _, name := range slices.Sorted(maps.Keys(vars)) {
		if !strings.HasPrefix(name, "STELLAR_") || known[name] ||
			name == "STELLAR_CONFIG" || strings.HasPrefix(name, "STELLAR_TEST_") ||
			strings.HasPrefix(name, "STELLAR_WORKER_") { // set by startCluster for its workers
			continue
		}
		w := fmt.Sprintf("environment variable %s is not a config key; ignored", name)
		if best := closest(name, envs); best != "" {
			w += fmt.Sprintf(" (did you mean %s?)", best)
		}
		warnings = append(warnings, w)
	}
	return warnings
}

// findFile returns the path of the config file to read, or "" for none.
func findFile(dir, name string) (string, error) {
	if dir == "" {
		dir = "."
	}
	if name != "" {
		if !filepath.IsAbs(name) {
			name = filepath.Join(dir, name)
		}
		if format(name) == "" {
			return "", fmt.Errorf("config: %s: unknown file format; the name must end in .toml, .yaml, .yml or .json", name)
		}
		return name, nil
	}
	var found []string
	for _, n := range fileNames {
		p := filepath.Join(dir, n)
		info, err := os.Stat(p)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return "", fmt.Errorf("config: %w", err)
		}
		if !info.IsDir() {
			found = append(found, p)
		}
	}
	switch len(found) {
	case 0:
		return "", nil
	case 1:
		return found[0], nil
	}
	return "", fmt.Errorf("config: found %s and %s: keep one, or name the one to read (STELLAR_CONFIG): %w",
		strings.Join(found[:len(found)-1], ", "), found[len(found)-1], ErrManyFiles)
}

// format returns "toml", "yaml" or "json" from the extension of name, or
// "" if it has none of them.
func format(name string) string {
	switch strings.ToLower(filepath.Ext(name)) {
	case ".toml":
		return "toml"
	case ".yaml", ".yml":
		return "yaml"
	case ".json":
		return "json"
	}
	return ""
}

// applyFile decodes data, the contents of the file name, and sets the keys
// it holds on cfg (a settable Config).
func applyFile(cfg reflect.Value, name string, data []byte, origins map[string]string) error {
	tree, err := decodeFile(name, data)
	if err != nil {
		return err
	}
	m := mapper{source: name, origins: origins}
	return m.table(cfg, tree, "")
}

// decodeFile decodes a TOML, YAML or JSON file, chosen by the extension of
// name, into a tree of map[string]any, []any and scalars.
func decodeFile(name string, data []byte) (map[string]any, error) {
	var (
		tree any
		err  error
	)
	switch format(name) {
	case "toml":
		tree, err = decodeTOML(data)
	case "yaml":
		tree, err = decodeYAML(data)
	case "json":
		tree, err = decodeJSON(data)
	default:
		return nil, fmt.Errorf("config: %s: unknown file format; the name must end in .toml, .yaml, .yml or .json", name)
	}
	if err != nil {
		return nil, fmt.Errorf("config: %s: %w", name, err)
	}
	switch t := tree.(type) {
	case nil:
		return nil, nil
	case map[string]any:
		return t, nil
	}
	return nil, fmt.Errorf("config: %s: the top level must be a table of keys, got %s", name, describe(tree))
}

func decodeTOML(data []byte) (any, error) {
	var tree map[string]any
	if _, err := toml.Decode(string(data), &tree); err != nil {
		var pe toml.ParseError
		if errors.As(err, &pe) {
			return nil, fmt.Errorf("line %d: %s", pe.Position.Line, firstLine(pe.Message))
		}
		return nil, errors.New(strings.TrimPrefix(firstLine(err.Error()), "toml: "))
	}
	return tree, nil
}

func decodeYAML(data []byte) (any, error) {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var tree any
	if err := dec.Decode(&tree); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, nil
		}
		return nil, yamlError(err)
	}
	var extra any
	switch err := dec.Decode(&extra); {
	case errors.Is(err, io.EOF):
	case err != nil:
		return nil, yamlError(err)
	default:
		return nil, errors.New("more than one YAML document; a config file holds one")
	}
	return normalizeYAML(tree), nil
}

func yamlError(err error) error {
	var te *yaml.TypeError
	if errors.As(err, &te) && len(te.Errors) > 0 {
		return errors.New(te.Errors[0]) // such as `line 2: mapping key "id" already defined at line 1`
	}
	return errors.New(strings.TrimPrefix(firstLine(err.Error()), "yaml: "))
}

// normalizeYAML turns the map[any]any that YAML gives for mappings with
// keys that are not strings into map[string]any, so that the mapper
// reports such keys as unknown.
func normalizeYAML(v any) any {
	switch t := v.(type) {
	case map[string]any:
		for k, e := range t {
			t[k] = normalizeYAML(e)
		}
		return t
	case map[any]any:
		m := make(map[string]any, len(t))
		for k, e := range t {
			m[fmt.Sprint(k)] = normalizeYAML(e)
		}
		return m
	case []any:
		for i, e := range t {
			t[i] = normalizeYAML(e)
		}
		return t
	}
	return v
}

// maxJSONDepth bounds nesting in JSON input; Config is four levels deep.
const maxJSONDepth = 64

// decodeJSON decodes JSON into map[string]any, []any and scalars, with
// integers as int64 and other numbers as float64 like the TOML and YAML
// decoders. Unlike encoding/json it rejects duplicate keys, as TOML and
// YAML do. Empty input decodes to nil.
func decodeJSON(data []byte) (any, error) {
	if len(bytes.TrimSpace(data)) == 0 {
		return nil, nil
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	v, err := jsonValue(dec, 0)
	if err == nil {
		if _, err = dec.Token(); err == nil {
			err = errors.New("unexpected data after the top-level value")
		} else if errors.Is(err, io.EOF) {
			return v, nil
		}
	}
	return nil, jsonError(data, dec, err)
}

func jsonValue(dec *json.Decoder, depth int) (any, error) {
	tok, err := dec.Token()
	if err != nil {
		return nil, err
	}
	switch t := tok.(type) {
	case json.Delim:
		if depth >= maxJSONDepth {
			return nil, errors.New("nested too deeply")
		}
		if t == '{' {
			m := map[string]any{}
			for dec.More() {
				kt, err := dec.Token()
				if err != nil {
					return nil, err
				}
				k, ok := kt.(string)
				if !ok {
					return nil, errors.New("expected a key")
				}
				if _, dup := m[k]; dup {
					return nil, fmt.Errorf("key %q appears twice", k)
				}
				if m[k], err = jsonValue(dec, depth+1); err != nil {
					return nil, err
				}
			}
			_, err := dec.Token() // '}'
			return m, err
		}
		l := []any{}
		for dec.More() {
			v, err := jsonValue(dec, depth+1)
			if err != nil {
				return nil, err
			}
			l = append(l, v)
		}
		_, err := dec.Token() // ']'
		return l, err
	case json.Number:
		s := string(t)
		if !strings.ContainsAny(s, ".eE") {
			if n, err := strconv.ParseInt(s, 10, 64); err == nil {
				return n, nil
			}
		}
		f, err := strconv.ParseFloat(s, 64)
		if err != nil && !errors.Is(err, strconv.ErrRange) {
			return nil, err
		}
		return f, nil
	}
	return tok, nil // string, bool or nil
}

// jsonError adds the line to a JSON error, like the TOML and YAML
// decoders do.
func jsonError(data []byte, dec *json.Decoder, err error) error {
	offset := dec.InputOffset()
	var se *json.SyntaxError
	if errors.As(err, &se) {
		offset = se.Offset
	}
	if errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) {
		err = errors.New("unexpected end of file")
	}
	offset = min(max(offset, 0), int64(len(data)))
	line := 1 + bytes.Count(data[:offset], []byte("\n"))
	return fmt.Errorf("line %d: %s", line, strings.TrimPrefix(err.Error(), "json: "))
}

func firstLine(s string) string {
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		return s[:i]
	}
	return s
}
