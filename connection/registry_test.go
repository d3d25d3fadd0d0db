package connection

import (
	"context"
	"errors"
	"strings"
	"testing"
)

func TestRegistry(t *testing.T) {
	ctx := context.Background()
	r := NewRegistry()
	var log []string
	refuse := errors.New("no robots")
	if err := r.Use(
		&Middleware{Name: "late", Priority: 200, Destroy: func(ctx context.Context, c *Conn) { log = append(log, "late-destroy") }},
		&Middleware{Name: "early", Priority: 10,
			Create: func(ctx context.Context, c *Conn) error {
				log = append(log, "early-create")
				if c.RemoteAddr == "robot" {
					return refuse
				}
				return nil
			},
			Destroy: func(ctx context.Context, c *Conn) { log = append(log, "early-destroy") }},
	); err != nil {
		t.Fatal(err)
	}
	for _, bad := range []*Middleware{nil, {Name: ""}, {Name: "x"}, {Name: "early", Create: func(context.Context, *Conn) error { return nil }}} {
		if err := r.Use(bad); err == nil {
			t.Errorf("Use(%+v) accepted", bad)
		}
	}
	c := New(TypeTCP, "10.0.0.1", "n")
	if err := r.Add(ctx, c); err != nil {
		t.Fatal(err)
	}
	if err := r.Add(ctx, New(TypeTCP, "robot", "n")); !errors.Is(err, refuse) {
		t.Fatalf("refused Add = %v", err)
	}
	if got, ok := r.Get(c.ID); !ok || got != c || !r.Owns(c.ID) || r.Len("") != 1 || r.Len(TypeTCP) != 1 || r.Len(TypeWebSocket) != 0 || len(r.All()) != 1 {
		t.Fatal("registry does not hold the connection")
	}
	r.Remove(ctx, c)
	r.Remove(ctx, c) // twice: the destroy middleware runs once
	if r.Owns(c.ID) {
		t.Fatal("removed connection still owned")
	}
	if got := strings.Join(log, ","); got != "early-create,early-create,early-destroy,late-destroy" {
		t.Fatalf("middleware ran %s", got)
	}
}

func TestSend(t *testing.T) {
	c := New(TypeWebSocket, "", "n")
	if err := c.Send("x"); !errors.Is(err, ErrNoSender) {
		t.Fatalf("Send without a sender = %v", err)
	}
	var got any
	c.SetSender(func(v any) error { got = v; return nil })
	if err := c.Send("hello"); err != nil || got != "hello" {
		t.Fatalf("Send = %v, got %v", err, got)
	}
	c.AddRoom("r")
	if !c.InRoom("r") || c.InRoom("s") {
		t.Fatal("InRoom is wrong")
	}
}
