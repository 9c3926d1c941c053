package store

import (
	"context"
	"fmt"
	"sync"
)

// Memory is a Store that keeps everything in memory: nothing survives the process. It is for
// tests and for MESH_STORE=memory. Like Bolt, it gives times back to the millisecond in UTC,
// so code tested against it sees what a restart from a file would give it.
type Memory struct {
	mu     sync.Mutex
	closed bool
	groups map[groupRef]*memGroup
}

type groupRef struct{ domain, id string }

// memGroup is everything stored under one (domain, group id). The group record itself may be
// absent: a Store records members and statuses it is told about without checking their group.
type memGroup struct {
	group    *Group
	members  map[string]Member
	statuses map[string]Status
}

func (g *memGroup) empty() bool {
	return g.group == nil && len(g.members) == 0 && len(g.statuses) == 0
}

// NewMemory returns an empty in-memory Store.
func NewMemory() *Memory {
	return &Memory{groups: map[groupRef]*memGroup{}}
}

// Load returns a copy of everything stored, sorted by key.
func (m *Memory) Load(ctx context.Context) (*Snapshot, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return nil, fmt.Errorf("load: %w", ErrClosed)
	}
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("load: %w", err)
	}
	snap := &Snapshot{}
	for _, g := range m.groups {
		if g.group != nil {
			snap.Groups = append(snap.Groups, *g.group)
		}
		for _, mb := range g.members {
			snap.Members = append(snap.Members, mb)
		}
		for _, s := range g.statuses {
			s.Data = cloneData(s.Data)
			snap.Statuses = append(snap.Statuses, s)
		}
	}
	snap.sort()
	return snap, nil
}

// Commit applies ops in order, all or none.
func (m *Memory) Commit(ctx context.Context, ops []Op) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return fmt.Errorf("commit: %w", ErrClosed)
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("commit: %w", err)
	}
	if err := validate(ops); err != nil {
		return err
	}
	for _, op := range ops {
		switch op.Kind {
		case PutGroup:
			g := *op.Group
			g.CreatedAt, g.ExpiresAt, g.HeartbeatAt = millis(g.CreatedAt), millis(g.ExpiresAt), millis(g.HeartbeatAt)
			m.group(g.Domain, g.ID).group = &g
		case DeleteGroup:
			delete(m.groups, groupRef{op.Domain, op.GroupID})
		case PutMember:
			mb := *op.Member
			mb.JoinedAt, mb.ExpiresAt = millis(mb.JoinedAt), millis(mb.ExpiresAt)
			m.group(mb.Domain, mb.GroupID).members[mb.NodeID] = mb
		case DeleteMember:
			if g := m.groups[groupRef{op.Domain, op.GroupID}]; g != nil {
				delete(g.members, op.NodeID)
				m.dropIfEmpty(op.Domain, op.GroupID, g)
			}
		case PutStatus:
			s := *op.Status
			s.Data, s.Timestamp = cloneData(s.Data), millis(s.Timestamp)
			m.group(s.Domain, s.GroupID).statuses[s.NodeID] = s
		case DeleteStatus:
			if g := m.groups[groupRef{op.Domain, op.GroupID}]; g != nil {
				delete(g.statuses, op.NodeID)
				m.dropIfEmpty(op.Domain, op.GroupID, g)
			}
		}
	}
	return nil
}

// group returns the entry of (domain, id), creating it if needed.
func (m *Memory) group(domain, id string) *memGroup {
	ref := groupRef{domain, id}
	g := m.groups[ref]
	if g == nil {
		g = &memGroup{members: map[string]Member{}, statuses: map[string]Status{}}
		m.groups[ref] = g
	}
	return g
}

func (m *Memory) dropIfEmpty(domain, id string, g *memGroup) {
	if g.empty() {
		delete(m.groups, groupRef{domain, id})
	}
}

// Close discards everything; later calls fail with ErrClosed. It may be called more than once.
func (m *Memory) Close() error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.closed, m.groups = true, nil
	return nil
}
