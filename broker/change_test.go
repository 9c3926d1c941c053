package broker_test

import (
	"context"
	"fmt"
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

// TestApplyCommutesAcrossParts applies the changes of two groups in two parts (as two shards
// of a cluster's log carry them) interleaved in different orders: every order ends in the same
// state and the same answers to queries that span groups, and a sweep of one part touches only
// its groups.
func TestApplyCommutesAcrossParts(t *testing.T) {
	at := func(s int) time.Time { return epoch.Add(time.Duration(s) * time.Second) }
	// Ids of the two parts of domain d.
	var ids [2]string
	for i := 0; ids[0] == "" || ids[1] == ""; i++ {
		id := fmt.Sprint("g", i)
		if p := broker.PartOf("d", id, 2); ids[p] == "" {
			ids[p] = id
		}
	}
	create := func(s int, host, id string) broker.Change {
		return broker.Change{Op: broker.OpCreate, At: at(s), NewID: id, Create: &broker.CreateGroupInput{Name: host, HostID: host, Domain: "d", UseWebSocket: true}}
	}
	op := func(s int, o broker.Op, id, node string) broker.Change {
		return broker.Change{Op: o, At: at(s), GroupID: id, Domain: "d", NodeID: node, Data: []broker.Pair{{Key: "in", Value: id}}}
	}
	part := [2][]broker.Change{{
		create(0, "h0", ids[0]),
		op(2, broker.OpJoin, ids[0], "pupil"),
		op(3, broker.OpReport, ids[0], "pupil"),
		op(7, broker.OpReport, ids[0], "mover"),
	}, {
		create(1, "h1", ids[1]),
		op(4, broker.OpJoin, ids[1], "pupil"),
		op(5, broker.OpReport, ids[1], "pupil"),
		op(6, broker.OpReport, ids[1], "mover"),
		op(8, broker.OpLeave, ids[1], "mover"),
	}}
	orders := map[string][]int{
		"first part first":  {0, 0, 0, 0, 1, 1, 1, 1, 1},
		"second part first": {1, 1, 1, 1, 1, 0, 0, 0, 0},
		"interleaved":       {1, 0, 1, 0, 1, 0, 1, 0, 1},
	}
	type state struct {
		Pupil, Mover *broker.NodeStatus
		Groups       []broker.Group
		Stats        broker.Stats
	}
	var first *state
	for name, order := range orders {
		t.Run(name, func(t *testing.T) {
			tb := brokertest.New(t, brokertest.Options{Clock: brokertest.NewClock()})
			next := [2]int{}
			for _, p := range order {
				if _, err := tb.Apply(context.Background(), part[p][next[p]]); err != nil {
					t.Fatal(err)
				}
				next[p]++
			}
			var s state
			s.Pupil, _ = tb.GetNodeStatus("pupil")
			s.Mover, _ = tb.GetNodeStatus("mover")
			s.Groups, _ = tb.ListGroups("d")
			s.Stats = tb.Stats()
			s.Stats.Published = 0
			if s.Pupil == nil || s.Pupil.GroupID != ids[1] || s.Mover == nil || s.Mover.GroupID != ids[0] {
				t.Fatalf("pupil's status %+v, mover's %+v; want the pupil's in %s (joined last), the mover's in %s (left %s)", s.Pupil, s.Mover, ids[1], ids[0], ids[1])
			}
			if first == nil {
				first = &s
			} else if !reflect.DeepEqual(*first, s) {
				t.Fatalf("state differs from another order's:\n%+v\n%+v", s, *first)
			}
			// A sweep of the first part, long after both groups died, forgets only its group.
			if _, err := tb.Apply(context.Background(), broker.Change{Op: broker.OpSweep, At: at(5000), Part: &broker.Part{Index: 0, Of: 2}}); err != nil {
				t.Fatal(err)
			}
			if st := tb.Stats(); st.Groups != 1 {
				t.Fatalf("after sweeping part 0: %d groups, want the other part's 1", st.Groups)
			}
		})
	}
}
