package event_test

import (
	"context"
	"errors"
	"fmt"

	"github.com/stellarfw/stellar-go/event"
)

// Comment is the payload of the application's own event.
type Comment struct {
	Author, Text string
	EmailSent    bool
}

// CommentPosted is Stellar's 'social.newComment', with a typed payload.
var CommentPosted = event.Define[Comment]("social.newComment")

func Example() {
	bus := event.NewBus() // app.Events in a stellar app

	// Listeners run lowest priority first and may change the payload.
	event.On(bus, CommentPosted, 20, func(ctx context.Context, c *Comment) error {
		fmt.Println("sending an email about:", c.Text)
		c.EmailSent = true
		return nil
	})
	event.On(bus, CommentPosted, 10, func(ctx context.Context, c *Comment) error {
		if c.Author == "spammer" {
			return event.ErrStop // later listeners do not run
		}
		return nil
	})

	c := &Comment{Author: "ada", Text: "Nice post"}
	err := event.Fire(context.Background(), bus, CommentPosted, c)
	fmt.Println(c.EmailSent, err)

	spam := &Comment{Author: "spammer", Text: "Buy now"}
	err = event.Fire(context.Background(), bus, CommentPosted, spam)
	fmt.Println(spam.EmailSent, errors.Is(err, event.ErrStop))
	// Output:
	// sending an email about: Nice post
	// true <nil>
	// false true
}

// A listener for one of the framework's events gets its typed payload.
func ExampleOn() {
	bus := event.NewBus()
	event.On(bus, event.ActionAfter, 0, func(ctx context.Context, a *event.Action) error {
		fmt.Printf("%s v%d over %s: error %v\n", a.Name, a.Version, a.ConnType, a.Err)
		return nil
	})
	// The action registry fires this one for every call.
	_ = event.Fire(context.Background(), bus, event.ActionAfter, &event.Action{Name: "status", Version: 1, ConnType: "web"})
	// Output:
	// status v1 over web: error <nil>
}
