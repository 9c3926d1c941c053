package console

import (
	"fmt"
	"maps"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/smalruby/meshd/broker"
)

// classroom is a snapshot of groups×pupils pupils, each reporting vars variables whose values
// (of valueBytes bytes) are new in every round, and firing one message per round.
func classroom(groups, pupils, vars, valueBytes, round int, at time.Time) *broker.Snapshot {
	snap := &broker.Snapshot{Taken: at}
	pad := strings.Repeat("v", valueBytes)
	for g := range groups {
		host := fmt.Sprintf("host%012d", g)
		gs := broker.GroupSnapshot{Group: broker.Group{ID: fmt.Sprintf("g%05d", g), Domain: "d", Name: host, HostID: host, CreatedAt: at.Add(-time.Hour), ExpiresAt: at.Add(time.Hour)}, Live: true, HostLastActive: at}
		for p := range pupils {
			node := fmt.Sprintf("n%05d-%010d", g, p)
			gs.Members = append(gs.Members, broker.MemberSnapshot{Member: broker.Member{NodeID: node, JoinedAt: at.Add(-time.Hour), ExpiresAt: at.Add(time.Minute)}, Live: true, LastActive: at})
			st := broker.NodeStatus{NodeID: node, Timestamp: at}
			for v := range vars {
				st.Data = append(st.Data, broker.Pair{Key: fmt.Sprintf("var%d", v), Value: fmt.Sprintf("%d:%s", round, pad)[:valueBytes]})
			}
			gs.Statuses = append(gs.Statuses, st)
		}
		gs.Events = []broker.Event{{Name: "go", FiredByNodeID: host, Timestamp: at, Cursor: fmt.Sprintf("EVENT#%020d", round)}}
		snap.Groups = append(snap.Groups, gs)
	}
	return snap
}

// heapBytes is the live heap after a collection.
func heapBytes() uint64 {
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapAlloc
}

// TestRecordKeepsAClassWhole: a class of 5 groups of 36 pupils with 10 variables keeps its
// last 40 values of every variable, each member and each message.
func TestRecordKeepsAClassWhole(t *testing.T) {
	before := heapBytes()
	r := newRecord()
	at := time.Now()
	for round := range recordValues + 5 {
		r.observe(classroom(5, 36, 10, 4, round, at.Add(time.Duration(round)*time.Second)), nil)
	}
	if len(r.groups) != 5 || r.values != recordValues || r.dropped != 0 {
		t.Fatalf("%d groups, %d values a variable, %d dropped", len(r.groups), r.values, r.dropped)
	}
	for _, g := range r.groups {
		if len(g.members) != 37 || len(g.series) != 360 || len(g.messages) != recordValues+5 {
			t.Errorf("group %s: %d members, %d variables, %d messages", g.FullID, len(g.members), len(g.series), len(g.messages))
		}
		for _, s := range g.series {
			if len(s.Values) != recordValues || !strings.HasPrefix(s.Values[recordValues-1].Value, fmt.Sprint(recordValues+4)) {
				t.Fatalf("variable %s of %s: %d values, the last %q", s.Key, s.Node, len(s.Values), s.Values[len(s.Values)-1].Value)
			}
		}
	}
	held := heapBytes() - before
	t.Logf("a class of 180 pupils × 10 variables × %d values: %d bytes accounted, %d bytes of heap", recordValues, r.bytes, held)
	if held > 2*uint64(r.bytes) {
		t.Errorf("the record holds %d bytes of heap, more than twice the %d it accounts", held, r.bytes)
	}
	runtime.KeepAlive(r)
}

// TestRecordIsBounded: 400 groups of 40 pupils, whose values change every round, never hold
// more than maxRecordBytes accounted, every variable fewer than recordValues values, and the
// heap the record holds stays near what it accounts.
func TestRecordIsBounded(t *testing.T) {
	if testing.Short() {
		t.Skip("builds a 400-group record")
	}
	before := heapBytes()
	r := newRecord()
	at := time.Now()
	for round := range 3 {
		snap := classroom(400, 40, 5, recordValueBytes, round, at.Add(time.Duration(round)*time.Second))
		r.observe(snap, nil)
		if r.bytes > maxRecordBytes {
			t.Fatalf("round %d: %d accounted bytes, over %d", round, r.bytes, maxRecordBytes)
		}
	}
	total, values, messages := 0, 0, 0
	for _, g := range r.groups {
		total += g.bytes
		messages += len(g.messages)
		if len(g.members) > recordMembers || len(g.messages) > recordMessages {
			t.Fatalf("group %s: %d members, %d messages", g.FullID, len(g.members), len(g.messages))
		}
		for _, s := range g.series {
			values += len(s.Values)
			if len(s.Values) == 0 || len(s.Values) > r.values {
				t.Fatalf("variable %s of %s holds %d values, %d allowed", s.Key, s.Node, len(s.Values), r.values)
			}
		}
	}
	if total != r.bytes || r.values >= recordValues || r.dropped == 0 {
		t.Errorf("groups account %d bytes, the record %d; %d values a variable, %d dropped: want the bound reached", total, r.bytes, r.values, r.dropped)
	}
	held := heapBytes() - before
	t.Logf("400 groups × 40 pupils × 5 variables of %d bytes: %d groups, %d values (%d a variable), %d messages, %d dropped; %d bytes accounted, %d bytes of heap", recordValueBytes, len(r.groups), values, r.values, messages, r.dropped, r.bytes, held)
	if held > 2*maxRecordBytes {
		t.Errorf("the record holds %d bytes of heap, more than twice the %d it may account", held, maxRecordBytes)
	}
	runtime.KeepAlive(r)
}

// TestRecordForgetsEndedGroupsFirst: under pressure the records of ended groups go, oldest end
// first, before any live group's values.
func TestRecordForgetsEndedGroupsFirst(t *testing.T) {
	r := newRecord()
	at := time.Now()
	snap := classroom(3, 2, 2, 4, 0, at)
	r.observe(snap, nil)
	ended := []EndedGroup{{ID: "g00001", Domain: "d", CreatedAt: at.Add(-time.Hour), At: at.Add(time.Second), Reason: "dissolved"}}
	snap.Groups = snap.Groups[2:] // g00000 went first, then g00001
	r.observe(snap, ended)
	if g := r.groups["g00000@d"]; g == nil || !g.EndedAt.Equal(at) || g.members[1].LeftAt.IsZero() {
		t.Fatalf("the group that vanished: %+v", g)
	}
	if g := r.groups["g00001@d"]; g == nil || !g.EndedAt.Equal(ended[0].At) {
		t.Fatalf("the dissolved group: %+v, want it ended when the broker said", g)
	}
	r.limit = r.bytes + 10
	next := classroom(3, 2, 2, 4, 1, at)
	next.Groups = next.Groups[2:]
	r.observe(next, nil)
	if r.groups["g00000@d"] != nil || r.groups["g00001@d"] == nil || r.values != recordValues {
		t.Errorf("after pressure: groups %v, %d values a variable; want the oldest ended group gone, no live value dropped", slices.Collect(maps.Keys(r.groups)), r.values)
	}
}
