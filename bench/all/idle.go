package main

import (
	"context"
	"encoding/json"
	"fmt"
	"log"
	"net/http"
	"strings"
	"sync"

	"github.com/coder/websocket"
)

type memFigures struct {
	Heap       float64 `json:"heap"`
	Stack      float64 `json:"stack"`
	RSS        float64 `json:"rss"`
	Goroutines float64 `json:"goroutines"`
	Websockets float64 `json:"websockets"`
}

func memory(addr string) memFigures {
	res, err := http.Get("http://" + addr + "/api/mem")
	if err != nil {
		log.Fatal(err)
	}
	defer res.Body.Close()
	var m memFigures
	if err := json.NewDecoder(res.Body).Decode(&m); err != nil {
		log.Fatal(err)
	}
	return m
}

// idleMemory opens n idle WebSocket connections to the node (each waits
// for its welcome) and reports what the node spends on each, after a GC.
func idleMemory(node child, n int, stamp string) string {
	addr := node.httpAddr
	before := memory(addr)
	conns := make([]*websocket.Conn, 0, n)
	ctx := context.Background()
	var mu sync.Mutex
	var wg sync.WaitGroup
	sem := make(chan struct{}, 64)
	for range n {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			c, _, err := websocket.Dial(ctx, "ws://"+addr+"/ws", nil)
			if err != nil {
				log.Fatalf("opening idle connections: %v", err)
			}
			if _, _, err := c.Read(ctx); err != nil {
				log.Fatal(err)
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
		}()
	}
	wg.Wait()
	after := memory(addr)
	for _, c := range conns {
		_ = c.CloseNow()
	}
	per := func(a, b float64) float64 { return (b - a) / float64(n) / 1024 }
	heap, stack := per(before.Heap, after.Heap), per(before.Stack, after.Stack)
	var b strings.Builder
	fmt.Fprintf(&b, "Measured %s; %d idle WebSocket connections (the node counted %.0f), %+.0f goroutines, node RSS %.1f MiB before.\n\n",
		stamp, n, after.Websockets, after.Goroutines-before.Goroutines, before.RSS/(1<<20))
	b.WriteString("| per idle WebSocket connection | KiB |\n| --- | ---: |\n")
	fmt.Fprintf(&b, "| Go heap (after GC) | %.1f |\n", heap)
	fmt.Fprintf(&b, "| goroutine stacks (%.1f goroutines each) | %.1f |\n", (after.Goroutines-before.Goroutines)/float64(n), stack)
	fmt.Fprintf(&b, "| **heap + stacks** | **%.1f** |\n", heap+stack)
	fmt.Fprintf(&b, "| RSS | %.1f |\n", per(before.RSS, after.RSS))
	return b.String()
}
