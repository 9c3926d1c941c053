package gql

import "sync"

// Frame queues between bursts. A socket's writer runs only while frames are pending and an
// idle socket keeps no queue; at ×1 nearly every frame is a burst of its own, so a queue
// dropped at the end of each burst was allocated again for the next one — a quarter of
// meshd's allocations. Emptied queues wait here for the next burst of any socket.

// maxKeptQueue is the largest queue kept (in frames); a rare larger one is dropped.
const maxKeptQueue = 64

// keptQueues holds emptied queues; queueHolders holds the empty holders that carry them,
// so that neither taking nor giving back a queue allocates.
var keptQueues, queueHolders sync.Pool

// takeFrames returns an empty queue, a kept one if any.
func takeFrames() []frame {
	h, _ := keptQueues.Get().(*[]frame)
	if h == nil {
		return make([]frame, 0, 4)
	}
	q := *h
	*h = nil
	queueHolders.Put(h)
	return q
}

// keepFrames gives back a queue whose frames were cleared.
func keepFrames(q []frame) {
	if cap(q) == 0 || cap(q) > maxKeptQueue {
		return
	}
	h, _ := queueHolders.Get().(*[]frame)
	if h == nil {
		h = new([]frame)
	}
	*h = q[:0]
	keptQueues.Put(h)
}
