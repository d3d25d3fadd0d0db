package cache_test

import (
	"context"
	"fmt"
	"time"

	"github.com/stellarfw/stellar-go/backend/memory"
	"github.com/stellarfw/stellar-go/cache"
)

func Example() {
	ctx := context.Background()
	backend := memory.New(memory.Config{})
	defer backend.Close()
	c := cache.New(backend.Cache(), cache.Config{NodeID: "node-1"})

	// Save any JSON-encodable value, here for an hour.
	type title struct{ Text string }
	if err := c.Save(ctx, "websiteTitle", title{"XPTO Website"}, cache.TTL(time.Hour)); err != nil {
		fmt.Println(err)
		return
	}
	// Load it back as its type, and its metadata with it.
	var entry cache.Entry
	v, err := cache.Load[title](ctx, c, "websiteTitle", cache.WithEntry(&entry))
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(v.Text, entry.ExpireAt.Sub(entry.CreatedAt))
	// Output: XPTO Website 1h0m0s
}

func ExampleCache_Lock() {
	ctx := context.Background()
	backend := memory.New(memory.Config{})
	defer backend.Close()
	node1 := cache.New(backend.Cache(), cache.Config{NodeID: "node-1"})
	node2 := cache.New(backend.Cache(), cache.Config{NodeID: "node-2"})

	ok, _ := node1.Lock(ctx, "inTransaction", 5*time.Second)
	fmt.Println("node-1 locked:", ok)
	err := node2.Save(ctx, "inTransaction", "overwrite")
	fmt.Println("node-2 save:", err)
	ok, _ = node2.Unlock(ctx, "inTransaction")
	fmt.Println("node-2 unlocked:", ok)
	ok, _ = node1.Unlock(ctx, "inTransaction")
	fmt.Println("node-1 unlocked:", ok)
	// Output:
	// node-1 locked: true
	// node-2 save: cache: locked by another node
	// node-2 unlocked: false
	// node-1 unlocked: true
}

func ExampleCache_Push() {
	ctx := context.Background()
	backend := memory.New(memory.Config{})
	defer backend.Close()
	c := cache.New(backend.Cache(), cache.Config{NodeID: "node-1"})

	type command struct {
		Player, Command string
	}
	_ = c.Push(ctx, "commands", command{"xpto", "exec:abc:param1"})
	_ = c.Push(ctx, "commands", command{"xpto", "exec:def"})
	n, _ := c.ListLength(ctx, "commands")
	first, _ := cache.Pop[command](ctx, c, "commands")
	fmt.Println(n, first.Command)
	// Output: 2 exec:abc:param1
}
