package main

import (
	"testing"
	"time"
)

func TestTrack(t *testing.T) {
	tests := []struct {
		name string
		seqs []uint64
		want []int
	}{
		{"in order", []uint64{1, 2, 3}, []int{seqInOrder, seqInOrder, seqInOrder}},
		{"gap then late", []uint64{1, 3, 2}, []int{seqInOrder, seqInOrder, seqLate}},
		{"duplicate", []uint64{1, 1, 2, 2}, []int{seqInOrder, seqDuplicate, seqInOrder, seqDuplicate}},
		{"late duplicate", []uint64{5, 2, 2}, []int{seqInOrder, seqLate, seqDuplicate}},
		{"across words", []uint64{64, 65, 200, 128}, []int{seqInOrder, seqInOrder, seqInOrder, seqLate}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var tr track
			for i, s := range tc.seqs {
				if got := tr.add(s); got != tc.want[i] {
					t.Fatalf("add(%d) #%d = %d, want %d", s, i, got, tc.want[i])
				}
			}
			for _, s := range tc.seqs {
				if !tr.has(s) {
					t.Fatalf("has(%d) = false", s)
				}
			}
			if tr.has(1000) {
				t.Fatal("has(1000) = true")
			}
		})
	}
}

// sent describes one mutation of the accounting scenario.
type sent struct {
	from    int // position of the sender in the group
	kind    messageKind
	at      int64
	outcome mutationOutcome
}

func TestReceiverAccounting(t *testing.T) {
	const since = 100
	w := new(window)
	w.start.Store(150)
	w.end.Store(1000)
	tests := []struct {
		name       string
		eventsOnly bool
		died       bool // the receiver's socket died after the arrivals
		sent       []sent
		// arrivals are indices into sent; -1 is a tag from another group.
		arrivals []int
		want     receiver // the counters to compare
		expected uint64
		lost     uint64
		dead     uint64
		inWindow uint64
	}{
		{
			name:     "everything once in order",
			sent:     []sent{{0, kindData, 200, outcomeAcked}, {1, kindEvent, 210, outcomeAcked}, {0, kindData, 220, outcomeAcked}},
			arrivals: []int{0, 1, 2},
			want:     receiver{deliveries: 3}, expected: 3, inWindow: 3,
		},
		{
			name:     "lost, duplicated and out of order",
			sent:     []sent{{0, kindData, 200, outcomeAcked}, {0, kindData, 210, outcomeAcked}, {0, kindData, 220, outcomeAcked}, {1, kindData, 230, outcomeAcked}},
			arrivals: []int{1, 0, 0, 3},
			want:     receiver{deliveries: 3, duplicated: 1, outOfOrder: 1}, expected: 4, lost: 1, inWindow: 3,
		},
		{
			name:     "sent before subscribing is not owed",
			sent:     []sent{{0, kindData, 50, outcomeAcked}, {0, kindData, 200, outcomeAcked}},
			arrivals: []int{1},
			want:     receiver{deliveries: 1}, expected: 1, inWindow: 1,
		},
		{
			name:     "outcomes: failed must not arrive, unknown need not",
			sent:     []sent{{0, kindData, 200, outcomeFailed}, {0, kindData, 210, outcomeUnknown}, {0, kindData, 220, outcomeAcked}},
			arrivals: []int{0, 2},
			want:     receiver{deliveries: 2, unexpected: 1}, expected: 1, inWindow: 2,
		},
		{
			name:     "foreign tags",
			sent:     []sent{{0, kindData, 200, outcomeAcked}},
			arrivals: []int{-1, 0},
			want:     receiver{deliveries: 1, unexpected: 1}, expected: 1, inWindow: 1,
		},
		{
			name:     "outside the window",
			sent:     []sent{{0, kindData, 120, outcomeAcked}, {0, kindData, 2000, outcomeAcked}},
			arrivals: []int{0, 1},
			want:     receiver{deliveries: 2}, expected: 2, inWindow: 0,
		},
		{
			name:       "polling owes events only",
			eventsOnly: true,
			sent:       []sent{{0, kindData, 200, outcomeAcked}, {1, kindEvent, 210, outcomeAcked}, {1, kindEvent, 220, outcomeAcked}},
			arrivals:   []int{1},
			want:       receiver{deliveries: 1}, expected: 2, lost: 1, inWindow: 1,
		},
		{
			name:     "a dead socket is owed nothing after its sender's last arrival",
			died:     true,
			sent:     []sent{{0, kindData, 200, outcomeAcked}, {0, kindData, 210, outcomeAcked}, {1, kindData, 215, outcomeAcked}, {0, kindData, 220, outcomeAcked}, {1, kindEvent, 230, outcomeAcked}},
			arrivals: []int{0, 1, 2},
			want:     receiver{deliveries: 3}, expected: 3, dead: 2, inWindow: 3,
		},
		{
			name:     "a gap before the last arrival on a dead socket is still a loss",
			died:     true,
			sent:     []sent{{0, kindData, 200, outcomeAcked}, {0, kindData, 210, outcomeAcked}, {0, kindData, 220, outcomeAcked}, {0, kindData, 230, outcomeAcked}},
			arrivals: []int{0, 2},
			want:     receiver{deliveries: 2}, expected: 3, lost: 1, dead: 1, inWindow: 2,
		},
		{
			name:     "a dead socket that got nothing from a sender is owed none of it",
			died:     true,
			sent:     []sent{{0, kindData, 200, outcomeAcked}, {1, kindData, 210, outcomeAcked}, {1, kindData, 220, outcomeAcked}, {1, kindData, 230, outcomeFailed}},
			arrivals: []int{0},
			want:     receiver{deliveries: 1}, expected: 1, dead: 2, inWindow: 1,
		},
		{
			name:     "the same arrivals on a socket that stayed up are losses",
			sent:     []sent{{0, kindData, 200, outcomeAcked}, {1, kindData, 210, outcomeAcked}, {1, kindData, 220, outcomeAcked}, {1, kindData, 230, outcomeFailed}},
			arrivals: []int{0},
			want:     receiver{deliveries: 1}, expected: 3, lost: 2, inWindow: 1,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			senders := []*sender{{index: 40}, {index: 41}}
			tags := make([]tag, len(tc.sent))
			for i, s := range tc.sent {
				tags[i] = senders[s.from].next(s.kind, s.at)
				senders[s.from].settle(tags[i].seq, s.outcome)
			}
			r := newReceiver(senders, tc.eventsOnly)
			r.since = since
			var h histogram
			for _, a := range tc.arrivals {
				tg := tag{sender: 3, seq: 1, sent: 200}
				if a >= 0 {
					tg = tags[a]
				}
				r.observe(tg, tg.sent+int64(time.Millisecond), w, &h)
			}
			r.died = tc.died
			expected, lost, dead := r.owed()
			got := receiver{deliveries: r.deliveries, duplicated: r.duplicated, outOfOrder: r.outOfOrder, unexpected: r.unexpected}
			want := receiver{deliveries: tc.want.deliveries, duplicated: tc.want.duplicated, outOfOrder: tc.want.outOfOrder, unexpected: tc.want.unexpected}
			if got.deliveries != want.deliveries || got.duplicated != want.duplicated || got.outOfOrder != want.outOfOrder || got.unexpected != want.unexpected {
				t.Errorf("counters = %+v, want %+v", got, want)
			}
			if expected != tc.expected || lost != tc.lost || dead != tc.dead {
				t.Errorf("owed = %d expected, %d lost, %d to a dead socket; want %d, %d, %d", expected, lost, dead, tc.expected, tc.lost, tc.dead)
			}
			if r.inWindow != tc.inWindow || h.count() != tc.inWindow {
				t.Errorf("in window %d (histogram %d), want %d", r.inWindow, h.count(), tc.inWindow)
			}
		})
	}
}

func TestReceiverNeverSubscribed(t *testing.T) {
	s := &sender{index: 0}
	tg := s.next(kindData, 10)
	s.settle(tg.seq, outcomeAcked)
	r := newReceiver([]*sender{s}, false)
	if expected, lost, dead := r.owed(); expected != 0 || lost != 0 || dead != 0 {
		t.Fatalf("owed = %d, %d, %d; want nothing", expected, lost, dead)
	}
}

func TestObserveStatus(t *testing.T) {
	s := &sender{index: 7}
	var tags []tag
	for i := range 4 {
		tg := s.next(kindData, int64(200+i))
		s.settle(tg.seq, outcomeAcked)
		tags = append(tags, tg)
	}
	r := newReceiver([]*sender{s}, true)
	r.since = 100
	w := new(window)
	var h histogram
	for _, i := range []int{0, 0, 2, 1, 3, 3} {
		r.observeStatus(tags[i], 500, w, &h)
	}
	if r.deliveries != 3 || r.outOfOrder != 1 || r.duplicated != 0 {
		t.Fatalf("deliveries %d, out of order %d, duplicated %d; want 3, 1, 0", r.deliveries, r.outOfOrder, r.duplicated)
	}
}
