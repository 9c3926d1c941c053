package broker_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/smalruby/meshd/broker"
	"github.com/smalruby/meshd/broker/brokertest"
)

func names(evs []broker.Event) string {
	var out []string
	for _, e := range evs {
		out = append(out, e.Name)
	}
	return strings.Join(out, ",")
}

func inputs(names ...string) []broker.EventInput {
	out := make([]broker.EventInput, len(names))
	for i, n := range names {
		out[i] = broker.EventInput{Name: n, Payload: ptr(""), FiredAt: epoch, OrderKey: ptr(fmt.Sprintf("20260301174502-%07d", i))}
	}
	return out
}

func TestEventLog(t *testing.T) {
	f := newFixture(t)
	g := f.create(t, "host", "d")
	start := broker.FormatTime(f.b.Now().Add(-time.Second))

	rec, err := f.b.RecordEvents(g.ID, g.Domain, "m1", inputs("a", "b"))
	if err != nil || rec.Count != 2 {
		t.Fatalf("record = %+v, %v", rec, err)
	}
	batch, err := f.b.FireEvents(g.ID, g.Domain, "m2", inputs("c"))
	if err != nil {
		t.Fatal(err)
	}
	if batch.Events[0].Payload != nil || !batch.Events[0].Timestamp.Equal(epoch) {
		t.Fatalf("fired event = %+v: want a null payload and the client's firedAt", batch.Events[0])
	}
	all, _ := f.b.EventsSince(g.ID, g.Domain, "")
	if names(all) != "a,b,c" {
		t.Fatalf("log = %s", names(all))
	}
	if all[0].Payload == nil || *all[0].Payload != "" {
		t.Fatal("the polling log must keep an empty payload as \"\"")
	}
	for i := 1; i < len(all); i++ {
		if all[i].Cursor <= all[i-1].Cursor {
			t.Fatalf("cursors not increasing: %q then %q", all[i-1].Cursor, all[i].Cursor)
		}
	}
	if rec.NextSince != all[1].Cursor {
		t.Fatalf("nextSince = %q, want the last recorded cursor %q", rec.NextSince, all[1].Cursor)
	}
	tests := []struct {
		name, since, want string
	}{
		{"empty", "", "a,b,c"},
		{"own cursor", all[0].Cursor, "b,c"},
		{"last cursor", all[2].Cursor, ""},
		{"timestamp before", start, "a,b,c"},
		// A plain timestamp starts polling: it reaches back a polling interval and more.
		{"timestamp now", broker.FormatTime(f.b.Now()), "a,b,c"},
		{"timestamp ahead", broker.FormatTime(f.b.Now().Add(time.Hour)), "a,b,c"},
		{"upstream cursor", "EVENT#" + start + "#0b6f3a52", "a,b,c"},
		{"upstream cursor with zone", "EVENT#2026-03-01T08:45:01+00:00#x", "a,b,c"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := f.b.EventsSince(g.ID, g.Domain, tt.since)
			if err != nil || names(got) != tt.want {
				t.Fatalf("since %q = %q, %v; want %q", tt.since, names(got), err, tt.want)
			}
		})
	}
	for _, bad := range []string{"yesterday", "EVENT#garbage#x", "2026-13-01T00:00:00Z"} {
		_, err := f.b.EventsSince(g.ID, g.Domain, bad)
		wantKind(t, err, broker.ValidationError, "since must be empty")
	}
	if got, _ := f.b.EventsSince("other", g.Domain, ""); got == nil || len(got) != 0 {
		t.Fatalf("unknown group = %#v, want empty", got)
	}
}

func TestEventTTLAndPaging(t *testing.T) {
	f := newFixture(t)
	g := f.create(t, "host", "d")
	f.b.RecordEvents(g.ID, g.Domain, "m", inputs("old"))
	f.clock.Advance(6 * time.Second)
	many := make([]string, 150)
	for i := range many {
		many[i] = fmt.Sprint(i)
	}
	f.b.RecordEvents(g.ID, g.Domain, "m", inputs(many...))
	first, _ := f.b.EventsSince(g.ID, g.Domain, "")
	if len(first) != 100 || first[0].Name != "old" {
		t.Fatalf("first page: %d events starting %q", len(first), first[0].Name)
	}
	next, _ := f.b.EventsSince(g.ID, g.Domain, first[99].Cursor)
	if len(next) != 51 || next[50].Name != "149" {
		t.Fatalf("second page: %d events", len(next))
	}
	f.clock.Advance(5 * time.Second) // "old" is 11 s old, the rest 5 s
	got, _ := f.b.EventsSince(g.ID, g.Domain, "")
	if len(got) != 100 || got[0].Name != "0" {
		t.Fatalf("after TTL: %d events starting %q", len(got), got[0].Name)
	}
	// A cursor of a purged event stays valid.
	got, _ = f.b.EventsSince(g.ID, g.Domain, first[0].Cursor)
	if len(got) != 100 || got[0].Name != "0" {
		t.Fatalf("since a purged cursor: %d events starting %q", len(got), got[0].Name)
	}
	f.clock.Advance(6 * time.Second)
	f.b.RenewHeartbeat(ctx, g.ID, g.Domain, "host")
	if got, _ := f.b.EventsSince(g.ID, g.Domain, ""); len(got) != 0 {
		t.Fatalf("expired events returned: %d", len(got))
	}
	rec, _ := f.b.RecordEvents(g.ID, g.Domain, "m", nil)
	if rec.Count != 0 || rec.NextSince <= first[99].Cursor {
		t.Fatalf("empty record = %+v, want a cursor past every event", rec)
	}
}

func TestEventValidation(t *testing.T) {
	f := newFixture(t)
	g := f.create(t, "host", "d")
	tests := []struct {
		name    string
		events  []broker.EventInput
		message string
	}{
		{"too many", make([]broker.EventInput, 1001), "events must have 1000 entries or fewer"},
		{"long name", []broker.EventInput{{Name: strings.Repeat("n", 1025)}}, "eventName must be 1024 bytes or less"},
		{"long payload", []broker.EventInput{{Name: "n", Payload: ptr(strings.Repeat("p", 64*1024+1))}}, "payload must be 65536 bytes or less"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := f.b.FireEvents(g.ID, g.Domain, "m", tt.events)
			wantKind(t, err, broker.ValidationError, tt.message)
			_, err = f.b.RecordEvents(g.ID, g.Domain, "m", tt.events)
			wantKind(t, err, broker.ValidationError, tt.message)
		})
	}
	_, err := f.b.RecordEvents("missing", "d", "m", inputs("a"))
	wantKind(t, err, broker.GroupNotFound, "Group not found: missing@d")
}

func TestDataValidation(t *testing.T) {
	f := newFixture(t)
	g := f.create(t, "host", "d")
	tests := []struct {
		name    string
		data    []broker.Pair
		message string
	}{
		{"too many", make([]broker.Pair, 1001), "data must have 1000 entries or fewer"},
		{"long key", []broker.Pair{{Key: strings.Repeat("k", 1025)}}, "data key must be 1024 bytes or less"},
		{"long value", []broker.Pair{{Value: strings.Repeat("v", 64*1024+1)}}, "data value must be 65536 bytes or less"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := f.b.ReportData(g.ID, g.Domain, "m", tt.data)
			wantKind(t, err, broker.ValidationError, tt.message)
		})
	}
	for _, msg := range []string{"not found", "expired", "unauthorized"} {
		for _, tt := range tests {
			if strings.Contains(strings.ToLower(tt.message), msg) {
				t.Fatalf("validation message %q would make the client disconnect", tt.message)
			}
		}
	}
}

// keyed builds events named after their position whose orderKeys are keys; "-" leaves the
// key out.
func keyed(keys ...string) []broker.EventInput {
	out := make([]broker.EventInput, len(keys))
	for i, k := range keys {
		out[i] = broker.EventInput{Name: fmt.Sprint("e", i), FiredAt: epoch}
		if k != "-" {
			out[i].OrderKey = ptr(k)
		}
	}
	return out
}

// TestEventsInOrderKeyOrder checks the newest upstream rule: one batch is stored, returned and
// delivered sorted by orderKey (stable, a missing key as ""), and batches keep their order.
func TestEventsInOrderKeyOrder(t *testing.T) {
	f := newFixture(t)
	g := f.create(t, "host", "d")
	msgs := collect(t, f, g)
	first := keyed("b", "", "a", "-", "a")
	rec, err := f.b.RecordEvents(g.ID, g.Domain, "m", first)
	if err != nil {
		t.Fatal(err)
	}
	if first[0].Name != "e0" || *first[0].OrderKey != "b" {
		t.Fatal("the caller's slice was reordered")
	}
	// The second batch sorts before the first by key, but batches are never reordered.
	fired, err := f.b.FireEvents(g.ID, g.Domain, "m", keyed("0", "-"))
	if err != nil {
		t.Fatal(err)
	}
	const want = "e1,e3,e2,e4,e0,e1,e0"
	all, _ := f.b.EventsSince(g.ID, g.Domain, "")
	if names(all) != want {
		t.Fatalf("stored order = %s, want %s", names(all), want)
	}
	for i := 1; i < len(all); i++ {
		if all[i].Cursor <= all[i-1].Cursor {
			t.Fatalf("cursors not increasing: %q then %q", all[i-1].Cursor, all[i].Cursor)
		}
	}
	if rec.NextSince != all[4].Cursor {
		t.Fatalf("nextSince = %q, want the batch's last cursor %q", rec.NextSince, all[4].Cursor)
	}
	if names(fired.Events) != "e1,e0" {
		t.Fatalf("fireEventsByNode returned %s, want e1,e0", names(fired.Events))
	}
	if m := brokertest.Receive(t, msgs); m.Batch == nil || names(m.Batch.Events) != "e1,e3,e2,e4,e0" {
		t.Fatalf("first delivered batch = %+v", m)
	}
	if m := brokertest.Receive(t, msgs); m.Batch == nil || names(m.Batch.Events) != "e1,e0" {
		t.Fatalf("second delivered batch = %+v", m)
	}
	page, _ := f.b.EventsSince(g.ID, g.Domain, all[1].Cursor)
	if names(page) != "e2,e4,e0,e1,e0" {
		t.Fatalf("since the second cursor = %s", names(page))
	}
}

// TestFirstPollLosesNothingSinceTheJoin drives the editor's start of polling: it takes its
// position from its own clock at its first poll, a polling interval after the join, and keeps
// it until a poll returns an event. Every broadcast fired after the join is returned once,
// whether the pupil's clock is right, ahead or behind; a broadcast fired well before the join
// is returned only when the pupil's clock is behind by more than that (as upstream would).
func TestFirstPollLosesNothingSinceTheJoin(t *testing.T) {
	interval := brokertest.Config().PollingInterval
	tests := []struct {
		name string
		skew time.Duration // the pupil's clock minus the server's
		want string
	}{
		{"right clock", 0, "x,y"},
		{"clock a second ahead", time.Second, "x,y"},
		{"clock a minute ahead", time.Minute, "x,y"},
		{"clock 300 ms behind", -300 * time.Millisecond, "x,y"},
		{"clock 9 s behind", -9 * time.Second, "early,x,y"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tb := brokertest.New(t, brokertest.Options{})
			g, err := tb.CreateGroup(ctx, broker.CreateGroupInput{Name: "h", HostID: "h", Domain: "d"})
			if err != nil || g.PollingIntervalSeconds == 0 {
				t.Fatalf("polling group = %+v, %v", g, err)
			}
			record := func(name string) {
				if _, err := tb.RecordEvents(g.ID, "d", "other", inputs(name)); err != nil {
					t.Fatal(err)
				}
			}
			record("early")
			tb.Clock.Advance(5 * time.Second)
			if _, _, err := tb.JoinGroup(ctx, g.ID, "d", "pupil"); err != nil {
				t.Fatal(err)
			}
			tb.Clock.Advance(100 * time.Millisecond)
			record("x")
			tb.Clock.Advance(interval - 200*time.Millisecond)
			record("y")
			// The first poll: the join's answer, the timer and the way took 1.5 s more.
			tb.Clock.Advance(1500 * time.Millisecond)
			position := broker.FormatTime(tb.Now().Add(tt.skew))
			got, err := tb.EventsSince(g.ID, "d", position)
			if err != nil || names(got) != tt.want {
				t.Fatalf("first poll = %q, %v; want %q", names(got), err, tt.want)
			}
			// The editor moves to the last event's cursor: nothing comes twice.
			if again, _ := tb.EventsSince(g.ID, "d", got[len(got)-1].Cursor); len(again) != 0 {
				t.Fatalf("the next poll returned %q again", names(again))
			}
		})
	}
}

// TestQuietStartOfPolling: in a quiet group the editor keeps sending the timestamp of its first
// poll; the first broadcast after it is returned once, by the poll that follows it.
func TestQuietStartOfPolling(t *testing.T) {
	interval := brokertest.Config().PollingInterval
	tb := brokertest.New(t, brokertest.Options{})
	g, err := tb.CreateGroup(ctx, broker.CreateGroupInput{Name: "h", HostID: "h", Domain: "d"})
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := tb.JoinGroup(ctx, g.ID, "d", "pupil"); err != nil {
		t.Fatal(err)
	}
	tb.Clock.Advance(interval)
	position := broker.FormatTime(tb.Now())
	played := map[string]int{}
	for poll := range 10 {
		if poll == 6 {
			tb.Clock.Advance(interval / 2)
			if _, err := tb.RecordEvents(g.ID, "d", "other", inputs("late")); err != nil {
				t.Fatal(err)
			}
			tb.Clock.Advance(interval / 2)
		} else {
			tb.Clock.Advance(interval)
		}
		got, err := tb.EventsSince(g.ID, "d", position)
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range got {
			played[e.Name]++
		}
		if len(got) > 0 {
			position = got[len(got)-1].Cursor
		}
	}
	if len(played) != 1 || played["late"] != 1 {
		t.Fatalf("played %v, want the one broadcast once", played)
	}
}
