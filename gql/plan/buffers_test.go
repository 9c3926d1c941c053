package plan

import "testing"

// TestBuffers: whatever was given back, a new buffer is empty with room for what was asked,
// and a class never hands out a buffer smaller than its size.
func TestBuffers(t *testing.T) {
	for _, back := range []int{0, 255, 256, 300, 4096, 40_000, 65_536, 100_000, 200_000} {
		Recycle(make([]byte, min(7, back), back))
		for _, n := range []int{0, 1, 256, 257, 1000, 4096, 45_000, 65_536, 65_537, 300_000} {
			b := newBuffer(n)
			if len(b) != 0 || cap(b) < n {
				t.Fatalf("after giving back a buffer of %d, newBuffer(%d) has len %d cap %d", back, n, len(b), cap(b))
			}
			Recycle(b)
		}
	}
}
