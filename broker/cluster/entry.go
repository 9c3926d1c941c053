package cluster

import (
	"encoding/json"
	"fmt"

	"github.com/smalruby/meshd/broker"
)

// op names a state change in the log.
type op string

// The state changes the log carries: one per mutation of broker.Service, and the sweep.
const (
	opCreate          op = "create"
	opJoin            op = "join"
	opLeave           op = "leave"
	opDissolve        op = "dissolve"
	opRenew           op = "renew"
	opMemberHeartbeat op = "memberHeartbeat"
	opReport          op = "report"
	opFire            op = "fire"
	opRecord          op = "record"
	opSweep           op = "sweep"
)

// entry is one state change in the replicated log. The node that proposes it stamps its time
// and any id it generates, so that every node applying it computes the same state.
type entry struct {
	Op op `json:"op"`
	// Origin identifies the proposing process (node name and a random incarnation) and
	// Proposal the proposal within it; together they are the entry's deduplication id.
	Origin   string `json:"origin"`
	Proposal uint64 `json:"proposal"`
	// At is the proposer's clock in Unix milliseconds.
	At int64 `json:"at"`
	// NewID is the id a createGroup that creates a group gives it.
	NewID   string                   `json:"newId,omitempty"`
	GroupID string                   `json:"groupId,omitempty"`
	Domain  string                   `json:"domain,omitempty"`
	NodeID  string                   `json:"nodeId,omitempty"`
	Create  *broker.CreateGroupInput `json:"create,omitempty"`
	Data    []broker.Pair            `json:"data,omitempty"`
	Events  []broker.EventInput      `json:"events,omitempty"`
}

func (e *entry) id() string { return fmt.Sprintf("%s/%d", e.Origin, e.Proposal) }

func (e *entry) encode() ([]byte, error) {
	data, err := json.Marshal(e)
	if err != nil {
		return nil, fmt.Errorf("encode log entry: %w", err)
	}
	return data, nil
}

// decodeEntry reads a log entry; it fails for anything encode does not produce in shape: an
// unknown op, a missing origin, or arguments the op does not take.
func decodeEntry(data []byte) (*entry, error) {
	e := new(entry)
	if err := json.Unmarshal(data, e); err != nil {
		return nil, fmt.Errorf("decode log entry: %w", err)
	}
	if e.Origin == "" {
		return nil, fmt.Errorf("decode log entry: no origin")
	}
	switch e.Op {
	case opCreate:
		if e.Create == nil {
			return nil, fmt.Errorf("decode log entry: create without arguments")
		}
	case opJoin, opLeave, opDissolve, opRenew, opMemberHeartbeat, opReport, opFire, opRecord, opSweep:
		if e.Create != nil {
			return nil, fmt.Errorf("decode log entry: %s with create arguments", e.Op)
		}
	default:
		return nil, fmt.Errorf("decode log entry: unknown op %q", e.Op)
	}
	return e, nil
}
