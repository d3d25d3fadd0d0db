package config

import (
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

func TestMasked(t *testing.T) {
	c := Config{
		ID:        "n1",
		HTTP:      HTTP{Addr: ":80", IdleTimeout: 2 * time.Minute, Routes: []Route{{"get", "/a", "a", 1}}},
		Redis:     Redis{URL: "redis://alice:hunter2@10.0.0.1:6379/0", Password: "sentinel-pw", Prefix: "p:"},
		Cluster:   Cluster{Token: "cluster-token"},
		Dashboard: Dashboard{Token: "dashboard-token-0123"},
	}
	m := c.Masked()
	out, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	for _, secret := range []string{"hunter2", "sentinel-pw", "cluster-token", "dashboard-token-0123"} {
		if strings.Contains(string(out), secret) {
			t.Errorf("masked output shows %q: %s", secret, out)
		}
	}
	redis := m["redis"].(map[string]any)
	for _, tc := range []struct {
		name string
		got  any
		want any
	}{
		{"token", m["cluster"].(map[string]any)["token"], Mask},
		{"dashboard token", m["dashboard"].(map[string]any)["token"], Mask},
		{"password", redis["password"], Mask},
		{"url password", redis["url"], "redis://alice:" + Mask + "@10.0.0.1:6379/0"},
		{"prefix kept", redis["prefix"], "p:"},
		{"id kept", m["id"], "n1"},
		{"addr kept", m["http"].(map[string]any)["addr"], ":80"},
		{"duration as text", m["http"].(map[string]any)["idle_timeout"], "2m"},
		{"zero duration", m["shutdown_timeout"], "0s"},
		{"empty list", redis["sentinel_addrs"], []string{}},
		{"routes", m["http"].(map[string]any)["routes"], []map[string]any{
			{"method": "get", "path": "/a", "action": "a", "api_version": 1},
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if !reflect.DeepEqual(tc.got, tc.want) {
				t.Errorf("got %#v, want %#v", tc.got, tc.want)
			}
		})
	}
	if c.Redis.Password != "sentinel-pw" {
		t.Error("Masked changed the config")
	}
}

func TestMaskedEmptySecretsStayEmpty(t *testing.T) {
	m := Config{}.Masked()
	if got := m["cluster"].(map[string]any)["token"]; got != "" {
		t.Errorf("empty token masked as %q; an unset secret should show as unset", got)
	}
	if got := m["redis"].(map[string]any)["url"]; got != "" {
		t.Errorf("empty url = %q", got)
	}
}

func TestMaskURL(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"redis://:pw@host:6379/0", "redis://:********@host:6379/0"},
		{"rediss://user:p%40ss@host:6380", "rediss://user:********@host:6380"},
		{"redis://host:6379/0", "redis://host:6379/0"},
		{"redis://user@host:6379", "redis://user@host:6379"},
		{"unix:///run/redis.sock?db=1&password=pw", "unix:///run/redis.sock?db=1&password=********"},
		{"redis://:pw@h:x", Mask}, // does not parse: hide it all
	} {
		t.Run(tc.in, func(t *testing.T) {
			if got := maskURL(tc.in); got != tc.want {
				t.Errorf("maskURL(%q) = %q, want %q", tc.in, got, tc.want)
			}
		})
	}
}

// TestMarshalMaskedRoundTrip prints a config without secrets in each
// format and loads it back: what `stellar config` prints is a valid file.
func TestMarshalMaskedRoundTrip(t *testing.T) {
	want := testdataConfig()
	want.Redis.URL = "redis://127.0.0.1:6379/1"
	want.Cluster.Token = ""
	for _, format := range []string{"toml", "yaml", "json"} {
		t.Run(format, func(t *testing.T) {
			data, err := want.MarshalMasked(format)
			if err != nil {
				t.Fatal(err)
			}
			dir := t.TempDir()
			if err := os.WriteFile(filepath.Join(dir, "stellar."+format), data, 0o600); err != nil {
				t.Fatal(err)
			}
			l := load(t, Source{Dir: dir})
			if !reflect.DeepEqual(l.Config, want) {
				t.Errorf("round trip differs:\n got %+v\nwant %+v\nfile:\n%s", l.Config, want, data)
			}
		})
	}
	if _, err := want.MarshalMasked("xml"); err == nil {
		t.Error("MarshalMasked(xml) succeeded")
	}
}
