// Package store persists meshd's control-plane state (groups and memberships) and the latest
// node statuses, so that a restart or crash does not end running lessons.
//
// The broker keeps all state in memory and tells a Store about every change as a list of Ops.
// A Store never interprets group rules: it only records what it is told and gives it back on
// Load.
package store

import (
	"context"
	"errors"
	"time"
)

// Group is the durable record of one group.
type Group struct {
	Domain      string
	ID          string
	Name        string
	HostID      string
	CreatedAt   time.Time
	ExpiresAt   time.Time
	HeartbeatAt time.Time
	// UseWebSocket is false for groups whose clients poll.
	UseWebSocket bool
	// PollingIntervalSeconds is 0 when the group uses WebSockets.
	PollingIntervalSeconds int
	// Seq is the highest polling-event sequence number handed out so far, so that cursors keep
	// increasing across restarts.
	Seq uint64
}

// Member is the durable record of one node's membership in a group.
type Member struct {
	Domain    string
	GroupID   string
	NodeID    string
	JoinedAt  time.Time
	ExpiresAt time.Time
}

// Pair is one key/value entry of a node status.
type Pair struct {
	Key   string
	Value string
}

// Status is the latest data a node reported in a group.
type Status struct {
	Domain    string
	GroupID   string
	NodeID    string
	Data      []Pair
	Timestamp time.Time
}

// Snapshot is everything a Store holds, as returned by Load.
type Snapshot struct {
	Groups   []Group
	Members  []Member
	Statuses []Status
}

// OpKind says what an Op does.
type OpKind uint8

// The kinds of change a Store records.
const (
	// PutGroup creates or replaces Op.Group.
	PutGroup OpKind = iota + 1
	// DeleteGroup removes the group (Op.Domain, Op.GroupID) with all its members and statuses.
	DeleteGroup
	// PutMember creates or replaces Op.Member.
	PutMember
	// DeleteMember removes the member (Op.Domain, Op.GroupID, Op.NodeID).
	DeleteMember
	// PutStatus creates or replaces Op.Status.
	PutStatus
	// DeleteStatus removes the status (Op.Domain, Op.GroupID, Op.NodeID).
	DeleteStatus
)

// Op is one change to the stored state. Put ops carry the record; delete ops carry its key.
type Op struct {
	Kind    OpKind
	Group   *Group
	Member  *Member
	Status  *Status
	Domain  string
	GroupID string
	NodeID  string
}

// Store records state changes durably and returns them on Load.
//
// Commit applies ops in order, atomically, and returns only once they are durable (for stores
// that are durable at all). It is safe to call concurrently; a store does not coalesce
// commits (the broker's committer batches changes before they reach it). Load returns
// the state as of the last successful Commit, with times truncated to the millisecond and in
// UTC.
type Store interface {
	Load(ctx context.Context) (*Snapshot, error)
	Commit(ctx context.Context, ops []Op) error
	Close() error
}

// ErrClosed is returned by a Store that has been closed.
var ErrClosed = errors.New("store closed")
