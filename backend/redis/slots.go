package redis

import (
	"strconv"
	"strings"
	"sync"
)

// pingSlots is how many slots, evenly spaced, a readiness check on a
// Redis Cluster reaches: every master serving a range of at least
// clusterSlots/pingSlots slots gets at least one PING.
const pingSlots = 128

// slotKeys returns one key for each of pingSlots slots evenly spaced over
// the cluster's slots (0, 128, 256, …): "{N}" for the smallest N that
// hashes there.
var slotKeys = sync.OnceValue(func() []string {
	const step = clusterSlots / pingSlots
	keys := make([]string, pingSlots)
	left := pingSlots
	for n := 0; left > 0; n++ {
		key := "{" + strconv.Itoa(n) + "}"
		s := slot(key)
		if s%step != 0 {
			continue
		}
		if i := s / step; keys[i] == "" {
			keys[i] = key
			left--
		}
	}
	return keys
})

// slot computes a key's Redis Cluster hash slot, as the cluster
// specification defines it: the CRC-16 (XMODEM) of the key, or of its
// hash tag (the part between the first '{' and the next '}', if not
// empty), modulo the number of slots.
func slot(key string) uint16 {
	if open := strings.IndexByte(key, '{'); open >= 0 {
		if end := strings.IndexByte(key[open+1:], '}'); end > 0 {
			key = key[open+1 : open+1+end]
		}
	}
	return crc16(key) % clusterSlots
}
