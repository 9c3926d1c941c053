package editor

import (
	"container/list"
	"sync"
)

// blobCache holds built byte slices (rewritten or compressed files) up to a total size, dropping
// the least recently used. Concurrent gets of one missing key build it once; the others wait for
// that build, so a class opening the editor at once costs one rewrite and one compression.
type blobCache struct {
	mu    sync.Mutex
	max   int
	size  int
	order *list.List // of *blob, most recently used first
	byKey map[string]*list.Element
}

type blob struct {
	key   string
	ready chan struct{}
	data  []byte
	err   error
	// counted says the data is part of the cache's size.
	counted bool
}

func newBlobCache(max int) *blobCache {
	return &blobCache{max: max, order: list.New(), byKey: map[string]*list.Element{}}
}

// get returns the bytes cached under key, building them with build when they are missing. A
// failed build is not kept; a result larger than the whole cache is returned but not kept.
func (c *blobCache) get(key string, build func() ([]byte, error)) ([]byte, error) {
	c.mu.Lock()
	if el, ok := c.byKey[key]; ok {
		c.order.MoveToFront(el)
		b := el.Value.(*blob)
		c.mu.Unlock()
		<-b.ready
		return b.data, b.err
	}
	b := &blob{key: key, ready: make(chan struct{})}
	el := c.order.PushFront(b)
	c.byKey[key] = el
	c.mu.Unlock()

	b.data, b.err = build()
	close(b.ready)

	c.mu.Lock()
	defer c.mu.Unlock()
	if c.byKey[key] != el {
		return b.data, b.err // evicted while it was being built
	}
	if b.err != nil || len(b.data) > c.max {
		c.remove(el)
		return b.data, b.err
	}
	b.counted = true
	c.size += len(b.data)
	for c.size > c.max {
		c.remove(c.order.Back())
	}
	return b.data, nil
}

// remove drops an entry.
func (c *blobCache) remove(el *list.Element) {
	b := el.Value.(*blob)
	if b.counted {
		c.size -= len(b.data)
	}
	c.order.Remove(el)
	delete(c.byKey, b.key)
}
