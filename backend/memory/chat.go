package memory

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"

	"github.com/stellarfw/stellar-go/chat"
)

var _ chat.Store = (*ChatStore)(nil)

// ChatStore keeps the chat rooms and their members in memory. Obtain it
// from Backend.Chat.
type ChatStore struct {
	mu    sync.Mutex
	rooms map[string]map[string]chat.Member // guarded by mu; room → connection id → member
}

func newChatStore() *ChatStore {
	return &ChatStore{rooms: make(map[string]map[string]chat.Member)}
}

// Chat returns the store of the chat rooms, for chat.Chat.Start.
func (b *Backend) Chat() *ChatStore { return b.chat }

// Create implements chat.Store.
func (s *ChatStore) Create(_ context.Context, room string) (bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.rooms[room]; ok {
		return false, nil
	}
	s.rooms[room] = make(map[string]chat.Member)
	return true, nil
}

// Destroy implements chat.Store.
func (s *ChatStore) Destroy(_ context.Context, room string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.rooms, room)
	return nil
}

// Exists implements chat.Store.
func (s *ChatStore) Exists(_ context.Context, room string) (bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	_, ok := s.rooms[room]
	return ok, nil
}

// List implements chat.Store.
func (s *ChatStore) List(context.Context) ([]string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]string, 0, len(s.rooms))
	for r := range s.rooms {
		out = append(out, r)
	}
	slices.Sort(out)
	return out, nil
}

// Join implements chat.Store.
func (s *ChatStore) Join(_ context.Context, room string, m chat.Member) (bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	ms, ok := s.rooms[room]
	if !ok {
		return false, fmt.Errorf("%w: %q", chat.ErrNoRoom, room)
	}
	if _, ok := ms[m.ID]; ok {
		return false, nil
	}
	ms[m.ID] = m
	return true, nil
}

// Leave implements chat.Store.
func (s *ChatStore) Leave(_ context.Context, room, id string) (bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	ms, ok := s.rooms[room]
	if !ok {
		return false, fmt.Errorf("%w: %q", chat.ErrNoRoom, room)
	}
	if _, ok := ms[id]; !ok {
		return false, nil
	}
	delete(ms, id)
	return true, nil
}

// Members implements chat.Store.
func (s *ChatStore) Members(_ context.Context, room string) ([]chat.Member, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	ms, ok := s.rooms[room]
	if !ok {
		return nil, fmt.Errorf("%w: %q", chat.ErrNoRoom, room)
	}
	out := make([]chat.Member, 0, len(ms))
	for _, m := range ms {
		out = append(out, m)
	}
	slices.SortFunc(out, func(a, b chat.Member) int { return strings.Compare(a.ID, b.ID) })
	return out, nil
}

// Sweep implements chat.Store.
func (s *ChatStore) Sweep(_ context.Context, gone func(chat.Member) bool) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for _, ms := range s.rooms {
		for id, m := range ms {
			if gone(m) {
				delete(ms, id)
				n++
			}
		}
	}
	return n, nil
}
