package gql

import (
	"strings"
	"testing"
	"time"

	"github.com/smalruby/meshd/broker/brokertest"
)

// A burst of panics is counted in full and logged once per panicLogInterval, each line saying
// how many it did not log before it.
func TestPanicsAreLoggedOncePerInterval(t *testing.T) {
	var logs brokertest.Logs
	p := newPanics(logs.Logger())
	clock := brokertest.NewClock()
	p.now = clock.Now
	for range 100 {
		p.record("resolver", "boom")
		clock.Advance(panicLogInterval / 50)
	}
	// 100 panics over two intervals: the first, the one an interval later, and the next.
	lines := strings.Count(logs.String(), "panic recovered")
	if lines != 2 || p.count.Load() != 100 {
		t.Fatalf("%d lines for %d panics, want 2 for 100:\n%s", lines, p.count.Load(), logs.String())
	}
	if !strings.Contains(logs.String(), "not_logged_before=49") {
		t.Errorf("the second line does not count the 49 held back:\n%s", logs.String())
	}
	clock.Advance(time.Hour)
	p.record("resolver", "boom")
	if strings.Count(logs.String(), "panic recovered") != 3 {
		t.Errorf("after a quiet hour the next panic is not logged:\n%s", logs.String())
	}
}
