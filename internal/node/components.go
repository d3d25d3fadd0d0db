// This file maps the sections of the node's configuration (package
// config, the file's schema) onto the configurations of the components,
// which know nothing of that schema. The config's defaults are the
// components' own, so a mapped field is either the user's value or the
// component's default.
package node

import (
	"log/slog"

	"github.com/stellarfw/stellar-go/backend"
	"github.com/stellarfw/stellar-go/cluster"
	"github.com/stellarfw/stellar-go/config"
	"github.com/stellarfw/stellar-go/internal/tlsconf"
	"github.com/stellarfw/stellar-go/task"
	httpt "github.com/stellarfw/stellar-go/transport/http"
	"github.com/stellarfw/stellar-go/transport/tcp"
	"github.com/stellarfw/stellar-go/transport/ws"
)

// HTTPConfig is the http transport's configuration: the http section,
// routes included. An Addr of "off" is the caller's to act on.
func HTTPConfig(c config.Config) httpt.Config {
	h := c.HTTP
	var routes []httpt.Route
	for _, r := range h.Routes {
		routes = append(routes, httpt.Route{Method: r.Method, Path: r.Path, Action: r.Action, Version: r.APIVersion})
	}
	var cache []httpt.CacheRule
	for _, r := range h.CacheControl {
		cache = append(cache, httpt.CacheRule{Prefix: r.Prefix, Value: r.Value})
	}
	redirect := h.RedirectAddr
	if redirect == "off" {
		redirect = ""
	}
	return httpt.Config{
		Addr:                     h.Addr,
		ReadTimeout:              h.ReadTimeout,
		ReadHeaderTimeout:        h.ReadHeaderTimeout,
		WriteTimeout:             h.WriteTimeout,
		IdleTimeout:              h.IdleTimeout,
		MaxHeaderBytes:           h.MaxHeaderBytes,
		MaxBodyBytes:             h.MaxBodyBytes,
		MaxBodyBytesInFlight:     h.MaxBodyBytesInFlight,
		ActionPath:               h.ActionPath,
		RootEndpointType:         h.RootEndpointType,
		PublicDir:                h.PublicDir,
		DirectoryFile:            h.DirectoryFile,
		OpenAPIPath:              h.OpenAPIPath,
		HideServerInformation:    h.HideServerInformation,
		HideRequesterInformation: h.HideRequesterInformation,
		CORS: httpt.CORS{
			AllowOrigins:     h.CORS.AllowOrigins,
			AllowMethods:     h.CORS.AllowMethods,
			AllowHeaders:     h.CORS.AllowHeaders,
			AllowCredentials: h.CORS.AllowCredentials,
			MaxAge:           h.CORS.MaxAge,
		},
		Routes:         routes,
		TrustedProxies: h.TrustedProxies,
		Fingerprint: httpt.Fingerprint{
			Cookie:         h.Fingerprint.Cookie,
			MaxAge:         h.Fingerprint.MaxAge,
			Secure:         h.Fingerprint.Secure,
			SameSite:       h.Fingerprint.SameSite,
			ScriptReadable: h.Fingerprint.ScriptReadable,
		},
		Headers: h.Headers,
		TLS: tlsconf.Settings{CertFile: h.TLSCert, KeyFile: h.TLSKey, MinVersion: h.TLSMinVersion,
			CipherSuites: h.TLSCipherSuites},
		H2C:              h.H2C,
		RedirectAddr:     redirect,
		CompressMinBytes: h.CompressMinBytes,
		FilesPath:        h.FilesPath,
		CacheControl:     cache,
	}
}

// OpenAPI is the OpenAPI 3.1 document, in JSON, of actions and routes as
// the HTTP server configured by c serves them (stellar docs).
func OpenAPI(c config.Config, actions httpt.Actions, routes *httpt.Routes) ([]byte, error) {
	return httpt.OpenAPI(httpt.Options{
		Config:     HTTPConfig(c),
		ServerName: c.General.ServerName,
		APIVersion: c.General.APIVersion,
		Actions:    actions,
		Routes:     routes,
	})
}

// TCPConfig is the tcp transport's configuration: the tcp section. An
// Addr of "off" is the caller's to act on.
func TCPConfig(c config.Config) tcp.Config {
	t := c.TCP
	return tcp.Config{
		Addr:                t.Addr,
		TLSCert:             t.TLSCert,
		TLSKey:              t.TLSKey,
		TLSMinVersion:       t.TLSMinVersion,
		TLSCipherSuites:     t.TLSCipherSuites,
		MaxLineBytes:        t.MaxLineBytes,
		MaxInFlight:         t.MaxInFlight,
		IdleTimeout:         t.IdleTimeout,
		MaxConnections:      t.MaxConnections,
		MaxConnectionsPerIP: t.MaxConnectionsPerIP,
		MaxParams:           t.MaxParams,
		MaxParamsBytes:      t.MaxParamsBytes,
		MaxQueuedMessages:   t.MaxQueuedMessages,
		MaxQueuedBytes:      t.MaxQueuedBytes,
	}
}

// WebSocketConfig is the ws transport's configuration: the websocket
// section. A Path of "off" is the caller's to act on.
func WebSocketConfig(c config.Config) ws.Config {
	w := c.WebSocket
	return ws.Config{
		Path:                w.Path,
		AllowedOrigins:      w.AllowedOrigins,
		MaxFrameBytes:       w.MaxFrameBytes,
		MaxInFlight:         w.MaxInFlight,
		PingInterval:        w.PingInterval,
		MaxConnections:      w.MaxConnections,
		MaxConnectionsPerIP: w.MaxConnectionsPerIP,
		MaxParams:           w.MaxParams,
		MaxParamsBytes:      w.MaxParamsBytes,
		MaxQueuedMessages:   w.MaxQueuedMessages,
		MaxQueuedBytes:      w.MaxQueuedBytes,
		FingerprintCookie:   fingerprintCookie(c.HTTP.Fingerprint.Cookie),
	}
}

// fingerprintCookie is the cookie the WebSocket endpoint reads the
// fingerprint from: the HTTP one, unless that is off.
func fingerprintCookie(name string) string {
	if name == "off" {
		return ""
	}
	return name
}

// BackendConfig chooses the backend: Redis when the redis section names
// one, the embedded memory backend otherwise.
func BackendConfig(c config.Config) backend.Config {
	if !c.Redis.Enabled() {
		return backend.Config{}
	}
	r := RedisConfig(c)
	return backend.Config{Redis: &r}
}

// RedisConfig is the Redis backend's configuration: the redis section.
func RedisConfig(c config.Config) backend.RedisConfig {
	r := c.Redis
	return backend.RedisConfig{
		URL:            r.URL,
		SentinelMaster: r.SentinelMaster,
		SentinelAddrs:  r.SentinelAddrs,
		ClusterAddrs:   r.ClusterAddrs,
		Password:       r.Password,
		Prefix:         r.Prefix,
		ClientCache:    r.ClientCache,
		ReplicaWait:    r.ReplicaWait,
	}
}

// TaskConfig is the task Manager's configuration: the tasks section.
// tasks.workers -1 (or 0 from a file, the environment or a flag) runs no
// workers. Events is the caller's to set.
func TaskConfig(c config.Config, logger *slog.Logger) task.Config {
	t := c.Tasks
	return task.Config{
		NodeID:       c.ID,
		Concurrency:  max(t.Workers, 0),
		Queues:       t.Queues,
		Lease:        t.Lease,
		PollInterval: t.PollInterval,
		DrainTimeout: t.DrainTimeout,
		Partitions:   t.Partitions,
		Logger:       logger,
	}
}

// ClusterConfig is the cluster's configuration: the cluster section, the
// node's id and version, and the transports it serves, signing with
// token (which may differ from cluster.token: a node alone in memory
// makes one up). Stats, OwnsConnection and Events are the caller's to
// set.
func ClusterConfig(c config.Config, token string, logger *slog.Logger) cluster.Config {
	var transports []string
	if c.HTTP.Addr != "off" {
		transports = append(transports, "http")
	}
	if c.TCP.Addr != "off" {
		transports = append(transports, "tcp")
	}
	return cluster.Config{
		ID:                c.ID,
		Token:             token,
		Insecure:          c.Cluster.Insecure,
		Version:           c.General.APIVersion,
		Transports:        transports,
		HeartbeatInterval: c.Cluster.HeartbeatInterval,
		NodeTTL:           c.Cluster.NodeTTL,
		RPCTimeout:        c.Cluster.RPCTimeout,
		MessageWindow:     c.Cluster.MessageWindow,
		MaxMessageBytes:   c.Cluster.MaxMessageBytes,
		Logger:            logger,
	}
}
