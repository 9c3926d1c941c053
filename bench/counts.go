package main

import (
	"maps"
	"sync"
)

// counts is a concurrency-safe tally of named problems (HTTP errors by status and errorType,
// realtime errors by frame type or close code).
type counts struct {
	mu sync.Mutex
	m  map[string]uint64
}

func (c *counts) add(name string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.m == nil {
		c.m = map[string]uint64{}
	}
	c.m[name]++
}

// snapshot copies the tally.
func (c *counts) snapshot() map[string]uint64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return maps.Clone(c.m)
}
