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
	clock    func() time.Time
	log      *slog.Logger
	onCommit func(d time.Duration, ops int, err error)
	// lockState locks the domain index and every shard and returns their unlock, for a rollback.
	lockState func() (unlock func())
	mu        sync.Mutex
	ops       []store.Op
	// undos and waiters hold one entry per enqueued change, in order.
	undos   []func()
	waiters []chan error
	closed  bool
	wake    chan struct{}
	done    chan struct{}
	lastErr error
	health  health
	// running is when the commit in progress began; zero between commits.
	running time.Time
}

// CommitStallAfter is how long one store commit may run before the commit path counts as
// stalled: every change waits behind it, so Ready fails and Stalled reports it.
const CommitStallAfter = 10 * time.Second

func newCommitter(s store.Store, clock func() time.Time, log *slog.Logger, onCommit func(time.Duration, int, error), lockState func() func()) *committer {
	c := &committer{store: s, clock: clock, log: log, onCommit: onCommit, lockState: lockState, wake: make(chan struct{}, 1), done: make(chan struct{})}
	go c.run()
	return c
}

// enqueue queues ops behind everything enqueued before and returns a channel that receives
// the commit's outcome. Callers hold the lock that ordered the change, so the store sees
// changes in the order they were applied in memory. undo, when not nil, takes the change
// back out of memory if its commit fails; it runs with the domain index and every shard locked.
func (c *committer) enqueue(undo func(), ops ...store.Op) chan error {
	done := make(chan error, 1)
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		done <- fmt.Errorf("commit: %w", store.ErrClosed)
		return done
	}
	c.ops = append(c.ops, ops...)
	c.undos = append(c.undos, undo)
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
			ops, undos, waiters, closed := c.ops, c.undos, c.waiters, c.closed
			c.ops, c.undos, c.waiters = nil, nil, nil
			c.mu.Unlock()
			if len(waiters) == 0 {
				if closed {
					return
				}
				break
			}
			start := time.Now()
			c.mu.Lock()
			c.running = c.clock()
			c.mu.Unlock()
			err := c.store.Commit(context.Background(), ops)
			c.mu.Lock()
			c.running = time.Time{}
			c.mu.Unlock()
			if c.onCommit != nil {
				c.onCommit(time.Since(start), len(ops), err)
			}
			if len(ops) > 0 {
				c.health.observe(c.log, err)
			}
			if err != nil {
				c.log.Error("store commit failed; its changes are rolled back", "ops", len(ops), "err", err)
				c.health.failure(err, time.Now())
				c.mu.Lock()
				c.lastErr = err
				c.mu.Unlock()
				c.rollback(undos, waiters, err)
				continue
			}
			for _, w := range waiters {
				w <- nil
			}
		}
	}
}

// stalled reports a commit that has run for longer than CommitStallAfter.
func (c *committer) stalled() error {
	c.mu.Lock()
	running := c.running
	c.mu.Unlock()
	if running.IsZero() {
		return nil
	}
	if d := c.clock().Sub(running); d > CommitStallAfter {
		return fmt.Errorf("a store commit has been running for %s: every change waits behind it", d.Round(time.Second))
	}
	return nil
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
