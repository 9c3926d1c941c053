package broker_test

import (
	"context"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/smalruby/meshd/broker"
	"github.com/smalruby/meshd/broker/brokertest"
)

// TestApplyIsDeterministic applies one list of changes, each with its time and new id, to two
// brokers whose clocks disagree: both answer every change alike and end in the same state,
// which is what a cluster's log relies on.
func TestApplyIsDeterministic(t *testing.T) {
	at := func(s int) time.Time { return epoch.Add(time.Duration(s) * time.Second) }
	changes := []broker.Change{
		{Op: broker.OpCreate, At: at(0), NewID: "g1", Create: &broker.CreateGroupInput{Name: "class", HostID: "host", Domain: "d", UseWebSocket: true}},
		{Op: broker.OpCreate, At: at(1), NewID: "unused", Create: &broker.CreateGroupInput{Name: "again", HostID: "host", Domain: "d", UseWebSocket: true}},
		{Op: broker.OpJoin, At: at(2), GroupID: "g1", Domain: "d", NodeID: "pupil"},
		{Op: broker.OpReport, At: at(3), GroupID: "g1", Domain: "d", NodeID: "pupil", Data: []broker.Pair{{Key: "x", Value: "1"}}},
		{Op: broker.OpRecord, At: at(4), GroupID: "g1", Domain: "d", NodeID: "pupil", Events: []broker.EventInput{{Name: "e"}}},
		{Op: broker.OpRenew, At: at(5), GroupID: "g1", Domain: "d", NodeID: "pupil"},
		{Op: broker.OpMemberHeartbeat, At: at(6), GroupID: "g1", Domain: "d", NodeID: "pupil"},
		{Op: broker.OpJoin, At: at(7), GroupID: "nope", Domain: "d", NodeID: "pupil"},
		{Op: broker.OpSweep, At: at(200)},
		{Op: broker.OpJoin, At: at(201), GroupID: "g1", Domain: "d", NodeID: "late"},
		{Op: broker.OpSweep, At: at(800)}, // past the dead group's grace
		{Op: broker.OpJoin, At: at(801), GroupID: "g1", Domain: "d", NodeID: "late"},
	}
	type answer struct {
		out broker.Outcome
		err string
	}
	run := func(clockOffset time.Duration) ([]answer, broker.Stats) {
		clock := brokertest.NewClock()
		clock.Advance(clockOffset)
		tb := brokertest.New(t, brokertest.Options{Clock: clock})
		var got []answer
		for _, c := range changes {
			out, err := tb.Apply(context.Background(), c)
			a := answer{out: out}
			if err != nil {
				a.err = err.Error()
			}
			got = append(got, a)
		}
		st := tb.Stats()
		st.Published = 0 // counts deliveries to this broker's bus, not state
		return got, st
	}
	a1, g1 := run(0)
	a2, g2 := run(time.Hour)
	for i := range a1 {
		if !reflect.DeepEqual(a1[i], a2[i]) {
			t.Errorf("change %d (%s): answers differ:\n%+v\n%+v", i, changes[i].Op, a1[i], a2[i])
		}
	}
	if !reflect.DeepEqual(g1, g2) {
		t.Errorf("states differ:\n%+v\n%+v", g1, g2)
	}
	for i, want := range []string{"", "", "", "", "", "Only the host", "", "Group not found", "", "(heartbeat expired)", "", "Group not found: g1@d"} {
		if got := a1[i].err; want == "" && got != "" || want != "" && !strings.Contains(got, want) {
			t.Errorf("change %d (%s): error %q, want %q", i, changes[i].Op, got, want)
		}
	}
	if a1[1].out.Group.ID != "g1" {
		t.Errorf("a second create by the host made group %q, want the live g1", a1[1].out.Group.ID)
	}
	if g1.Groups != 0 || g1.GroupsCreated != 1 || g1.GroupsExpired != 1 {
		t.Errorf("stats %+v, want the one group created and expired in log time", g1)
	}
}
