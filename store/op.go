package store

import (
	"cmp"
	"fmt"
	"slices"
	"time"
)

// validate rejects a commit with an op that cannot be applied, before anything is written, so
// that a bad op fails only the commit that carries it.
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
			return fmt.Errorf("commit: op %d: unknown kind %d", i, op.Kind)
		}
		if missing {
			return fmt.Errorf("commit: op %d: %s without a record", i, kindName[op.Kind])
		}
	}
	return nil
}

var kindName = map[OpKind]string{
	PutGroup:     "PutGroup",
	DeleteGroup:  "DeleteGroup",
	PutMember:    "PutMember",
	DeleteMember: "DeleteMember",
	PutStatus:    "PutStatus",
	DeleteStatus: "DeleteStatus",
}

// millis is t as a durable store gives it back: truncated to the millisecond, in UTC, without
// a monotonic clock reading.
func millis(t time.Time) time.Time {
	return fromMillis(t.UnixMilli())
}

// cloneData copies a status's pairs; the copy is never nil.
func cloneData(data []Pair) []Pair {
	return append(make([]Pair, 0, len(data)), data...)
}

// sort puts the snapshot in the order Load promises: by domain, then group id, then node id.
func (s *Snapshot) sort() {
	slices.SortFunc(s.Groups, func(a, b Group) int {
		return cmp.Or(cmp.Compare(a.Domain, b.Domain), cmp.Compare(a.ID, b.ID))
	})
	slices.SortFunc(s.Members, func(a, b Member) int {
		return cmp.Or(cmp.Compare(a.Domain, b.Domain), cmp.Compare(a.GroupID, b.GroupID), cmp.Compare(a.NodeID, b.NodeID))
	})
	slices.SortFunc(s.Statuses, func(a, b Status) int {
		return cmp.Or(cmp.Compare(a.Domain, b.Domain), cmp.Compare(a.GroupID, b.GroupID), cmp.Compare(a.NodeID, b.NodeID))
	})
}
