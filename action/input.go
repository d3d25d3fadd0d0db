package action

import "github.com/stellarfw/stellar-go/input"

// The input types, from package input, so that an action needs one import.
type (
	// Input declares one parameter of an action; see input.Input.
	Input = input.Input
	// Params holds an action's parameters by name; see input.Params.
	Params = input.Params
	// Format converts a raw parameter value; see input.Format.
	Format = input.Format
	// DefaultFunc computes an input's default for each call.
	DefaultFunc = input.DefaultFunc
	// ValidatorFunc is a custom check of one input.
	ValidatorFunc = input.ValidatorFunc
)

// Built-in formats, as Stellar's format strings "string", "integer",
// "float" and "boolean"; see package input.
var (
	String  = input.String
	Integer = input.Integer
	Float   = input.Float
	Boolean = input.Boolean
)

// Param returns the parameter name as a T, and whether it was present with
// that type; see input.Param.
func Param[T any](p Params, name string) (T, bool) { return input.Param[T](p, name) }
