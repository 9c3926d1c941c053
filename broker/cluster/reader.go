package cluster

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// Reading the log. Every node applies each shard of the log in order from two sources, neither
// of which is a consumer kept on another node: the shard's leader republishes each entry it
// stores to the shard's applied subject, which every node subscribes to, and whatever did not
// arrive that way (a republished entry lost, a node that starts, returns or replaces another) is
// read directly from the shard's replicas. Losing any node, the leader included, stalls no
// reader: the next leader republishes, and direct reads go to the replicas left.
//
// A direct read goes to any replica: NATS gives a client's request to a member of the
// replicas' queue group picked at random, the local one no more often than the others. So a
// read may go to a replica that is frozen (SIGSTOP, a paused VM) or cut off while its routes
// still stand, and get no answer. A read therefore never holds up applying: it waits for its
// answer without the applier's lock, gives up after readTimeout and is tried again, while
// republished entries go on being applied.
const (
	// readTimeout bounds one direct read: a replica that has not answered by then is likely
	// frozen or cut off, and the next read goes to a replica picked anew.
	readTimeout = 500 * time.Millisecond
	// appliedSubject is where the first shard's leader republishes every entry it stored;
	// the others republish to appliedSubject.1, .2, …
	appliedSubject = "meshd.applied"
	// readBatch is how many entries one direct read asks for.
	readBatch = 256
	// fillIdle separates direct reads when nothing says the log moved: the last republished
	// entry may have been lost, and nothing else would tell.
	fillIdle = time.Second
	// fillBusy separates direct reads while this node knows of entries it has not applied
	// but its replicas do not hold them yet.
	fillBusy = 10 * time.Millisecond
)

// subscribeApplied starts receiving the entries the shard's leader republishes.
func (s *shard) subscribeApplied() (*nats.Subscription, error) {
	sub, err := s.node.nc.Subscribe(s.applied, func(m *nats.Msg) {
		seq, err := strconv.ParseUint(m.Header.Get(jetstream.SequenceHeader), 10, 64)
		if err != nil {
			s.node.log.Error("republished log entry without a sequence", "shard", s.name, "err", err)
			return
		}
		s.receive(seq, m.Data)
	})
	if err != nil {
		return nil, fmt.Errorf("subscribe to %s: %w", s.name, err)
	}
	// A burst beyond these limits drops entries, which direct reads then fill in.
	if err := sub.SetPendingLimits(1<<16, 256<<20); err != nil {
		sub.Unsubscribe()
		return nil, fmt.Errorf("subscribe to %s: %w", s.name, err)
	}
	return sub, nil
}

// receive applies a republished entry when it is the next one; after a gap it leaves the
// entry, and what is missing before it, to the filler.
func (s *shard) receive(seq uint64, data []byte) {
	s.noteSeen(seq)
	s.applyMu.Lock()
	defer s.applyMu.Unlock()
	if seq == s.appliedSeq()+1 {
		s.handle(seq, data)
		return
	}
	if seq > s.appliedSeq() {
		s.kick()
	}
}

// noteSeen records that the shard holds at least seq entries.
func (s *shard) noteSeen(seq uint64) {
	s.mu.Lock()
	s.seen = max(s.seen, seq)
	s.mu.Unlock()
}

func (s *shard) appliedSeq() uint64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.last
}

// kick wakes the filler.
func (s *shard) kick() {
	select {
	case s.kickCh <- struct{}{}:
	default:
	}
}

// fill reads the shard directly whenever this node knows of entries it has not applied, when
// kicked, and every fillIdle in any case, until the node stops.
func (s *shard) fill() {
	n := s.node
	defer n.loops.Done()
	t := time.NewTimer(0)
	defer t.Stop()
	for {
		select {
		case <-n.stop:
			return
		case <-s.kickCh:
		case <-t.C:
		}
		err := s.catchUp()
		s.mu.Lock()
		behind := s.seen > s.last
		s.mu.Unlock()
		if err != nil && n.bg.Err() == nil {
			n.log.Debug("log read", "shard", s.name, "err", err)
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

// catchUp applies, in order, every entry after the last applied one that a replica holds.
func (s *shard) catchUp() error {
	for {
		entries, err := s.readFrom(s.appliedSeq() + 1)
		s.applyRead(entries)
		if err != nil || len(entries) < readBatch {
			return err
		}
	}
}

// applyRead applies the entries read directly that this node has not applied yet, in order:
// each is the next entry the replica holds (retention may have removed some before it).
func (s *shard) applyRead(entries []readEntry) {
	s.applyMu.Lock()
	defer s.applyMu.Unlock()
	for _, e := range entries {
		if e.seq > s.appliedSeq() {
			s.handle(e.seq, e.data)
		}
	}
}

// readEntry is an entry read directly from a replica.
type readEntry struct {
	seq  uint64
	data []byte
}

// directGet is the request of the log's direct-read API.
type directGet struct {
	Seq     uint64 `json:"seq"`
	NextFor string `json:"next_by_subj"`
	Batch   int    `json:"batch"`
}

// readFrom reads up to readBatch entries from sequence seq on (skipping what retention
// removed) from one replica of the shard. After a failure it returns the entries read before.
func (s *shard) readFrom(seq uint64) ([]readEntry, error) {
	nc := s.node.nc
	req, err := json.Marshal(directGet{Seq: seq, NextFor: s.subject, Batch: readBatch})
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", s.name, err)
	}
	inbox := nc.NewRespInbox()
	sub, err := nc.SubscribeSync(inbox)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", s.name, err)
	}
	defer sub.Unsubscribe()
	if err := nc.PublishRequest(s.directGet, inbox, req); err != nil {
		return nil, fmt.Errorf("read %s: %w", s.name, err)
	}
	// The node's stop ends a read at once.
	ctx, cancel := context.WithTimeout(s.node.bg, readTimeout)
	defer cancel()
	var got []readEntry
	for {
		m, err := sub.NextMsgWithContext(ctx)
		if err != nil {
			return got, fmt.Errorf("read %s from %d: %w", s.name, seq, err)
		}
		if status := m.Header.Get("Status"); status != "" {
			switch status {
			case "204", "404": // the end of the batch, or nothing from seq on
				return got, nil
			default:
				return got, fmt.Errorf("read %s from %d: status %s %s", s.name, seq, status, m.Header.Get("Description"))
			}
		}
		at, err := strconv.ParseUint(m.Header.Get(jetstream.SequenceHeader), 10, 64)
		if err != nil {
			return got, fmt.Errorf("read %s from %d: entry without a sequence: %w", s.name, seq, err)
		}
		s.noteSeen(at)
		got = append(got, readEntry{at, m.Data})
	}
}

// handle applies the shard's entry at seq, the next one; applyMu must be held.
func (s *shard) handle(seq uint64, data []byte) {
	n := s.node
	e, err := decodeEntry(data)
	var res result
	if err != nil {
		n.log.Error("undecodable log entry skipped", "shard", s.name, "seq", seq, "err", err)
	} else {
		res.out, res.err = s.apply(e)
	}
	s.mu.Lock()
	s.last = seq
	close(s.appliedCh)
	s.appliedCh = make(chan struct{})
	s.mu.Unlock()
	if e != nil && e.Origin == n.origin {
		n.answer(e.Proposal, res)
	}
}
