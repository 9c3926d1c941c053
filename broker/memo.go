package broker

import "sync"

// maxMemoShapes bounds the encodings one value keeps, whatever documents clients send.
const maxMemoShapes = 4

// Memo holds encodings of one immutable value, keyed by the shape of the encoding, so that a
// value many readers see is encoded once per shape rather than once per reader. Copies of the
// value share it. A nil *Memo remembers nothing.
type Memo struct {
	mu      sync.Mutex
	entries [maxMemoShapes]memoEntry
	n       int
}

type memoEntry struct {
	shape uint64
	enc   []byte
}

// Get returns the encoding of shape, or nil.
func (m *Memo) Get(shape uint64) []byte {
	if m == nil || shape == 0 {
		return nil
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, e := range m.entries[:m.n] {
		if e.shape == shape {
			return e.enc
		}
	}
	return nil
}

// Put remembers the encoding of shape; enc must not change afterwards. Beyond maxMemoShapes
// shapes nothing more is kept.
func (m *Memo) Put(shape uint64, enc []byte) {
	if m == nil || shape == 0 {
		return
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, e := range m.entries[:m.n] {
		if e.shape == shape {
			return
		}
	}
	if m.n < maxMemoShapes {
		m.entries[m.n] = memoEntry{shape, enc}
		m.n++
	}
}
