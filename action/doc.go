// Package action defines actions, the units of work a node runs for its
// clients: their inputs (validated by package input), versions, middleware,
// and the registry that runs them for every transport.
//
// An action is the Go counterpart of a Stellar action object:
//
//	&action.Action{
//		Name:        "randomNumber",
//		Description: "Generate a random number",
//		Run: func(ctx context.Context, r *action.Request) error {
//			r.Response["number"] = rand.Float64()
//			return nil
//		},
//	}
//
// # Inputs
//
// Action.Inputs declares the parameters an action accepts: Input, with its
// Default, Format, Validator rules and Validators. Package input implements
// them and documents every rule; this package aliases its types (Input,
// Params, Format, String, Integer, …) so that an action needs no second
// import. Register compiles each action's inputs and fails on a bad rule,
// naming the action, the input and the rule. Every failing input of a call
// is reported at once, in one validation_failed (422) error whose Fields
// map each bad input to its message.
//
// # Typed actions
//
// Typed declares an action with Go types for its input and output: the
// inputs are derived from the fields of In and their tags (see package
// input, "Typed inputs"), checked as Inputs are, and bound into an In;
// the Out the function returns is merged into Request.Response, field by
// JSON field.
//
//	type SumIn struct {
//		A float64 `validate:"required"`
//		B float64 `default:"1"`
//	}
//	type SumOut struct {
//		Sum float64 `json:"sum"`
//	}
//
//	action.Typed("sum", func(ctx context.Context, r *action.Request, in SumIn) (SumOut, error) {
//		return SumOut{Sum: in.A + in.B}, nil
//	})
//
// CallAs calls an action internally and returns its output typed; it
// takes the In itself as params.
//
// # Versions, privacy and middleware
//
// Several versions of one action can be registered; a call gets the
// newest unless it sends apiVersion. Private actions answer only to
// Registry.Call; protected ones cannot be replaced by a later Register.
// Middleware runs in priority order, lowest first, as in Stellar: Pre
// hooks before input processing (so that they may refuse a call or add
// params before the inputs are checked), then the inputs, the action, and
// Post hooks, also lowest priority first. Wrap nests around all of it;
// Middleware.AfterInputs moves a middleware after input processing. See
// Middleware for the whole order.
//
// # Errors
//
// Every error Run and Call return is an *apierror.Error with a stable
// code: action_not_found (404), private_action and connection_blocked
// (403), validation_failed (422), timeout (504), or an error of the
// action's own (apierror.New). An unexpected failure — a plain error from
// an action or a middleware, or a panic — reaches a client as
// internal_error (500) with a generic message and a request id, and its
// details are logged once, at ERROR, under that id; Call returns it as
// action_failed (500) with its message, for the code that called. A call
// whose caller went away (a client that disconnected) fails with
// client_closed (499) and is logged at debug.
package action
