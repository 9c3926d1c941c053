package broker_test

import (
	"sync"
	"testing"
	"time"

	"github.com/smalruby/meshd/broker"
	"github.com/smalruby/meshd/broker/brokertest"
)

// endWatch records what a group's subscriber and the lifecycle hook are told.
type endWatch struct {
	mu   sync.Mutex
	msgs []*broker.Message
	ends []broker.GroupEnd
	got  chan struct{}
}

func (w *endWatch) message(m *broker.Message) {
	w.mu.Lock()
	w.msgs = append(w.msgs, m)
	w.mu.Unlock()
	w.got <- struct{}{}
}

func (w *endWatch) end(e broker.GroupEnd) {
	w.mu.Lock()
	w.ends = append(w.ends, e)
	w.mu.Unlock()
}

func (w *endWatch) counts() (msgs, ends int) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return len(w.msgs), len(w.ends)
}

// TestGroupEndIsAnnouncedAndKnownForItsGrace: a group whose host's heartbeat lapses or whose
// expiresAt passes is announced to its subscribers at the next sweep with the message the
// host's dissolveGroup sends, told once to the lifecycle hook with its reason, and answers for
// itself until DeadGroupGrace after its death, however many sweeps run meanwhile: every
// operation the editor sends answers GroupNotFound, the errorType it disconnects on (Group
// expired / heartbeat expired; recordEventsByNode's plain Group not found). Then it is forgotten
// (Group not found).
func TestGroupEndIsAnnouncedAndKnownForItsGrace(t *testing.T) {
	cfg := brokertest.Config()
	tests := []struct {
		name     string
		lifetime *int
		// die moves the clock from creation past the group's death.
		die time.Duration
		// death is when the group died.
		death  func(broker.Group) time.Time
		reason broker.EndReason
		answer string
	}{
		{"host gone", nil, cfg.HostHeartbeatTTL + time.Millisecond, func(g broker.Group) time.Time { return g.HeartbeatAt.Add(cfg.HostHeartbeatTTL) }, broker.EndHostGone, "(heartbeat expired)"},
		// Upstream's join_group_expiration: a 1-second group joined 2 s later.
		{"expired", ptr(1), 2 * time.Second, func(g broker.Group) time.Time { return g.ExpiresAt }, broker.EndExpired, "Group expired: "},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := &endWatch{got: make(chan struct{}, 8)}
			tb := brokertest.New(t, brokertest.Options{OnGroupEnd: w.end})
			g, err := tb.CreateGroup(ctx, broker.CreateGroupInput{Name: "h", HostID: "h", Domain: "d", MaxConnectionTimeSeconds: tt.lifetime})
			if err != nil {
				t.Fatal(err)
			}
			if _, _, err := tb.JoinGroup(ctx, g.ID, "d", "pupil"); err != nil {
				t.Fatal(err)
			}
			cancel, err := tb.Subscribe("d", g.ID, w.message)
			if err != nil {
				t.Fatal(err)
			}
			defer cancel()
			died := tt.death(g)

			tb.Clock.Advance(tt.die)
			tb.Sweep()
			select {
			case <-w.got:
			case <-time.After(10 * time.Second):
				t.Fatal("the subscriber was not told that the group ended")
			}
			w.mu.Lock()
			m, e := w.msgs[0], w.ends
			w.mu.Unlock()
			want := "Group " + g.ID + "@d has been dissolved successfully."
			if m.Dissolve == nil || m.Dissolve.Message != want || m.Dissolve.GroupID != g.ID || m.Dissolve.Domain != "d" {
				t.Fatalf("message = %+v, want the dissolve message %q", m, want)
			}
			if len(e) != 1 || e[0].Reason != tt.reason || e[0].Group.ID != g.ID || e[0].Members != 1 {
				t.Fatalf("hook told %+v, want one end of %s with reason %q", e, g.ID, tt.reason)
			}

			// Known through its grace, whatever the sweeper does meanwhile.
			published := tb.Stats().Published
			for _, at := range []time.Duration{time.Second, cfg.DeadGroupGrace / 2, cfg.DeadGroupGrace} {
				tb.Clock.Advance(died.Add(at).Sub(tb.Clock.Now()))
				tb.Sweep()
				_, _, err := tb.JoinGroup(ctx, g.ID, "d", "late")
				wantKind(t, err, broker.GroupNotFound, tt.answer)
				_, err = tb.SendMemberHeartbeat(ctx, g.ID, "d", "pupil")
				wantKind(t, err, broker.GroupNotFound, tt.answer)
				_, err = tb.ReportData(g.ID, "d", "pupil", nil)
				wantKind(t, err, broker.GroupNotFound, tt.answer)
				_, err = tb.FireEvents(g.ID, "d", "pupil", nil)
				wantKind(t, err, broker.GroupNotFound, tt.answer)
				_, err = tb.RenewHeartbeat(ctx, g.ID, "d", "h")
				wantKind(t, err, broker.GroupNotFound, tt.answer)
				_, err = tb.RecordEvents(g.ID, "d", "pupil", nil)
				wantKind(t, err, broker.GroupNotFound, "Group not found: "+g.ID+"@d")
				if groups, _ := tb.ListGroups("d"); len(groups) != 0 {
					t.Fatalf("a dead group is listed: %+v", groups)
				}
			}
			if n := tb.Stats().Published; n != published {
				t.Fatalf("%d more messages published after the end", n-published)
			}
			if msgs, ends := w.counts(); msgs != 1 || ends != 1 {
				t.Fatalf("%d messages and %d hook calls, want one of each", msgs, ends)
			}

			// Past its grace it is forgotten.
			tb.Clock.Advance(time.Millisecond)
			tb.Sweep()
			_, _, err = tb.JoinGroup(ctx, g.ID, "d", "late")
			wantKind(t, err, broker.GroupNotFound, "Group not found: "+g.ID+"@d")
			if st := tb.Stats(); st.Groups != 0 || st.GroupsExpired != 1 {
				t.Fatalf("stats %+v, want no group left and one counted as expired", st)
			}
		})
	}
}

// TestDissolvingADeadGroup: the host's tab dissolves at its expiresAt, possibly after the
// sweeper announced the end: the dissolve succeeds and forgets the group, and the subscribers
// and the hook are not told a second time.
func TestDissolvingADeadGroup(t *testing.T) {
	w := &endWatch{got: make(chan struct{}, 8)}
	tb := brokertest.New(t, brokertest.Options{OnGroupEnd: w.end})
	g, err := tb.CreateGroup(ctx, broker.CreateGroupInput{Name: "h", HostID: "h", Domain: "d", MaxConnectionTimeSeconds: ptr(60)})
	if err != nil {
		t.Fatal(err)
	}
	cancel, err := tb.Subscribe("d", g.ID, w.message)
	if err != nil {
		t.Fatal(err)
	}
	defer cancel()
	tb.Clock.Advance(61 * time.Second)
	tb.Sweep()
	<-w.got
	published := tb.Stats().Published
	d, err := tb.DissolveGroup(ctx, g.ID, "d", "h")
	if err != nil || d.Message != "Group "+g.ID+"@d has been dissolved successfully." {
		t.Fatalf("dissolve of a dead group = %+v, %v", d, err)
	}
	if n := tb.Stats().Published; n != published {
		t.Fatal("the dissolve of an announced group published again")
	}
	if msgs, ends := w.counts(); msgs != 1 || ends != 1 {
		t.Fatalf("%d messages and %d hook calls, want one of each", msgs, ends)
	}
	_, err = tb.DissolveGroup(ctx, g.ID, "d", "h")
	wantKind(t, err, broker.GroupNotFound, "Group not found")
}
