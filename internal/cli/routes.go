package cli

import (
	"errors"
	"fmt"
	"strings"

	"github.com/stellarfw/stellar-go/action"
	"github.com/stellarfw/stellar-go/config"
	httpt "github.com/stellarfw/stellar-go/transport/http"
)

// Actions is what CheckRoutes needs of the action registry;
// *action.Registry implements it.
type Actions interface {
	Lookup(name string, version int) (*action.Action, bool)
	List() []*action.Action
}

var _ Actions = (*action.Registry)(nil)

// CheckRoutes fails when a route of the configuration (http.routes) or
// one the program added (code) names no registered action, or a version
// the action does not have: such a route would answer every request
// with action_not_found. It also fails for a route that can never match
// because one tried before it takes all its requests
// (httpt.ErrRouteCollides). The error names each bad route.
func CheckRoutes(cfg config.Config, code *httpt.Routes, actions Actions) error {
	var errs []error
	check := func(where, method, path, name string, version int) {
		if _, ok := actions.Lookup(name, version); ok {
			return
		}
		route := fmt.Sprintf("%s (%s %s)", where, strings.ToUpper(method), path)
		if version != 0 {
			if _, ok := actions.Lookup(name, 0); ok {
				errs = append(errs, fmt.Errorf("%s names version %d of action %q, which has no such version", route, version, name))
				return
			}
		}
		errs = append(errs, fmt.Errorf("%s names action %q, which is not registered%s", route, name, known(actions, name)))
	}
	for i, r := range cfg.HTTP.Routes {
		check(fmt.Sprintf("route http.routes[%d]", i), r.Method, r.Path, r.Action, r.APIVersion)
	}
	if code != nil {
		for _, r := range code.List() {
			check("route added by the program", r.Method, r.Path, r.Action, r.Version)
		}
	}
	var cfgRoutes []httpt.Route
	for _, r := range cfg.HTTP.Routes {
		cfgRoutes = append(cfgRoutes, httpt.Route{Method: r.Method, Path: r.Path, Action: r.Action, Version: r.APIVersion})
	}
	if err := httpt.CheckRoutes(code, cfgRoutes); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// known suggests the registered action whose name is nearest to name.
func known(actions Actions, name string) string {
	best, bestD := "", len(name)/2+2
	for _, a := range actions.List() {
		if d := distance(strings.ToLower(a.Name), strings.ToLower(name)); d < bestD {
			best, bestD = a.Name, d
		}
	}
	if best == "" {
		return ""
	}
	return fmt.Sprintf(" (did you mean %q?)", best)
}

// distance is the Levenshtein distance between a and b.
func distance(a, b string) int {
	prev := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur := make([]int, len(b)+1)
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev = cur
	}
	return prev[len(b)]
}
