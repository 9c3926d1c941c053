package plan

import (
	"time"

	"github.com/smalruby/meshd/broker"
)

// The values of the payload types that no broker type holds whole.

// heartbeatView is a HeartbeatPayload.
type heartbeatView struct {
	g        broker.Group
	interval time.Duration
}

// memberHeartbeatView is a MemberHeartbeatPayload.
type memberHeartbeatView struct {
	m        broker.Member
	interval time.Duration
}

// recordView is a RecordEventsPayload.
type recordView struct {
	groupID, domain string
	r               broker.RecordResult
}

// pollView is a PollGroupData.
type pollView struct {
	events   []broker.Event
	statuses []broker.NodeStatus
}

// seconds is an interval as heartbeatIntervalSeconds writes it.
func seconds(d time.Duration) int32 { return int32(d / time.Second) }

// Group is the group the arguments name.
func (a *Args) Group() (domain, groupID string) { return a.domain, a.groupID }

// FiredEvents are the events the arguments fire or record and the node firing them; none
// for the other fields.
func (a *Args) FiredEvents() (nodeID string, events []broker.EventInput) { return a.nodeID, a.events }
