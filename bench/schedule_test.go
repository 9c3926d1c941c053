package main

import (
	"context"
	"testing"
	"time"
)

// The senders' slots are spread evenly over the second from one base instant, whatever the
// number of senders.
func TestSlotStart(t *testing.T) {
	base := time.Date(2026, 12, 7, 0, 0, 0, 0, time.UTC)
	for _, slots := range []int{1, 3, 170, 1700, 17000} {
		step := sendPeriod / time.Duration(slots)
		for slot := range slots {
			got := slotStart(base, slot, slots)
			if d := got.Sub(base) - time.Duration(slot)*step; d < 0 || d >= time.Duration(slots) {
				t.Fatalf("%d slots: slot %d starts %v after base, want %v", slots, slot, got.Sub(base), time.Duration(slot)*step)
			}
			if got.Sub(base) >= sendPeriod {
				t.Fatalf("%d slots: slot %d starts %v after base, past the period", slots, slot, got.Sub(base))
			}
		}
	}
}

// A schedule whose first slots passed before it started (its goroutine ran late) calls once
// at once and then waits for its next slot: the missed slots are not made up in a burst.
func TestEveryKeepsItsSlots(t *testing.T) {
	const period = 200 * time.Millisecond
	first := time.Now().Add(-2*period - period/2)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var calls []time.Time
	every(ctx, first, period, func() {
		if calls = append(calls, time.Now()); len(calls) == 2 {
			cancel()
		}
	})
	if len(calls) != 2 {
		t.Fatalf("%d calls, want 2", len(calls))
	}
	// The slot after the late first call is first+3·period; making up a missed slot would
	// call again at once.
	if next := first.Add(3 * period); calls[1].Before(next) {
		t.Fatalf("second call at %v, before its slot at %v", calls[1].Sub(first), next.Sub(first))
	}
}
