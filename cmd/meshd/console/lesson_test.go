package console_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/smalruby/meshd/broker"
	"github.com/smalruby/meshd/cmd/meshd/console"
)

// status reads /statusz with the session of c.
func (e *env) status(t *testing.T, c *http.Client) console.Status {
	t.Helper()
	res, body := do(t, c, "GET", e.srv.URL+"/statusz", "", nil)
	if res.StatusCode != http.StatusOK {
		t.Fatalf("/statusz: %s %s", res.Status, body)
	}
	var st console.Status
	if err := json.Unmarshal([]byte(body), &st); err != nil {
		t.Fatal(err)
	}
	return st
}

// waitStatus reads /statusz until ok holds of it (the console samples once a tick).
func (e *env) waitStatus(t *testing.T, c *http.Client, what string, ok func(console.Status) bool) console.Status {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		st := e.status(t, c)
		if ok(st) {
			return st
		}
		if time.Now().After(deadline) {
			t.Fatalf("the console never showed %s: %+v", what, st)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// value is the value of key reported by node in the live group id of st, "" when none.
func value(st console.Status, id, node, key string) string {
	for _, d := range st.Domains {
		for _, g := range d.Groups {
			for _, n := range g.Nodes {
				if g.ID == id && n.NodeID == node {
					for _, kv := range n.Variables {
						if kv[0] == key {
							return kv[1]
						}
					}
				}
			}
		}
	}
	return ""
}

type memberJSON struct {
	NodeID           string
	Host             bool
	JoinedAt, LeftAt time.Time
	LastActive       time.Time
}

type recordJSON struct {
	FullID    string
	EndedAt   *time.Time
	Members   []memberJSON
	Variables []struct {
		Node, Key string
		Values    [][2]any
	}
	Messages []struct{ Name, From string }
}

// TestRecordSurvivesAReload: the values, members and messages one console saw are kept by
// meshd, so that a second laptop (or the same page after a reload) gets the same history and
// the same CSV, during the lesson and after the group ended.
func TestRecordSurvivesAReload(t *testing.T) {
	e := start(t, false)
	ctx := context.Background()
	const host, pupil, leaver = "host0001", "pupil0001", "pupil0002"
	g, err := e.b.CreateGroup(ctx, broker.CreateGroupInput{Name: host, HostID: host, Domain: "d", UseWebSocket: true})
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range []string{pupil, leaver} {
		if _, _, err := e.b.JoinGroup(ctx, g.ID, "d", n); err != nil {
			t.Fatal(err)
		}
	}
	first := e.client(t)
	e.login(t, first)
	// The console samples once a tick: each value is waited for, as a teacher's page sees it.
	for _, v := range []string{"1", "2", "=2+3"} {
		if _, err := e.b.ReportData(g.ID, "d", pupil, []broker.Pair{{Key: "score", Value: v}, {Key: "なまえ", Value: "たろう"}}); err != nil {
			t.Fatal(err)
		}
		e.waitStatus(t, first, "score "+v, func(st console.Status) bool { return value(st, g.ID, pupil, "score") == v })
	}
	if _, err := e.b.FireEvents(g.ID, "d", pupil, []broker.EventInput{{Name: "jump!", FiredAt: time.Now()}}); err != nil {
		t.Fatal(err)
	}
	if err := e.b.LeaveGroup(ctx, g.ID, "d", leaver); err != nil {
		t.Fatal(err)
	}
	e.waitStatus(t, first, "the message and the leave", func(st console.Status) bool {
		gs := st.Domains[0].Groups[0]
		return len(gs.Events) == 1 && len(gs.Members) == 1
	})

	full := g.ID + "@d"
	second := e.client(t)
	e.login(t, second)
	read := func(c *http.Client) recordJSON {
		t.Helper()
		res, body := do(t, c, "GET", e.srv.URL+console.RecordPath+"?group="+url.QueryEscape(full), "", nil)
		if res.StatusCode != http.StatusOK {
			t.Fatalf("record: %s %s", res.Status, body)
		}
		var r recordJSON
		if err := json.Unmarshal([]byte(body), &r); err != nil {
			t.Fatalf("record %s: %v", body, err)
		}
		return r
	}
	r := read(second)
	var scores []any
	for _, v := range r.Variables {
		if v.Node == pupil && v.Key == "score" {
			for _, p := range v.Values {
				scores = append(scores, p[1])
			}
		}
	}
	if !slices.Equal(scores, []any{"1", "2", "=2+3"}) || r.FullID != full || r.EndedAt != nil {
		t.Errorf("record %+v: scores %v, want 1, 2, =2+3 of a live group", r, scores)
	}
	if len(r.Messages) != 1 || r.Messages[0].Name != "jump!" || r.Messages[0].From != pupil {
		t.Errorf("messages %+v", r.Messages)
	}
	left := map[string]bool{}
	for _, m := range r.Members {
		left[m.NodeID] = !m.LeftAt.IsZero()
	}
	if len(r.Members) != 3 || !r.Members[0].Host || r.Members[0].NodeID != host || left[pupil] || !left[leaver] {
		t.Errorf("members %+v: want the host, the pupil there and the one who left", r.Members)
	}

	csv := func(c *http.Client) string {
		t.Helper()
		res, body := do(t, c, "GET", e.srv.URL+console.RecordCSVPath+"?name="+url.QueryEscape("なまえ")+"&group="+url.QueryEscape(full), "", nil)
		if res.StatusCode != http.StatusOK || res.Header.Get("Content-Type") != "text/csv; charset=utf-8" || !strings.HasPrefix(res.Header.Get("Content-Disposition"), "attachment;") {
			t.Fatalf("CSV: %s %v %s", res.Status, res.Header, body)
		}
		return body
	}
	got := csv(first)
	kana := console.Kana(pupil)
	for _, want := range []string{
		"\ufeffkind,time,node,kana,name,key,value\r\n",
		"host,", "member,", "left,",
		"," + pupil + "," + kana + ",たろう,score,1\r\n",
		"," + pupil + "," + kana + ",たろう,score,'=2+3\r\n", // a pupil's text is not a formula
		"message,", "," + pupil + "," + kana + ",たろう,jump!,\r\n",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("the CSV lacks %q:\n%s", want, got)
		}
	}
	if again := csv(second); again != got {
		t.Errorf("the CSV differs from the other laptop:\n%s\n---\n%s", got, again)
	}

	// After the lesson the record stays, ended.
	if _, err := e.b.DissolveGroup(ctx, g.ID, "d", host); err != nil {
		t.Fatal(err)
	}
	e.waitStatus(t, second, "the group ended", func(st console.Status) bool { return len(st.Domains) == 0 && len(st.Ended) == 1 })
	if r := read(first); r.EndedAt == nil || len(r.Variables) != 2 || slices.ContainsFunc(r.Members, func(m memberJSON) bool {
		return m.LeftAt.IsZero()
	}) {
		t.Errorf("the ended group's record %+v: want it ended, its variables kept, everyone left", r)
	}
	if !strings.Contains(csv(second), ",score,2\r\n") {
		t.Error("the ended group's CSV lost its values")
	}

	for name, tc := range map[string]struct {
		c     *http.Client
		query string
		code  int
	}{
		"no session":     {e.client(t), "?group=" + url.QueryEscape(full), http.StatusUnauthorized},
		"no such group":  {first, "?group=nope@d", http.StatusNotFound},
		"no group named": {first, "", http.StatusNotFound},
	} {
		for _, path := range []string{console.RecordPath, console.RecordCSVPath} {
			if res, body := do(t, tc.c, "GET", e.srv.URL+path+tc.query, "", nil); res.StatusCode != tc.code {
				t.Errorf("%s %s: %s %s, want %d", name, path, res.Status, body, tc.code)
			}
		}
	}
}

// TestDeadGroupShowsOnce: a group whose host stopped answering stays in meshd for its grace;
// the console shows it once, among the ended groups with why, whether or not the broker has
// told of its end yet.
func TestDeadGroupShowsOnce(t *testing.T) {
	e := start(t, false)
	ctx := context.Background()
	dead, err := e.b.CreateGroup(ctx, broker.CreateGroupInput{Name: "dead0001", HostID: "dead0001", Domain: "d", UseWebSocket: true})
	if err != nil {
		t.Fatal(err)
	}
	e.clock.Advance(time.Minute)
	alive, err := e.b.CreateGroup(ctx, broker.CreateGroupInput{Name: "live0001", HostID: "live0001", Domain: "d", UseWebSocket: true})
	if err != nil {
		t.Fatal(err)
	}
	c := e.client(t)
	e.login(t, c)
	e.clock.Advance(e.b.Config().HostHeartbeatTTL - 30*time.Second)
	if _, err := e.b.RenewHeartbeat(ctx, alive.ID, "d", alive.HostID); err != nil {
		t.Fatal(err)
	}
	e.clock.Advance(31 * time.Second) // the first host's heartbeat has lapsed; meshd keeps the group for its grace
	// Until the broker's sweep tells of its end, the console tells it died when its host's
	// heartbeat lapsed; after, as the broker tells it, when the sweep found it dead.
	for _, told := range []bool{false, true} {
		at := dead.CreatedAt.Add(e.b.Config().HostHeartbeatTTL)
		if told {
			e.b.Sweep()
			at = e.b.Now()
		}
		st := e.waitStatus(t, c, "the dead group among the ended", func(st console.Status) bool {
			return len(st.Ended) > 0 && st.Ended[0].At.Equal(at)
		})
		if len(st.Domains) != 1 || len(st.Domains[0].Groups) != 1 || st.Domains[0].Groups[0].ID != alive.ID || st.Server.Groups != 1 {
			t.Errorf("told %v: live groups %+v (%d counted), want only the one alive", told, st.Domains, st.Server.Groups)
		}
		if len(st.Ended) != 1 || st.Ended[0].ID != dead.ID || st.Ended[0].Reason != string(broker.EndHostGone) {
			t.Errorf("told %v: ended %+v, want the dead group once, its host gone", told, st.Ended)
		}
	}
}
