package broker

import (
	"cmp"
	"slices"
	"strings"
	"time"
	"unicode/utf8"
)

// ListGroups returns the live groups of a domain ordered by id.
func (b *Broker) ListGroups(domain string) ([]Group, error) {
	if err := checkDomain(domain); err != nil {
		return nil, err
	}
	now := b.Now()
	var out []Group
	b.index.mu.Lock()
	if ds := b.index.domains[domain]; ds != nil {
		for _, g := range ds.groups {
			s := b.shardFor(g.Domain, g.ID)
			s.mu.Lock()
			if b.live(g, now) {
				out = append(out, g.Group)
			}
			s.mu.Unlock()
		}
	}
	b.index.mu.Unlock()
	slices.SortFunc(out, func(a, b Group) int { return strings.Compare(a.ID, b.ID) })
	return out, nil
}

// Search rules of SearchGroups, as the newest upstream server has them.
const (
	// MaxSearchResults is the most groups one search returns (upstream's fixed 10).
	MaxSearchResults = 10
	// MaxNamePrefix is the longest name prefix accepted, in characters: the editor turns six
	// typed hiragana into six hex digits.
	MaxNamePrefix = 6
)

// SearchGroups returns the live groups of every domain whose name starts with prefix (1 to
// MaxNamePrefix characters), ordered by name, at most limit of them (MaxSearchResults when
// nil or larger).
func (b *Broker) SearchGroups(prefix string, limit *int) ([]Group, error) {
	if n := utf8.RuneCountInString(prefix); n < 1 || n > MaxNamePrefix {
		return nil, errorf(ValidationError, "namePrefix must be 1-%d characters", MaxNamePrefix)
	}
	n := MaxSearchResults
	if limit != nil {
		if *limit < 1 {
			return nil, errorf(ValidationError, "limit must be at least 1")
		}
		n = min(*limit, MaxSearchResults)
	}
	now := b.Now()
	out := []Group{}
	for i := range b.shards {
		s := &b.shards[i]
		s.mu.Lock()
		for _, g := range s.groups {
			if strings.HasPrefix(g.Name, prefix) && b.live(g, now) {
				out = append(out, g.Group)
			}
		}
		s.mu.Unlock()
	}
	// Names repeat across domains; domain and id make the order total.
	slices.SortFunc(out, func(a, b Group) int {
		return cmp.Or(strings.Compare(a.Name, b.Name), strings.Compare(a.Domain, b.Domain), strings.Compare(a.ID, b.ID))
	})
	if len(out) > n {
		out = out[:n]
	}
	return out, nil
}

// GetGroup returns a live group, or nil.
func (b *Broker) GetGroup(groupID, domain string) (*Group, error) {
	if err := checkArgs(domain, "groupId", groupID); err != nil {
		return nil, err
	}
	now := b.Now()
	s := b.shardFor(domain, groupID)
	s.mu.Lock()
	defer s.mu.Unlock()
	if g := s.lookup(domain, groupID); b.live(g, now) {
		out := g.Group
		return &out, nil
	}
	return nil, nil
}

// GetNodeStatus returns the live status of a node in the group it last joined, created or
// reported in, or nil.
func (b *Broker) GetNodeStatus(nodeID string) (*NodeStatus, error) {
	if err := checkID("nodeId", nodeID); err != nil {
		return nil, err
	}
	key, ok := b.nodes.get(nodeID)
	if !ok {
		return nil, nil
	}
	now := b.Now()
	s := b.shardFor(key.domain, key.id)
	s.mu.Lock()
	defer s.mu.Unlock()
	g := s.lookup(key.domain, key.id)
	if !b.live(g, now) {
		return nil, nil
	}
	if st := g.statuses[nodeID]; st != nil && b.statusLive(g, st, now) {
		out := *st
		return &out, nil
	}
	return nil, nil
}

// ListStatuses returns the live statuses of a group ordered by node id; empty for a group
// that does not exist.
func (b *Broker) ListStatuses(groupID, domain string) ([]NodeStatus, error) {
	if groupID == "" || domain == "" {
		return nil, errorf(ValidationError, "groupId and domain are required")
	}
	if err := checkArgs(domain, "groupId", groupID); err != nil {
		return nil, err
	}
	now := b.Now()
	s := b.shardFor(domain, groupID)
	s.mu.Lock()
	var live []*NodeStatus
	if g := s.lookup(domain, groupID); b.live(g, now) {
		live = make([]*NodeStatus, 0, len(g.statuses))
		for _, st := range g.statuses {
			if b.statusLive(g, st, now) {
				live = append(live, st)
			}
		}
	}
	s.mu.Unlock()
	// A status is replaced, never changed, so the pointers are read outside the lock; sorting
	// them moves a word per swap instead of a whole status.
	slices.SortFunc(live, func(a, b *NodeStatus) int { return strings.Compare(a.NodeID, b.NodeID) })
	out := make([]NodeStatus, len(live))
	for i, st := range live {
		out[i] = *st
	}
	return out, nil
}

// ListMembers returns the live members of a live group ordered by node id, with the group
// itself; nil for a group that does not exist.
func (b *Broker) ListMembers(groupID, domain string) ([]Member, *Group, error) {
	if err := checkArgs(domain, "groupId", groupID); err != nil {
		return nil, nil, err
	}
	now := b.Now()
	s := b.shardFor(domain, groupID)
	s.mu.Lock()
	g := s.lookup(domain, groupID)
	if !b.live(g, now) {
		s.mu.Unlock()
		return nil, nil, nil
	}
	var out []Member
	for _, m := range g.members {
		if memberLive(m, now) {
			out = append(out, *m)
		}
	}
	gv := g.Group
	s.mu.Unlock()
	slices.SortFunc(out, func(a, b Member) int { return strings.Compare(a.NodeID, b.NodeID) })
	return out, &gv, nil
}

// EventsSince returns up to a page of the group's retained polling events after since
// (spec §11.3), oldest first. A since that is a plain timestamp starts a pupil's polling and
// reaches back to its join (see startOfPolling).
func (b *Broker) EventsSince(groupID, domain, sinceArg string) ([]Event, error) {
	if err := checkArgs(domain, "groupId", groupID); err != nil {
		return nil, err
	}
	sc, err := parseSince(sinceArg)
	if err != nil {
		return nil, err
	}
	now := b.Now()
	s := b.shardFor(domain, groupID)
	s.mu.Lock()
	defer s.mu.Unlock()
	out := []Event{}
	g := s.lookup(domain, groupID)
	if !b.live(g, now) {
		return out, nil
	}
	b.pruneEvents(g, now)
	g.polledAt = now
	sc = startOfPolling(sc, g, now)
	for i := range g.events {
		if e := &g.events[i]; sc.includes(e) {
			out = append(out, *e)
			if len(out) == b.cfg.EventPageLimit {
				break
			}
		}
	}
	return out, nil
}

// pruneEvents drops events older than the event TTL; the shard must be locked.
func (b *Broker) pruneEvents(g *group, now time.Time) {
	i := 0
	for i < len(g.events) && now.Sub(g.events[i].Timestamp) > b.cfg.EventTTL {
		i++
	}
	if i > 0 {
		g.events = slices.Delete(g.events, 0, i)
	}
}
