package node

import (
	"reflect"
	"slices"
	"testing"
	"time"

	redisb "github.com/stellarfw/stellar-go/backend/redis"
	"github.com/stellarfw/stellar-go/cluster"
	"github.com/stellarfw/stellar-go/config"
	"github.com/stellarfw/stellar-go/internal/logging"
	"github.com/stellarfw/stellar-go/internal/tlsconf"
	httpt "github.com/stellarfw/stellar-go/transport/http"
	"github.com/stellarfw/stellar-go/transport/tcp"
	"github.com/stellarfw/stellar-go/transport/ws"
)

// fill sets every field of the struct v points to, recursively, to a
// value that is not zero.
func fill(v reflect.Value) {
	switch v.Kind() {
	case reflect.Struct:
		for i := range v.NumField() {
			if v.Type().Field(i).IsExported() {
				fill(v.Field(i))
			}
		}
	case reflect.String:
		v.SetString("x")
	case reflect.Bool:
		v.SetBool(true)
	case reflect.Int, reflect.Int64:
		v.SetInt(7)
	case reflect.Slice:
		s := reflect.MakeSlice(v.Type(), 1, 1)
		fill(s.Index(0))
		v.Set(s)
	case reflect.Map:
		m := reflect.MakeMap(v.Type())
		k, e := reflect.New(v.Type().Key()).Elem(), reflect.New(v.Type().Elem()).Elem()
		fill(k)
		fill(e)
		m.SetMapIndex(k, e)
		v.Set(m)
	}
}

// zeroFields names the exported fields of struct v that are zero,
// recursively, except those in skip.
func zeroFields(v reflect.Value, prefix string, skip []string) []string {
	var out []string
	for i := range v.NumField() {
		f := v.Type().Field(i)
		name := prefix + f.Name
		if !f.IsExported() || slices.Contains(skip, name) {
			continue
		}
		switch fv := v.Field(i); {
		case fv.Kind() == reflect.Struct:
			out = append(out, zeroFields(fv, name+".", skip)...)
		case fv.Kind() == reflect.Slice && fv.Len() > 0 && fv.Index(0).Kind() == reflect.Struct:
			out = append(out, zeroFields(fv.Index(0), name+"[0].", skip)...)
		case fv.IsZero():
			out = append(out, name)
		}
	}
	return out
}

// TestEveryFieldMapped: with every key of the config set, every field of
// the component configs that the config file can set is set too, so
// that a key added to one side and not mapped fails here.
func TestEveryFieldMapped(t *testing.T) {
	var c config.Config
	fill(reflect.ValueOf(&c).Elem())
	for _, tc := range []struct {
		name string
		got  any
		skip []string // fields the config file does not set
	}{
		{"http", HTTPConfig(c), nil},
		{"tcp", TCPConfig(c), nil},
		{"websocket", WebSocketConfig(c), nil},
		{"redis", RedisConfig(c), []string{"TLSConfig", "DialTimeout", "IOTimeout", "ReconnectBackoff", "Now"}},
		{"cluster", ClusterConfig(c, "token", logging.Discard()), []string{"OwnsConnection", "Stats", "Events", "Now", "ReplayMemory", "TracerProvider"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if zero := zeroFields(reflect.ValueOf(tc.got), "", tc.skip); len(zero) > 0 {
				t.Errorf("not mapped: %v in %+v", zero, tc.got)
			}
		})
	}
}

// TestMappedDefaults: the config's defaults, mapped, are the components'
// own.
func TestMappedDefaults(t *testing.T) {
	var c config.Config
	config.Defaults(&c)

	h := HTTPConfig(c)
	if h.Addr != httpt.DefaultAddr || h.ReadTimeout != httpt.DefaultReadTimeout || h.MaxBodyBytes != httpt.DefaultMaxBodyBytes ||
		h.MaxBodyBytesInFlight != httpt.DefaultMaxBodyBytesInFlight || h.ActionPath != httpt.DefaultActionPath || h.RootEndpointType != httpt.RootFile || h.PublicDir != httpt.DefaultPublicDir {
		t.Errorf("http = %+v", h)
	}
	if tc := TCPConfig(c); !reflect.DeepEqual(tc, tcp.Config{Addr: tcp.DefaultAddr, TLSMinVersion: tlsconf.DefaultMinVersion, MaxLineBytes: tcp.DefaultMaxLineBytes,
		MaxInFlight: tcp.DefaultMaxInFlight, IdleTimeout: tcp.DefaultIdleTimeout,
		MaxConnections: tcp.DefaultMaxConnections, MaxConnectionsPerIP: tcp.DefaultMaxConnectionsPerIP,
		MaxParams: tcp.DefaultMaxParams, MaxParamsBytes: tcp.DefaultMaxParamsBytes,
		MaxQueuedMessages: tcp.DefaultMaxQueuedMessages, MaxQueuedBytes: tcp.DefaultMaxQueuedBytes}) {
		t.Errorf("tcp = %+v", tc)
	}
	if w := WebSocketConfig(c); !reflect.DeepEqual(w, ws.Config{Path: ws.DefaultPath, MaxFrameBytes: ws.DefaultMaxFrameBytes,
		MaxInFlight: ws.DefaultMaxInFlight, PingInterval: ws.DefaultPingInterval,
		MaxConnections: ws.DefaultMaxConnections, MaxConnectionsPerIP: ws.DefaultMaxConnectionsPerIP,
		MaxParams: ws.DefaultMaxParams, MaxParamsBytes: ws.DefaultMaxParamsBytes,
		MaxQueuedMessages: ws.DefaultMaxQueuedMessages, MaxQueuedBytes: ws.DefaultMaxQueuedBytes,
		FingerprintCookie: httpt.DefaultFingerprintCookie}) {
		t.Errorf("websocket = %+v", w)
	}
	if r := RedisConfig(c); r.Prefix != redisb.DefaultPrefix {
		t.Errorf("redis prefix = %q", r.Prefix)
	}
	cl := ClusterConfig(c, "t", nil)
	if cl.HeartbeatInterval != cluster.DefaultHeartbeatInterval || cl.NodeTTL != cluster.DefaultNodeTTL ||
		cl.RPCTimeout != cluster.DefaultRPCTimeout || cl.MessageWindow != cluster.DefaultMessageWindow ||
		cl.MaxMessageBytes != cluster.DefaultMaxMessageBytes {
		t.Errorf("cluster = %+v", cl)
	}
	if cluster.DefaultNodeTTL != 5*time.Second {
		t.Errorf("DefaultNodeTTL = %s, want the documented 5s", cluster.DefaultNodeTTL)
	}
}

// TestClusterTransports: the membership record lists the transports the
// node serves.
func TestClusterTransports(t *testing.T) {
	var c config.Config
	config.Defaults(&c)
	if got := ClusterConfig(c, "t", nil).Transports; !slices.Equal(got, []string{"http", "tcp"}) {
		t.Errorf("transports = %v", got)
	}
	c.TCP.Addr = "off"
	if got := ClusterConfig(c, "t", nil).Transports; !slices.Equal(got, []string{"http"}) {
		t.Errorf("tcp off: transports = %v", got)
	}
}
