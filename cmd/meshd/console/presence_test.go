package console

import (
	"testing"
	"time"

	"github.com/smalruby/meshd/broker"
)

func TestPresenceFollowsTheHeartbeatInterval(t *testing.T) {
	p := newPresence(broker.Config{MemberHeartbeatInterval: 2 * time.Minute})
	now := time.Now()
	for _, tc := range []struct {
		name  string
		quiet time.Duration
		live  bool
		want  string
	}{
		{"reported just now", 0, true, StateActive},
		{"a quarter of the interval", 30 * time.Second, true, StateActive},
		{"quiet, heartbeat not due", 90 * time.Second, true, StateIdle},
		{"heartbeat late within the grace", 2*time.Minute + 20*time.Second, true, StateIdle},
		{"missed the heartbeat: a closed tab", 2*time.Minute + 31*time.Second, true, StateSilent},
		{"membership lapsed", 0, false, StateSilent},
		{"a polling pupil between heartbeats", 6 * time.Second, true, StateActive},
	} {
		if got := p.state(now.Add(-tc.quiet), now, tc.live, p.member); got != tc.want {
			t.Errorf("%s: %s, want %s", tc.name, got, tc.want)
		}
	}
}

func TestLightIgnoresAPupilsOrdinaryErrors(t *testing.T) {
	now := time.Now()
	old, recent := now.Add(-time.Hour), now.Add(-time.Minute)
	for _, tc := range []struct {
		name string
		s    ServerStatus
		want string
	}{
		{"quiet", ServerStatus{}, "ok"},
		{"polling a dissolved group", ServerStatus{RecentErrors: map[string]uint64{"GroupNotFound": 40, "NodeNotFound": 3}}, "ok"},
		{"internal errors", ServerStatus{RecentErrors: map[string]uint64{"GroupNotFound": 4, "InternalError": 1}}, "bad"},
		{"a commit failed a minute ago", ServerStatus{Store: StoreHealth{LastError: "disk full", LastErrorAt: &recent}}, "bad"},
		{"a commit failed an hour ago", ServerStatus{Store: StoreHealth{LastError: "disk full", LastErrorAt: &old}}, "ok"},
	} {
		if got, problems := light(now, tc.s); got != tc.want || (got == "ok") != (len(problems) == 0) {
			t.Errorf("%s: %s %v, want %s", tc.name, got, problems, tc.want)
		}
	}
}
