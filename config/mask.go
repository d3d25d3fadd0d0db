package config

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/url"
	"reflect"
	"strings"
	"time"

	"github.com/BurntSushi/toml"
	"go.yaml.in/yaml/v3"
)

// Mask replaces secret values in Masked.
const Mask = "********"

// Masked returns c as nested maps keyed by config keys, ready to print:
// durations are strings such as "30s", lists of tables are lists of maps,
// secret values are replaced by Mask (when set) and the password in a
// Redis URL is masked: redis://:********@host:6379/0.
func (c Config) Masked() map[string]any {
	return maskedTable(reflect.ValueOf(c))
}

// MarshalMasked encodes c.Masked() as "json" (indented), "toml" or "yaml",
// in a form Load reads back (secrets aside).
func (c Config) MarshalMasked(format string) ([]byte, error) {
	m := c.Masked()
	switch format {
	case "json":
		return json.MarshalIndent(m, "", "  ")
	case "toml":
		var b bytes.Buffer
		enc := toml.NewEncoder(&b)
		enc.Indent = ""
		if err := enc.Encode(m); err != nil {
			return nil, fmt.Errorf("config: %w", err)
		}
		return b.Bytes(), nil
	case "yaml":
		return yaml.Marshal(m)
	}
	return nil, fmt.Errorf("config: unknown format %q; want json, toml or yaml", format)
}

func maskedTable(v reflect.Value) map[string]any {
	t := v.Type()
	out := make(map[string]any, t.NumField())
	for i := range t.NumField() {
		sf := t.Field(i)
		key, ok := sf.Tag.Lookup("key")
		if !ok || !sf.IsExported() {
			continue
		}
		out[key] = maskedValue(v.Field(i), sf.Tag.Get("secret"))
	}
	return out
}

func maskedValue(v reflect.Value, secret string) any {
	t := v.Type()
	switch {
	case t == durationType:
		return formatDuration(time.Duration(v.Int()))
	case t.Kind() == reflect.Struct:
		return maskedTable(v)
	case t.Kind() == reflect.Slice && t.Elem().Kind() == reflect.Struct:
		list := make([]map[string]any, v.Len())
		for i := range list {
			list[i] = maskedTable(v.Index(i))
		}
		return list
	case t.Kind() == reflect.Map:
		out := map[string]string{} // never nil: prints {} rather than null
		for it := v.MapRange(); it.Next(); {
			out[it.Key().String()] = it.Value().String()
		}
		return out
	case t.Kind() == reflect.Slice:
		list := make([]string, v.Len()) // never nil: prints [] rather than null
		for i := range list {
			list[i] = v.Index(i).String()
		}
		if secret == "true" {
			for i := range list {
				list[i] = Mask
			}
		}
		return list
	case t.Kind() == reflect.String:
		s := v.String()
		switch {
		case s == "":
		case secret == "true":
			s = Mask
		case secret == "password":
			s = maskURL(s)
		}
		return s
	}
	return v.Interface()
}

// maskURL masks the password in a URL, both in its user information and
// in a password query parameter. A value that does not parse as a URL
// is masked whole, since it may hold a password anywhere.
func maskURL(s string) string {
	u, err := url.Parse(s)
	if err != nil {
		return Mask
	}
	changed := false
	if u.RawQuery != "" {
		parts := strings.Split(u.RawQuery, "&")
		for i, p := range parts {
			if k, _, _ := strings.Cut(p, "="); k == "password" {
				parts[i] = "password=" + Mask
				changed = true
			}
		}
		u.RawQuery = strings.Join(parts, "&") // String writes RawQuery as is
	}
	const placeholder = "stellarmaskedpassword"
	if _, ok := u.User.Password(); ok {
		// url.UserPassword would escape the asterisks; put a placeholder
		// that needs no escaping and replace it afterwards.
		u.User = url.UserPassword(u.User.Username(), placeholder)
		changed = true
	}
	if !changed {
		return s
	}
	return strings.Replace(u.String(), ":"+placeholder+"@", ":"+Mask+"@", 1)
}

// formatDuration is d.String() without trailing zero units: "2m" rather
// than "2m0s".
func formatDuration(d time.Duration) string {
	s := d.String()
	if strings.HasSuffix(s, "m0s") {
		s = strings.TrimSuffix(s, "0s")
	}
	if strings.HasSuffix(s, "h0m") {
		s = strings.TrimSuffix(s, "0m")
	}
	return s
}
