package action_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"

	"github.com/stellarfw/stellar-go/action"
	"github.com/stellarfw/stellar-go/apierror"
)

func Example() {
	reg := action.NewRegistry(slog.New(slog.DiscardHandler), "node-1")
	err := reg.Register(&action.Action{
		Name:        "giveAge",
		Description: "Give the name and age based on the year of birth",
		Inputs: map[string]action.Input{
			"name":      {Required: true, Validator: "alpha|max:40"},
			"birthYear": {Required: true, Format: action.Integer, Validator: "between:1900,2024"},
			"year":      {Default: int64(2024), Format: action.Integer},
		},
		Run: func(ctx context.Context, r *action.Request) error {
			age := r.Params.Int("year") - r.Params.Int("birthYear")
			r.Response["result"] = fmt.Sprintf("%s is aged %d years", r.Params.String("name"), age)
			return nil
		},
	})
	if err != nil {
		fmt.Println(err)
		return
	}

	resp, err := reg.Call(context.Background(), "giveAge", map[string]any{"name": "Ada", "birthYear": "1990"})
	fmt.Println(resp["result"], err)

	_, err = reg.Call(context.Background(), "giveAge", map[string]any{"name": "Ada 2", "birthYear": "1850"})
	var ae *apierror.Error
	if errors.As(err, &ae) {
		fmt.Println(ae.Code, ae.HTTPStatus())
		fmt.Println(ae.Message)
	}
	// Output:
	// Ada is aged 34 years <nil>
	// validation_failed 422
	// invalid parameters: birthYear must be between 1900 and 2024; name must contain only letters
}
