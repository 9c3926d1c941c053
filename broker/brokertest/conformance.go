package brokertest

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/smalruby/meshd/broker"
)

// Start returns handles on one fresh service whose time is clock, with the background sweeper
// off: one handle for a single broker, one per node for a cluster. Conformance sends
// successive calls to successive handles, so every case also runs across nodes.
type Start func(t *testing.T, clock *Clock) []broker.Service

// Conformance checks that a broker.Service keeps the contract written on that interface: the
// rules, read-your-writes on every handle, one group for concurrent creates, one message order
// per group on every handle, and cursors that mean the same on every handle.
func Conformance(t *testing.T, start Start) {
	cases := []struct {
		name string
		run  func(t *testing.T, c *conf)
	}{
		{"read your writes on every handle", confReadYourWrites},
		{"concurrent creates give one group", confConcurrentCreate},
		{"host-only rules and errors", confRules},
		{"expiry follows the clock", confExpiry},
		{"one order per group on every handle", confOrder},
		{"polling cursors across handles", confCursors},
		{"dissolve reaches every handle", confDissolve},
	}
	clock := NewClock()
	hs := start(t, clock)
	if len(hs) == 0 {
		t.Fatal("start returned no handles")
	}
	// The cases share the service, each in a domain of its own, one after the other: some
	// move the clock past every group's lifetime.
	for i, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			tc.run(t, &conf{hs: hs, clock: clock, d: fmt.Sprint("domain", i)})
		})
	}
}

type conf struct {
	hs    []broker.Service
	clock *Clock
	d     string
	next  int
}

// h returns the handle for the next call.
func (c *conf) h() broker.Service {
	s := c.hs[c.next%len(c.hs)]
	c.next++
	return s
}

var bg = context.Background()

func (c *conf) create(t *testing.T, host string) broker.Group {
	t.Helper()
	g, err := c.h().CreateGroup(bg, broker.CreateGroupInput{Name: "class " + host, HostID: host, Domain: c.d, UseWebSocket: true})
	if err != nil {
		t.Fatalf("create: %v", err)
	}
	return g
}

func wantError(t *testing.T, err error, kind broker.Kind, substr string) {
	t.Helper()
	e, ok := err.(*broker.Error)
	if !ok || e.Kind != kind || !strings.Contains(e.Message, substr) {
		t.Fatalf("error = %v (%T), want %s containing %q", err, err, kind, substr)
	}
}

func confReadYourWrites(t *testing.T, c *conf) {
	g := c.create(t, "host")
	for range len(c.hs) {
		if got, err := c.h().GetGroup(g.ID, c.d); err != nil || got == nil || got.ID != g.ID {
			t.Fatalf("GetGroup right after create = %v, %v", got, err)
		}
	}
	for i := range 2 * len(c.hs) {
		node := fmt.Sprint("pupil", i)
		if _, _, err := c.h().JoinGroup(bg, g.ID, c.d, node); err != nil {
			t.Fatalf("join %s: %v", node, err)
		}
		ms, _, err := c.h().ListMembers(g.ID, c.d)
		if err != nil || len(ms) != i+1 || ms[len(ms)-1].NodeID != node && ms[0].NodeID != node {
			t.Fatalf("members after %d joins = %v, %v", i+1, ms, err)
		}
		if _, err := c.h().ReportData(g.ID, c.d, node, []broker.Pair{{Key: "i", Value: fmt.Sprint(i)}}); err != nil {
			t.Fatal(err)
		}
		if st, err := c.h().GetNodeStatus(node); err != nil || st == nil || st.Data[0].Value != fmt.Sprint(i) {
			t.Fatalf("status of %s = %v, %v", node, st, err)
		}
	}
	if sts, err := c.h().ListStatuses(g.ID, c.d); err != nil || len(sts) != 2*len(c.hs) {
		t.Fatalf("statuses = %v, %v", sts, err)
	}
	if err := c.h().LeaveGroup(bg, g.ID, c.d, "pupil0"); err != nil {
		t.Fatal(err)
	}
	if st, err := c.h().GetNodeStatus("pupil0"); err != nil || st != nil {
		t.Fatalf("status after leave = %v, %v", st, err)
	}
	if gs, err := c.h().ListGroups(c.d); err != nil || len(gs) != 1 || gs[0].ID != g.ID {
		t.Fatalf("groups = %v, %v", gs, err)
	}
	gs, err := c.h().SearchGroups("class", nil)
	if err != nil || !slices.ContainsFunc(gs, func(x broker.Group) bool { return x.ID == g.ID }) {
		t.Fatalf("search = %v, %v", gs, err)
	}
}

func confConcurrentCreate(t *testing.T, c *conf) {
	const rounds = 5
	for r := range rounds {
		host := fmt.Sprint("host", r)
		ids := make([]string, 2*len(c.hs))
		var wg sync.WaitGroup
		for i := range ids {
			h := c.h()
			wg.Go(func() {
				g, err := h.CreateGroup(bg, broker.CreateGroupInput{Name: host, HostID: host, Domain: c.d, UseWebSocket: true})
				if err != nil {
					t.Errorf("create: %v", err)
				}
				ids[i] = g.ID
			})
		}
		wg.Wait()
		for _, id := range ids {
			if id != ids[0] {
				t.Fatalf("concurrent creates of %s returned %v", host, ids)
			}
		}
	}
	if gs, err := c.h().ListGroups(c.d); err != nil || len(gs) != rounds {
		t.Fatalf("groups = %d, %v; want %d", len(gs), err, rounds)
	}
}

func confRules(t *testing.T, c *conf) {
	g := c.create(t, "host")
	_, err := c.h().DissolveGroup(bg, g.ID, c.d, "pupil")
	wantError(t, err, broker.Unauthorized, "Only the host can dissolve the group")
	_, err = c.h().RenewHeartbeat(bg, g.ID, c.d, "pupil")
	wantError(t, err, broker.Unauthorized, "Only the host can renew the heartbeat")
	_, err = c.h().SendMemberHeartbeat(bg, g.ID, c.d, "stranger")
	wantError(t, err, broker.NodeNotFound, "Node not found")
	_, _, err = c.h().JoinGroup(bg, "nope", c.d, "pupil")
	wantError(t, err, broker.GroupNotFound, "Group not found: nope@"+c.d)
	_, err = c.h().ReportData(g.ID, c.d, "pupil", make([]broker.Pair, broker.MaxDataEntries+1))
	wantError(t, err, broker.ValidationError, "data must have")
	_, err = c.h().EventsSince(g.ID, c.d, "yesterday")
	wantError(t, err, broker.ValidationError, "since must be")
	_, err = c.h().ListGroups(strings.Repeat("x", broker.MaxDomainUnits+1))
	wantError(t, err, broker.ValidationError, "Domain must be 256 characters or less")
	if _, err := c.h().DissolveGroup(bg, g.ID, c.d, "host"); err != nil {
		t.Fatal(err)
	}
	_, err = c.h().DissolveGroup(bg, g.ID, c.d, "host")
	wantError(t, err, broker.GroupNotFound, "Group not found")
}

func confExpiry(t *testing.T, c *conf) {
	cfg := c.hs[0].Config()
	g := c.create(t, "host")
	if _, _, err := c.h().JoinGroup(bg, g.ID, c.d, "pupil"); err != nil {
		t.Fatal(err)
	}
	c.clock.Advance(cfg.HostHeartbeatTTL - time.Second)
	renewed, err := c.h().RenewHeartbeat(bg, g.ID, c.d, "host")
	if err != nil || !renewed.HeartbeatAt.Equal(c.hs[0].Now()) || !renewed.ExpiresAt.Equal(g.ExpiresAt) {
		t.Fatalf("renew = %+v, %v", renewed, err)
	}
	c.clock.Advance(cfg.HostHeartbeatTTL + time.Second)
	for range len(c.hs) {
		if got, err := c.h().GetGroup(g.ID, c.d); err != nil || got != nil {
			t.Fatalf("group after its heartbeat expired = %v, %v", got, err)
		}
	}
	_, _, err = c.h().JoinGroup(bg, g.ID, c.d, "late")
	wantError(t, err, broker.GroupNotFound, "(heartbeat expired)")
	// The host's next create makes a new group.
	if again := c.create(t, "host"); again.ID == g.ID {
		t.Fatal("create after expiry returned the dead group")
	}
}

// collector gathers the messages of one subscription.
type collector struct {
	mu   sync.Mutex
	msgs []*broker.Message
}

func (c *collector) add(m *broker.Message) {
	c.mu.Lock()
	c.msgs = append(c.msgs, m)
	c.mu.Unlock()
}

// waitFor waits until n messages arrived and returns them.
func (c *collector) waitFor(t *testing.T, n int) []*broker.Message {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		c.mu.Lock()
		got := append([]*broker.Message(nil), c.msgs...)
		c.mu.Unlock()
		if len(got) >= n || time.Now().After(deadline) {
			if len(got) != n {
				t.Fatalf("got %d messages, want %d", len(got), n)
			}
			return got
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func (c *conf) subscribeAll(t *testing.T, g broker.Group) []*collector {
	t.Helper()
	cols := make([]*collector, 2*len(c.hs))
	for i := range cols {
		cols[i] = &collector{}
		cancel, err := c.h().Subscribe(g.Domain, g.ID, cols[i].add)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(cancel)
	}
	return cols
}

func confOrder(t *testing.T, c *conf) {
	g := c.create(t, "host")
	other := c.create(t, "other")
	cols := c.subscribeAll(t, g)
	const writers, each = 6, 40
	var wg sync.WaitGroup
	for w := range writers {
		h := c.h()
		wg.Go(func() {
			for i := range each {
				var err error
				if i%2 == 0 {
					_, err = h.ReportData(g.ID, c.d, fmt.Sprint("w", w), []broker.Pair{{Key: "i", Value: fmt.Sprint(i)}})
				} else {
					_, err = h.FireEvents(g.ID, c.d, fmt.Sprint("w", w), []broker.EventInput{{Name: fmt.Sprint(i), FiredAt: Epoch}})
				}
				if err != nil {
					t.Errorf("writer %d: %v", w, err)
				}
				h.ReportData(other.ID, c.d, "noise", nil)
			}
		})
	}
	wg.Wait()
	var first []string
	for i, col := range cols {
		var seq []string
		last := map[string]int{}
		for _, m := range col.waitFor(t, writers*each) {
			if m.GroupID != g.ID {
				t.Fatalf("message of group %s reached %s", m.GroupID, g.ID)
			}
			var who, v string
			if m.Status != nil {
				who, v = m.Status.NodeID, m.Status.Data[0].Value
			} else {
				who, v = m.Batch.FiredByNodeID, m.Batch.Events[0].Name
			}
			var n int
			fmt.Sscan(v, &n)
			if p, ok := last[who]; ok && n != p+1 {
				t.Fatalf("subscriber %d: %s's messages out of order: %d after %d", i, who, n, p)
			}
			last[who] = n
			seq = append(seq, who+":"+v)
		}
		if first == nil {
			first = seq
		} else if strings.Join(seq, ",") != strings.Join(first, ",") {
			t.Fatalf("subscriber %d saw another order than subscriber 0", i)
		}
	}
}

func confCursors(t *testing.T, c *conf) {
	g, err := c.h().CreateGroup(bg, broker.CreateGroupInput{Name: "poll", HostID: "host", Domain: c.d})
	if err != nil {
		t.Fatal(err)
	}
	const batches = 30
	seen := map[string]bool{}
	since := ""
	var wrote []string
	for i := range batches {
		name := fmt.Sprint("e", i)
		res, err := c.h().RecordEvents(g.ID, c.d, "pupil", []broker.EventInput{{Name: name}})
		if err != nil || res.Count != 1 {
			t.Fatalf("record = %+v, %v", res, err)
		}
		wrote = append(wrote, name)
		if i%3 != 2 {
			continue
		}
		evs, err := c.h().EventsSince(g.ID, c.d, since)
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range evs {
			if seen[e.Name] {
				t.Fatalf("event %s seen twice", e.Name)
			}
			seen[e.Name] = true
			since = e.Cursor
		}
		// Time moves between polls, within the events' lifetime.
		c.clock.Advance(100 * time.Millisecond)
	}
	for _, name := range wrote {
		if !seen[name] {
			t.Fatalf("event %s never polled (seen %d of %d)", name, len(seen), len(wrote))
		}
	}
	evs, err := c.h().EventsSince(g.ID, c.d, since)
	if err != nil || len(evs) != 0 {
		t.Fatalf("poll after the last cursor = %v, %v", evs, err)
	}
}

func confDissolve(t *testing.T, c *conf) {
	g := c.create(t, "host")
	cols := c.subscribeAll(t, g)
	if _, err := c.h().ReportData(g.ID, c.d, "pupil", nil); err != nil {
		t.Fatal(err)
	}
	d, err := c.h().DissolveGroup(bg, g.ID, c.d, "host")
	if err != nil {
		t.Fatal(err)
	}
	for _, col := range cols {
		got := col.waitFor(t, 2)
		if got[0].Status == nil || got[1].Dissolve == nil || got[1].Dissolve.Message != d.Message {
			t.Fatalf("messages = %+v %+v", got[0], got[1])
		}
	}
	for range len(c.hs) {
		if got, err := c.h().GetGroup(g.ID, c.d); err != nil || got != nil {
			t.Fatalf("group after dissolve = %v, %v", got, err)
		}
	}
}
