// Package openapi builds the OpenAPI 3.1 document of a node's HTTP API
// from its actions and routes: Stellar's generated documentation
// (general.generateDocumentation), in a form that tools read.
//
// Every action that a web client may call is documented: not Private, not
// blocking connection.TypeWeb, not Undocumented (Stellar's toDocument:
// false). Each gets GET and POST operations on {ActionPath}/{name}, and
// each route of the route table one operation per method, with its path
// parameters. Query parameters (GET, DELETE) and request bodies (POST,
// PUT, PATCH; JSON, urlencoded and multipart forms) come from the inputs:
// types from the built-in formats or a typed action's field types,
// required, defaults, and the validator rules that JSON Schema states
// simply (sizes as minimum, maxLength or maxItems, in as enum, regex as
// pattern, email, url, ip and date as formats); every rule is also quoted
// in the description. The 200 response has the schema of a typed action's
// output (named struct types become components) and the OutputExample as
// its example. Errors share one schema, the framework's error envelope
// {"error": {"code", "message", "fields"}}, and one response per status
// the framework answers.
//
// An action with several versions is documented at its newest: the
// apiVersion parameter lists every documented version, and the
// description summarises the older ones. A route pinned to a version
// documents that version.
//
// transport/http serves the document at http.openapi_path, and the
// command line prints it (stellar docs).
package openapi

import (
	"fmt"
	"net/http"
	"sort"
	"strings"
	"time"
	"unicode"

	"github.com/stellarfw/stellar-go/action"
	"github.com/stellarfw/stellar-go/apierror"
	"github.com/stellarfw/stellar-go/connection"
	"github.com/stellarfw/stellar-go/input"
)

// Version is the version of the OpenAPI specification the documents
// follow.
const Version = "3.1.0"

// Spec is what a document describes.
type Spec struct {
	// Title is the API's name (general.server_name). Default "Stellar
	// API".
	Title string
	// Version is the API's version (general.api_version). Default
	// "0.0.1".
	Version string
	// Description is a text for the whole API.
	Description string
	// ActionPath is where actions and routes are served (http.action_path,
	// "/api"); "" or "off" serves them at the root, as
	// http.root_endpoint_type "api" does.
	ActionPath string
	// Actions are the registered actions, every version; Build documents
	// those a web client may call.
	Actions []*action.Action
	// Routes is the route table, in the order routes are tried.
	Routes []Route
	// HideServerInformation and HideRequesterInformation leave those keys
	// out of the responses, as the http keys of the same names do.
	HideServerInformation, HideRequesterInformation bool
	// ActionTimeout is the registry's default timeout
	// (general.action_timeout): when set, every action may answer 504.
	ActionTimeout time.Duration
}

// Route is one route of the route table, as transport/http.Route.
type Route struct {
	// Method is get, post, put, patch, delete or all.
	Method string
	// Path is a pattern such as "/users/:id".
	Path string
	// Action is the action it runs, at Version (0: the newest).
	Action  string
	Version int
}

// Build builds the document of s. It fails for a route whose method is
// not one of those Routes.Add accepts.
func Build(s Spec) (*Document, error) {
	if s.Title == "" {
		s.Title = "Stellar API"
	}
	if s.Version == "" {
		s.Version = "0.0.1"
	}
	base := strings.TrimSuffix(s.ActionPath, "/")
	if base == "off" {
		base = ""
	}
	b := &builder{
		spec: s, base: base, schemas: newSchemas(),
		doc: &Document{
			OpenAPI: Version,
			Info:    Info{Title: s.Title, Version: s.Version, Description: s.Description},
			Paths:   map[string]*PathItem{},
		},
		byName: map[string][]*action.Action{},
		opIDs:  map[string]bool{},
		tags:   map[string]bool{},
		shapes: map[string]string{},
		needs:  map[string]bool{},
	}
	for _, a := range s.Actions {
		if a != nil {
			b.byName[a.Name] = append(b.byName[a.Name], a)
		}
	}
	names := make([]string, 0, len(b.byName))
	for name, versions := range b.byName {
		sort.Slice(versions, func(i, j int) bool { return version(versions[i]) < version(versions[j]) })
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		docs := b.documented(name, 0)
		if len(docs) == 0 {
			continue
		}
		path := base + "/" + name
		for _, m := range []string{http.MethodGet, http.MethodPost} {
			b.add(path, m, b.operation(m, docs, nil))
		}
	}
	for _, r := range s.Routes {
		if err := b.route(r); err != nil {
			return nil, err
		}
	}
	b.components()
	return b.doc, nil
}

type builder struct {
	spec    Spec
	base    string
	doc     *Document
	schemas *schemas
	byName  map[string][]*action.Action // every version, oldest first
	opIDs   map[string]bool
	tags    map[string]bool
	shapes  map[string]string // path with its parameters blanked → path
	needs   map[string]bool   // shared responses used
}

func version(a *action.Action) int {
	if a.Version == 0 {
		return 1
	}
	return a.Version
}

// documentable reports whether a web client may call a.
func documentable(a *action.Action) bool {
	if a.Private || a.Undocumented {
		return false
	}
	for _, t := range a.BlockedConnectionTypes {
		if t == connection.TypeWeb {
			return false
		}
	}
	return true
}

// documented returns the documented versions of name, oldest first: all
// of them, or only v when it is pinned.
func (b *builder) documented(name string, v int) []*action.Action {
	var out []*action.Action
	for _, a := range b.byName[name] {
		if documentable(a) && (v == 0 || version(a) == v) {
			out = append(out, a)
		}
	}
	return out
}

// route adds the operations of one route of the table.
func (b *builder) route(r Route) error {
	var methods []string
	m := strings.ToLower(strings.TrimSpace(r.Method))
	switch m {
	case "get", "post", "put", "patch", "delete":
		methods = []string{strings.ToUpper(m)}
	case "all":
		methods = []string{http.MethodGet, http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete}
	default:
		return fmt.Errorf("openapi: route %s %s: method must be get, post, put, patch, delete or all", r.Method, r.Path)
	}
	segs := strings.Split(strings.Trim(r.Path, "/"), "/")
	if len(segs) == 1 && b.byName[segs[0]] != nil {
		return nil // the action of that name answers the path first
	}
	var params []string
	notes := map[string]string{} // what a constraint or a wildcard adds to a parameter
	shape := make([]string, len(segs))
	for i, s := range segs {
		shape[i] = s
		switch {
		case strings.HasPrefix(s, ":"):
			name, re, constrained := strings.Cut(s[1:], "(")
			params = append(params, name)
			segs[i] = "{" + name + "}"
			shape[i] = "{}"
			if constrained {
				re = strings.TrimSuffix(re, ")")
				notes[name] = "route parameter, matching the regular expression " + re + " whole"
			}
		case strings.HasPrefix(s, "*"):
			name := s[1:]
			params = append(params, name)
			segs[i] = "{" + name + "}"
			shape[i] = "{}"
			notes[name] = "route parameter: the rest of the path, slashes included"
		}
	}
	path := b.base + "/" + strings.Join(segs, "/")
	if path == b.base+"/" && b.base != "" {
		path = b.base
	}
	// OpenAPI refuses two paths that differ only in their parameters'
	// names: the first route of such a shape is documented.
	key := strings.Join(shape, "/")
	if other, ok := b.shapes[key]; ok && other != path {
		return nil
	}
	b.shapes[key] = path
	docs := b.documented(r.Action, r.Version)
	if len(docs) == 0 {
		return nil
	}
	for _, m := range methods {
		op := b.operation(m, docs, params)
		for _, p := range op.Parameters {
			if note, ok := notes[p.Name]; ok && p.In == "path" {
				p.Description = note
			}
		}
		b.add(path, m, op)
	}
	if m != "all" {
		for _, m := range methods {
			if op := *b.item(path).operation(m); op != nil && op.Responses["405"] == nil {
				op.Responses["405"] = b.shared("MethodNotAllowed")
			}
		}
	}
	return nil
}

// item returns the path item of path, created if need be.
func (b *builder) item(path string) *PathItem {
	p := b.doc.Paths[path]
	if p == nil {
		p = &PathItem{}
		b.doc.Paths[path] = p
	}
	return p
}

// add sets the operation of method on path, unless an earlier route or
// action has it: the first one is what the server runs.
func (b *builder) add(path, method string, op *Operation) {
	slot := b.item(path).operation(method)
	if *slot != nil {
		return
	}
	*slot = op
}

// operation documents a call of the newest of docs (the documented
// versions of one action, oldest first) with method; pathParams are the
// route's parameters.
func (b *builder) operation(method string, docs []*action.Action, pathParams []string) *Operation {
	a := docs[len(docs)-1]
	all := b.byName[a.Name]
	op := &Operation{
		OperationID: b.opID(method, a.Name, pathParams),
		Summary:     summary(a),
		Description: b.description(a, docs),
		Action:      a.Name,
		Version:     version(a),
		Responses:   map[string]*Response{},
	}
	if tag := namespace(a.Name); tag != "" {
		op.Tags = []string{tag}
		b.tags[tag] = true
	}
	fields := typedFields(a)
	inPath := map[string]bool{}
	for _, p := range pathParams {
		inPath[p] = true
		s := &Schema{Type: "string"}
		if in, ok := a.Inputs[p]; ok {
			s, _ = inputSchema(in, fields[p])
		}
		op.Parameters = append(op.Parameters, &Parameter{Name: p, In: "path", Required: true, Schema: s,
			Description: "route parameter"})
	}
	// Several versions: apiVersion chooses, unless a route pins one.
	var versionParam *Parameter
	if len(docs) > 1 {
		enum := make([]any, len(docs))
		for i, d := range docs {
			enum[i] = version(d)
		}
		versionParam = &Parameter{Name: action.ParamAPIVersion, In: "query",
			Description: "the version of the action to run; without it, the newest",
			Schema:      &Schema{Type: "integer", Enum: enum}}
		if newest := all[len(all)-1]; newest == a {
			versionParam.Schema.Default = version(a)
		} else {
			versionParam.Required = true // the newest is not callable
		}
	}
	body := method == http.MethodPost || method == http.MethodPut || method == http.MethodPatch
	names := sortedInputs(a.Inputs)
	if body {
		obj := &Schema{Type: "object", Properties: map[string]*Schema{}}
		required := false
		for _, name := range names {
			if inPath[name] {
				continue
			}
			s, req := inputSchema(a.Inputs[name], fields[name])
			obj.Properties[name] = s
			if req {
				obj.Required = append(obj.Required, name)
				required = true
			}
		}
		if versionParam != nil {
			obj.Properties[versionParam.Name] = versionParam.Schema
			if versionParam.Required {
				obj.Required = append(obj.Required, versionParam.Name)
				required = true
			}
		}
		if a.Inputs == nil {
			obj.Properties = nil
			obj.Description = "the action takes any parameter"
		}
		op.RequestBody = &RequestBody{Required: required, Content: map[string]*MediaType{
			"application/json":                  {Schema: obj},
			"application/x-www-form-urlencoded": {Schema: obj},
			"multipart/form-data":               {Schema: obj},
		}}
	} else {
		for _, name := range names {
			if inPath[name] {
				continue
			}
			s, req := inputSchema(a.Inputs[name], fields[name])
			desc := s.Description
			s.Description = ""
			op.Parameters = append(op.Parameters, &Parameter{Name: name, In: "query", Required: req, Schema: s, Description: desc})
		}
		if versionParam != nil {
			op.Parameters = append(op.Parameters, versionParam)
		}
	}
	op.Responses["200"] = b.success(a)
	if body {
		op.Responses["400"] = b.shared("MalformedRequest")
		op.Responses["413"] = b.shared("BodyTooLarge")
	}
	if versionParam != nil {
		op.Responses["404"] = b.shared("ActionNotFound")
	}
	op.Responses["422"] = b.shared("ValidationFailed")
	op.Responses["500"] = b.shared("ActionFailed")
	op.Responses["503"] = b.shared("Unavailable")
	if a.Timeout > 0 || (a.Timeout == 0 && b.spec.ActionTimeout > 0) {
		op.Responses["504"] = b.shared("Timeout")
	}
	return op
}

// typedFields returns the fields of a typed action's In by parameter.
func typedFields(a *action.Action) map[string]*input.Field {
	t := a.InputType()
	if t == nil {
		return nil
	}
	st, err := input.StructOf(t)
	if err != nil {
		return nil
	}
	out := map[string]*input.Field{}
	for _, f := range st.Fields() {
		out[f.Param] = &f
	}
	return out
}

func sortedInputs(inputs map[string]action.Input) []string {
	names := make([]string, 0, len(inputs))
	for n := range inputs {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// success is the 200 response of a: its output's schema, the
// information the transport adds, and its OutputExample.
func (b *builder) success(a *action.Action) *Response {
	var parts []*Schema
	if t := a.OutputType(); t != nil {
		parts = append(parts, b.schemas.of(t))
	} else {
		parts = append(parts, &Schema{Type: "object", Description: "the action's response"})
	}
	if info := b.information(); info != nil {
		parts = append(parts, info)
	}
	s := parts[0]
	if len(parts) > 1 {
		s = &Schema{AllOf: parts}
	}
	return &Response{
		Description: "the action's response",
		Content:     map[string]*MediaType{"application/json": {Schema: s, Example: a.OutputExample}},
	}
}

// information is the schema of the keys the transport adds to every
// response, nil when both are hidden.
func (b *builder) information() *Schema {
	if b.spec.HideServerInformation && b.spec.HideRequesterInformation {
		return nil
	}
	return &Schema{Ref: ref("schemas", "ResponseInformation")}
}

// shared refers to one of the shared error responses.
func (b *builder) shared(name string) *Response {
	b.needs[name] = true
	return &Response{Ref: ref("responses", name)}
}

// opID returns a unique operationId: method and action, and the route's
// parameters for a route.
func (b *builder) opID(method, name string, pathParams []string) string {
	id := strings.ToLower(method) + camel(name)
	if pathParams != nil {
		id += "By" + camel(strings.Join(pathParams, "_"))
	}
	unique := id
	for i := 2; b.opIDs[unique]; i++ {
		unique = fmt.Sprintf("%s%d", id, i)
	}
	b.opIDs[unique] = true
	return unique
}

// camel joins the words of s, each capitalised: "auth.login" → AuthLogin.
func camel(s string) string {
	var sb strings.Builder
	up := true
	for _, r := range s {
		if !unicode.IsLetter(r) && !unicode.IsDigit(r) {
			up = true
			continue
		}
		if up {
			r = unicode.ToUpper(r)
			up = false
		}
		sb.WriteRune(r)
	}
	return sb.String()
}

// namespace is the part of an action name before its first "." or ":".
func namespace(name string) string {
	if i := strings.IndexAny(name, ".:"); i > 0 {
		return name[:i]
	}
	return ""
}

// summary is the first line of the action's description, else its name.
func summary(a *action.Action) string {
	s, _, _ := strings.Cut(strings.TrimSpace(a.Description), "\n")
	if s == "" {
		return a.Name
	}
	return s
}

// description is the action's description, and a summary of the other
// documented versions.
func (b *builder) description(a *action.Action, docs []*action.Action) string {
	d := strings.TrimSpace(a.Description)
	if !strings.Contains(d, "\n") {
		d = "" // the summary says it all
	}
	if len(docs) < 2 {
		return d
	}
	var sb strings.Builder
	sb.WriteString(d)
	if d != "" {
		sb.WriteString("\n\n")
	}
	fmt.Fprintf(&sb, "This describes version %d. Choose another with apiVersion:", version(a))
	for _, v := range docs[:len(docs)-1] {
		fmt.Fprintf(&sb, "\n\n- **Version %d**", version(v))
		if vd := strings.TrimSpace(v.Description); vd != "" {
			sb.WriteString(": " + vd)
		}
		if v.Inputs != nil {
			var ins []string
			for _, name := range sortedInputs(v.Inputs) {
				in := v.Inputs[name]
				w := "`" + name + "`"
				if in.Validator != "" {
					w += " (`" + in.Validator + "`)"
				} else if in.Required {
					w += " (required)"
				}
				ins = append(ins, w)
			}
			if len(ins) == 0 {
				sb.WriteString(". Inputs: none")
			} else {
				sb.WriteString(". Inputs: " + strings.Join(ins, ", "))
			}
		}
	}
	return sb.String()
}

// errorResponses are the shared error responses, by component name.
var errorResponses = map[string]struct {
	status int
	codes  []string
	desc   string
}{
	"MalformedRequest": {http.StatusBadRequest, []string{apierror.CodeMalformedRequest}, "the body cannot be parsed (bad JSON, bad form, bad Content-Type)"},
	"ActionNotFound":   {http.StatusNotFound, []string{apierror.CodeActionNotFound}, "no such version of the action"},
	"MethodNotAllowed": {http.StatusMethodNotAllowed, []string{apierror.CodeMethodNotAllowed}, "the route exists for other methods"},
	"BodyTooLarge":     {http.StatusRequestEntityTooLarge, []string{apierror.CodeBodyTooLarge}, "the body exceeds http.max_body_bytes"},
	"ValidationFailed": {http.StatusUnprocessableEntity, []string{apierror.CodeValidationFailed}, "inputs missing or invalid; fields says which"},
	"ActionFailed":     {http.StatusInternalServerError, []string{apierror.CodeActionFailed, apierror.CodeInternal}, "the action or a middleware failed"},
	"Unavailable":      {http.StatusServiceUnavailable, []string{apierror.CodeDraining, apierror.CodeUnavailable}, "the node is shutting down, or a backend the action needs is unreachable"},
	"Timeout":          {http.StatusGatewayTimeout, []string{apierror.CodeTimeout}, "the action ran past its timeout"},
}

// components adds the shared schemas and the error responses used.
func (b *builder) components() {
	c := &b.doc.Components
	c.Schemas = b.schemas.defs
	errorProps := map[string]*Schema{
		"error": {
			Type:     "object",
			Required: []string{"code", "message"},
			Properties: map[string]*Schema{
				"code":    {Type: "string", Description: "a stable code for programs: action_not_found, validation_failed, …"},
				"message": {Type: "string", Description: "what went wrong, for a person"},
				"fields": {Type: "object", AdditionalProperties: &Schema{Type: "string"},
					Description: "for validation_failed: the message of each bad input, by name"},
			},
		},
	}
	info := map[string]*Schema{}
	if !b.spec.HideServerInformation {
		info["serverInformation"] = &Schema{Ref: ref("schemas", "ServerInformation")}
		c.Schemas["ServerInformation"] = &Schema{
			Type:     "object",
			Required: []string{"serverName", "apiVersion", "requestDuration", "currentTime"},
			Properties: map[string]*Schema{
				"serverName":      {Type: "string"},
				"apiVersion":      {Type: "string"},
				"requestDuration": {Type: "integer", Description: "milliseconds"},
				"currentTime":     {Type: "integer", Description: "Unix time in milliseconds"},
			},
		}
	}
	if !b.spec.HideRequesterInformation {
		info["requesterInformation"] = &Schema{Ref: ref("schemas", "RequesterInformation")}
		c.Schemas["RequesterInformation"] = &Schema{
			Type:     "object",
			Required: []string{"id", "fingerprint", "remoteIP", "receivedParams"},
			Properties: map[string]*Schema{
				"id":             {Type: "string"},
				"fingerprint":    {Type: "string"},
				"remoteIP":       {Type: "string"},
				"receivedParams": {Type: "object", Description: "the parameters as the client sent them"},
			},
		}
	}
	if len(info) > 0 {
		c.Schemas["ResponseInformation"] = &Schema{Type: "object", Properties: info,
			Description: "what the server adds to every response (http.hide_server_information, http.hide_requester_information)"}
		for k, v := range info {
			errorProps[k] = v
		}
	}
	c.Schemas["Error"] = &Schema{Type: "object", Required: []string{"error"}, Properties: errorProps,
		Description: "the body of every error"}
	c.Responses = map[string]*Response{}
	for name := range b.needs {
		e := errorResponses[name]
		example := map[string]any{"code": e.codes[0], "message": http.StatusText(e.status)}
		if e.codes[0] == apierror.CodeValidationFailed {
			example = map[string]any{"code": e.codes[0], "message": "invalid parameter: name is required",
				"fields": map[string]string{"name": "is required"}}
		}
		c.Responses[name] = &Response{
			Description: fmt.Sprintf("%s (%s)", e.desc, strings.Join(e.codes, ", ")),
			Content: map[string]*MediaType{"application/json": {
				Schema:  &Schema{Ref: ref("schemas", "Error")},
				Example: map[string]any{"error": example},
			}},
		}
	}
	tags := make([]string, 0, len(b.tags))
	for t := range b.tags {
		tags = append(tags, t)
	}
	sort.Strings(tags)
	for _, t := range tags {
		b.doc.Tags = append(b.doc.Tags, Tag{Name: t})
	}
}
