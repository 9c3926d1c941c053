package broker_test

import (
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/smalruby/meshd/broker"
	"github.com/smalruby/meshd/broker/brokertest"
)

// TestGroupLifecycleCountsAndLogs follows groups through their three ends: each is counted
// once and logged once at info, and messages are never logged.
func TestGroupLifecycleCountsAndLogs(t *testing.T) {
	var log brokertest.Logs
	tb := brokertest.New(t, brokertest.Options{Logger: slog.New(slog.NewTextHandler(&log, &slog.HandlerOptions{Level: slog.LevelInfo}))})
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
		`level=INFO msg="group expired" domain=school group=` + lapsed.ID + ` reason="host heartbeat" members=0 lived=2m31s`,
		`level=INFO msg="group expired" domain=school group=` + outlived.ID + ` reason=lifetime members=0 lived=35m1s`,
	} {
		if !strings.Contains(text, want) {
			t.Errorf("the log lacks %s:\n%s", want, text)
		}
	}
	if n := strings.Count(text, `msg="group `); n != 6 {
		t.Errorf("%d group log lines, want 6 (3 created, 1 dissolved, 2 expired), none for the reports:\n%s", n, text)
	}
}
