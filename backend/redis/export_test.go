package redis

// PendingKey is the key of the pending list of store queue name, for
// the tests of where partitions land.
func (s *TaskStore) PendingKey(name string) string { return s.keys(name)[kPending] }
