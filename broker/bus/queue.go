package bus

import (
	"sync"
	"sync/atomic"
)

// queue holds one subscription's waiting values for its delivery goroutine, in order, up to
// a bound past which it drops them (a slow consumer).
type queue struct {
	mu      sync.Mutex
	items   []any
	limit   int
	stopped bool
	wake    chan struct{} // holds one token while items wait
	done    chan struct{}
	dropped atomic.Uint64
}

func newQueue(limit int) queue {
	return queue{limit: limit, wake: make(chan struct{}, 1), done: make(chan struct{})}
}

// push queues v; false means it was dropped because the queue is full.
func (q *queue) push(v any) bool {
	q.mu.Lock()
	if q.stopped {
		q.mu.Unlock()
		return true
	}
	if len(q.items) >= q.limit {
		q.mu.Unlock()
		q.dropped.Add(1)
		return false
	}
	q.items = append(q.items, v)
	q.mu.Unlock()
	select {
	case q.wake <- struct{}{}:
	default:
	}
	return true
}

// run calls fn with every value in order until stop.
func (q *queue) run(fn func(any)) {
	var batch []any
	for {
		select {
		case <-q.wake:
		case <-q.done:
			return
		}
		q.mu.Lock()
		batch, q.items = q.items, batch[:0]
		q.mu.Unlock()
		for i, v := range batch {
			select {
			case <-q.done:
				return
			default:
			}
			fn(v)
			batch[i] = nil
		}
	}
}

// stop ends run and drops what waits.
func (q *queue) stop() {
	q.mu.Lock()
	defer q.mu.Unlock()
	if !q.stopped {
		q.stopped = true
		q.items = nil
		close(q.done)
	}
}
