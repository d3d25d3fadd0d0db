package http

import (
	"encoding/json"
	"net/http"
	"time"

	"github.com/stellarfw/stellar-go/apierror"
	"github.com/stellarfw/stellar-go/openapi"
)

// OpenAPI returns the OpenAPI 3.1 document, in JSON, of the actions and
// routes that a server built from opts serves: opts.Routes, then
// Config.Routes, under Config.ActionPath (see package openapi). It is
// what the server answers at Config.OpenAPIPath, whether or not that is
// set. A malformed route of Config.Routes is an error.
func OpenAPI(opts Options) ([]byte, error) {
	opts.Config.setDefaults()
	cfgRoutes := &Routes{}
	for _, r := range opts.Config.Routes {
		if err := cfgRoutes.Add(r.Method, r.Path, r.Action, r.Version); err != nil {
			return nil, err
		}
	}
	return document(opts, opts.Config, cfgRoutes)
}

// document builds the OpenAPI document of opts with cfg, defaults filled
// in, and the parsed Config.Routes.
func document(opts Options, cfg Config, cfgRoutes *Routes) ([]byte, error) {
	spec := openapi.Spec{
		Title:                    opts.ServerName,
		Version:                  opts.APIVersion,
		HideServerInformation:    cfg.HideServerInformation,
		HideRequesterInformation: cfg.HideRequesterInformation,
	}
	switch {
	case cfg.ActionPath != "" && cfg.ActionPath != "off":
		spec.ActionPath = cfg.ActionPath
	case cfg.RootEndpointType == RootAPI:
		spec.ActionPath = ""
	default:
		return marshal(openapi.Build(spec)) // no path reaches the actions
	}
	if opts.Actions != nil {
		spec.Actions = opts.Actions.List()
		if t, ok := opts.Actions.(interface{ DefaultTimeout() time.Duration }); ok {
			spec.ActionTimeout = t.DefaultTimeout()
		}
	}
	for _, rt := range []*Routes{opts.Routes, cfgRoutes} {
		if rt == nil {
			continue
		}
		for _, r := range rt.List() {
			spec.Routes = append(spec.Routes, openapi.Route{Method: r.Method, Path: r.Path, Action: r.Action, Version: r.Version})
		}
	}
	return marshal(openapi.Build(spec))
}

func marshal(doc *openapi.Document, err error) ([]byte, error) {
	if err != nil {
		return nil, err
	}
	b, err := json.MarshalIndent(doc, "", "  ")
	if err != nil {
		return nil, err
	}
	return append(b, '\n'), nil
}

// serveOpenAPI answers Config.OpenAPIPath with the document, built for
// each request so that it shows actions registered since the start.
func (s *Server) serveOpenAPI(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		s.writeError(w, r, nil, time.Now(), apierror.Newf(apierror.CodeMethodNotAllowed, http.StatusMethodNotAllowed,
			"%s is not allowed on %s: use GET", r.Method, r.URL.Path))
		return
	}
	b, err := document(s.opts, s.cfg, s.cfgRoutes)
	if err != nil {
		s.logger.Error("OpenAPI document", "error", err.Error())
		s.writeError(w, r, nil, time.Now(), apierror.New(apierror.CodeInternal, http.StatusInternalServerError,
			"internal server error: the OpenAPI document could not be built"))
		return
	}
	writeRaw(w, http.StatusOK, b)
}
