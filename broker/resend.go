package broker

import (
	"slices"
	"time"
)

// ResendWindow is how long a node's event batch is remembered, so that the same batch sent
// again is answered as the first was instead of being broadcast a second time. A batch is
// sent again when its answer was lost: the editor's SDK resends after a network error or a
// 5xx (spec §14.2), and a load balancer in front of a cluster resends a request whose node
// crashed after it had put the batch into the log.
const ResendWindow = 10 * time.Second

// resendKeep is how many nodes' batches a group keeps before the expired ones are dropped.
const resendKeep = 16

// sentBatch is a node's latest event batch in a group and the answer it got.
type sentBatch struct {
	events []EventInput
	record bool
	result firedBatch
}

// resent returns the answer of nodeID's previous batch when events, fired (or recorded) at
// now, are that batch sent again within ResendWindow; the shard must be locked.
func (g *group) resent(nodeID string, events []EventInput, record bool, now time.Time) (firedBatch, bool) {
	prev, ok := g.batches[nodeID]
	if !ok || prev.record != record || now.Sub(prev.result.Timestamp) > ResendWindow ||
		!slices.EqualFunc(prev.events, events, sameEvent) {
		return firedBatch{}, false
	}
	return prev.result, true
}

// remember keeps nodeID's batch and its answer, if the batch can be told from a later one
// with the same events: only then is an identical batch certainly a resend. The shard must
// be locked.
func (g *group) remember(nodeID string, events []EventInput, record bool, result firedBatch) {
	if !identifiable(events) {
		delete(g.batches, nodeID)
		return
	}
	if g.batches == nil {
		g.batches = make(map[string]sentBatch)
	}
	if len(g.batches) >= resendKeep {
		for id, b := range g.batches {
			if result.Timestamp.Sub(b.result.Timestamp) > ResendWindow {
				delete(g.batches, id)
			}
		}
	}
	g.batches[nodeID] = sentBatch{events: events, record: record, result: result}
}

// identifiable reports whether every event of a batch carries what makes it unique to its
// firing: an orderKey (the newest editor counts its events) or a firing time finer than a
// second (every editor sends milliseconds). A client that sends whole seconds may fire the
// same broadcast twice within one, and both must go out.
func identifiable(events []EventInput) bool {
	for _, e := range events {
		if e.OrderKey == nil && e.FiredAt.Nanosecond() == 0 {
			return false
		}
	}
	return len(events) > 0
}

func sameEvent(a, b EventInput) bool {
	return a.Name == b.Name && a.FiredAt.Equal(b.FiredAt) && samePtr(a.Payload, b.Payload) && samePtr(a.OrderKey, b.OrderKey)
}

func samePtr(a, b *string) bool {
	if a == nil || b == nil {
		return a == b
	}
	return *a == *b
}
