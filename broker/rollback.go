package broker

import (
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/smalruby/meshd/store"
)

// A change is applied in memory under its shard's lock, then committed; its caller is
// answered only after the commit. When a commit fails, its changes are taken back out of
// memory, so that nothing the store refused stays live: a group whose creation failed is not
// listed, not joinable, and the editor's retry creates and writes it anew instead of finding
// it. Every change queued behind a failed commit was applied on top of the failed ones, so it
// is failed and taken back too. The rollback runs newest first with the domain index and every
// shard locked: no request sees the state half undone.

// rollback undoes a failed commit's changes and every change queued behind it, newest first,
// and tells their callers.
func (c *committer) rollback(undos []func(), waiters []chan error, err error) {
	unlock := c.lockState()
	c.mu.Lock()
	laterUndos, laterWaiters := c.undos, c.waiters
	c.ops, c.undos, c.waiters = nil, nil, nil
	c.mu.Unlock()
	all := append(undos, laterUndos...)
	for i := len(all) - 1; i >= 0; i-- {
		if all[i] != nil {
			all[i]()
		}
	}
	unlock()
	for _, w := range waiters {
		w <- err
	}
	later := fmt.Errorf("an earlier change failed to commit: %w", err)
	for _, w := range laterWaiters {
		w <- later
	}
}

// lockState locks the domain index and then every shard, in order, and returns the function
// that unlocks them.
func (b *Broker) lockState() func() {
	b.index.mu.Lock()
	for i := range b.shards {
		b.shards[i].mu.Lock()
	}
	return func() {
		for i := range b.shards {
			b.shards[i].mu.Unlock()
		}
		b.index.mu.Unlock()
	}
}

// health is the outcome of the store's last commit that wrote something; a change of it is
// logged once.
type health struct {
	mu     sync.Mutex
	failed error
	// failures counts failed commits since start; lastFailure is the latest one's error and
	// lastFailureAt its time.
	failures      uint64
	lastFailure   string
	lastFailureAt time.Time
}

// failure counts a failed commit.
func (h *health) failure(err error, at time.Time) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.failures++
	h.lastFailure, h.lastFailureAt = err.Error(), at
}

func (h *health) observe(log *slog.Logger, err error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	switch {
	case err != nil && h.failed == nil:
		log.Error("store commits are failing: changes are refused and /readyz answers 503", "err", err)
	case err == nil && h.failed != nil:
		log.Info("store commits succeed again", "after", h.failed)
	}
	h.failed = err
}

func (h *health) last() error {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.failed
}

// probeDomain holds the record a readiness probe writes and deletes in one commit; no
// client can name it (domains are at most 256 characters).
var probeDomain = string(make([]byte, MaxDomainUnits*4+1))

// probe commits a real write — a record put and deleted in one transaction — when the last
// commit failed, so that a store that accepts commits again is seen without waiting for a
// client's change. The sweeper calls it; it waits for nothing.
func (b *Broker) probe() {
	if b.commit.health.last() == nil {
		return
	}
	g := &store.Group{Domain: probeDomain, ID: "readyz"}
	b.commit.enqueue(nil,
		store.Op{Kind: store.PutGroup, Group: g},
		store.Op{Kind: store.DeleteGroup, Domain: g.Domain, GroupID: g.ID})
}

// restore puts a removed group back, with its members and statuses, as remove found it; the
// index and the group's shard must be locked.
func (b *Broker) restore(s *shard, g *group, host string) {
	key := groupKey{g.Domain, g.ID}
	if s.groups[key] != nil {
		return
	}
	ds := b.add(s, g)
	if host == g.ID {
		ds.hosts[g.HostID] = g.ID
	}
	b.nodes.set(g.HostID, key, g.HeartbeatAt)
	for id, m := range g.members {
		b.nodes.set(id, key, m.JoinedAt)
	}
	for id, st := range g.statuses {
		if _, ok := b.nodes.lookup(id, key); !ok {
			b.nodes.set(id, key, st.Timestamp)
		}
	}
	if len(g.dirtyStatus) > 0 || g.seqDirty {
		s.markDirty(g)
	}
}
