package store

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"sync"
)

// Memory is a Store that keeps everything in memory: nothing survives the process. It is for
// tests and for MESH_STORE=memory.
type Memory struct {
	mu       sync.Mutex
	closed   bool
	groups   map[groupKey]Group
	members  map[nodeKey]Member
	statuses map[nodeKey]Status
}

type groupKey struct{ domain, id string }

type nodeKey struct {
	groupKey
	node string
}

// NewMemory returns an empty in-memory Store.
func NewMemory() *Memory {
	return &Memory{groups: map[groupKey]Group{}, members: map[nodeKey]Member{}, statuses: map[nodeKey]Status{}}
}

// Load returns a copy of everything stored, sorted by key.
func (m *Memory) Load(context.Context) (*Snapshot, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return nil, fmt.Errorf("load: %w", ErrClosed)
	}
	snap := &Snapshot{}
	for _, g := range m.groups {
		snap.Groups = append(snap.Groups, g)
	}
	for _, mb := range m.members {
		snap.Members = append(snap.Members, mb)
	}
	for _, s := range m.statuses {
		s.Data = slices.Clone(s.Data)
		snap.Statuses = append(snap.Statuses, s)
	}
	snap.sort()
	return snap, nil
}

// Commit applies ops in order.
func (m *Memory) Commit(_ context.Context, ops []Op) error {
	if err := validate(ops); err != nil {
		return err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return fmt.Errorf("commit: %w", ErrClosed)
	}
	for _, op := range ops {
		switch op.Kind {
		case PutGroup:
			m.groups[groupKey{op.Group.Domain, op.Group.ID}] = *op.Group
		case DeleteGroup:
			gk := groupKey{op.Domain, op.GroupID}
			delete(m.groups, gk)
			for k := range m.members {
				if k.groupKey == gk {
					delete(m.members, k)
				}
			}
			for k := range m.statuses {
				if k.groupKey == gk {
					delete(m.statuses, k)
				}
			}
		case PutMember:
			m.members[nodeKey{groupKey{op.Member.Domain, op.Member.GroupID}, op.Member.NodeID}] = *op.Member
		case DeleteMember:
			delete(m.members, nodeKey{groupKey{op.Domain, op.GroupID}, op.NodeID})
		case PutStatus:
			s := *op.Status
			s.Data = slices.Clone(s.Data)
			m.statuses[nodeKey{groupKey{s.Domain, s.GroupID}, s.NodeID}] = s
		case DeleteStatus:
			delete(m.statuses, nodeKey{groupKey{op.Domain, op.GroupID}, op.NodeID})
		}
	}
	return nil
}

// Close makes later calls fail with ErrClosed.
func (m *Memory) Close() error {
	m.mu.Lock()
	m.closed = true
	m.mu.Unlock()
	return nil
}

// validate rejects ops that cannot be applied, before anything is written.
func validate(ops []Op) error {
	for i, op := range ops {
		var missing bool
		switch op.Kind {
		case PutGroup:
			missing = op.Group == nil
		case PutMember:
			missing = op.Member == nil
		case PutStatus:
			missing = op.Status == nil
		case DeleteGroup, DeleteMember, DeleteStatus:
		default:
			return fmt.Errorf("commit: op %d has unknown kind %d", i, op.Kind)
		}
		if missing {
			return fmt.Errorf("commit: op %d (kind %d) has no record", i, op.Kind)
		}
	}
	return nil
}

func (s *Snapshot) sort() {
	slices.SortFunc(s.Groups, func(a, b Group) int { return cmp.Or(cmp.Compare(a.Domain, b.Domain), cmp.Compare(a.ID, b.ID)) })
	slices.SortFunc(s.Members, func(a, b Member) int {
		return cmp.Or(cmp.Compare(a.Domain, b.Domain), cmp.Compare(a.GroupID, b.GroupID), cmp.Compare(a.NodeID, b.NodeID))
	})
	slices.SortFunc(s.Statuses, func(a, b Status) int {
		return cmp.Or(cmp.Compare(a.Domain, b.Domain), cmp.Compare(a.GroupID, b.GroupID), cmp.Compare(a.NodeID, b.NodeID))
	})
}
