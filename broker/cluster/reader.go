package cluster

import (
	"encoding/json"
	"fmt"
	"strconv"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// Reading the log. Every node applies the log in order from two sources, neither of which is
// a consumer kept on another node: the log's leader republishes each entry it stores to
// appliedSubject, which every node subscribes to, and whatever did not arrive that way (a
// republished entry lost, a node that starts, returns or replaces another) is read directly
// from the log's replicas, the local one first. Losing any node, the leader included, stalls
// no reader: the next leader republishes, and direct reads go to the replicas left.
const (
	// appliedSubject is where the log's leader republishes every entry it stored.
	appliedSubject = "meshd.applied"
	// readBatch is how many entries one direct read asks for.
	readBatch = 256
	// readTimeout bounds one direct read.
	readTimeout = 2 * time.Second
	// fillIdle separates direct reads when nothing says the log moved: the last republished
	// entry may have been lost, and nothing else would tell.
	fillIdle = time.Second
	// fillBusy separates direct reads while this node knows of entries it has not applied
	// but its replicas do not hold them yet.
	fillBusy = 10 * time.Millisecond
)

// directGetSubject is the log's direct-read API, answered by any replica (the local one
// first, as NATS prefers local queue subscribers).
var directGetSubject = "$JS.API.DIRECT.GET." + streamName

// subscribeApplied starts receiving the entries the log's leader republishes.
func (n *Node) subscribeApplied() (*nats.Subscription, error) {
	sub, err := n.nc.Subscribe(appliedSubject, func(m *nats.Msg) {
		seq, err := strconv.ParseUint(m.Header.Get(jetstream.SequenceHeader), 10, 64)
		if err != nil {
			n.log.Error("republished log entry without a sequence", "err", err)
			return
		}
		n.receive(seq, m.Data)
	})
	if err != nil {
		return nil, fmt.Errorf("subscribe to the log: %w", err)
	}
	// A burst beyond these limits drops entries, which direct reads then fill in.
	if err := sub.SetPendingLimits(1<<16, 256<<20); err != nil {
		sub.Unsubscribe()
		return nil, fmt.Errorf("subscribe to the log: %w", err)
	}
	return sub, nil
}

// receive applies a republished entry when it is the next one; after a gap it first reads
// what is missing, and leaves the entry to the filler if the replicas lag behind the leader.
func (n *Node) receive(seq uint64, data []byte) {
	n.noteSeen(seq)
	n.applyMu.Lock()
	defer n.applyMu.Unlock()
	if applied := n.appliedSeq(); seq > applied+1 {
		if err := n.fillLocked(); err != nil {
			n.log.Debug("log read", "err", err)
		}
	}
	if seq == n.appliedSeq()+1 {
		n.handle(seq, data)
		return
	}
	n.kick()
}

// noteSeen records that the log holds at least seq entries.
func (n *Node) noteSeen(seq uint64) {
	n.mu.Lock()
	n.seen = max(n.seen, seq)
	n.mu.Unlock()
}

func (n *Node) appliedSeq() uint64 {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.applied
}

// kick wakes the filler.
func (n *Node) kick() {
	select {
	case n.kickCh <- struct{}{}:
	default:
	}
}

// fill reads the log directly whenever this node knows of entries it has not applied, when
// kicked, and every fillIdle in any case, until the node stops.
func (n *Node) fill() {
	defer n.loops.Done()
	t := time.NewTimer(0)
	defer t.Stop()
	for {
		select {
		case <-n.stop:
			return
		case <-n.kickCh:
		case <-t.C:
		}
		n.applyMu.Lock()
		err := n.fillLocked()
		n.applyMu.Unlock()
		n.mu.Lock()
		behind := n.seen > n.applied
		n.mu.Unlock()
		if err != nil && n.bg.Err() == nil {
			n.log.Debug("log read", "err", err)
		}
		wait := fillIdle
		if behind {
			wait = fillBusy
		}
		if !t.Stop() {
			select {
			case <-t.C:
			default:
			}
		}
		t.Reset(wait)
	}
}

// fillLocked applies, in order, every entry after the last applied one that a replica
// holds; applyMu must be held.
func (n *Node) fillLocked() error {
	for {
		got, err := n.readFrom(n.appliedSeq() + 1)
		if err != nil || got < readBatch {
			return err
		}
	}
}

// directGet is the request of the log's direct-read API.
type directGet struct {
	Seq     uint64 `json:"seq"`
	NextFor string `json:"next_by_subj"`
	Batch   int    `json:"batch"`
}

// readFrom reads up to readBatch entries from sequence seq on (skipping what retention
// removed) from one replica and applies them; applyMu must be held. It returns how many it
// applied.
func (n *Node) readFrom(seq uint64) (int, error) {
	req, err := json.Marshal(directGet{Seq: seq, NextFor: logSubject, Batch: readBatch})
	if err != nil {
		return 0, fmt.Errorf("read the log: %w", err)
	}
	inbox := n.nc.NewRespInbox()
	sub, err := n.nc.SubscribeSync(inbox)
	if err != nil {
		return 0, fmt.Errorf("read the log: %w", err)
	}
	defer sub.Unsubscribe()
	if err := n.nc.PublishRequest(directGetSubject, inbox, req); err != nil {
		return 0, fmt.Errorf("read the log: %w", err)
	}
	deadline := time.Now().Add(readTimeout)
	got := 0
	for {
		m, err := sub.NextMsg(time.Until(deadline))
		if err != nil {
			return got, fmt.Errorf("read the log from %d: %w", seq, err)
		}
		if status := m.Header.Get("Status"); status != "" {
			switch status {
			case "204", "404": // the end of the batch, or nothing from seq on
				return got, nil
			default:
				return got, fmt.Errorf("read the log from %d: status %s %s", seq, status, m.Header.Get("Description"))
			}
		}
		s, err := strconv.ParseUint(m.Header.Get(jetstream.SequenceHeader), 10, 64)
		if err != nil {
			return got, fmt.Errorf("read the log from %d: entry without a sequence: %w", seq, err)
		}
		n.noteSeen(s)
		if s > n.appliedSeq() {
			n.handle(s, m.Data)
			got++
		}
	}
}

// handle applies the log entry at seq, the next one; applyMu must be held.
func (n *Node) handle(seq uint64, data []byte) {
	e, err := decodeEntry(data)
	var res result
	if err != nil {
		n.log.Error("undecodable log entry skipped", "seq", seq, "err", err)
	} else {
		res.out, res.err = n.apply(e)
	}
	n.mu.Lock()
	n.applied = seq
	close(n.appliedCh)
	n.appliedCh = make(chan struct{})
	var w chan result
	if e != nil && e.Origin == n.origin {
		w = n.pending[e.Proposal]
		delete(n.pending, e.Proposal)
	}
	n.mu.Unlock()
	if w != nil {
		w <- res
	}
}
