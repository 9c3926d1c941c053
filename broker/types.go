package broker

import (
	"time"

	"github.com/smalruby/meshd/store"
)

// TimeLayout is how every timestamp leaves meshd: UTC, milliseconds, and a Z suffix.
const TimeLayout = "2006-01-02T15:04:05.000Z"

// FormatTime renders t as the API renders every AWSDateTime, so that one stored instant is
// always the same string.
func FormatTime(t time.Time) string { return t.UTC().Format(TimeLayout) }

// Group is a mesh session created by a host inside a domain.
type Group struct {
	ID          string
	Domain      string
	Name        string
	HostID      string
	CreatedAt   time.Time
	ExpiresAt   time.Time
	HeartbeatAt time.Time
	// UseWebSocket is false for groups whose clients poll.
	UseWebSocket bool
	// PollingIntervalSeconds is 0 for groups that use WebSockets.
	PollingIntervalSeconds int
}

// FullID is the group's id and domain joined by "@".
func (g Group) FullID() string { return g.ID + "@" + g.Domain }

// Member is a node that joined a group.
type Member struct {
	NodeID    string
	GroupID   string
	Domain    string
	JoinedAt  time.Time
	ExpiresAt time.Time
	// HeartbeatInterval is how often the member is told to send heartbeats
	// (Config.MemberHeartbeatFor its group).
	HeartbeatInterval time.Duration `json:"-"`
}

// Pair is one reported variable. It is the store's type, so that a status is written
// without copying its variables.
type Pair = store.Pair

// NodeStatus is the latest data a node reported in a group.
type NodeStatus struct {
	NodeID    string
	GroupID   string
	Domain    string
	Data      []Pair
	Timestamp time.Time
	// Memo keeps the API layer's encodings of this status, shared by its copies.
	Memo *Memo `json:"-"`
}

// EventInput is one event a node fires.
type EventInput struct {
	Name     string
	Payload  *string
	FiredAt  time.Time
	OrderKey *string
}

// Event is a fired event as subscribers and pollers see it.
type Event struct {
	Name          string
	FiredByNodeID string
	GroupID       string
	Domain        string
	Payload       *string
	Timestamp     time.Time
	// Cursor is set on events read from the polling log.
	Cursor   string
	OrderKey *string
	seq      uint64
}

// BatchEvent is the events of one mutation.
type BatchEvent struct {
	Events        []Event
	FiredByNodeID string
	GroupID       string
	Domain        string
	Timestamp     time.Time
}

// Dissolve tells subscribers that their group was dissolved.
type Dissolve struct {
	GroupID string
	Domain  string
	Message string
}

// Message is what one accepted mutation publishes to its group's subscribers; exactly one of
// Status, Batch and Dissolve is set.
type Message struct {
	GroupID string
	Domain  string
	// Published is when the broker published the message, by the wall clock, so that
	// deliveries can be timed.
	Published time.Time
	Status    *NodeStatus `json:",omitempty"`
	Batch     *BatchEvent `json:",omitempty"`
	Dissolve  *Dissolve   `json:",omitempty"`
}

// RecordResult is what recordEventsByNode returns.
type RecordResult struct {
	Count     int
	NextSince string
}

// nonEmpty returns p unless it points at the empty string.
func nonEmpty(p *string) *string {
	if p == nil || *p == "" {
		return nil
	}
	return p
}
