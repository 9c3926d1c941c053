package broker_test

import (
	"github.com/smalruby/meshd/broker"
	"testing"
	"time"

	"github.com/smalruby/meshd/broker/brokertest"
	"github.com/smalruby/meshd/store"
)

func TestRestartKeepsState(t *testing.T) {
	st := store.NewMemory()
	clock := brokertest.NewClock()
	f := newFixtureOn(t, st, clock)
	g := f.create(t, "host", "d")
	short, _ := f.b.CreateGroup(ctx, broker.CreateGroupInput{HostID: "short", Domain: "d", MaxConnectionTimeSeconds: ptr(30)})
	f.join(t, g, "m1")
	f.join(t, short, "m2")
	f.b.ReportData(g.ID, g.Domain, "m1", []broker.Pair{{Key: "変数", Value: "1"}})
	rec, _ := f.b.RecordEvents(g.ID, g.Domain, "m1", inputs("a"))
	if err := f.b.Close(); err != nil {
		t.Fatal(err)
	}

	clock.Advance(60 * time.Second)
	f2 := newFixtureOn(t, st, clock)
	groups, _ := f2.b.ListGroups("d")
	if len(groups) != 1 || groups[0] != g {
		t.Fatalf("after restart: %+v, want only %+v", groups, g)
	}
	if members, _, _ := f2.b.ListMembers(g.ID, g.Domain); len(members) != 1 || members[0].NodeID != "m1" {
		t.Fatalf("members after restart: %+v", members)
	}
	if sts, _ := f2.b.ListStatuses(g.ID, g.Domain); len(sts) != 1 || sts[0].Data[0].Key != "変数" {
		t.Fatalf("statuses after restart: %+v", sts)
	}
	if again := f2.create(t, "host", "d"); again.ID != g.ID {
		t.Fatal("idempotent create forgot the host's group")
	}
	rec2, _ := f2.b.RecordEvents(g.ID, g.Domain, "m1", inputs("b"))
	if rec2.NextSince <= rec.NextSince {
		t.Fatalf("cursor went backwards across a restart: %q then %q", rec.NextSince, rec2.NextSince)
	}
	evs, _ := f2.b.EventsSince(g.ID, g.Domain, rec.NextSince)
	if names(evs) != "b" {
		t.Fatalf("since a cursor from before the restart: %q", names(evs))
	}
	// The short group expired while meshd was down: within its grace it is still known.
	_, _, err := f2.b.JoinGroup(ctx, short.ID, short.Domain, "m3")
	wantKind(t, err, broker.GroupNotFound, "Group expired: "+short.ID)

	// Past its grace, the next start forgets it.
	if _, err := f2.b.RenewHeartbeat(ctx, g.ID, g.Domain, "host"); err != nil {
		t.Fatal(err)
	}
	f2.advance(t, g, broker.DefaultConfig().DeadGroupGrace)
	if err := f2.b.Close(); err != nil {
		t.Fatal(err)
	}
	f3 := newFixtureOn(t, st, clock)
	_, _, err = f3.b.JoinGroup(ctx, short.ID, short.Domain, "m3")
	wantKind(t, err, broker.GroupNotFound, "Group not found: "+short.ID)
	snap, _ := st.Load(ctx)
	for _, sg := range snap.Groups {
		if sg.ID == short.ID {
			t.Fatal("the group past its grace was not deleted from the store at load")
		}
	}
	for _, sm := range snap.Members {
		if sm.NodeID == "m2" {
			t.Fatal("the forgotten group's member was not deleted from the store")
		}
	}
}

func TestSweepDeletesFromStore(t *testing.T) {
	f := newFixture(t)
	g := f.create(t, "host", "d")
	f.join(t, g, "m")
	f.b.ReportData(g.ID, g.Domain, "m", nil)
	f.b.Flush()
	f.clock.Advance(200 * time.Second)
	f.b.Sweep()
	if snap, _ := f.store.Load(ctx); len(snap.Groups) != 1 {
		t.Fatalf("a dead group within its grace must stay stored: %+v", snap)
	}
	f.clock.Advance(broker.DefaultConfig().DeadGroupGrace)
	f.b.Sweep()
	if err := f.b.Close(); err != nil {
		t.Fatal(err)
	}
	snap, _ := f.store.Load(ctx)
	if len(snap.Groups)+len(snap.Members)+len(snap.Statuses) != 0 {
		t.Fatalf("store after sweeping a dead group: %+v", snap)
	}
}

func TestControlPlaneIsDurableOnReturn(t *testing.T) {
	f := newFixture(t)
	g := f.create(t, "host", "d")
	f.join(t, g, "m")
	snap, _ := f.store.Load(ctx)
	if len(snap.Groups) != 1 || len(snap.Members) != 1 {
		t.Fatalf("store right after create and join: %+v", snap)
	}
	if err := f.b.LeaveGroup(ctx, g.ID, g.Domain, "m"); err != nil {
		t.Fatal(err)
	}
	if snap, _ := f.store.Load(ctx); len(snap.Members) != 0 {
		t.Fatalf("member still stored after leave returned")
	}
	if _, err := f.b.DissolveGroup(ctx, g.ID, g.Domain, "host"); err != nil {
		t.Fatal(err)
	}
	if snap, _ := f.store.Load(ctx); len(snap.Groups) != 0 {
		t.Fatalf("group still stored after dissolve returned")
	}
}

func TestStoreFailureIsInternalError(t *testing.T) {
	f := newFixture(t)
	g := f.create(t, "host", "d")
	f.store.Close()
	_, _, err := f.b.JoinGroup(ctx, g.ID, g.Domain, "m")
	wantKind(t, err, broker.InternalError, "Internal server error")
	if _, err := f.b.ReportData(g.ID, g.Domain, "m", nil); err != nil {
		t.Fatalf("data plane keeps working without the store: %v", err)
	}
}
