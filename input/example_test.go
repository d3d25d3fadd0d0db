package input_test

import (
	"context"
	"errors"
	"fmt"

	"github.com/stellarfw/stellar-go/apierror"
	"github.com/stellarfw/stellar-go/input"
)

func Example() {
	set, err := input.Compile(map[string]input.Input{
		"email": {Required: true, Validator: "email|max:254"},
		"age":   {Format: input.Integer, Validator: "min:18"},
		"lang":  {Default: "en", Validator: "in:en,fr,de"},
	})
	if err != nil {
		fmt.Println(err)
		return
	}

	p, err := set.Process(context.Background(), map[string]any{"email": "ann@example.com", "age": "21"})
	age, _ := input.Param[int64](p, "age")
	fmt.Println(p.String("email"), age, p.String("lang"), err)

	_, err = set.Process(context.Background(), map[string]any{"email": "ann", "age": "9", "lang": "it"})
	var ae *apierror.Error
	if errors.As(err, &ae) {
		fmt.Println(ae.Code, ae.HTTPStatus())
		fmt.Println(ae.Message)
	}
	// Output:
	// ann@example.com 21 en <nil>
	// validation_failed 422
	// invalid parameters: age must be at least 18; email must be a valid email address; lang must be one of: en, fr, de
}

func ExampleCompile() {
	_, err := input.Compile(map[string]input.Input{"name": {Validator: "required|alpha|max:ten"}})
	fmt.Println(err)
	// Output:
	// input "name": validator rule "max": argument "ten" is not a number
}
