package main

import (
	"strconv"
	"sync/atomic"
	"time"
)

// mutationOutcome is how a mutation ended, as its sender saw it.
type mutationOutcome uint8

// The outcomes of a mutation.
const (
	outcomePending mutationOutcome = iota // sent, no answer yet
	outcomeAcked                          // HTTP 200 without errors: the server applied it and must deliver it
	outcomeFailed                         // refused (an HTTP error status or GraphQL errors): nobody may receive it
	outcomeUnknown                        // the transport failed: it may or may not have been applied
)

var outcomeNames = [...]string{outcomePending: "pending", outcomeAcked: "acked", outcomeFailed: "failed", outcomeUnknown: "unknown"}

func (o mutationOutcome) String() string {
	if int(o) < len(outcomeNames) {
		return outcomeNames[o]
	}
	return "outcome(" + strconv.Itoa(int(o)) + ")"
}

// messageKind is the kind of a tagged message.
type messageKind uint8

// The kinds of tagged messages.
const (
	kindData  messageKind = iota // reportDataByNode
	kindEvent                    // fireEventsByNode or recordEventsByNode
)

var kindNames = [...]string{kindData: "data", kindEvent: "event"}

func (k messageKind) String() string {
	if int(k) < len(kindNames) {
		return kindNames[k]
	}
	return "kind(" + strconv.Itoa(int(k)) + ")"
}

// sender is one node's record of the messages it sent. Only the node's own goroutine appends;
// receivers read issued to recognise tags that were never sent.
type sender struct {
	index   int // global node index, the sender field of its tags
	issued  atomic.Uint64
	sentAt  []int64 // by seq-1, Unix nanoseconds
	kind    []messageKind
	outcome []mutationOutcome
}

// next issues the sender's next tag, sent now.
func (s *sender) next(kind messageKind, now int64) tag {
	s.sentAt = append(s.sentAt, now)
	s.kind = append(s.kind, kind)
	s.outcome = append(s.outcome, outcomePending)
	return tag{sender: s.index, seq: s.issued.Add(1), sent: now}
}

// settle records how the mutation carrying seq ended.
func (s *sender) settle(seq uint64, outcome mutationOutcome) {
	s.outcome[seq-1] = outcome
}

// Results of adding a sequence number to a track.
const (
	seqInOrder   = iota
	seqLate      // first arrival, but after a higher sequence number: out of order
	seqDuplicate // arrived before
)

// track is what one receiver got from one sender: a bitset of sequence numbers and the highest.
type track struct {
	got []uint64
	top uint64
}

func (t *track) add(seq uint64) int {
	w, bit := (seq-1)/64, uint64(1)<<((seq-1)%64)
	for uint64(len(t.got)) <= w {
		t.got = append(t.got, 0)
	}
	if t.got[w]&bit != 0 {
		return seqDuplicate
	}
	t.got[w] |= bit
	if seq < t.top {
		return seqLate
	}
	t.top = seq
	return seqInOrder
}

func (t *track) has(seq uint64) bool {
	w := (seq - 1) / 64
	return w < uint64(len(t.got)) && t.got[w]&(1<<((seq-1)%64)) != 0
}

// receiver is one subscriber's record of what it received from the senders of its group (the
// group's nodes, whose global indices run from base). One goroutine at a time writes it: the
// node's WebSocket reader, or its polling loop.
type receiver struct {
	senders []*sender
	base    int
	// since is when this receiver started to be owed every message (Unix nanoseconds): when
	// start_ack arrived, or, polling, the cursor time it started from. 0: never subscribed.
	since int64
	// eventsOnly: statuses arrive by polling as latest values, so only events are owed.
	eventsOnly bool
	// died: the socket ended while the run still needed it (its node was killed, or it
	// was closed on it); what it was owed after its last arrival died with it.
	died   bool
	from   []track
	latest []uint64 // polling: newest status sequence number seen per sender

	deliveries uint64 // first arrivals of tagged messages (and, polling, new statuses)
	// arrivals, if set, counts deliveries across receivers while they run, for the drain.
	arrivals   *atomic.Uint64
	inWindow   uint64 // of those, sent inside the measurement window
	duplicated uint64
	outOfOrder uint64 // late first arrivals, and polled statuses that went backwards
	unexpected uint64 // tags of another group, never sent, or malformed
}

func newReceiver(senders []*sender, eventsOnly bool) *receiver {
	return &receiver{
		senders: senders, base: senders[0].index, eventsOnly: eventsOnly,
		from: make([]track, len(senders)), latest: make([]uint64, len(senders)),
	}
}

// window is the measurement window: latencies and rates count messages sent inside it.
type window struct {
	start, end atomic.Int64 // Unix nanoseconds; end 0 until the window is set
}

func (w *window) contains(t int64) bool {
	e := w.end.Load()
	return e != 0 && t >= w.start.Load() && t < e
}

// sender returns the group's sender of t, or nil if t is not from this group or was never
// sent.
func (r *receiver) sender(t tag) (int, bool) {
	pos := t.sender - r.base
	if pos < 0 || pos >= len(r.senders) || t.seq > r.senders[pos].issued.Load() {
		return 0, false
	}
	return pos, true
}

// observe accounts for one tagged message that arrived at now.
func (r *receiver) observe(t tag, now int64, w *window, h *histogram) {
	pos, ok := r.sender(t)
	if !ok {
		r.unexpected++
		return
	}
	switch r.from[pos].add(t.seq) {
	case seqDuplicate:
		r.duplicated++
		return
	case seqLate:
		r.outOfOrder++
	}
	r.delivered(t, now, w, h)
}

// observeStatus accounts for a node status seen by polling: only a newer one is a delivery.
func (r *receiver) observeStatus(t tag, now int64, w *window, h *histogram) {
	pos, ok := r.sender(t)
	switch {
	case !ok:
		r.unexpected++
	case t.seq < r.latest[pos]:
		r.outOfOrder++
	case t.seq > r.latest[pos]:
		r.latest[pos] = t.seq
		r.delivered(t, now, w, h)
	}
}

func (r *receiver) delivered(t tag, now int64, w *window, h *histogram) {
	r.deliveries++
	if r.arrivals != nil {
		r.arrivals.Add(1)
	}
	if w.contains(t.sent) {
		r.inWindow++
		h.record(time.Duration(now - t.sent))
	}
}

// owed counts the messages this receiver had to get (acknowledged, of an owed kind, sent after
// it subscribed) and how many of them never came; tags of refused mutations that did come are
// added to unexpected. On a socket that died, a message missing after the last one that came
// from its sender was cut off with the socket: it counts in dead, neither expected nor lost
// (it could not arrive); one missing before a later one of its sender is a loss as anywhere.
// Call it once every writer has stopped.
func (r *receiver) owed() (expected, lost, dead uint64) {
	if r.since == 0 {
		return 0, 0, 0
	}
	for pos, s := range r.senders {
		for i, o := range s.outcome {
			seq := uint64(i + 1)
			owedKind := !r.eventsOnly || s.kind[i] == kindEvent
			switch {
			case o == outcomeFailed && r.from[pos].has(seq):
				r.unexpected++
			case o != outcomeAcked || !owedKind || s.sentAt[i] <= r.since:
			case r.from[pos].has(seq):
				expected++
			case r.died && seq > r.from[pos].top:
				dead++
			default:
				expected++
				lost++
			}
		}
	}
	return expected, lost, dead
}
