package plan

import "sync"

// Answer buffers. A query's or mutation's answer is written into a buffer with room for the
// plan's last answer — a full classroom's listGroupStatuses is ~45 KB, asked for every 15 s
// by every pupil — and once an HTTP answer is written its buffer comes back (Recycle) for
// the next answer of about its size, instead of becoming garbage.

// Buffers are kept in classes of powers of two, from 1<<minBufferShift to 1<<maxBufferShift
// bytes; larger answers get buffers of their own.
const minBufferShift, maxBufferShift = 8, 16

var buffers [maxBufferShift - minBufferShift + 1]sync.Pool

// newBuffer returns an empty buffer with room for n bytes.
func newBuffer(n int) []byte {
	for c := range buffers {
		if size := 1 << (minBufferShift + c); n <= size {
			if b, ok := buffers[c].Get().(*[]byte); ok {
				return (*b)[:0]
			}
			return make([]byte, 0, size)
		}
	}
	return make([]byte, 0, n)
}

// Recycle gives back the buffer of an answer Run returned, once the answer is written and
// nothing refers to it any more.
func Recycle(b []byte) {
	if cap(b) >= 2<<maxBufferShift {
		return
	}
	for c := len(buffers) - 1; c >= 0; c-- {
		if cap(b) >= 1<<(minBufferShift+c) {
			b = b[:0]
			buffers[c].Put(&b)
			return
		}
	}
}
