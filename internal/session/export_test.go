package session

// Waiting is the number of replies waiting for room in the queue.
func (s *Session) Waiting() int32 {
	s.outMu.Lock()
	defer s.outMu.Unlock()
	return s.waiters
}

// Queued is the number of messages queued or being written by the
// writer goroutine.
func (s *Session) Queued() int {
	s.outMu.Lock()
	defer s.outMu.Unlock()
	return s.queuedN
}
