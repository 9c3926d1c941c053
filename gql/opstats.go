package gql

import (
	"maps"
	"sync"
	"sync/atomic"
	"time"
)

// OperationStats counts the queries and mutations served since start.
type OperationStats struct {
	// Total counts every operation; Failed those that failed, by errorType.
	Total  uint64
	Failed map[string]uint64
}

// opCounts counts operations by outcome: every one, and the failed by errorType.
type opCounts struct {
	total  atomic.Uint64
	mu     sync.Mutex
	failed map[string]uint64
}

// counting returns an OnOperation hook that counts each operation and then calls next, when
// set.
func (c *opCounts) counting(next func(operation, outcome string, d time.Duration)) func(string, string, time.Duration) {
	return func(operation, outcome string, d time.Duration) {
		c.total.Add(1)
		if outcome != "ok" {
			c.mu.Lock()
			if c.failed == nil {
				c.failed = map[string]uint64{}
			}
			c.failed[outcome]++
			c.mu.Unlock()
		}
		if next != nil {
			next(operation, outcome, d)
		}
	}
}

// OperationStats reports the operations served since start, beside RealtimeStats.
func (s *Server) OperationStats() OperationStats {
	s.ops.mu.Lock()
	failed := maps.Clone(s.ops.failed)
	s.ops.mu.Unlock()
	if failed == nil {
		failed = map[string]uint64{}
	}
	return OperationStats{Total: s.ops.total.Load(), Failed: failed}
}
