package broker_test

import (
	"testing"
	"time"

	"github.com/smalruby/meshd/broker"
	"github.com/smalruby/meshd/broker/brokertest"
)

// A batch sent again by its node — its answer was lost, and the SDK or a load balancer
// resent it — is answered as the first was and neither broadcast nor logged again; every
// batch that could be a new firing goes out.
func TestResentBatchGoesOutOnce(t *testing.T) {
	whole := epoch.Truncate(time.Second)
	ms := whole.Add(123 * time.Millisecond)
	at := func(name string, firedAt time.Time, key *string) []broker.EventInput {
		return []broker.EventInput{{Name: name, Payload: ptr("p"), FiredAt: firedAt, OrderKey: key}}
	}
	tests := []struct {
		name           string
		first, second  []broker.EventInput
		secondNode     string
		secondRecorded bool
		after          time.Duration
		want           int // batches broadcast
	}{
		{"the same batch again", at("go", epoch, ptr("k-1")), at("go", epoch, ptr("k-1")), "m", false, time.Second, 1},
		{"the same batch again, milliseconds and no orderKey", at("go", ms, nil), at("go", ms, nil), "m", false, time.Second, 1},
		{"the same batch after the window", at("go", epoch, ptr("k-1")), at("go", epoch, ptr("k-1")), "m", false, broker.ResendWindow + time.Second, 2},
		{"the next firing of the same broadcast", at("go", epoch, ptr("k-1")), at("go", epoch, ptr("k-2")), "m", false, time.Second, 2},
		{"whole seconds and no orderKey: may be a new firing", at("go", whole, nil), at("go", whole, nil), "m", false, time.Second, 2},
		{"another node's identical batch", at("go", epoch, ptr("k-1")), at("go", epoch, ptr("k-1")), "other", false, time.Second, 2},
		{"another payload", at("go", epoch, ptr("k-1")), []broker.EventInput{{Name: "go", Payload: ptr("q"), FiredAt: epoch, OrderKey: ptr("k-1")}}, "m", false, time.Second, 2},
		{"recorded after fired", at("go", epoch, ptr("k-1")), at("go", epoch, ptr("k-1")), "m", true, time.Second, 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t)
			g := f.create(t, "host", "d")
			msgs := collect(t, f, g)
			first, err := f.b.FireEvents(g.ID, g.Domain, "m", tt.first)
			if err != nil {
				t.Fatal(err)
			}
			f.clock.Advance(tt.after)
			var second broker.BatchEvent
			if tt.secondRecorded {
				_, err = f.b.RecordEvents(g.ID, g.Domain, tt.secondNode, tt.second)
			} else {
				second, err = f.b.FireEvents(g.ID, g.Domain, tt.secondNode, tt.second)
			}
			if err != nil {
				t.Fatal(err)
			}
			if tt.after < f.b.Config().EventTTL {
				if logged, _ := f.b.EventsSince(g.ID, g.Domain, ""); len(logged) != tt.want {
					t.Fatalf("%d events logged, want %d", len(logged), tt.want)
				}
			}
			if tt.want == 1 && !second.Timestamp.Equal(first.Timestamp) {
				t.Fatalf("the resent batch was answered %v, want the first answer %v", second, first)
			}
			// A status after both: every batch broadcast arrives before it.
			if _, err := f.b.ReportData(g.ID, g.Domain, "m", nil); err != nil {
				t.Fatal(err)
			}
			batches := 0
			for m := brokertest.Receive(t, msgs); m.Status == nil; m = brokertest.Receive(t, msgs) {
				batches++
			}
			if batches != tt.want {
				t.Fatalf("%d batches broadcast, want %d", batches, tt.want)
			}
		})
	}
}

// A recorded batch sent again gets the first one's cursor, so the editor's next poll starts
// where it would have.
func TestResentRecordKeepsItsCursor(t *testing.T) {
	f := newFixture(t)
	g := f.create(t, "host", "d")
	events := []broker.EventInput{{Name: "go", FiredAt: epoch, OrderKey: ptr("k-1")}}
	first, err := f.b.RecordEvents(g.ID, g.Domain, "m", events)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.b.RecordEvents(g.ID, g.Domain, "other", []broker.EventInput{{Name: "x", FiredAt: epoch, OrderKey: ptr("k-1")}}); err != nil {
		t.Fatal(err)
	}
	f.clock.Advance(time.Second)
	again, err := f.b.RecordEvents(g.ID, g.Domain, "m", events)
	if err != nil {
		t.Fatal(err)
	}
	if again != first {
		t.Fatalf("resent record answered %+v, want %+v", again, first)
	}
}
