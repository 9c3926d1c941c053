package gql

import (
	"crypto/sha256"
	"sync"
)

// docCache remembers the verdict on recent documents — with their variables, which
// validation reads too — so that a document is validated once, not once per request or
// once per subscriber, whether it came over HTTP or a WebSocket. It holds a fixed number of
// entries and forgets the oldest first.
type docCache struct {
	mu      sync.Mutex
	entries map[[sha256.Size]byte]verdict
	order   [][sha256.Size]byte // a ring of the keys in the order they were stored
	next    int
}

// verdict is what validation said about a document: the errors to answer with, none when
// it is valid.
type verdict struct {
	errs []Error
}

// maxCachedErrorBytes keeps documents with huge lists of errors out of the cache: their
// verdict is cheap to recompute under the document limits, but not to keep.
const maxCachedErrorBytes = 16 << 10

func newDocCache(size int) *docCache {
	return &docCache{entries: make(map[[sha256.Size]byte]verdict, size), order: make([][sha256.Size]byte, size)}
}

// docKey names a document as one schema view sees it with one set of variables.
func docKey(view, query, operationName string, variables map[string]any) [sha256.Size]byte {
	h := sha256.New()
	for _, s := range []string{view, query, operationName, canonicalJSON(variables)} {
		h.Write([]byte(s))
		h.Write([]byte{0})
	}
	var k [sha256.Size]byte
	h.Sum(k[:0])
	return k
}

func (c *docCache) get(k [sha256.Size]byte) (verdict, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	v, ok := c.entries[k]
	return v, ok
}

func (c *docCache) put(k [sha256.Size]byte, v verdict) {
	size := 0
	for _, e := range v.errs {
		size += len(e.Message) + 64
	}
	if size > maxCachedErrorBytes {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, ok := c.entries[k]; ok {
		return
	}
	if len(c.entries) >= len(c.order) {
		delete(c.entries, c.order[c.next]) // the oldest
	}
	c.order[c.next] = k
	c.next = (c.next + 1) % len(c.order)
	c.entries[k] = v
}
