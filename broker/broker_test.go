package broker_test

import (
	"context"
	"fmt"
	"github.com/smalruby/meshd/broker"
	"strings"
	"testing"
	"time"
)

var ctx = context.Background()

func TestCreateGroup(t *testing.T) {
	f := newFixture(t)
	a := f.create(t, "host-a", "d1")
	if a.ID != "00000000-0000-4000-8000-000000000001" || a.FullID() != "00000000-0000-4000-8000-000000000001@d1" || a.Name != "host-a" || !a.UseWebSocket {
		t.Fatalf("created %+v", a)
	}
	if want := epoch.Truncate(time.Millisecond).Add(2100 * time.Second); !a.ExpiresAt.Equal(want) {
		t.Fatalf("expiresAt = %v, want %v", a.ExpiresAt, want)
	}
	f.clock.Advance(time.Second)
	again, err := f.b.CreateGroup(ctx, broker.CreateGroupInput{Name: "other", HostID: "host-a", Domain: "d1", UseWebSocket: false, MaxConnectionTimeSeconds: ptr(-5)})
	if err != nil {
		t.Fatalf("idempotent create ignores its arguments, got %v", err)
	}
	if again != a {
		t.Fatalf("idempotent create = %+v, want unchanged %+v", again, a)
	}
	if b := f.create(t, "host-b", "d1"); b.ID == a.ID {
		t.Fatal("another host got the same group")
	}
	if c := f.create(t, "host-a", "d2"); c.ID == a.ID {
		t.Fatal("the same host in another domain got the same group")
	}
}

func TestCreateGroupPolling(t *testing.T) {
	f := newFixture(t)
	g, err := f.b.CreateGroup(ctx, broker.CreateGroupInput{Name: "n", HostID: "h", Domain: "d"})
	if err != nil {
		t.Fatal(err)
	}
	if g.UseWebSocket || g.PollingIntervalSeconds != 2 {
		t.Fatalf("polling group = %+v", g)
	}
}

func TestCreateGroupValidation(t *testing.T) {
	emoji := strings.Repeat("😀", 128) // 256 UTF-16 code units
	tests := []struct {
		name    string
		in      broker.CreateGroupInput
		message string
	}{
		{"domain of 257 characters", broker.CreateGroupInput{HostID: "h", Domain: strings.Repeat("a", 257)}, "Domain must be 256 characters or less"},
		{"domain of 257 UTF-16 units", broker.CreateGroupInput{HostID: "h", Domain: emoji + "a"}, "Domain must be 256 characters or less"},
		{"zero lifetime", broker.CreateGroupInput{HostID: "h", Domain: "d", MaxConnectionTimeSeconds: ptr(0)}, "maxConnectionTimeSeconds must be at least 1"},
		{"lifetime above the cap", broker.CreateGroupInput{HostID: "h", Domain: "d", MaxConnectionTimeSeconds: ptr(2101)}, "maxConnectionTimeSeconds cannot exceed 2100"},
		{"long host id", broker.CreateGroupInput{HostID: strings.Repeat("h", 257), Domain: "d"}, "hostId must be 256 bytes or less"},
		{"long name", broker.CreateGroupInput{HostID: "h", Name: strings.Repeat("n", 257), Domain: "d"}, "name must be 256 bytes or less"},
	}
	f := newFixture(t)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := f.b.CreateGroup(ctx, tt.in)
			wantKind(t, err, broker.ValidationError, tt.message)
		})
	}
	for _, ok := range []broker.CreateGroupInput{
		{HostID: "h1", Domain: emoji},
		{HostID: "h2", Domain: strings.Repeat("あ", 256)},
		{HostID: "h3", Domain: "d", MaxConnectionTimeSeconds: ptr(2100)},
		{HostID: "", Name: "", Domain: ""},
	} {
		if _, err := f.b.CreateGroup(ctx, ok); err != nil {
			t.Errorf("create %+v: %v", ok, err)
		}
	}
}

func TestGroupLiveness(t *testing.T) {
	tests := []struct {
		name     string
		lifetime int
		steps    []time.Duration // heartbeats after each step
		wait     time.Duration
		message  string
	}{
		{"alive", 2100, nil, 149 * time.Second, ""},
		{"absolute expiry", 1, nil, 2 * time.Second, "Group expired: "},
		{"host heartbeat lost", 2100, nil, 151 * time.Second, "(heartbeat expired)"},
		{"heartbeats keep it alive", 2100, []time.Duration{100 * time.Second, 100 * time.Second}, 100 * time.Second, ""},
		{"heartbeats never extend expiresAt", 300, []time.Duration{100 * time.Second, 100 * time.Second, 99 * time.Second}, 2 * time.Second, "Group expired: "},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t)
			g, err := f.b.CreateGroup(ctx, broker.CreateGroupInput{HostID: "h", Domain: "d", MaxConnectionTimeSeconds: ptr(tt.lifetime), UseWebSocket: true})
			if err != nil {
				t.Fatal(err)
			}
			for _, step := range tt.steps {
				f.clock.Advance(step)
				hb, err := f.b.RenewHeartbeat(ctx, g.ID, g.Domain, "h")
				if err != nil {
					t.Fatal(err)
				}
				if !hb.ExpiresAt.Equal(g.ExpiresAt) {
					t.Fatalf("heartbeat moved expiresAt from %v to %v", g.ExpiresAt, hb.ExpiresAt)
				}
			}
			f.clock.Advance(tt.wait)
			_, _, err = f.b.JoinGroup(ctx, g.ID, g.Domain, "m")
			listed, _ := f.b.ListGroups("d")
			if tt.message == "" {
				if err != nil || len(listed) != 1 {
					t.Fatalf("join = %v, listed %d; want a live group", err, len(listed))
				}
				return
			}
			wantKind(t, err, broker.GroupNotFound, tt.message)
			if len(listed) != 0 {
				t.Fatalf("dead group still listed")
			}
			if _, err := f.b.ReportData(g.ID, g.Domain, "m", nil); err == nil {
				t.Fatal("report on a dead group succeeded")
			}
			// A dead host may create a new group at once.
			if ng := f.create(t, "h", "d"); ng.ID == g.ID {
				t.Fatal("create returned the dead group")
			}
		})
	}
}

func TestHostOnlyOperations(t *testing.T) {
	f := newFixture(t)
	g := f.create(t, "host", "d")
	f.join(t, g, "member")
	_, err := f.b.RenewHeartbeat(ctx, g.ID, g.Domain, "member")
	wantKind(t, err, broker.Unauthorized, "Only the host can renew the heartbeat")
	_, err = f.b.DissolveGroup(ctx, g.ID, g.Domain, "member")
	wantKind(t, err, broker.Unauthorized, "Only the host can dissolve the group")
	if strings.Contains(err.Error(), "host") && strings.Contains(err.Error(), "Host:") {
		t.Fatalf("dissolve leaks the host id: %v", err)
	}
	_, err = f.b.RenewHeartbeat(ctx, "missing", g.Domain, "host")
	wantKind(t, err, broker.GroupNotFound, "Group not found: missing@d")
	for _, args := range [][3]string{{"", "d", "h"}, {"g", "", "h"}, {"g", "d", ""}} {
		_, err := f.b.DissolveGroup(ctx, args[0], args[1], args[2])
		wantKind(t, err, broker.ValidationError, "is required")
	}
	if _, err := f.b.DissolveGroup(ctx, g.ID, g.Domain, "host"); err != nil {
		t.Fatal(err)
	}
	_, err = f.b.DissolveGroup(ctx, g.ID, g.Domain, "host")
	wantKind(t, err, broker.GroupNotFound, "Group not found")
}

func TestDissolveExpiredButNotSwept(t *testing.T) {
	f := newFixture(t)
	g, _ := f.b.CreateGroup(ctx, broker.CreateGroupInput{HostID: "h", Domain: "d", MaxConnectionTimeSeconds: ptr(1)})
	f.clock.Advance(5 * time.Second)
	if _, err := f.b.DissolveGroup(ctx, g.ID, g.Domain, "h"); err != nil {
		t.Fatalf("dissolve of an expired, unswept group: %v", err)
	}
}

func TestMembership(t *testing.T) {
	f := newFixture(t)
	g := f.create(t, "host", "d")
	gv, m, err := f.b.JoinGroup(ctx, g.ID, g.Domain, "ノード001")
	if err != nil {
		t.Fatal(err)
	}
	if !gv.ExpiresAt.Equal(g.ExpiresAt) || m.NodeID != "ノード001" {
		t.Fatalf("join = %+v %+v", gv, m)
	}
	_, err = f.b.SendMemberHeartbeat(ctx, g.ID, g.Domain, "host")
	wantKind(t, err, broker.NodeNotFound, "Node not found")

	f.advance(t, g, 599*time.Second)
	hb, err := f.b.SendMemberHeartbeat(ctx, g.ID, g.Domain, "ノード001")
	if err != nil {
		t.Fatal(err)
	}
	if want := f.b.Now().Truncate(time.Second).Add(600 * time.Second); !hb.ExpiresAt.Equal(want) || hb.ExpiresAt.Nanosecond() != 0 {
		t.Fatalf("member expiry = %v, want %v with no fraction", hb.ExpiresAt, want)
	}
	members, _, _ := f.b.ListMembers(g.ID, g.Domain)
	if len(members) != 1 {
		t.Fatalf("members = %+v", members)
	}
	f.advance(t, g, 600*time.Second)
	_, err = f.b.SendMemberHeartbeat(ctx, g.ID, g.Domain, "ノード001")
	wantKind(t, err, broker.NodeNotFound, "Node not found")
	if err := f.b.LeaveGroup(ctx, g.ID, g.Domain, "ノード001"); err != nil {
		t.Fatal(err)
	}
	if err := f.b.LeaveGroup(ctx, "nope", "nope", "nobody"); err != nil {
		t.Fatalf("leave is idempotent, got %v", err)
	}
}

func TestStatuses(t *testing.T) {
	f := newFixture(t)
	g := f.create(t, "host", "d")
	f.join(t, g, "m1")
	f.join(t, g, "m2")
	if sts, _ := f.b.ListStatuses(g.ID, g.Domain); sts == nil || len(sts) != 0 {
		t.Fatalf("no reports: %#v, want empty non-nil", sts)
	}
	data := []broker.Pair{{Key: "変数", Value: "値🎉"}, {Key: "x", Value: "1"}, {Key: "x", Value: "2"}}
	st, err := f.b.ReportData(g.ID, g.Domain, "m2", data)
	if err != nil || st.NodeID != "m2" || len(st.Data) != 3 {
		t.Fatalf("report = %+v, %v", st, err)
	}
	f.b.ReportData(g.ID, g.Domain, "m1", []broker.Pair{{Key: "a", Value: "1"}})
	f.b.ReportData(g.ID, g.Domain, "host", []broker.Pair{{Key: "h", Value: "1"}})
	f.b.ReportData(g.ID, g.Domain, "m1", []broker.Pair{{Key: "b", Value: "2"}}) // replaces, does not merge
	sts, _ := f.b.ListStatuses(g.ID, g.Domain)
	if len(sts) != 3 || sts[0].NodeID != "host" || sts[1].NodeID != "m1" || sts[2].NodeID != "m2" {
		t.Fatalf("statuses = %+v", sts)
	}
	if len(sts[1].Data) != 1 || sts[1].Data[0] != (broker.Pair{Key: "b", Value: "2"}) {
		t.Fatalf("report did not replace: %+v", sts[1].Data)
	}
	if got, _ := f.b.GetNodeStatus("host"); got == nil || got.Data[0].Key != "h" {
		t.Fatalf("host status = %+v", got)
	}
	if got, _ := f.b.GetNodeStatus("stranger"); got != nil {
		t.Fatalf("unknown node status = %+v", got)
	}
	_, err = f.b.ListStatuses("", "d")
	wantKind(t, err, broker.ValidationError, "groupId and domain are required")

	if err := f.b.LeaveGroup(ctx, g.ID, g.Domain, "m2"); err != nil {
		t.Fatal(err)
	}
	if got, _ := f.b.GetNodeStatus("m2"); got != nil {
		t.Fatalf("status after leave = %+v", got)
	}
	sts, _ = f.b.ListStatuses(g.ID, g.Domain)
	if len(sts) != 2 {
		t.Fatalf("after leave: %+v", sts)
	}
}

func TestStatusLiveness(t *testing.T) {
	f := newFixture(t)
	g := f.create(t, "host", "d")
	f.join(t, g, "member")
	f.b.ReportData(g.ID, g.Domain, "member", []broker.Pair{{Key: "k", Value: "v"}})
	f.b.ReportData(g.ID, g.Domain, "reporter", []broker.Pair{{Key: "k", Value: "v"}}) // never joined
	f.b.ReportData(g.ID, g.Domain, "host", []broker.Pair{{Key: "k", Value: "v"}})
	f.advance(t, g, 400*time.Second)
	if _, err := f.b.SendMemberHeartbeat(ctx, g.ID, g.Domain, "member"); err != nil {
		t.Fatal(err)
	}
	f.advance(t, g, 300*time.Second) // 700 s: past the member TTL since the reports
	f.b.Sweep()
	sts, _ := f.b.ListStatuses(g.ID, g.Domain)
	var ids []string
	for _, st := range sts {
		ids = append(ids, st.NodeID)
	}
	if strings.Join(ids, ",") != "host,member" {
		t.Fatalf("live statuses = %v, want the host and the live member only", ids)
	}
}

func TestSearchGroups(t *testing.T) {
	f := newFixture(t)
	// Twelve matching groups in three domains, created in reverse name order.
	for i := 11; i >= 0; i-- {
		f.create(t, fmt.Sprintf("abcdef%02d", i), fmt.Sprintf("d%d", i%3))
	}
	f.create(t, "ffffff", "d1")
	got, err := f.b.SearchGroups("abcdef", nil)
	if err != nil || len(got) != broker.MaxSearchResults {
		t.Fatalf("search = %d groups, %v; want %d", len(got), err, broker.MaxSearchResults)
	}
	for i, g := range got {
		if want := fmt.Sprintf("abcdef%02d", i); g.Name != want || g.Domain != fmt.Sprintf("d%d", i%3) {
			t.Fatalf("result %d = %s in %s, want %s: ordered by name across domains", i, g.Name, g.Domain, want)
		}
	}
	if got, _ := f.b.SearchGroups("abcdef", ptr(3)); len(got) != 3 || got[2].Name != "abcdef02" {
		t.Fatalf("limit 3 = %+v", got)
	}
	if got, _ := f.b.SearchGroups("abcdef", ptr(50)); len(got) != broker.MaxSearchResults {
		t.Fatalf("limit 50 = %d groups, want at most %d", len(got), broker.MaxSearchResults)
	}
	if got, err := f.b.SearchGroups("zzzzzz", nil); err != nil || got == nil || len(got) != 0 {
		t.Fatalf("no match = %#v, %v; want an empty list", got, err)
	}
	if got, err := f.b.SearchGroups("ぴよぴよぴよ", nil); err != nil || len(got) != 0 {
		t.Fatalf("six multibyte characters = %v, %v; want accepted", got, err)
	}
	for _, bad := range []string{"", "abcdef0", "ぴよぴよぴよぴ"} {
		_, err = f.b.SearchGroups(bad, nil)
		wantKind(t, err, broker.ValidationError, "namePrefix must be 1-6 characters")
	}
	_, err = f.b.SearchGroups("a", ptr(0))
	wantKind(t, err, broker.ValidationError, "limit must be at least 1")
}

func TestSearchGroupsOnlyLive(t *testing.T) {
	f := newFixture(t)
	alive := f.create(t, "aaaaaa", "d1")
	f.create(t, "aaaaab", "d2") // its host stops renewing
	short, err := f.b.CreateGroup(ctx, broker.CreateGroupInput{Name: "aaaaac", HostID: "aaaaac", Domain: "d3", MaxConnectionTimeSeconds: ptr(120), UseWebSocket: true})
	if err != nil {
		t.Fatal(err)
	}
	f.advance(t, alive, 100*time.Second)
	if _, err := f.b.RenewHeartbeat(ctx, short.ID, short.Domain, short.HostID); err != nil {
		t.Fatal(err)
	}
	f.advance(t, alive, 100*time.Second) // 200 s: aaaaab's heartbeat is past its TTL, aaaaac past expiresAt
	got, err := f.b.SearchGroups("aaaaa", nil)
	if err != nil || len(got) != 1 || got[0].Name != "aaaaaa" {
		t.Fatalf("search = %+v, %v; want only the live group", got, err)
	}
}
