package console

import (
	"cmp"
	"encoding/json"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/smalruby/meshd/broker"
)

// The lesson record's limits. Each variable keeps its last recordValues values, each group its
// last recordMessages messages and recordMembers memberships, and the records of the last
// maxEnded groups that ended; a longer value is kept cut to recordValueBytes.
const (
	recordValues     = 40
	recordMessages   = 100
	recordMembers    = 200
	recordValueBytes = 200
	// maxRecordBytes bounds the whole record, in accounted bytes: the strings' lengths plus a
	// fixed cost per entry (recordCost), which TestRecordIsBounded checks against the heap.
	// When an entry would pass it, the records of ended groups go first, oldest end first;
	// then every variable keeps half as many values, down to one; past that, nothing new is
	// recorded until there is room again.
	maxRecordBytes = 32 << 20
)

// recordCost is the fixed cost, in accounted bytes, of each kind of entry of the record: its
// struct, slice slot and map entry, beside the strings counted by their length; a value's
// is that of its slot, counted by the capacity of its variable's array.
var recordCost = struct{ group, member, node, series, value, message int }{group: 512, member: 176, node: 256, series: 128, value: 40, message: 96}

// record is the recent history of the lesson, kept by the sampler from its samples while a
// console is watched, so that a reload or a second teacher's laptop sees the same charts and
// saves the same CSV. It is guarded by the sampler's lock.
type record struct {
	groups map[string]*groupRecord // by full id
	ended  []*groupRecord          // ended groups, oldest end first
	bytes  int
	// values is how many values each variable keeps now: recordValues, less under pressure.
	values int
	// dropped counts the entries not recorded for want of room.
	dropped uint64
	limit   int
}

// groupRecord is one group's history.
type groupRecord struct {
	FullID    string
	Kana      string
	CreatedAt time.Time
	EndedAt   time.Time // zero while the group lives
	members   []*memberRecord
	member    map[string]*memberRecord
	series    []*seriesRecord
	byVar     map[string]map[string]*seriesRecord // by node id, then key
	messages  []EventStatus
	// lastEvent is the cursor of the newest message recorded: cursors grow as strings.
	lastEvent string
	bytes     int
}

// memberRecord is one pupil's membership: when it joined, when it left (zero while it is
// there), its last activity.
type memberRecord struct {
	NodeID     string    `json:"nodeId"`
	Kana       string    `json:"kana"`
	Host       bool      `json:"host"`
	JoinedAt   time.Time `json:"joinedAt"`
	LeftAt     time.Time `json:"leftAt"`
	LastActive time.Time `json:"lastActive"`
}

// seriesRecord is one variable of one node over time, oldest first.
type seriesRecord struct {
	Node   string        `json:"node"`
	Key    string        `json:"key"`
	Values []ValueRecord `json:"values"`
}

// ValueRecord is one value of a variable, as [time, value] in JSON.
type ValueRecord struct {
	At    time.Time
	Value string
}

// MarshalJSON writes the value as a pair, the form the page's chart reads.
func (v ValueRecord) MarshalJSON() ([]byte, error) {
	return json.Marshal([2]any{v.At, v.Value})
}

func newRecord() *record {
	return &record{groups: map[string]*groupRecord{}, values: recordValues, limit: maxRecordBytes}
}

// room makes room for n more accounted bytes and reports whether there is.
func (r *record) room(n int) bool {
	for r.bytes+n > r.limit {
		switch {
		case len(r.ended) > 0:
			r.forget(r.ended[0])
		case r.values > 1:
			r.values /= 2
			for _, g := range r.groups {
				for _, s := range g.series {
					r.trim(g, s)
				}
			}
		default:
			r.dropped++
			return false
		}
	}
	return true
}

func (r *record) grow(g *groupRecord, n int) {
	r.bytes += n
	g.bytes += n
}

// forget drops an ended group's record.
func (r *record) forget(g *groupRecord) {
	delete(r.groups, g.FullID)
	r.ended = slices.DeleteFunc(r.ended, func(e *groupRecord) bool { return e == g })
	r.bytes -= g.bytes
}

// trim keeps the newest r.values values of s, in an array of as many slots.
func (r *record) trim(g *groupRecord, s *seriesRecord) {
	if cap(s.Values) <= r.values {
		return
	}
	over := max(len(s.Values)-r.values, 0)
	for _, v := range s.Values[:over] {
		r.grow(g, -len(v.Value))
	}
	r.resize(g, s, over, r.values)
}

// resize moves s's values from the first'th on into a new array of n slots; the slots are
// accounted by capacity, the values by their length.
func (r *record) resize(g *groupRecord, s *seriesRecord, first, n int) {
	v := make([]ValueRecord, len(s.Values)-first, n)
	copy(v, s.Values[first:])
	r.grow(g, (n-cap(s.Values))*recordCost.value)
	s.Values = v
}

// observe records what changed in a sample: new groups, members who came and went, variables
// whose value changed, new messages; groups that are gone or dead are marked ended at the time
// ended says, else at the sample's.
func (r *record) observe(snap *broker.Snapshot, ended []EndedGroup) {
	live := make(map[string]bool, len(snap.Groups))
	for i := range snap.Groups {
		g := &snap.Groups[i]
		if !g.Live {
			continue
		}
		live[g.FullID()] = true
		r.observeGroup(g, snap.Taken)
	}
	for id, g := range r.groups {
		if g.EndedAt.IsZero() && !live[id] {
			r.end(g, ended, snap.Taken)
		}
	}
	if r.values < recordValues && r.bytes < r.limit/4 {
		r.values = min(2*r.values, recordValues) // room again: the next values are kept longer
	}
}

// end marks g ended and keeps it among the last maxEnded ended groups.
func (r *record) end(g *groupRecord, ended []EndedGroup, now time.Time) {
	g.EndedAt = now
	for _, e := range ended {
		if e.ID+"@"+e.Domain == g.FullID && e.CreatedAt.Equal(g.CreatedAt) {
			g.EndedAt = e.At
		}
	}
	for _, m := range g.members {
		if m.LeftAt.IsZero() {
			m.LeftAt = g.EndedAt
		}
	}
	r.ended = append(r.ended, g)
	slices.SortStableFunc(r.ended, func(a, b *groupRecord) int { return a.EndedAt.Compare(b.EndedAt) })
	for len(r.ended) > maxEnded {
		r.forget(r.ended[0])
	}
}

func (r *record) observeGroup(g *broker.GroupSnapshot, now time.Time) {
	id := g.FullID()
	gr := r.groups[id]
	if gr == nil {
		cost := recordCost.group + len(id) + len(g.Name)
		if !r.room(cost) {
			return
		}
		gr = &groupRecord{FullID: id, Kana: Kana(g.Name), CreatedAt: g.CreatedAt, member: map[string]*memberRecord{}, byVar: map[string]map[string]*seriesRecord{}}
		r.groups[id] = gr
		r.grow(gr, cost)
	}
	// A member left when its membership lapsed, or, gone from the snapshot, by now.
	left := make(map[string]time.Time, len(g.Members))
	r.observeMember(gr, g.HostID, true, g.CreatedAt, g.HostLastActive)
	left[g.HostID] = time.Time{}
	for _, m := range g.Members {
		switch {
		case m.NodeID == g.HostID:
		case m.Live:
			left[m.NodeID] = time.Time{}
			r.observeMember(gr, m.NodeID, false, m.JoinedAt, m.LastActive)
		default:
			left[m.NodeID] = m.ExpiresAt
		}
	}
	for _, m := range gr.members {
		if at, seen := left[m.NodeID]; m.LeftAt.IsZero() && (!seen || !at.IsZero()) {
			m.LeftAt = cmp.Or(at, now)
		}
	}
	for _, st := range g.Statuses {
		for _, p := range st.Data {
			r.observeValue(gr, st.NodeID, p.Key, p.Value, st.Timestamp)
		}
	}
	for _, e := range g.Events {
		if e.Cursor <= gr.lastEvent {
			continue
		}
		cost := recordCost.message + len(e.Cursor) + len(e.Name) + len(e.FiredByNodeID)
		if len(gr.messages) == recordMessages {
			old := gr.messages[0]
			r.grow(gr, -(recordCost.message + len(old.ID) + len(old.Name) + len(old.From)))
			gr.messages = slices.Delete(gr.messages, 0, 1)
		}
		if !r.room(cost) {
			return
		}
		gr.messages = append(gr.messages, eventStatus(e))
		gr.lastEvent = e.Cursor
		r.grow(gr, cost)
	}
}

// observeMember records a member that is there: a join when it is new or came back.
func (r *record) observeMember(gr *groupRecord, node string, host bool, joined, active time.Time) {
	m := gr.member[node]
	if m == nil {
		if len(gr.members) == recordMembers {
			r.dropped++
			return
		}
		cost := recordCost.member + len(node)
		if !r.room(cost) {
			return
		}
		m = &memberRecord{NodeID: node, Kana: Kana(node), Host: host, JoinedAt: joined}
		gr.members = append(gr.members, m)
		gr.member[node] = m
		r.grow(gr, cost)
	}
	if !m.LeftAt.IsZero() {
		m.JoinedAt, m.LeftAt = joined, time.Time{}
	}
	m.LastActive = active
}

// observeValue records a variable's value when it differs from the last one recorded.
func (r *record) observeValue(gr *groupRecord, node, key, value string, at time.Time) {
	value = cut(value, recordValueBytes)
	vars := gr.byVar[node]
	if vars == nil {
		cost := recordCost.node + len(node)
		if !r.room(cost) {
			return
		}
		vars = map[string]*seriesRecord{}
		gr.byVar[node] = vars
		r.grow(gr, cost)
	}
	s := vars[key]
	if s == nil {
		cost := recordCost.series + len(node) + len(key)
		if !r.room(cost) {
			return
		}
		s = &seriesRecord{Node: node, Key: key}
		gr.series = append(gr.series, s)
		vars[key] = s
		r.grow(gr, cost)
	} else if s.Values[len(s.Values)-1].Value == value {
		return
	}
	// The new value takes the oldest one's slot when the variable is full; otherwise it may
	// need a bigger array, of at most r.values slots.
	grown := func() int { return min(max(2*cap(s.Values), 1), r.values) }
	need := len(value)
	if len(s.Values) < r.values && len(s.Values) == cap(s.Values) {
		need += (grown() - cap(s.Values)) * recordCost.value
	}
	if !r.room(need) {
		if len(s.Values) == 0 {
			r.dropSeries(gr, s)
		}
		return
	}
	switch {
	case len(s.Values) >= r.values: // room may have lowered r.values and trimmed s
		r.grow(gr, -len(s.Values[0].Value))
		s.Values = append(s.Values[:0], s.Values[1:]...)
	case len(s.Values) == cap(s.Values):
		r.resize(gr, s, 0, grown())
	}
	s.Values = append(s.Values, ValueRecord{At: at, Value: value})
	r.grow(gr, len(value))
}

// dropSeries removes a variable that got no value.
func (r *record) dropSeries(gr *groupRecord, s *seriesRecord) {
	gr.series = slices.DeleteFunc(gr.series, func(x *seriesRecord) bool { return x == s })
	delete(gr.byVar[s.Node], s.Key)
	r.grow(gr, -(recordCost.series + len(s.Node) + len(s.Key) + cap(s.Values)*recordCost.value))
}

// cut shortens s to at most n bytes, on a character boundary, marking the cut with "…".
func cut(s string, n int) string {
	if len(s) <= n {
		return s
	}
	i := n
	for i > 0 && !utf8.RuneStart(s[i]) {
		i--
	}
	return strings.Clone(s[:i]) + "…"
}
