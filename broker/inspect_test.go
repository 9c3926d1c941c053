package broker_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/smalruby/meshd/broker"
)

func TestSnapshot(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	a := f.create(t, "a1b2c3host", "d1")
	b := f.create(t, "ffffffhost", "d0")
	f.join(t, a, "m2")
	f.clock.Advance(30 * time.Second)
	f.join(t, a, "m1")
	if _, err := f.b.ReportData(a.ID, a.Domain, "m1", []broker.Pair{{Key: "score", Value: "12"}}); err != nil {
		t.Fatal(err)
	}
	for i := range 25 {
		if _, err := f.b.FireEvents(a.ID, a.Domain, "m2", []broker.EventInput{{Name: fmt.Sprintf("e%d", i), FiredAt: f.clock.Now()}}); err != nil {
			t.Fatal(err)
		}
	}

	snap := f.b.Snapshot()
	if len(snap.Groups) != 2 || snap.Groups[0].ID != b.ID || snap.Groups[1].ID != a.ID {
		t.Fatalf("groups %+v, want %s (domain d0) then %s (d1)", snap.Groups, b.ID, a.ID)
	}
	if snap.Published != 26 {
		t.Errorf("published = %d, want 26 (one report, 25 batches)", snap.Published)
	}
	g := snap.Groups[1]
	if g.Published != 26 || snap.Groups[0].Published != 0 {
		t.Errorf("group messages %d and %d, want 26 and 0", g.Published, snap.Groups[0].Published)
	}
	if !g.Live || !g.HostDeadline.Equal(g.HeartbeatAt.Add(broker.DefaultConfig().HostHeartbeatTTL)) {
		t.Errorf("live %v, host deadline %v (heartbeat %v)", g.Live, g.HostDeadline, g.HeartbeatAt)
	}
	if len(g.Members) != 2 || g.Members[0].NodeID != "m1" || g.Members[1].NodeID != "m2" || !g.Members[0].Live {
		t.Fatalf("members %+v, want m1, m2 live", g.Members)
	}
	if want := epoch.Add(30 * time.Second); !g.Members[0].LastSeen.Equal(want) {
		t.Errorf("m1 last seen %v, want %v", g.Members[0].LastSeen, want)
	}
	// m2 joined at the start and fired events 30 s later: its last activity is the events.
	if m2 := g.Members[1]; !m2.LastSeen.Equal(epoch) || !m2.LastActive.Equal(epoch.Add(30*time.Second)) {
		t.Errorf("m2 last seen %v, last active %v; want the join, then the events 30 s later", m2.LastSeen, m2.LastActive)
	}
	if !g.HostLastActive.Equal(g.HeartbeatAt) || !g.PolledAt.IsZero() {
		t.Errorf("host last active %v (heartbeat %v), polled at %v", g.HostLastActive, g.HeartbeatAt, g.PolledAt)
	}
	if _, err := f.b.EventsSince(a.ID, a.Domain, ""); err != nil {
		t.Fatal(err)
	}
	if p := f.b.Snapshot().Groups[1].PolledAt; !p.Equal(f.clock.Now().UTC().Truncate(time.Millisecond)) {
		t.Errorf("polled at %v after a poll at %v", p, f.clock.Now())
	}
	if len(g.Statuses) != 1 || g.Statuses[0].Data[0] != (broker.Pair{Key: "score", Value: "12"}) {
		t.Errorf("statuses %+v", g.Statuses)
	}
	if len(g.Events) != 20 || g.Events[0].Name != "e5" || g.Events[19].Name != "e24" {
		t.Errorf("%d events from %q to %q; want the newest 20 (e5..e24) of 25", len(g.Events), g.Events[0].Name, g.Events[len(g.Events)-1].Name)
	}

	// The snapshot is a copy: later changes do not reach it.
	g.Statuses[0].Data[0].Value = "changed"
	if st, _ := f.b.ListStatuses(a.ID, a.Domain); st[0].Data[0].Value != "12" {
		t.Errorf("changing the snapshot changed the broker: %+v", st)
	}

	// Expired members stay listed as not live until swept; retained events expire.
	f.advance(t, a, broker.DefaultConfig().MemberTTL)
	g = f.b.Snapshot().Groups[1]
	if len(g.Members) != 2 || g.Members[0].Live || len(g.Events) != 0 {
		t.Errorf("after the member TTL: members %+v, events %d; want both listed, not live, and no events", g.Members, len(g.Events))
	}
	if _, err := f.b.DissolveGroup(ctx, a.ID, a.Domain, a.HostID); err != nil {
		t.Fatal(err)
	}
	if n := len(f.b.Snapshot().Groups); n != 1 {
		t.Errorf("%d groups after dissolving one of two", n)
	}
}
