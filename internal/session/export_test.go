package session

// Waiting is the number of replies waiting for room in the queue.
func (s *Session) Waiting() int32 { return s.waiters.Load() }
