package cluster

import (
	"encoding/json"
	"fmt"
	"time"

	"github.com/smalruby/meshd/broker"
)

// entry is one state change in the replicated log: a broker.Change, stamped by the node that
// proposes it with its time and any id it generates, so that every node applying it computes
// the same state.
type entry struct {
	broker.Change
	// Origin identifies the proposing process (node name and a random incarnation) and
	// Proposal the proposal within it; together they are the entry's deduplication id.
	Origin   string `json:"origin"`
	Proposal uint64 `json:"proposal"`
	// At is the change's time in Unix milliseconds, as the log stores it.
	At int64 `json:"at"`
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
// unknown op, a missing origin, a create without its new id, or arguments the op does not
// take.
func decodeEntry(data []byte) (*entry, error) {
	e := new(entry)
	if err := json.Unmarshal(data, e); err != nil {
		return nil, fmt.Errorf("decode log entry: %w", err)
	}
	if e.Origin == "" {
		return nil, fmt.Errorf("decode log entry: no origin")
	}
	if err := e.Check(); err != nil {
		return nil, fmt.Errorf("decode log entry: %w", err)
	}
	if e.Op == broker.OpCreate && e.NewID == "" {
		// Every node must give the new group the same id.
		return nil, fmt.Errorf("decode log entry: create without a new id")
	}
	e.Change.At = time.UnixMilli(e.At)
	return e, nil
}
