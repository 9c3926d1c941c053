package main

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// TestServePublish posts to a listening fed broadcaster: reports and events are echoed as
// the message written to the group, heartbeats and syncs are answered with the bytes asked
// for, and anything else is refused.
func TestServePublish(t *testing.T) {
	c := &ceiling{groups: map[string]*ceilingGroup{}, conns: map[*ceilingConn]struct{}{}}
	srv := httptest.NewServer(c)
	defer srv.Close()
	tests := []struct {
		name, query, body string
		status            int
		want              func(string) bool
	}{
		{"report", "g=g0&t=123", `{"query":"mutation"}`, http.StatusOK,
			func(b string) bool { return strings.Contains(b, `"onMessageInGroup":{"groupId":"g0"`) }},
		{"sync", "n=45000&t=1", `{"query":"query"}`, http.StatusOK, func(b string) bool { return len(b) == 45000 }},
		{"empty answer", "n=0", `{}`, http.StatusOK, func(b string) bool { return b == "" }},
		{"no body", "n=10", ``, http.StatusBadRequest, nil},
		{"neither group nor size", "t=1", `{}`, http.StatusBadRequest, nil},
		{"negative size", "n=-1", `{}`, http.StatusBadRequest, nil},
		{"size beyond the bound", "n=1048577", `{}`, http.StatusBadRequest, nil},
		{"report without its send time", "g=g0", `{}`, http.StatusBadRequest, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			resp, err := http.Post(srv.URL+"/publish?"+tc.query, "application/json", strings.NewReader(tc.body))
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			b, err := io.ReadAll(resp.Body)
			if err != nil {
				t.Fatal(err)
			}
			if resp.StatusCode != tc.status {
				t.Fatalf("status %d, want %d: %s", resp.StatusCode, tc.status, b)
			}
			if tc.want != nil && !tc.want(string(b)) {
				t.Errorf("answer %.200q", b)
			}
		})
	}
}

// TestSideRequests checks the fed broadcaster's heartbeats and syncs against the load's:
// one of each timer per node, at the intervals meshd named, with bodies of the load's sizes.
func TestSideRequests(t *testing.T) {
	docs, err := loadDocuments("..")
	if err != nil {
		t.Fatal(err)
	}
	s := shape{groups: 3, nodes: 4}
	side := sideTraffic{hostInterval: time.Minute, memberInterval: 2 * time.Minute}
	reqs := side.requests(s, docs)
	if len(reqs) != 2*s.groups*s.nodes {
		t.Fatalf("%d timers, want %d", len(reqs), 2*s.groups*s.nodes)
	}
	// The load's ids for group 2, node 3: meshd's UUID and CRC-32 domain, of fixed lengths.
	load := map[string]any{"groupId": "6f1c2a4e-9b7d-4c3a-8e2f-1a2b3c4d5e6f", "domain": "0a1b2c3d"}
	want := map[string]struct {
		n     int
		every time.Duration
		vars  map[string]any
	}{
		"RenewHeartbeat":      {s.groups, time.Minute, map[string]any{"hostId": nodeName(2, 0)}},
		"SendMemberHeartbeat": {s.groups * (s.nodes - 1), 2 * time.Minute, map[string]any{"nodeId": nodeName(2, 3)}},
		"ListGroupStatuses":   {s.groups * s.nodes, syncPeriod, map[string]any{}},
	}
	got := map[string]int{}
	for _, r := range reqs {
		got[r.op]++
		w, ok := want[r.op]
		if !ok || r.every != w.every {
			t.Fatalf("timer %s every %v", r.op, r.every)
		}
		vars := map[string]any{}
		for k, v := range load {
			vars[k] = v
		}
		for k, v := range w.vars {
			vars[k] = v
		}
		loadBody, _ := json.Marshal(gqlRequest{OperationName: r.op, Variables: vars, Query: docs[r.op]})
		if len(r.body) != len(loadBody) {
			t.Errorf("%s body %d bytes, the load's %d: %s", r.op, len(r.body), len(loadBody), r.body)
		}
	}
	for op, w := range want {
		if got[op] != w.n {
			t.Errorf("%d %s timers, want %d", got[op], op, w.n)
		}
	}
}

// TestAnswerSizes keeps the largest answer of each side operation and nothing else.
func TestAnswerSizes(t *testing.T) {
	m := newAnswerSizes()
	for _, a := range []struct {
		op string
		n  int
	}{{"ListGroupStatuses", 900}, {"ListGroupStatuses", 45000}, {"ListGroupStatuses", 44000}, {"RenewHeartbeat", 120}, {"ReportDataByNode", 700}} {
		m.add(a.op, a.n)
	}
	got := m.sizes()
	want := map[string]int{"ListGroupStatuses": 45000, "RenewHeartbeat": 120, "SendMemberHeartbeat": 0}
	if len(got) != len(want) {
		t.Fatalf("sizes %v, want %v", got, want)
	}
	for op, n := range want {
		if got[op] != n {
			t.Errorf("%s: %d, want %d", op, got[op], n)
		}
	}
}

// TestTakeTurns alternates meshd and the fed broadcaster, meshd first, each with d in all,
// and charges each side only the CPU read across its own turns.
func TestTakeTurns(t *testing.T) {
	tests := []struct {
		name      string
		d         time.Duration
		turns     int
		withMeshd bool
	}{
		{"one turn each", 10 * time.Millisecond, 1, true},
		{"turns of at most the longest", 15 * time.Millisecond, 2, true},
		{"the fed broadcaster alone", 30 * time.Millisecond, 0, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var on atomic.Bool
			var events []string
			// Each side's CPU advances only while its load runs: 1 s per read in its turn.
			var meshdBusy, fedBusy time.Duration
			meshdRunning := false
			fedCPU := func() time.Duration {
				if on.Load() {
					fedBusy += time.Second
				}
				return fedBusy
			}
			var meshd *turnTaker
			if tc.withMeshd {
				meshd = &turnTaker{
					pause: func(p bool) {
						meshdRunning = !p
						events = append(events, map[bool]string{true: "meshd paused", false: "meshd runs"}[p])
					},
					cpu: func() time.Duration {
						if meshdRunning {
							meshdBusy += 2 * time.Second
						}
						return meshdBusy
					},
				}
			}
			total := tc.d
			if tc.withMeshd {
				total = 2 * tc.d
			}
			ctx, cancel := context.WithTimeout(context.Background(), total)
			defer cancel()
			fed, mine := takeTurns(ctx, time.Now(), tc.d, 10*time.Millisecond, fedCPU, meshd, &on)
			if on.Load() {
				t.Error("the fed broadcaster's load is still on")
			}
			if !tc.withMeshd {
				if fed.busy != time.Second || mine != (usage{}) {
					t.Errorf("fed %+v, meshd %+v", fed, mine)
				}
				return
			}
			var want []string
			for range tc.turns {
				want = append(want, "meshd runs", "meshd paused")
			}
			want = append(want, "meshd paused")
			if strings.Join(events, ", ") != strings.Join(want, ", ") {
				t.Errorf("turns %v, want %v", events, want)
			}
			// One read starts a turn and one ends it: each turn charges one increment.
			if mine.busy != time.Duration(tc.turns)*2*time.Second || fed.busy != time.Duration(tc.turns)*time.Second {
				t.Errorf("meshd charged %v, fed %v over %d turns each", mine.busy, fed.busy, tc.turns)
			}
			if mine.wall <= 0 || fed.wall <= 0 {
				t.Errorf("walls: meshd %v, fed %v", mine.wall, fed.wall)
			}
		})
	}
}
