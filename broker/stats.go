package broker

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// Stats counts the live state, for monitoring.
type Stats struct {
	Groups    int
	Members   int
	Statuses  int
	Published uint64
	// GroupsCreated, GroupsDissolved and GroupsExpired count groups since start: created by
	// createGroup, dissolved by their host, and removed by the sweeper because their lifetime
	// or their host's heartbeat ran out.
	GroupsCreated, GroupsDissolved, GroupsExpired uint64
	// CommitErrors counts the store commits that failed since start; LastCommitError is the
	// latest failure's error ("" when none failed) and LastCommitErrorAt its time.
	CommitErrors      uint64
	LastCommitError   string
	LastCommitErrorAt time.Time
}

// Stats counts groups, members and statuses (expired ones the sweeper has not removed yet
// included) and the messages published since start.
func (b *Broker) Stats() Stats {
	st := Stats{
		Published:       b.published.Load(),
		GroupsCreated:   b.lifecycle.created.Load(),
		GroupsDissolved: b.lifecycle.dissolved.Load(),
		GroupsExpired:   b.lifecycle.expired.Load(),
	}
	h := &b.commit.health
	h.mu.Lock()
	st.CommitErrors, st.LastCommitError, st.LastCommitErrorAt = h.failures, h.lastFailure, h.lastFailureAt
	h.mu.Unlock()
	for i := range b.shards {
		s := &b.shards[i]
		s.mu.Lock()
		st.Groups += len(s.groups)
		for _, g := range s.groups {
			st.Members += len(g.members)
			st.Statuses += len(g.statuses)
		}
		s.mu.Unlock()
	}
	return st
}

// Ready reports whether the broker can serve: its bus is up, its store is open and the
// store's last commit succeeded. After a failure the sweeper probes the store (see probe),
// so a store that recovers is seen without a client's change.
func (b *Broker) Ready(ctx context.Context) error {
	if !b.bus.Healthy() {
		return errors.New("message bus is down")
	}
	if err := b.store.Commit(ctx, nil); err != nil {
		return fmt.Errorf("store: %w", err)
	}
	if err := b.commit.health.last(); err != nil {
		return fmt.Errorf("store: the last commit failed: %w", err)
	}
	return b.Stalled()
}

// Stalled reports a store commit that has run for longer than CommitStallAfter: the disk or
// the file no longer answers, and restarting the process is the remedy.
func (b *Broker) Stalled() error {
	if err := b.commit.stalled(); err != nil {
		return fmt.Errorf("store: %w", err)
	}
	return nil
}
