package http

import (
	"time"

	"github.com/stellarfw/stellar-go/internal/tlsconf"
)

// Defaults of Config.
const (
	DefaultAddr              = ":8080"
	DefaultReadTimeout       = 30 * time.Second
	DefaultReadHeaderTimeout = 10 * time.Second
	DefaultWriteTimeout      = 60 * time.Second
	DefaultIdleTimeout       = 120 * time.Second
	DefaultMaxHeaderBytes    = 64 << 10
	DefaultMaxBodyBytes      = 8 << 20
	// DefaultMaxBodyBytesInFlight is four bodies of DefaultMaxBodyBytes.
	DefaultMaxBodyBytesInFlight = 4 * DefaultMaxBodyBytes
	DefaultActionPath           = "/api"
	DefaultRootEndpointType     = RootFile
	DefaultPublicDir            = "public"
	DefaultDirectoryFile        = "index.html"
	// DefaultOpenAPIPath serves no OpenAPI document.
	DefaultOpenAPIPath = "off"
	// DefaultCORSMaxAge is the default CORS.MaxAge when CORS.AllowOrigins
	// is set.
	DefaultCORSMaxAge = 10 * time.Minute
	// DefaultFingerprintCookie is the default Fingerprint.Cookie,
	// Stellar's fingerprintOptions.cookieKey.
	DefaultFingerprintCookie = "sessionID"
	// DefaultFingerprintMaxAge is the default Fingerprint.MaxAge, as
	// Stellar's fingerprintOptions.settings.expires.
	DefaultFingerprintMaxAge = time.Hour
	// DefaultFingerprintSecure is the default Fingerprint.Secure.
	DefaultFingerprintSecure = SecureAuto
	// DefaultFingerprintSameSite is the default Fingerprint.SameSite.
	DefaultFingerprintSameSite = "lax"
)

// Values of Fingerprint.Secure.
const (
	// SecureAuto marks the cookie Secure when the request came over
	// HTTPS: TLS on the node's listener, or X-Forwarded-Proto: https from
	// a trusted proxy.
	SecureAuto = "auto"
	// SecureAlways always marks the cookie Secure.
	SecureAlways = "always"
	// SecureNever never marks it Secure.
	SecureNever = "never"
	// DefaultCompressMinBytes is the default Config.CompressMinBytes.
	DefaultCompressMinBytes = 1024
	// DefaultFilesPath is the default Config.FilesPath.
	DefaultFilesPath = "/public"
)

// Values of Config.RootEndpointType.
const (
	// RootFile serves static files at "/".
	RootFile = "file"
	// RootAPI serves actions and routes at "/".
	RootAPI = "api"
)

// DefaultCORSAllowMethods returns the default CORS.AllowMethods when
// CORS.AllowOrigins is set: GET, POST, PUT, PATCH, DELETE, OPTIONS.
func DefaultCORSAllowMethods() []string {
	return []string{"GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"}
}

// DefaultCORSAllowHeaders returns the default CORS.AllowHeaders when
// CORS.AllowOrigins is set: Content-Type, Authorization.
func DefaultCORSAllowHeaders() []string {
	return []string{"Content-Type", "Authorization"}
}

// Config configures a Server. A zero field means its default; New fills
// them in.
type Config struct {
	// Addr is the listen address. Default ":8080" (DefaultAddr).
	Addr string
	// ReadTimeout bounds reading a whole request. Default 30s.
	ReadTimeout time.Duration
	// ReadHeaderTimeout bounds reading request headers. Default 10s.
	ReadHeaderTimeout time.Duration
	// WriteTimeout bounds writing a response. Default 60s.
	WriteTimeout time.Duration
	// IdleTimeout closes idle keep-alive connections. Default 120s.
	IdleTimeout time.Duration
	// MaxHeaderBytes limits request headers. Default 64 KiB.
	MaxHeaderBytes int
	// MaxBodyBytes limits request bodies; larger ones get 413. Default
	// 8 MiB.
	MaxBodyBytes int64
	// MaxBodyBytesInFlight limits the bytes of request bodies the node
	// reads at once, across all requests (a JSON body also counts 32
	// bytes for each value it holds, about what a value costs decoded):
	// a body declared larger than what is left gets 503 server_busy with
	// Retry-After at once, one whose reading runs past it gets the same,
	// and one that alone would take more than all of it gets 413
	// body_too_large. Default 32 MiB (four bodies of MaxBodyBytes); it is
	// raised to MaxBodyBytes if set lower.
	MaxBodyBytesInFlight int64
	// ActionPath is where actions are served, Stellar's urlPathForActions.
	// Default "/api". "off" serves no prefix (then RootEndpointType
	// should be RootAPI).
	ActionPath string
	// RootEndpointType says what "/" serves: RootFile (static files from
	// PublicDir or Options.Files) or RootAPI (actions and routes at the
	// root). Default RootFile.
	RootEndpointType string
	// PublicDir is the folder of static files, unless Options.Files is
	// set. Default "public".
	PublicDir string
	// DirectoryFile is served for a folder. Default "index.html".
	DirectoryFile string
	// OpenAPIPath is where the OpenAPI 3.1 document of the actions and
	// routes is served, such as "/openapi.json". Default "off": none.
	OpenAPIPath string
	// HideServerInformation leaves serverInformation out of responses.
	HideServerInformation bool
	// HideRequesterInformation leaves requesterInformation out of
	// responses.
	HideRequesterInformation bool
	// CORS sets cross-origin headers; empty AllowOrigins sends none.
	CORS CORS
	// Routes are tried after those of Options.Routes, in order. Listen
	// fails if one is malformed or can never match.
	Routes []Route
	// TrustedProxies lists the proxies (IP addresses or CIDR prefixes
	// such as "10.0.0.0/8") whose X-Forwarded-For and X-Forwarded-Proto
	// headers are believed: the client's address (remoteIP, logs) and
	// scheme are read from them only for a request whose peer is one.
	// Default none: the headers are ignored. Listen fails on a malformed
	// entry.
	TrustedProxies []string
	// Fingerprint configures the cookie that keeps a browser's
	// requesterInformation.fingerprint stable across requests.
	Fingerprint Fingerprint
	// Headers are set on every response of the listener (Stellar's
	// httpHeaders), before the handler runs, so that an action can
	// override them. Default none. Listen fails on a malformed name or
	// value.
	Headers map[string]string
	// TLS, when TLS.CertFile is set, serves HTTPS only, HTTP/2 offered
	// by ALPN; ReloadCertificate reads the files again. The WebSocket
	// endpoint on this listener is then wss.
	TLS tlsconf.Settings
	// H2C serves HTTP/2 without TLS (prior knowledge), for a proxy in
	// front that speaks it. Not with TLS.
	H2C bool
	// RedirectAddr, when set, is a second listener that answers every
	// request with 308 to the same URL over https on Addr's port. Needs
	// TLS.
	RedirectAddr string
	// CompressMinBytes is the smallest response that is compressed, with
	// zstd or gzip as the client's Accept-Encoding ranks them. Default 1024 (DefaultCompressMinBytes); -1
	// compresses nothing.
	CompressMinBytes int
	// FilesPath is where the public files are served besides "/" (when
	// RootEndpointType is RootFile), Stellar's urlPathForFiles. Default
	// "/public" (DefaultFilesPath); "off" for none.
	FilesPath string
	// CacheControl sets the Cache-Control of static files by URL path
	// prefix; the longest matching prefix wins. None: no header.
	CacheControl []CacheRule
}

// Fingerprint configures the fingerprint cookie, Stellar's
// fingerprintOptions. A request that carries the cookie has its value
// as requesterInformation.fingerprint; one that does not (or carries a
// malformed one) gets a new fingerprint and a Set-Cookie with it.
type Fingerprint struct {
	// Cookie is the cookie's name. Default "sessionID". "off" sets and
	// reads no cookie: the fingerprint is the request's id.
	Cookie string
	// MaxAge is the cookie's lifetime. Default 1h.
	MaxAge time.Duration
	// Secure is SecureAuto, SecureAlways or SecureNever. Default auto.
	// SameSite none forces Secure, as browsers require.
	Secure string
	// SameSite is lax, strict or none. Default lax.
	SameSite string
	// ScriptReadable leaves HttpOnly off, so that page scripts can read
	// the cookie. Default false: HttpOnly.
	ScriptReadable bool
}

// CacheRule is the Cache-Control of the static files under a prefix.
type CacheRule struct {
	// Prefix is a URL path prefix such as "/assets/"; "/" matches all.
	Prefix string
	// Value is the header, such as "public, max-age=31536000, immutable".
	Value string
}

// CORS configures cross-origin resource sharing headers.
type CORS struct {
	// AllowOrigins lists allowed origins; "*" allows any.
	AllowOrigins []string
	// AllowMethods default to DefaultCORSAllowMethods when AllowOrigins
	// is set.
	AllowMethods []string
	// AllowHeaders default to DefaultCORSAllowHeaders when AllowOrigins
	// is set.
	AllowHeaders []string
	// AllowCredentials sends Access-Control-Allow-Credentials: true.
	AllowCredentials bool
	// MaxAge is how long a preflight answer may be cached. Default 10m
	// when AllowOrigins is set.
	MaxAge time.Duration
}

// Route maps a method and a path pattern to an action, as Routes.Add
// takes them.
type Route struct {
	// Method is get, post, put, patch, delete or all, in any case.
	Method string
	// Path is a pattern such as "/users/:id": ":name", ":name(regexp)"
	// and a last "*name" segment become params (see Routes).
	Path string
	// Action is the action name to run.
	Action string
	// Version pins the action version; zero means the newest.
	Version int
}

func (c *Config) setDefaults() {
	setDefault(&c.Addr, DefaultAddr)
	setDefault(&c.ReadTimeout, DefaultReadTimeout)
	setDefault(&c.ReadHeaderTimeout, DefaultReadHeaderTimeout)
	setDefault(&c.WriteTimeout, DefaultWriteTimeout)
	setDefault(&c.IdleTimeout, DefaultIdleTimeout)
	setDefault(&c.MaxHeaderBytes, DefaultMaxHeaderBytes)
	setDefault(&c.MaxBodyBytes, DefaultMaxBodyBytes)
	setDefault(&c.MaxBodyBytesInFlight, DefaultMaxBodyBytesInFlight)
	c.MaxBodyBytesInFlight = max(c.MaxBodyBytesInFlight, c.MaxBodyBytes)
	setDefault(&c.ActionPath, DefaultActionPath)
	setDefault(&c.RootEndpointType, DefaultRootEndpointType)
	setDefault(&c.PublicDir, DefaultPublicDir)
	setDefault(&c.DirectoryFile, DefaultDirectoryFile)
	setDefault(&c.OpenAPIPath, DefaultOpenAPIPath)
	setDefault(&c.Fingerprint.Cookie, DefaultFingerprintCookie)
	setDefault(&c.Fingerprint.MaxAge, DefaultFingerprintMaxAge)
	setDefault(&c.Fingerprint.Secure, DefaultFingerprintSecure)
	setDefault(&c.Fingerprint.SameSite, DefaultFingerprintSameSite)
	setDefault(&c.CompressMinBytes, DefaultCompressMinBytes)
	setDefault(&c.FilesPath, DefaultFilesPath)
	if len(c.CORS.AllowOrigins) > 0 {
		if len(c.CORS.AllowMethods) == 0 {
			c.CORS.AllowMethods = DefaultCORSAllowMethods()
		}
		if len(c.CORS.AllowHeaders) == 0 {
			c.CORS.AllowHeaders = DefaultCORSAllowHeaders()
		}
		setDefault(&c.CORS.MaxAge, DefaultCORSMaxAge)
	}
}

func setDefault[T comparable](p *T, def T) {
	var zero T
	if *p == zero {
		*p = def
	}
}
