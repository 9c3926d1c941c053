package console

import (
	"context"
	"testing"
	"time"

	"github.com/smalruby/meshd/broker"
	"github.com/smalruby/meshd/broker/brokertest"
)

// A group's message rate comes from the count in the broker's snapshot, with no listener of
// the console's own.
func TestSamplerRatesComeFromTheSnapshot(t *testing.T) {
	tb := brokertest.New(t, brokertest.Options{})
	grp, err := tb.Broker.CreateGroup(context.Background(), broker.CreateGroupInput{Name: "h", HostID: "h", Domain: "d", UseWebSocket: true})
	if err != nil {
		t.Fatal(err)
	}
	s := newSampler(Options{Snapshot: tb.Broker.Snapshot})
	now := time.Now()
	s.sample(now)
	for range 3 {
		if _, err := tb.Broker.ReportData(grp.ID, "d", "h", []broker.Pair{{Key: "x", Value: "1"}}); err != nil {
			t.Fatal(err)
		}
	}
	st, _ := s.sample(now.Add(2 * time.Second))
	g := st.Domains[0].Groups[0]
	if g.MessagesPerSecond != 1.5 || len(g.History) != 1 || st.Server.MessagesPerSecond != 1.5 {
		t.Errorf("group %v messages/s (history %v), server %v; want 1.5 (3 reports in 2 s)", g.MessagesPerSecond, g.History, st.Server.MessagesPerSecond)
	}
}
