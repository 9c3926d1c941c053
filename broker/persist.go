package broker

import (
	"context"
	"fmt"
	"time"

	"github.com/smalruby/meshd/store"
)

// load rebuilds the in-memory state from the store, dropping what died while meshd was down
// (a dead group only once past its grace).
func (b *Broker) load(ctx context.Context) error {
	snap, err := b.store.Load(ctx)
	if err != nil {
		return fmt.Errorf("load state: %w", err)
	}
	now := b.Now()
	var drop []store.Op
	for _, sg := range snap.Groups {
		g := &group{
			Group: Group{
				ID: sg.ID, Domain: sg.Domain, Name: sg.Name, HostID: sg.HostID,
				CreatedAt: sg.CreatedAt.UTC(), ExpiresAt: sg.ExpiresAt.UTC(), HeartbeatAt: sg.HeartbeatAt.UTC(),
				UseWebSocket: sg.UseWebSocket, PollingIntervalSeconds: sg.PollingIntervalSeconds,
			},
			// Cursors must keep increasing: never hand out a sequence below one already used.
			seq:         max(sg.Seq, uint64(now.UnixMicro())),
			members:     make(map[string]*Member),
			statuses:    make(map[string]*NodeStatus),
			dirtyStatus: make(map[string]struct{}),
		}
		// A group that died meanwhile stays for its grace; the first sweep announces its end
		// to whoever subscribed again.
		if b.forgotten(g, now) {
			drop = append(drop, store.Op{Kind: store.DeleteGroup, Domain: g.Domain, GroupID: g.ID})
			continue
		}
		ds := b.add(b.shardFor(g.Domain, g.ID), g)
		if prev := ds.groups[ds.hosts[g.HostID]]; prev == nil || prev.CreatedAt.Before(g.CreatedAt) {
			ds.hosts[g.HostID] = g.ID
		}
		b.nodes.set(g.HostID, groupKey{g.Domain, g.ID}, g.HeartbeatAt)
	}
	for _, sm := range snap.Members {
		g := b.shardFor(sm.Domain, sm.GroupID).lookup(sm.Domain, sm.GroupID)
		m := &Member{NodeID: sm.NodeID, GroupID: sm.GroupID, Domain: sm.Domain, JoinedAt: sm.JoinedAt.UTC(), ExpiresAt: sm.ExpiresAt.UTC()}
		if g == nil || !memberLive(m, now) {
			drop = append(drop, store.Op{Kind: store.DeleteMember, Domain: sm.Domain, GroupID: sm.GroupID, NodeID: sm.NodeID})
			continue
		}
		m.HeartbeatInterval = b.cfg.MemberHeartbeatFor(g.Group)
		g.members[m.NodeID] = m
		b.nodes.set(m.NodeID, groupKey{m.Domain, m.GroupID}, m.JoinedAt)
	}
	for _, ss := range snap.Statuses {
		g := b.shardFor(ss.Domain, ss.GroupID).lookup(ss.Domain, ss.GroupID)
		st := &NodeStatus{NodeID: ss.NodeID, GroupID: ss.GroupID, Domain: ss.Domain, Timestamp: ss.Timestamp.UTC(), Data: make([]Pair, len(ss.Data)), Memo: new(Memo)}
		for i, p := range ss.Data {
			st.Data[i] = Pair(p)
		}
		if g == nil || !b.statusLive(g, st, now) {
			drop = append(drop, store.Op{Kind: store.DeleteStatus, Domain: ss.Domain, GroupID: ss.GroupID, NodeID: ss.NodeID})
			continue
		}
		g.statuses[st.NodeID] = st
		key := groupKey{st.Domain, st.GroupID}
		if _, ok := b.nodes.lookup(st.NodeID, key); !ok {
			b.nodes.set(st.NodeID, key, st.Timestamp)
		}
	}
	if len(drop) > 0 {
		if err := b.commit.wait(ctx, b.commit.enqueue(nil, drop...)); err != nil {
			return fmt.Errorf("drop expired state: %w", err)
		}
	}
	b.log.Info("state loaded", "groups", len(snap.Groups), "members", len(snap.Members), "statuses", len(snap.Statuses), "dropped", len(drop))
	return nil
}

// Sweep tells the subscribers of every group that died since the last sweep that it ended (the
// message dissolveGroup sends), removes dead groups past DeadGroupGrace, expired members, dead
// statuses and old events, and tells the store: the change OpSweep at the broker's time. It
// runs in the background every SweepInterval; tests call it directly.
func (b *Broker) Sweep() {
	b.Apply(context.Background(), Change{Op: OpSweep})
}

func (b *Broker) sweep(now time.Time, part *Part) {
	defer b.probe()
	for i := range b.shards {
		s := &b.shards[i]
		// Removing a group changes its domain's index: the index is locked first.
		b.index.mu.Lock()
		s.mu.Lock()
		var ops []store.Op
		var ended []GroupEnd
		for _, g := range s.groups {
			if !part.holds(g.Domain, g.ID) {
				continue
			}
			if !b.live(g, now) {
				if !g.ended {
					ended = append(ended, b.announceEnd(g, now))
				}
				if b.forgotten(g, now) {
					b.remove(s, g)
					ops = append(ops, store.Op{Kind: store.DeleteGroup, Domain: g.Domain, GroupID: g.ID})
				}
				continue
			}
			for id, m := range g.members {
				if !memberLive(m, now) {
					delete(g.members, id)
					delete(g.active, id)
					ops = append(ops, store.Op{Kind: store.DeleteMember, Domain: g.Domain, GroupID: g.ID, NodeID: id})
				}
			}
			for id, st := range g.statuses {
				if !b.statusLive(g, st, now) {
					delete(g.statuses, id)
					delete(g.dirtyStatus, id)
					b.nodes.unset(id, groupKey{g.Domain, g.ID})
					ops = append(ops, store.Op{Kind: store.DeleteStatus, Domain: g.Domain, GroupID: g.ID, NodeID: id})
				}
			}
			b.pruneEvents(g, now)
		}
		if len(ops) > 0 {
			// What expired stays gone from memory; a failed delete only leaves it on disk,
			// where the next start drops it as expired.
			b.commit.enqueue(nil, ops...)
		}
		s.mu.Unlock()
		b.index.mu.Unlock()
		for _, e := range ended {
			b.groupEnded(e)
		}
	}
}

// Flush writes node statuses and event sequences changed since the last flush to the store.
// It runs every StatusFlushInterval and at Close.
func (b *Broker) Flush() {
	for i := range b.shards {
		s := &b.shards[i]
		s.mu.Lock()
		var ops []store.Op
		var flushed []flushedStatus
		for g := range s.dirty {
			seq := g.seqDirty
			for id := range g.dirtyStatus {
				st := g.statuses[id]
				flushed = append(flushed, flushedStatus{g, id, st})
				// A status is never changed once made, so the store may share its variables.
				ops = append(ops, store.Op{Kind: store.PutStatus, Status: &store.Status{
					Domain: st.Domain, GroupID: st.GroupID, NodeID: st.NodeID, Data: st.Data, Timestamp: st.Timestamp,
				}})
			}
			clear(g.dirtyStatus)
			if seq {
				ops = append(ops, putGroup(g))
				g.seqDirty = false
				flushed = append(flushed, flushedStatus{g: g})
			}
		}
		clear(s.dirty)
		if len(ops) > 0 {
			b.commit.enqueue(func() { s.redirty(flushed) }, ops...)
		}
		s.mu.Unlock()
	}
}

// flushedStatus is a status (or, without a node id, a group's event sequence) a flush wrote.
type flushedStatus struct {
	g      *group
	nodeID string
	st     *NodeStatus
}

// redirty marks what a failed flush wrote as changed again, so that the next flush retries
// it; a status replaced or removed since is left to its own change.
func (s *shard) redirty(flushed []flushedStatus) {
	for _, f := range flushed {
		if s.groups[groupKey{f.g.Domain, f.g.ID}] != f.g {
			continue // removed since: nothing of it may be written again
		}
		switch {
		case f.st == nil:
			f.g.seqDirty = true
		case f.g.statuses[f.nodeID] == f.st:
			f.g.dirtyStatus[f.nodeID] = struct{}{}
		default:
			continue
		}
		s.markDirty(f.g)
	}
}
