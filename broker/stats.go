package broker

import (
	"context"
	"errors"
	"fmt"
)

// Stats counts the live state, for monitoring.
type Stats struct {
	Groups    int
	Members   int
	Statuses  int
	Published uint64
}

// Stats counts groups, members and statuses (expired ones the sweeper has not removed yet
// included) and the messages published since start.
func (b *Broker) Stats() Stats {
	st := Stats{Published: b.published.Load()}
	for i := range b.shards {
		s := &b.shards[i]
		s.mu.Lock()
		for _, ds := range s.domains {
			st.Groups += len(ds.groups)
			for _, g := range ds.groups {
				st.Members += len(g.members)
				st.Statuses += len(g.statuses)
			}
		}
		s.mu.Unlock()
	}
	return st
}

// Ready reports whether the broker can serve: its bus is up and its store accepts commits.
func (b *Broker) Ready(ctx context.Context) error {
	if !b.bus.Healthy() {
		return errors.New("message bus is down")
	}
	if err := b.store.Commit(ctx, nil); err != nil {
		return fmt.Errorf("store: %w", err)
	}
	return nil
}
