package main

import (
	"fmt"
	"slices"
	"testing"
)

// TestStartHookAndListener: the start hook created the lobby room before
// the node was ready, and the event listener counted each action's calls
// and failures.
func TestStartHookAndListener(t *testing.T) {
	n := startNode(t, "--id", "hooks-1")
	_, b, _ := call(t, "GET", n.url+"/api/chatRooms", nil, "")
	rooms, _ := b["rooms"].([]any)
	if !slices.Contains(rooms, any(LobbyRoom)) {
		t.Fatalf("rooms = %v, want %s made by the start hook", b["rooms"], LobbyRoom)
	}

	for _, path := range []string{"/api/randomNumber", "/api/random", "/api/randomNumber", "/api/greet?name=x", "/api/giveAge?name=a"} {
		call(t, "GET", n.url+path, nil, "")
	}
	status, b, _ := call(t, "GET", n.url+"/api/actionCalls", nil, "")
	if status != 200 {
		t.Fatalf("actionCalls: %d %v", status, b)
	}
	calls, _ := b["calls"].(map[string]any)
	failed, _ := b["failed"].(map[string]any)
	want := map[string]float64{"randomNumber": 3, "greet": 1, "giveAge": 1, "chatRooms": 1}
	for name, n := range want {
		if calls[name] != n {
			t.Errorf("calls[%s] = %v, want %v (all: %v)", name, calls[name], n, calls)
		}
	}
	if _, ok := calls["actionCalls"]; ok {
		t.Errorf("the call being answered was counted before it finished: %v", calls)
	}
	if fmt.Sprint(failed) != "map[giveAge:1]" {
		t.Errorf("failed = %v, want the one failed giveAge", failed)
	}
}
