package broker

import (
	"context"
	"slices"
	"strings"
	"time"

	"github.com/smalruby/meshd/store"
)

// CreateGroupInput holds createGroup's arguments.
type CreateGroupInput struct {
	Name   string
	HostID string
	Domain string
	// MaxConnectionTimeSeconds shortens the group's lifetime when set.
	MaxConnectionTimeSeconds *int
	UseWebSocket             bool
}

// createGroup returns the host's live group in the domain unchanged if it has one, and
// otherwise creates a group with the given id (a new one when empty).
func (b *Broker) createGroup(ctx context.Context, in CreateGroupInput, now time.Time, id string) (Group, error) {
	if err := checkArgs(in.Domain, "hostId", in.HostID); err != nil {
		return Group{}, err
	}
	if err := checkName(in.Name); err != nil {
		return Group{}, err
	}
	lifetime := b.cfg.MaxConnectionTime
	var lifetimeErr error
	if m := in.MaxConnectionTimeSeconds; m != nil {
		switch limit := int(b.cfg.MaxConnectionTime / time.Second); {
		case *m < 1:
			lifetimeErr = errorf(ValidationError, "maxConnectionTimeSeconds must be at least 1")
		case *m > limit:
			lifetimeErr = errorf(ValidationError, "maxConnectionTimeSeconds cannot exceed %d", limit)
		default:
			lifetime = time.Duration(*m) * time.Second
		}
	}
	b.index.mu.Lock()
	if g, done, ok := b.liveHostGroup(in.Domain, in.HostID, now); ok {
		b.index.mu.Unlock()
		// The group may still be on its way to the store: answer once it is there.
		return g, b.commit.wait(ctx, done)
	}
	if lifetimeErr != nil {
		b.index.mu.Unlock()
		return Group{}, lifetimeErr
	}
	if id == "" {
		id = b.newID()
	}
	g := &group{
		Group: Group{
			ID:           id,
			Domain:       in.Domain,
			Name:         in.Name,
			HostID:       in.HostID,
			CreatedAt:    now,
			ExpiresAt:    now.Add(lifetime),
			HeartbeatAt:  now,
			UseWebSocket: in.UseWebSocket,
		},
		seq:         uint64(now.UnixMicro()),
		members:     make(map[string]*Member),
		statuses:    make(map[string]*NodeStatus),
		dirtyStatus: make(map[string]struct{}),
	}
	if !in.UseWebSocket {
		g.PollingIntervalSeconds = int(b.cfg.PollingInterval / time.Second)
	}
	s := b.shardFor(g.Domain, g.ID)
	s.mu.Lock()
	ds := b.add(s, g)
	prevHost := ds.hosts[g.HostID]
	ds.hosts[g.HostID] = g.ID
	key := groupKey{g.Domain, g.ID}
	b.nodes.set(g.HostID, key, now)
	done := b.commit.enqueue(func() {
		if s.groups[key] != g {
			return
		}
		b.remove(s, g)
		if ds := b.index.domains[g.Domain]; ds != nil && ds.groups[prevHost] != nil {
			ds.hosts[g.HostID] = prevHost
		}
	}, putGroup(g))
	out := g.Group
	s.mu.Unlock()
	b.index.mu.Unlock()
	if err := b.commit.wait(ctx, done); err != nil {
		return out, err
	}
	b.groupCreated(out)
	return out, nil
}

// liveHostGroup returns the host's latest group in the domain if it is live, with the commit
// it may still wait for; the index must be locked.
func (b *Broker) liveHostGroup(domain, hostID string, now time.Time) (Group, chan error, bool) {
	ds := b.index.domains[domain]
	if ds == nil {
		return Group{}, nil, false
	}
	g := ds.groups[ds.hosts[hostID]]
	if g == nil {
		return Group{}, nil, false
	}
	s := b.shardFor(g.Domain, g.ID)
	s.mu.Lock()
	defer s.mu.Unlock()
	if !b.live(g, now) {
		return Group{}, nil, false
	}
	return g.Group, b.commit.enqueue(nil), true
}

func (b *Broker) joinGroup(ctx context.Context, groupID, domain, nodeID string, now time.Time) (Group, Member, error) {
	s, g, err := b.lockLive(groupID, domain, "nodeId", nodeID, now)
	if err != nil {
		return Group{}, Member{}, err
	}
	m := &Member{NodeID: nodeID, GroupID: groupID, Domain: domain, JoinedAt: now, ExpiresAt: now.Add(b.cfg.MemberTTL), HeartbeatInterval: b.cfg.MemberHeartbeatFor(g.Group)}
	old := g.members[nodeID]
	if old != nil {
		m.JoinedAt = old.JoinedAt
	}
	g.members[nodeID] = m
	g.touch(nodeID, now)
	key := groupKey{domain, groupID}
	prevAt, indexed := b.nodes.lookup(nodeID, key)
	b.nodes.set(nodeID, key, now)
	done := b.commit.enqueue(func() {
		if g.members[nodeID] != m {
			return
		}
		if old != nil {
			g.members[nodeID] = old
		} else {
			delete(g.members, nodeID)
		}
		if indexed {
			b.nodes.set(nodeID, key, prevAt)
		} else {
			b.nodes.unset(nodeID, key)
		}
	}, putMember(m))
	gv, mv := g.Group, *m
	s.mu.Unlock()
	return gv, mv, b.commit.wait(ctx, done)
}

func (b *Broker) leaveGroup(ctx context.Context, groupID, domain, nodeID string) error {
	if err := checkArgs(domain, "groupId", groupID, "nodeId", nodeID); err != nil {
		return err
	}
	s := b.shardFor(domain, groupID)
	s.mu.Lock()
	g := s.lookup(domain, groupID)
	if g == nil {
		s.mu.Unlock()
		return nil
	}
	var ops []store.Op
	m, st := g.members[nodeID], g.statuses[nodeID]
	_, dirty := g.dirtyStatus[nodeID]
	if m != nil {
		delete(g.members, nodeID)
		delete(g.active, nodeID)
		ops = append(ops, store.Op{Kind: store.DeleteMember, Domain: domain, GroupID: groupID, NodeID: nodeID})
	}
	if st != nil {
		delete(g.statuses, nodeID)
		delete(g.dirtyStatus, nodeID)
		ops = append(ops, store.Op{Kind: store.DeleteStatus, Domain: domain, GroupID: groupID, NodeID: nodeID})
	}
	key := groupKey{domain, groupID}
	prevAt, indexed := b.nodes.lookup(nodeID, key)
	b.nodes.unset(nodeID, key)
	var done chan error
	if len(ops) > 0 {
		done = b.commit.enqueue(func() {
			if m != nil && g.members[nodeID] == nil {
				g.members[nodeID] = m
			}
			if st != nil && g.statuses[nodeID] == nil {
				g.statuses[nodeID] = st
				if dirty {
					g.dirtyStatus[nodeID] = struct{}{}
					s.markDirty(g)
				}
			}
			if _, present := b.nodes.lookup(nodeID, key); indexed && !present {
				b.nodes.set(nodeID, key, prevAt)
			}
		}, ops...)
	}
	s.mu.Unlock()
	return b.commit.wait(ctx, done)
}

// dissolveGroup, unlike other operations, also accepts a group that died and is still within
// its grace (DeadGroupGrace); its subscribers were told when it died.
func (b *Broker) dissolveGroup(ctx context.Context, groupID, domain, hostID string, now time.Time) (Dissolve, error) {
	for _, arg := range [][2]string{{"groupId", groupID}, {"domain", domain}, {"hostId", hostID}} {
		if arg[1] == "" {
			return Dissolve{}, errorf(ValidationError, "%s is required", arg[0])
		}
	}
	if err := checkArgs(domain, "groupId", groupID, "hostId", hostID); err != nil {
		return Dissolve{}, err
	}
	// Removal changes the domain's index: it is locked before the group's shard.
	b.index.mu.Lock()
	s := b.shardFor(domain, groupID)
	s.mu.Lock()
	unlock := func() {
		s.mu.Unlock()
		b.index.mu.Unlock()
	}
	g := s.lookup(domain, groupID)
	if g == nil {
		unlock()
		return Dissolve{}, groupNotFound(groupID, domain)
	}
	if g.HostID != hostID {
		unlock()
		return Dissolve{}, errorf(Unauthorized, "Only the host can dissolve the group")
	}
	host := b.index.domains[domain].hosts[g.HostID]
	b.remove(s, g)
	// A group the sweeper already ended was announced then: it is only forgotten now.
	announced := g.ended
	ended := endOf(g, now, true)
	done := b.commit.enqueue(func() { b.restore(s, g, host) }, store.Op{Kind: store.DeleteGroup, Domain: domain, GroupID: groupID})
	unlock()
	if err := b.commit.wait(ctx, done); err != nil {
		return Dissolve{}, err
	}
	d := dissolveOf(groupID, domain)
	if !announced {
		// Published after the group is gone, so nothing of the group can follow it.
		b.publish(&Message{GroupID: groupID, Domain: domain, Dissolve: &d})
		b.groupEnded(ended)
	}
	return d, nil
}

func (b *Broker) renewHeartbeat(ctx context.Context, groupID, domain, hostID string, now time.Time) (Group, error) {
	s, g, err := b.lockLive(groupID, domain, "hostId", hostID, now)
	if err != nil {
		return Group{}, err
	}
	if g.HostID != hostID {
		s.mu.Unlock()
		return Group{}, errorf(Unauthorized, "Only the host can renew the heartbeat")
	}
	prev := g.HeartbeatAt
	g.HeartbeatAt = now
	g.touch(hostID, now)
	done := b.commit.enqueue(func() {
		if g.HeartbeatAt.Equal(now) {
			g.HeartbeatAt = prev
		}
	}, putGroup(g))
	out := g.Group
	s.mu.Unlock()
	if err := b.commit.wait(ctx, done); err != nil {
		return out, err
	}
	return out, nil
}

func (b *Broker) sendMemberHeartbeat(ctx context.Context, groupID, domain, nodeID string, now time.Time) (Member, error) {
	s, g, err := b.lockLive(groupID, domain, "nodeId", nodeID, now)
	if err != nil {
		return Member{}, err
	}
	m := g.members[nodeID]
	if !memberLive(m, now) {
		s.mu.Unlock()
		return Member{}, errorf(NodeNotFound, "Node not found")
	}
	refreshed := *m
	refreshed.ExpiresAt = now.Truncate(time.Second).Add(b.cfg.MemberTTL)
	g.members[nodeID] = &refreshed
	g.touch(nodeID, now)
	done := b.commit.enqueue(func() {
		if g.members[nodeID] == &refreshed {
			g.members[nodeID] = m
		}
	}, putMember(&refreshed))
	s.mu.Unlock()
	return refreshed, b.commit.wait(ctx, done)
}

func (b *Broker) reportData(groupID, domain, nodeID string, data []Pair, now time.Time) (NodeStatus, error) {
	if err := checkData(data); err != nil {
		return NodeStatus{}, err
	}
	if data == nil {
		data = []Pair{}
	}
	s, g, err := b.lockLive(groupID, domain, "nodeId", nodeID, now)
	if err != nil {
		return NodeStatus{}, err
	}
	defer s.mu.Unlock()
	st := &NodeStatus{NodeID: nodeID, GroupID: groupID, Domain: domain, Data: data, Timestamp: now, Memo: new(Memo)}
	g.statuses[nodeID] = st
	g.dirtyStatus[nodeID] = struct{}{}
	g.touch(nodeID, now)
	s.markDirty(g)
	b.nodes.set(nodeID, groupKey{domain, groupID}, now)
	if b.publish(&Message{GroupID: groupID, Domain: domain, Status: st}) {
		g.published++
	}
	return *st, nil
}

type firedBatch struct {
	BatchEvent
	nextSince string
}

// fire publishes a batch of events to the group and appends them to its polling log; a
// recorded batch carries the server's time instead of the firing time. The same batch sent
// again by its node within ResendWindow gets the first one's answer and goes out once.
func (b *Broker) fire(groupID, domain, nodeID string, events []EventInput, record bool, now time.Time) (firedBatch, error) {
	if err := checkArgs(domain, "groupId", groupID, "nodeId", nodeID); err != nil {
		return firedBatch{}, err
	}
	if err := checkEvents(events); err != nil {
		return firedBatch{}, err
	}
	events = inOrderKeyOrder(events)
	s := b.shardFor(domain, groupID)
	s.mu.Lock()
	defer s.mu.Unlock()
	g := s.lookup(domain, groupID)
	if record {
		// recordEventsByNode only ever checked existence, with a plain message.
		if !b.live(g, now) {
			return firedBatch{}, groupNotFound(groupID, domain)
		}
	} else if err := b.check(g, groupID, domain, now); err != nil {
		return firedBatch{}, err
	}
	g.touch(nodeID, now)
	if prev, ok := g.resent(nodeID, events, record, now); ok {
		return prev, nil
	}
	b.pruneEvents(g, now)
	batch := firedBatch{BatchEvent: BatchEvent{
		Events:        make([]Event, len(events)),
		FiredByNodeID: nodeID,
		GroupID:       groupID,
		Domain:        domain,
		Timestamp:     now,
	}}
	for i, in := range events {
		g.seq++
		logged := Event{
			Name:          in.Name,
			FiredByNodeID: nodeID,
			GroupID:       groupID,
			Domain:        domain,
			Payload:       in.Payload,
			Timestamp:     now,
			Cursor:        cursor(now, g.seq),
			OrderKey:      in.OrderKey,
			seq:           g.seq,
		}
		g.events = append(g.events, logged)
		sent := logged
		sent.Payload, sent.Cursor, sent.seq = nonEmpty(in.Payload), "", 0
		if !record {
			sent.Timestamp = in.FiredAt
		}
		batch.Events[i] = sent
	}
	if len(events) > 0 {
		g.seqDirty = true
		s.markDirty(g)
	}
	batch.nextSince = cursor(now, g.seq)
	if b.publish(&Message{GroupID: groupID, Domain: domain, Batch: &batch.BatchEvent}) {
		g.published++
	}
	g.remember(nodeID, events, record, batch)
	return batch, nil
}

// inOrderKeyOrder returns a batch's events in the newest upstream's order: a stable
// lexicographic sort by orderKey, a missing key sorting as "" (spec §11.3). The order is kept
// only within the batch; batches are never reordered against each other, so cursors stay
// monotonic. The caller's slice is left as it is.
func inOrderKeyOrder(events []EventInput) []EventInput {
	if slices.IsSortedFunc(events, byOrderKey) {
		return events
	}
	sorted := slices.Clone(events)
	slices.SortStableFunc(sorted, byOrderKey)
	return sorted
}

func byOrderKey(a, b EventInput) int {
	var ka, kb string
	if a.OrderKey != nil {
		ka = *a.OrderKey
	}
	if b.OrderKey != nil {
		kb = *b.OrderKey
	}
	return strings.Compare(ka, kb)
}

// lockLive checks the arguments, locks the group's shard and checks that the group is live
// at now (upstream's checkGroupExists). On success the caller holds the shard's lock.
func (b *Broker) lockLive(groupID, domain, idName, id string, now time.Time) (*shard, *group, error) {
	if err := checkArgs(domain, "groupId", groupID, idName, id); err != nil {
		return nil, nil, err
	}
	s := b.shardFor(domain, groupID)
	s.mu.Lock()
	g := s.lookup(domain, groupID)
	if err := b.check(g, groupID, domain, now); err != nil {
		s.mu.Unlock()
		return nil, nil, err
	}
	return s, g, nil
}

func putGroup(g *group) store.Op {
	return store.Op{Kind: store.PutGroup, Group: &store.Group{
		Domain:                 g.Domain,
		ID:                     g.ID,
		Name:                   g.Name,
		HostID:                 g.HostID,
		CreatedAt:              g.CreatedAt,
		ExpiresAt:              g.ExpiresAt,
		HeartbeatAt:            g.HeartbeatAt,
		UseWebSocket:           g.UseWebSocket,
		PollingIntervalSeconds: g.PollingIntervalSeconds,
		Seq:                    g.seq,
	}}
}

func putMember(m *Member) store.Op {
	return store.Op{Kind: store.PutMember, Member: &store.Member{
		Domain: m.Domain, GroupID: m.GroupID, NodeID: m.NodeID, JoinedAt: m.JoinedAt, ExpiresAt: m.ExpiresAt,
	}}
}
