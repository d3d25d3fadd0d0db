package memory

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/stellarfw/stellar-go/chat"
)

var _ chat.Store = (*ChatStore)(nil)

// ChatStore keeps the chat rooms and their members in memory. Obtain it
// from Backend.Chat. Temporary rooms expire on the backend's clock.
type ChatStore struct {
	now func() time.Time

	mu    sync.Mutex
	rooms map[string]*chatRoom                    // guarded by mu
	nodes map[string]map[chat.Membership]struct{} // guarded by mu; node → the memberships it recorded
	empty map[string]struct{}                     // guarded by mu; the temporary rooms without members
}

// chatRoom is a room and its members.
type chatRoom struct {
	members    map[string]chat.Member // connection id → member
	emptyTTL   time.Duration          // 0: permanent
	emptySince time.Time              // when it was created or its last member left
}

func newChatStore(now func() time.Time) *ChatStore {
	return &ChatStore{
		now:   now,
		rooms: make(map[string]*chatRoom),
		nodes: make(map[string]map[chat.Membership]struct{}),
		empty: make(map[string]struct{}),
	}
}

// Chat returns the store of the chat rooms, for chat.Chat.Start.
func (b *Backend) Chat() *ChatStore { return b.chat }

// expired reports whether r is a temporary room that stayed empty for its
// TTL by now.
func (r *chatRoom) expired(now time.Time) bool {
	return r.emptyTTL > 0 && len(r.members) == 0 && !now.Before(r.emptySince.Add(r.emptyTTL))
}

// roomLocked returns the room, forgetting it when it expired.
func (s *ChatStore) roomLocked(room string) (*chatRoom, bool) {
	r, ok := s.rooms[room]
	if !ok {
		return nil, false
	}
	if r.expired(s.now()) {
		s.dropLocked(room)
		return nil, false
	}
	return r, true
}

// indexLocked records a membership under the node of m.
func (s *ChatStore) indexLocked(room string, m chat.Member) {
	ms := s.nodes[m.Node]
	if ms == nil {
		ms = make(map[chat.Membership]struct{})
		s.nodes[m.Node] = ms
	}
	ms[chat.Membership{Room: room, ID: m.ID}] = struct{}{}
}

// unindexLocked removes a membership from the index of the node of m.
func (s *ChatStore) unindexLocked(room string, m chat.Member) {
	ms := s.nodes[m.Node]
	delete(ms, chat.Membership{Room: room, ID: m.ID})
	if len(ms) == 0 {
		delete(s.nodes, m.Node)
	}
}

// leftLocked starts the count of a room that has no members left.
func (s *ChatStore) leftLocked(room string, r *chatRoom) {
	if len(r.members) == 0 {
		r.emptySince = s.now()
		if r.emptyTTL > 0 {
			s.empty[room] = struct{}{}
		}
	}
}

// dropLocked forgets a room, not its members' index entries.
func (s *ChatStore) dropLocked(room string) {
	delete(s.rooms, room)
	delete(s.empty, room)
}

// Create implements chat.Store.
func (s *ChatStore) Create(_ context.Context, room string, emptyTTL time.Duration) (bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.roomLocked(room); ok {
		return false, nil
	}
	r := &chatRoom{members: make(map[string]chat.Member), emptyTTL: max(emptyTTL, 0)}
	s.rooms[room] = r
	s.leftLocked(room, r)
	return true, nil
}

// Destroy implements chat.Store.
func (s *ChatStore) Destroy(_ context.Context, room string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if r, ok := s.rooms[room]; ok {
		for _, m := range r.members {
			s.unindexLocked(room, m)
		}
		s.dropLocked(room)
	}
	return nil
}

// Exists implements chat.Store.
func (s *ChatStore) Exists(_ context.Context, room string) (bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	_, ok := s.roomLocked(room)
	return ok, nil
}

// List implements chat.Store.
func (s *ChatStore) List(context.Context) ([]string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.expireLocked()
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
	r, ok := s.roomLocked(room)
	if !ok {
		return false, fmt.Errorf("%w: %q", chat.ErrNoRoom, room)
	}
	if _, ok := r.members[m.ID]; ok {
		return false, nil
	}
	r.members[m.ID] = m
	delete(s.empty, room)
	s.indexLocked(room, m)
	return true, nil
}

// Leave implements chat.Store.
func (s *ChatStore) Leave(_ context.Context, room, id string) (bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	r, ok := s.roomLocked(room)
	if !ok {
		return false, fmt.Errorf("%w: %q", chat.ErrNoRoom, room)
	}
	m, ok := r.members[id]
	if !ok {
		return false, nil
	}
	delete(r.members, id)
	s.unindexLocked(room, m)
	s.leftLocked(room, r)
	return true, nil
}

// Members implements chat.Store.
func (s *ChatStore) Members(_ context.Context, room string) ([]chat.Member, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	r, ok := s.roomLocked(room)
	if !ok {
		return nil, fmt.Errorf("%w: %q", chat.ErrNoRoom, room)
	}
	out := make([]chat.Member, 0, len(r.members))
	for _, m := range r.members {
		out = append(out, m)
	}
	slices.SortFunc(out, func(a, b chat.Member) int { return strings.Compare(a.ID, b.ID) })
	return out, nil
}

// Nodes implements chat.Store.
func (s *ChatStore) Nodes(context.Context) (map[string]int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make(map[string]int, len(s.nodes))
	for node, ms := range s.nodes {
		out[node] = len(ms)
	}
	return out, nil
}

// NodeMembers implements chat.Store.
func (s *ChatStore) NodeMembers(_ context.Context, node string) ([]chat.Membership, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]chat.Membership, 0, len(s.nodes[node]))
	for m := range s.nodes[node] {
		out = append(out, m)
	}
	slices.SortFunc(out, compareMemberships)
	return out, nil
}

func compareMemberships(a, b chat.Membership) int {
	return cmp.Or(strings.Compare(a.Room, b.Room), strings.Compare(a.ID, b.ID))
}

// RemoveNode implements chat.Store.
func (s *ChatStore) RemoveNode(_ context.Context, node string) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for ms := range s.nodes[node] {
		r, ok := s.rooms[ms.Room]
		if !ok {
			continue
		}
		if m, ok := r.members[ms.ID]; ok && m.Node == node {
			delete(r.members, ms.ID)
			s.leftLocked(ms.Room, r)
			n++
		}
	}
	delete(s.nodes, node)
	return n, nil
}

// Expire implements chat.Store.
func (s *ChatStore) Expire(context.Context) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.expireLocked(), nil
}

// expireLocked removes the expired rooms; it looks only at the empty
// temporary ones.
func (s *ChatStore) expireLocked() int {
	now, n := s.now(), 0
	for room := range s.empty {
		if r := s.rooms[room]; r.expired(now) {
			s.dropLocked(room)
			n++
		}
	}
	return n
}
