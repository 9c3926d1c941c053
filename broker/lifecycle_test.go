package broker_test

import (
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/smalruby/meshd/broker"
	"github.com/smalruby/meshd/broker/brokertest"
)

// TestGroupLifecycleCountsAndLogs follows groups through their three ends: each is counted
// once, logged once at info and told once to the lifecycle hook with its reason, and messages
// are never logged.
func TestGroupLifecycleCountsAndLogs(t *testing.T) {
	var log brokertest.Logs
	var mu sync.Mutex
	var ends []broker.GroupEnd
	tb := brokertest.New(t, brokertest.Options{
		Logger: slog.New(slog.NewTextHandler(&log, &slog.HandlerOptions{Level: slog.LevelInfo})),
		OnGroupEnd: func(e broker.GroupEnd) {
			mu.Lock()
			ends = append(ends, e)
			mu.Unlock()
		},
	})
	create := func(host string) broker.Group {
		g, err := tb.CreateGroup(ctx, broker.CreateGroupInput{Name: "lesson", HostID: host, Domain: "school", UseWebSocket: true})
		if err != nil {
			t.Fatal(err)
		}
		return g
	}
	dissolved, lapsed := create("host-1"), create("host-2")
	if _, _, err := tb.JoinGroup(ctx, dissolved.ID, "school", "pupil"); err != nil {
		t.Fatal(err)
	}
	// Heartbeats keep a group alive; they neither create it again nor log a line.
	if _, err := tb.RenewHeartbeat(ctx, dissolved.ID, "school", "host-1"); err != nil {
		t.Fatal(err)
	}
	if _, err := tb.SendMemberHeartbeat(ctx, dissolved.ID, "school", "pupil"); err != nil {
		t.Fatal(err)
	}
	for range 5 {
		if _, err := tb.ReportData(dissolved.ID, "school", "pupil", []broker.Pair{{Key: "x", Value: "1"}}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := tb.DissolveGroup(ctx, dissolved.ID, "school", "host-1"); err != nil {
		t.Fatal(err)
	}
	// host-2 stops its heartbeat: the sweeper removes its group after the host TTL.
	tb.Clock.Advance(broker.DefaultConfig().HostHeartbeatTTL + time.Second)
	tb.Sweep()
	outlived := create("host-3")
	tb.Clock.Advance(broker.DefaultConfig().MaxConnectionTime + time.Second)
	tb.Sweep()

	st := tb.Stats()
	if st.GroupsCreated != 3 || st.GroupsDissolved != 1 || st.GroupsExpired != 2 {
		t.Fatalf("stats %+v, want 3 created, 1 dissolved, 2 expired", st)
	}
	text := log.String()
	for _, want := range []string{
		`level=INFO msg="group created" domain=school group=` + dissolved.ID + ` websocket=true`,
		`level=INFO msg="group dissolved" domain=school group=` + dissolved.ID + ` members=1 lived=0s`,
		`level=INFO msg="group expired" domain=school group=` + lapsed.ID + ` reason="host gone" members=0 lived=2m31s`,
		`level=INFO msg="group expired" domain=school group=` + outlived.ID + ` reason=expired members=0 lived=35m1s`,
	} {
		if !strings.Contains(text, want) {
			t.Errorf("the log lacks %s:\n%s", want, text)
		}
	}
	mu.Lock()
	defer mu.Unlock()
	want := []struct {
		id      string
		reason  broker.EndReason
		members int
	}{{dissolved.ID, broker.EndDissolved, 1}, {lapsed.ID, broker.EndHostGone, 0}, {outlived.ID, broker.EndExpired, 0}}
	if len(ends) != len(want) {
		t.Fatalf("the hook was told of %d ends, want %d: %+v", len(ends), len(want), ends)
	}
	for i, w := range want {
		if e := ends[i]; e.Group.ID != w.id || e.Reason != w.reason || e.Members != w.members || e.At.Before(e.Group.CreatedAt) {
			t.Errorf("end %d = %+v, want group %s, reason %q, %d members", i, e, w.id, w.reason, w.members)
		}
	}
	if n := strings.Count(text, `msg="group `); n != 6 {
		t.Errorf("%d group log lines, want 6 (3 created, 1 dissolved, 2 expired), none for the reports:\n%s", n, text)
	}
}
