package cluster

import (
	"encoding/json"
	"time"
)

// SignCall returns the wire form of a call to method, signed with token
// and carrying deadline, as a node would send it: for tests that feed a
// node calls from outside.
func SignCall(token, from, to, id string, sentAt, deadline time.Time, method string, args json.RawMessage) []byte {
	payload, _ := json.Marshal(request{Method: method, Args: args})
	e := envelope{Type: typeRequest, From: from, To: to, SentAt: sentAt.UnixMilli(), Deadline: deadline.UnixMilli(), ID: id, Payload: payload}
	return newSigner([]byte(token)).encode(&e)
}

// SetMachine makes c, not started yet, believe it runs on machine: nodes
// of one test process then look like nodes of several machines, whose
// pids cannot be looked up.
func SetMachine(c *Cluster, machine string) { c.machine = machine }

// StopWaiting reports whether a Stop of c is waiting for calls being
// answered.
func StopWaiting(c *Cluster) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.answered != nil
}
