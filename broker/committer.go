package broker

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/smalruby/meshd/store"
)

// committer hands changes to the store in exactly the order they were enqueued, and coalesces
// everything enqueued while a commit is running into the next one: a classroom joining at once
// costs a few writes, not one per pupil.
type committer struct {
	store    store.Store
	log      *slog.Logger
	onCommit func(d time.Duration, ops int, err error)
	mu       sync.Mutex
	ops      []store.Op
	waiters  []chan error
	closed   bool
	wake     chan struct{}
	done     chan struct{}
	lastErr  error
}

func newCommitter(s store.Store, log *slog.Logger, onCommit func(time.Duration, int, error)) *committer {
	c := &committer{store: s, log: log, onCommit: onCommit, wake: make(chan struct{}, 1), done: make(chan struct{})}
	go c.run()
	return c
}

// enqueue queues ops behind everything enqueued before and returns a channel that receives
// the commit's outcome. Callers hold the lock that ordered the change, so the store sees
// changes in the order they were applied in memory.
func (c *committer) enqueue(ops ...store.Op) chan error {
	done := make(chan error, 1)
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		done <- fmt.Errorf("commit: %w", store.ErrClosed)
		return done
	}
	c.ops = append(c.ops, ops...)
	c.waiters = append(c.waiters, done)
	c.mu.Unlock()
	select {
	case c.wake <- struct{}{}:
	default:
	}
	return done
}

// wait blocks until the change behind done is durable; a nil done is already durable.
func (c *committer) wait(ctx context.Context, done chan error) error {
	if done == nil {
		return nil
	}
	select {
	case err := <-done:
		if err != nil {
			return internal(err)
		}
		return nil
	case <-ctx.Done():
		return internal(fmt.Errorf("wait for commit: %w", ctx.Err()))
	}
}

func (c *committer) run() {
	defer close(c.done)
	for range c.wake {
		for {
			c.mu.Lock()
			ops, waiters, closed := c.ops, c.waiters, c.closed
			c.ops, c.waiters = nil, nil
			c.mu.Unlock()
			if len(waiters) == 0 {
				if closed {
					return
				}
				break
			}
			start := time.Now()
			err := c.store.Commit(context.Background(), ops)
			if c.onCommit != nil {
				c.onCommit(time.Since(start), len(ops), err)
			}
			if err != nil {
				c.log.Error("store commit failed", "ops", len(ops), "err", err)
				c.mu.Lock()
				c.lastErr = err
				c.mu.Unlock()
			}
			for _, w := range waiters {
				w <- err
			}
		}
	}
}

// close commits what is queued and stops; it returns the last commit error, if any.
func (c *committer) close() error {
	c.mu.Lock()
	c.closed = true
	c.mu.Unlock()
	select {
	case c.wake <- struct{}{}:
	default:
	}
	<-c.done
	return c.lastErr
}
