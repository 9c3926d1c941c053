package broker

import (
	"slices"
	"sync"
	"time"
)

// nodeIndex maps a node id to the groups it joined, created or reported in, each with when it
// last did; getNodeStatus answers from the latest. Each group's entry changes only with that
// group's own changes, and the answer depends on the entries' times, not on the order in which
// changes of different groups arrive, so that cluster nodes applying the logs of different
// groups interleaved differently index the same.
type nodeIndex struct {
	shards [numShards]nodeShard
}

type nodeShard struct {
	mu sync.Mutex
	m  map[string][]nodeEntry
}

// nodeEntry is one group of a node and when the node last joined, created or reported in it.
type nodeEntry struct {
	key groupKey
	at  time.Time
}

func (n *nodeIndex) init() {
	for i := range n.shards {
		n.shards[i].m = make(map[string][]nodeEntry)
	}
}

func (n *nodeIndex) shard(nodeID string) *nodeShard {
	return &n.shards[fnvAdd(fnvOffset, nodeID)%numShards]
}

// set records that nodeID joined, created or reported in key's group at at.
func (n *nodeIndex) set(nodeID string, key groupKey, at time.Time) {
	s := n.shard(nodeID)
	s.mu.Lock()
	defer s.mu.Unlock()
	// The latest set goes last, which breaks ties between equal times.
	s.m[nodeID] = append(without(s.m[nodeID], key), nodeEntry{key, at})
}

// unset forgets nodeID's entry for key's group.
func (n *nodeIndex) unset(nodeID string, key groupKey) {
	s := n.shard(nodeID)
	s.mu.Lock()
	defer s.mu.Unlock()
	es := without(s.m[nodeID], key)
	if len(es) == 0 {
		delete(s.m, nodeID)
	} else {
		s.m[nodeID] = es
	}
}

// without is es less its entry for key's group, if it has one, in place.
func without(es []nodeEntry, key groupKey) []nodeEntry {
	return slices.DeleteFunc(es, func(e nodeEntry) bool { return e.key == key })
}

// lookup returns when nodeID's entry for key's group was set, if it has one.
func (n *nodeIndex) lookup(nodeID string, key groupKey) (time.Time, bool) {
	s := n.shard(nodeID)
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, e := range s.m[nodeID] {
		if e.key == key {
			return e.at, true
		}
	}
	return time.Time{}, false
}

// get returns the group nodeID last joined, created or reported in: the entry with the latest
// time, the one set last among equal times.
func (n *nodeIndex) get(nodeID string) (groupKey, bool) {
	s := n.shard(nodeID)
	s.mu.Lock()
	defer s.mu.Unlock()
	es := s.m[nodeID]
	if len(es) == 0 {
		return groupKey{}, false
	}
	latest := es[0]
	for _, e := range es[1:] {
		if !e.at.Before(latest.at) {
			latest = e
		}
	}
	return latest.key, true
}
