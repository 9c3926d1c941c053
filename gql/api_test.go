package gql_test

import (
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/smalruby/meshd/gql"
)

var isoMillis = regexp.MustCompile(`^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$`)

func TestCreateDomain(t *testing.T) {
	tests := []struct {
		name   string
		config func(*gql.Config)
		header map[string]string
		want   string
	}{
		{"fixed", func(c *gql.Config) {}, nil, "9c678252"},
		{"ip of the peer", func(c *gql.Config) { c.DomainMode = "ip"; c.Secret = "default-secret-key" }, nil, ""},
		{"untrusted forwarded-for is ignored", func(c *gql.Config) { c.DomainMode = "ip"; c.Secret = "default-secret-key" },
			map[string]string{"X-Forwarded-For": "192.0.2.1"}, ""},
		{"trusted proxy's first forwarded-for entry", func(c *gql.Config) {
			c.DomainMode, c.Secret = "ip", "default-secret-key"
			c.TrustedProxies = mustPrefixes("127.0.0.0/8")
		}, map[string]string{"X-Forwarded-For": " 192.0.2.1 , 10.0.0.1"}, "ef97bf54"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := start(t, tt.config)
			first := e.raw(t, "POST", e.URL, `{"query":"mutation { createDomain }"}`, tt.header)
			second := e.raw(t, "POST", e.URL, `{"query":"mutation { createDomain }"}`, tt.header)
			d := str(first.Data, "createDomain")
			if !regexp.MustCompile(`^[0-9a-f]{1,8}$`).MatchString(d) || d != str(second.Data, "createDomain") {
				t.Fatalf("createDomain = %q then %q", d, str(second.Data, "createDomain"))
			}
			if tt.want != "" && d != tt.want {
				t.Fatalf("createDomain = %q, want %q", d, tt.want)
			}
			if tt.want == "" && d == "ef97bf54" {
				t.Fatal("an untrusted X-Forwarded-For decided the domain")
			}
		})
	}
}

func TestGroupManagement(t *testing.T) {
	e := start(t)
	vars := map[string]any{"name": "ホスト", "hostId": "host-1", "domain": "7aff1acb", "useWebSocket": true}
	g := e.ok(t, createGroup, vars)["createGroup"]
	if str(g, "domain") != "7aff1acb" || str(g, "name") != "ホスト" || str(g, "hostId") != "host-1" || str(g, "id") == "" {
		t.Fatalf("createGroup = %v", g)
	}
	if !strings.HasSuffix(str(g, "fullId"), "@7aff1acb") || !isoMillis.MatchString(str(g, "expiresAt")) || !isoMillis.MatchString(str(g, "createdAt")) {
		t.Fatalf("createGroup = %v", g)
	}
	if field(g, "heartbeatIntervalSeconds") != float64(60) || field(g, "useWebSocket") != true || field(g, "pollingIntervalSeconds") != nil {
		t.Fatalf("createGroup = %v", g)
	}
	again := e.ok(t, createGroup, vars)["createGroup"]
	if str(again, "id") != str(g, "id") {
		t.Fatal("same host and domain gave another group")
	}
	vars["hostId"] = "host-2"
	other := e.ok(t, createGroup, vars)["createGroup"]
	if str(other, "id") == str(g, "id") {
		t.Fatal("another host got the same group")
	}
	list := e.ok(t, `query($d: String!) { listGroupsByDomain(domain: $d) { id domain fullId expiresAt createdAt useWebSocket heartbeatIntervalSeconds pollingIntervalSeconds } }`, map[string]any{"d": "7aff1acb"})
	groups := field(list, "listGroupsByDomain").([]any)
	if len(groups) != 2 {
		t.Fatalf("listGroupsByDomain = %v", groups)
	}
	for _, item := range groups {
		if str(item, "domain") != "7aff1acb" || !strings.HasSuffix(str(item, "fullId"), "@7aff1acb") || !isoMillis.MatchString(str(item, "expiresAt")) {
			t.Fatalf("listed group %v", item)
		}
	}
	empty := e.ok(t, `query { listGroupsByDomain(domain: "unknown") { id } }`, nil)
	if l, ok := field(empty, "listGroupsByDomain").([]any); !ok || len(l) != 0 {
		t.Fatalf("unknown domain = %v, want []", empty)
	}
}

func TestPollingGroupAndLegacyCreate(t *testing.T) {
	e := start(t)
	poll := e.ok(t, createGroup, map[string]any{"name": "n", "hostId": "h", "domain": "d", "useWebSocket": false})
	if field(poll, "createGroup", "useWebSocket") != false || field(poll, "createGroup", "pollingIntervalSeconds") != float64(2) {
		t.Fatalf("polling group = %v", poll)
	}
	// A G0/G1 document has no useWebSocket argument: it defaults to true.
	legacy := e.ok(t, `mutation($name: String!, $hostId: ID!, $domain: String!) { createGroup(name: $name, hostId: $hostId, domain: $domain) { id createdAt useWebSocket } }`,
		map[string]any{"name": "n", "hostId": "h2", "domain": "d"})
	if field(legacy, "createGroup", "useWebSocket") != true {
		t.Fatalf("legacy create = %v", legacy)
	}
}

func TestHeartbeats(t *testing.T) {
	e := start(t)
	created := e.ok(t, createGroup, map[string]any{"name": "n", "hostId": "host", "domain": "d", "useWebSocket": true})["createGroup"]
	id := str(created, "id")
	e.Clock.Advance(2 * time.Second)
	renew := `mutation($g: ID!, $d: String!, $h: ID!) { renewHeartbeat(groupId: $g, domain: $d, hostId: $h) { groupId domain expiresAt heartbeatIntervalSeconds } }`
	hb := e.ok(t, renew, map[string]any{"g": id, "d": "d", "h": "host"})["renewHeartbeat"]
	if str(hb, "expiresAt") != str(created, "expiresAt") || str(hb, "groupId") != id || field(hb, "heartbeatIntervalSeconds") != float64(60) {
		t.Fatalf("renewHeartbeat = %v, want expiresAt string-equal to %q", hb, str(created, "expiresAt"))
	}
	e.ok(t, joinGroup, map[string]any{"groupId": id, "domain": "d", "nodeId": "member"})
	errs := []struct {
		name, query string
		vars        map[string]any
		errType     string
		message     string
	}{
		{"non-host renew", renew, map[string]any{"g": id, "d": "d", "h": "member"}, "Unauthorized", "Only the host"},
		{"renew unknown group", renew, map[string]any{"g": "nope", "d": "d", "h": "host"}, "GroupNotFound", "not found"},
		{"member heartbeat from a non-member", memberHeartbeat, map[string]any{"g": id, "d": "d", "n": "host"}, "NodeNotFound", "Node not found"},
		{"member heartbeat on unknown group", memberHeartbeat, map[string]any{"g": "nope", "d": "d", "n": "member"}, "GroupNotFound", "Group"},
	}
	for _, tt := range errs {
		t.Run(tt.name, func(t *testing.T) {
			r := e.do(t, tt.query, tt.vars)
			typ, msg := r.gqlErr()
			if r.Status != 200 || typ != tt.errType || !strings.Contains(msg, tt.message) {
				t.Fatalf("got %d %s %q, want 200 %s containing %q (%s)", r.Status, typ, msg, tt.errType, tt.message, r.Raw)
			}
			if r.Data != nil {
				t.Fatalf("a non-null field's error must null data, got %v", r.Data)
			}
			if field(r.Errors[0], "extensions", "errorType") != tt.errType || r.Errors[0]["path"] == nil {
				t.Fatalf("error shape: %v", r.Errors[0])
			}
		})
	}
	mhb := e.ok(t, memberHeartbeat, map[string]any{"g": id, "d": "d", "n": "member"})["sendMemberHeartbeat"]
	exp, _ := time.Parse(time.RFC3339, str(mhb, "expiresAt"))
	if str(mhb, "nodeId") != "member" || !strings.HasSuffix(str(mhb, "expiresAt"), ".000Z") || !exp.After(e.Clock.Now()) || field(mhb, "heartbeatIntervalSeconds") != float64(120) {
		t.Fatalf("sendMemberHeartbeat = %v", mhb)
	}
}

const memberHeartbeat = `mutation($g: ID!, $d: String!, $n: ID!) { sendMemberHeartbeat(groupId: $g, domain: $d, nodeId: $n) { nodeId groupId domain expiresAt heartbeatIntervalSeconds } }`

func TestExpiry(t *testing.T) {
	e := start(t)
	short := func(secs int, host string) string {
		d := e.ok(t, createGroup, map[string]any{"name": "n", "hostId": host, "domain": "d", "useWebSocket": true, "maxConnectionTimeSeconds": secs})
		return str(d, "createGroup", "id")
	}
	one, five := short(1, "h1"), short(5, "h5")
	e.ok(t, joinGroup, map[string]any{"groupId": five, "domain": "d", "nodeId": "m"})
	e.Clock.Advance(2 * time.Second)
	r := e.do(t, joinGroup, map[string]any{"groupId": one, "domain": "d", "nodeId": "m"})
	if typ, msg := r.gqlErr(); typ != "GroupNotFound" || !strings.Contains(msg, "Group expired") {
		t.Fatalf("join of an expired group: %s", r.Raw)
	}
	e.Clock.Advance(4 * time.Second)
	r = e.do(t, memberHeartbeat, map[string]any{"g": five, "d": "d", "n": "m"})
	if typ, msg := r.gqlErr(); typ != "GroupNotFound" || !strings.Contains(msg, "Group") {
		t.Fatalf("member heartbeat 6 s into a 5 s group: %s", r.Raw)
	}
	for _, bad := range []int{0, 2101} {
		r := e.do(t, createGroup, map[string]any{"name": "n", "hostId": "x", "domain": "d", "useWebSocket": true, "maxConnectionTimeSeconds": bad})
		if typ, msg := r.gqlErr(); typ != "ValidationError" || !strings.Contains(msg, "maxConnectionTimeSeconds") {
			t.Fatalf("maxConnectionTimeSeconds %d: %s", bad, r.Raw)
		}
	}
	r = e.do(t, createGroup, map[string]any{"name": "n", "hostId": "x", "domain": strings.Repeat("d", 257), "useWebSocket": true})
	if typ, msg := r.gqlErr(); typ != "ValidationError" || msg != "Domain must be 256 characters or less" {
		t.Fatalf("long domain: %s", r.Raw)
	}
}

func TestJoinAndNodes(t *testing.T) {
	e := start(t)
	id := e.group(t, "host", "d")
	created := e.ok(t, `query($g: ID!, $d: String!) { getGroup(groupId: $g, domain: $d) { expiresAt } }`, map[string]any{"g": id, "d": "d"})
	n := e.ok(t, joinGroup, map[string]any{"groupId": id, "domain": "d", "nodeId": "n1"})["joinGroup"]
	if str(n, "id") != "n1" || str(n, "name") != "Node n1" || str(n, "groupId") != id || field(n, "useWebSocket") != true ||
		field(n, "heartbeatIntervalSeconds") != float64(120) || str(n, "expiresAt") != str(created, "getGroup", "expiresAt") {
		t.Fatalf("joinGroup = %v", n)
	}
	e.ok(t, `mutation($g: ID!, $d: String!, $n: ID!) { joinGroup(groupId: $g, domain: $d, nodeId: $n, useWebSocket: false) { id } }`, map[string]any{"g": id, "d": "d", "n": "n2"})
	seed := e.ok(t, `mutation($g: ID!, $d: String!, $n: ID!) { joinGroup(groupId: $g, nodeId: $n, domain: $d) { nodeId groupId domain joinedAt } }`, map[string]any{"g": id, "d": "d", "n": "n3"})
	if str(seed, "joinGroup", "nodeId") != "n3" || !isoMillis.MatchString(str(seed, "joinGroup", "joinedAt")) {
		t.Fatalf("seed-document join = %v", seed)
	}
	nodes := e.ok(t, `query($g: ID!, $d: String!) { listNodesInGroup(groupId: $g, domain: $d) { id name groupId domain expiresAt } }`, map[string]any{"g": id, "d": "d"})
	list := field(nodes, "listNodesInGroup").([]any)
	if len(list) != 3 || str(list[0], "id") != "n1" || str(list[2], "id") != "n3" || str(list[0], "expiresAt") == "" {
		t.Fatalf("listNodesInGroup = %v", list)
	}
	other := e.group(t, "host2", "d")
	none := e.ok(t, `query($g: ID!, $d: String!) { listNodesInGroup(groupId: $g, domain: $d) { id } }`, map[string]any{"g": other, "d": "d"})
	if l := field(none, "listNodesInGroup").([]any); len(l) != 0 {
		t.Fatalf("empty group lists %v", l)
	}
	r := e.do(t, joinGroup, map[string]any{"groupId": "non-existent-group", "domain": "d", "nodeId": "n1"})
	if typ, msg := r.gqlErr(); typ != "GroupNotFound" || !strings.Contains(msg, "not found") {
		t.Fatalf("join unknown: %s", r.Raw)
	}
}

func TestReportAndStatuses(t *testing.T) {
	e := start(t)
	id := e.group(t, "host", "d")
	e.ok(t, joinGroup, map[string]any{"groupId": id, "domain": "d", "nodeId": "n1"})
	if l := field(e.ok(t, listStatuses, map[string]any{"groupId": id, "domain": "d"}), "listGroupStatuses").([]any); len(l) != 0 {
		t.Fatalf("no reports yet: %v", l)
	}
	data := []map[string]any{{"key": "温度", "value": "25"}, {"key": "emoji🎉", "value": "한국어"}}
	for i := range 15 {
		m := e.ok(t, reportData, map[string]any{"groupId": id, "domain": "d", "nodeId": "n1", "data": data})["reportDataByNode"]
		if i > 0 {
			continue
		}
		if str(m, "groupId") != id || str(m, "domain") != "d" || str(m, "nodeStatus", "nodeId") != "n1" || str(m, "nodeStatus", "groupId") != id ||
			str(m, "nodeStatus", "data", 0, "key") != "温度" || len(field(m, "nodeStatus", "data").([]any)) != 2 ||
			!isoMillis.MatchString(str(m, "nodeStatus", "timestamp")) || field(m, "batchEvent") != nil || field(m, "groupDissolve") != nil {
			t.Fatalf("reportDataByNode = %v", m)
		}
	}
	e.ok(t, reportData, map[string]any{"groupId": id, "domain": "d", "nodeId": "host", "data": []any{}})
	list := field(e.ok(t, listStatuses, map[string]any{"groupId": id, "domain": "d"}), "listGroupStatuses").([]any)
	if len(list) != 2 || str(list[1], "nodeId") != "n1" || str(list[1], "data", 1, "value") != "한국어" {
		t.Fatalf("listGroupStatuses = %v", list)
	}
	st := e.ok(t, `query($n: ID!) { getNodeStatus(nodeId: $n) { nodeId groupId data { key value } } }`, map[string]any{"n": "n1"})
	if str(st, "getNodeStatus", "groupId") != id || str(st, "getNodeStatus", "data", 0, "value") != "25" {
		t.Fatalf("getNodeStatus = %v", st)
	}
	unknown := e.do(t, `query { getNodeStatus(nodeId: "nobody") { nodeId } }`, nil)
	if len(unknown.Errors) != 0 || !strings.Contains(unknown.Raw, `"getNodeStatus":null`) {
		t.Fatalf("unknown node: %s", unknown.Raw)
	}
	leave := e.ok(t, `mutation($g: ID!, $d: String!, $n: ID!) { leaveGroup(groupId: $g, domain: $d, nodeId: $n) { peerId groupId domain message } }`, map[string]any{"g": id, "d": "d", "n": "n1"})
	if str(leave, "leaveGroup", "peerId") != "n1" || str(leave, "leaveGroup", "message") != "Peer n1 successfully left group "+id {
		t.Fatalf("leaveGroup = %v", leave)
	}
	if list := field(e.ok(t, listStatuses, map[string]any{"groupId": id, "domain": "d"}), "listGroupStatuses").([]any); len(list) != 1 {
		t.Fatalf("after leave: %v", list)
	}
	r := e.do(t, listStatuses, map[string]any{"groupId": "", "domain": "d"})
	if typ, msg := r.gqlErr(); typ != "ValidationError" || msg != "groupId and domain are required" {
		t.Fatalf("empty groupId: %s", r.Raw)
	}
	r = e.do(t, reportData, map[string]any{"groupId": "gone", "domain": "d", "nodeId": "n1", "data": data})
	if typ, msg := r.gqlErr(); typ != "GroupNotFound" || !strings.Contains(msg, "not found") {
		t.Fatalf("report to unknown: %s", r.Raw)
	}
	if !strings.Contains(r.Raw, `"reportDataByNode":null`) {
		t.Fatalf("a nullable field's error keeps data: %s", r.Raw)
	}
}

func TestDissolve(t *testing.T) {
	e := start(t)
	id := e.group(t, "host", "d")
	e.ok(t, joinGroup, map[string]any{"groupId": id, "domain": "d", "nodeId": "m"})
	r := e.do(t, dissolveGroup, map[string]any{"groupId": id, "domain": "d", "hostId": "m"})
	if typ, msg := r.gqlErr(); typ != "Unauthorized" || !strings.Contains(msg, "Only the host can dissolve") {
		t.Fatalf("non-host dissolve: %s", r.Raw)
	}
	d := e.ok(t, dissolveGroup, map[string]any{"groupId": id, "domain": "d", "hostId": "host"})["dissolveGroup"]
	if str(d, "groupId") != id || !strings.Contains(str(d, "groupDissolve", "message"), "dissolved") {
		t.Fatalf("dissolveGroup = %v", d)
	}
	legacy := e.do(t, `mutation($g: ID!, $d: String!, $h: ID!) { dissolveGroup(groupId: $g, domain: $d, hostId: $h) { groupId domain message } }`, map[string]any{"g": id, "d": "d", "h": "host"})
	if typ, msg := legacy.gqlErr(); typ != "GroupNotFound" || !strings.Contains(msg, "Group not found") {
		t.Fatalf("second dissolve: %s", legacy.Raw)
	}
	for _, q := range []string{joinGroup, reportData} {
		r := e.do(t, q, map[string]any{"groupId": id, "domain": "d", "nodeId": "m", "data": []any{}})
		if typ, msg := r.gqlErr(); typ != "GroupNotFound" || !strings.Contains(msg, "not found") {
			t.Fatalf("after dissolve: %s", r.Raw)
		}
	}
	list := e.ok(t, `query { listGroupsByDomain(domain: "d") { id } }`, nil)
	if l := field(list, "listGroupsByDomain").([]any); len(l) != 0 {
		t.Fatalf("dissolved group still listed: %v", l)
	}
	r = e.do(t, dissolveGroup, map[string]any{"groupId": "", "domain": "d", "hostId": "h"})
	if typ, msg := r.gqlErr(); typ != "ValidationError" || msg != "groupId is required" {
		t.Fatalf("empty dissolve arg: %s", r.Raw)
	}
}

// TestEventsInOrderKeyOrder checks that one batch comes back from the polling log in orderKey
// order (a missing key first, as ""), after the batches recorded before it.
func TestEventsInOrderKeyOrder(t *testing.T) {
	e := start(t)
	id := e.group(t, "host", "d")
	record := `mutation($g: ID!, $e: [EventInput!]!) { recordEventsByNode(groupId: $g, domain: "d", nodeId: "n", events: $e) { nextSince } }`
	e.ok(t, record, map[string]any{"g": id, "e": []map[string]any{{"eventName": "first", "firedAt": "2026-03-01T08:45:10.214Z", "orderKey": "9"}}})
	e.ok(t, record, map[string]any{"g": id, "e": []map[string]any{
		{"eventName": "b", "firedAt": "2026-03-01T08:45:10.214Z", "orderKey": "20260301174510-0000002"},
		{"eventName": "a", "firedAt": "2026-03-01T08:45:10.214Z", "orderKey": "20260301174510-0000001"},
		{"eventName": "none", "firedAt": "2026-03-01T08:45:10.214Z"},
	}})
	d := e.ok(t, `query($g: ID!) { getEventsSince(groupId: $g, domain: "d", since: "") { name orderKey } }`, map[string]any{"g": id})
	var got []string
	for _, ev := range field(d, "getEventsSince").([]any) {
		got = append(got, str(ev, "name"))
	}
	if strings.Join(got, ",") != "first,none,a,b" {
		t.Fatalf("events = %v, want first,none,a,b", got)
	}
}

func TestEventsAndPolling(t *testing.T) {
	e := start(t)
	id := e.group(t, "host", "d")
	events := []map[string]any{
		{"eventName": "start", "payload": "", "firedAt": "2026-03-01T08:45:10.214Z", "orderKey": "20260301174510-0000001"},
		{"eventName": "go", "payload": "{\"n\":1}", "firedAt": "2026-03-01T17:45:10.300+09:00", "orderKey": "20260301174510-0000002"},
	}
	fire := e.ok(t, `mutation($g: ID!, $d: String!, $n: ID!, $e: [EventInput!]!) { fireEventsByNode(groupId: $g, domain: $d, nodeId: $n, events: $e) {
		groupId domain nodeStatus { nodeId } batchEvent { firedByNodeId groupId domain timestamp events { name firedByNodeId groupId domain payload timestamp orderKey cursor } } } }`,
		map[string]any{"g": id, "d": "d", "n": "n1", "e": events})["fireEventsByNode"]
	if str(fire, "batchEvent", "events", 0, "timestamp") != "2026-03-01T08:45:10.214Z" || field(fire, "batchEvent", "events", 0, "payload") != nil ||
		str(fire, "batchEvent", "events", 0, "orderKey") != "20260301174510-0000001" || str(fire, "batchEvent", "events", 1, "timestamp") != "2026-03-01T08:45:10.300Z" ||
		field(fire, "nodeStatus") != nil || field(fire, "batchEvent", "events", 0, "cursor") != nil {
		t.Fatalf("fireEventsByNode = %v", fire)
	}
	rec := e.ok(t, `mutation($g: ID!, $d: String!, $n: ID!, $e: [EventInput!]!) { recordEventsByNode(groupId: $g, domain: $d, nodeId: $n, events: $e) { groupId domain recordedCount nextSince } }`,
		map[string]any{"g": id, "d": "d", "n": "n2", "e": events[:1]})["recordEventsByNode"]
	if field(rec, "recordedCount") != float64(1) || !strings.HasPrefix(str(rec, "nextSince"), "EVENT#") {
		t.Fatalf("recordEventsByNode = %v", rec)
	}
	poll := e.ok(t, `query($g: ID!, $d: String!, $s: String!) { pollGroupData(groupId: $g, domain: $d, since: $s) { events { name payload cursor firedByNodeId } nodeStatuses { nodeId } } }`,
		map[string]any{"g": id, "d": "d", "s": "2026-03-01T08:45:00.000Z"})
	evs := field(poll, "pollGroupData", "events").([]any)
	if len(evs) != 3 || str(evs, 0, "name") != "start" || str(evs, 0, "payload") != "" || str(evs, 2, "firedByNodeId") != "n2" || str(evs, 2, "cursor") != str(rec, "nextSince") {
		t.Fatalf("pollGroupData = %v", poll)
	}
	since := e.ok(t, `query($g: ID!, $d: String!, $s: String!) { getEventsSince(groupId: $g, domain: $d, since: $s) { name cursor } }`,
		map[string]any{"g": id, "d": "d", "s": str(evs, 0, "cursor")})
	if l := field(since, "getEventsSince").([]any); len(l) != 2 {
		t.Fatalf("getEventsSince = %v", l)
	}
	r := e.do(t, `query { getEventsSince(groupId: "g", domain: "d", since: "soon") { name } }`, nil)
	if typ, _ := r.gqlErr(); typ != "ValidationError" {
		t.Fatalf("bad since: %s", r.Raw)
	}
	single := e.ok(t, `mutation { fireEventByNode(groupId: "`+id+`", domain: "d", nodeId: "old", eventName: "hello", payload: "") { name firedByNodeId payload timestamp } }`, nil)
	if str(single, "fireEventByNode", "name") != "hello" || field(single, "fireEventByNode", "payload") != nil || !isoMillis.MatchString(str(single, "fireEventByNode", "timestamp")) {
		t.Fatalf("fireEventByNode = %v", single)
	}
}

func TestSearchGroupsByNamePrefix(t *testing.T) {
	e := start(t)
	e.group(t, "abcdef4567", "d2")
	e.group(t, "abcdef0123", "d1")
	e.group(t, "123456", "d1")
	d := e.ok(t, `query { searchGroupsByNamePrefix(namePrefix: "abcdef", limit: 10) { id domain fullId name hostId expiresAt } }`, nil)
	l := field(d, "searchGroupsByNamePrefix").([]any)
	if len(l) != 2 || str(l, 0, "name") != "abcdef0123" || str(l, 0, "domain") != "d1" || str(l, 1, "domain") != "d2" {
		t.Fatalf("search = %v; want both domains, ordered by name", l)
	}
	tests := []struct{ name, query, message string }{
		{"empty prefix", `{ searchGroupsByNamePrefix(namePrefix: "") { id } }`, "namePrefix must be 1-6 characters"},
		{"long prefix", `{ searchGroupsByNamePrefix(namePrefix: "abcdef0") { id } }`, "namePrefix must be 1-6 characters"},
		{"limit 0", `{ searchGroupsByNamePrefix(namePrefix: "a", limit: 0) { id } }`, "limit must be at least 1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := e.do(t, tt.query, nil)
			if typ, msg := r.gqlErr(); typ != "ValidationError" || msg != tt.message {
				t.Fatalf("%s", r.Raw)
			}
		})
	}
}

// TestDeprecatedCreatedAt checks the createdAt that one G3 fork build (smt-vm 66609065) selected
// on Node, HeartbeatPayload and MemberHeartbeatPayload: the group's creation time, as upstream
// returned it while it had the field.
func TestDeprecatedCreatedAt(t *testing.T) {
	e := start(t)
	created := e.ok(t, createGroup, map[string]any{"name": "host", "hostId": "host", "domain": "d", "useWebSocket": true})
	id, want := str(created, "createGroup", "id"), str(created, "createGroup", "createdAt")
	vars := map[string]any{"g": id}
	join := e.ok(t, `mutation($g: ID!) { joinGroup(groupId: $g, domain: "d", nodeId: "m") { createdAt } }`, vars)
	renew := e.ok(t, `mutation($g: ID!) { renewHeartbeat(groupId: $g, domain: "d", hostId: "host") { createdAt } }`, vars)
	member := e.ok(t, `mutation($g: ID!) { sendMemberHeartbeat(groupId: $g, domain: "d", nodeId: "m") { createdAt } }`, vars)
	for name, got := range map[string]string{
		"joinGroup":           str(join, "joinGroup", "createdAt"),
		"renewHeartbeat":      str(renew, "renewHeartbeat", "createdAt"),
		"sendMemberHeartbeat": str(member, "sendMemberHeartbeat", "createdAt"),
	} {
		if want == "" || got != want {
			t.Errorf("%s createdAt = %q, want the group's %q", name, got, want)
		}
	}
}

// TestPollingMembersHeartbeatOften: the members of a polling group are told to send heartbeats
// every three polling intervals (6 s), because a polling editor learns that its group ended only
// from a heartbeat's answer; WebSocket members keep the configured interval (120 s). Every answer
// that carries the interval says the same for the group.
func TestPollingMembersHeartbeatOften(t *testing.T) {
	tests := []struct {
		name      string
		websocket bool
		want      float64
	}{
		{"websocket group", true, 120},
		{"polling group", false, 6},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := start(t)
			id := str(e.ok(t, createGroup, map[string]any{"name": "h", "hostId": "h", "domain": "d", "useWebSocket": tt.websocket}), "createGroup", "id")
			joined := e.ok(t, joinGroup, map[string]any{"groupId": id, "domain": "d", "nodeId": "m"})["joinGroup"]
			beat := e.ok(t, memberHeartbeat, map[string]any{"g": id, "d": "d", "n": "m"})["sendMemberHeartbeat"]
			nodes := e.ok(t, `query($g: ID!, $d: String!) { listNodesInGroup(groupId: $g, domain: $d) { heartbeatIntervalSeconds } }`, map[string]any{"g": id, "d": "d"})
			for what, got := range map[string]any{
				"joinGroup":           field(joined, "heartbeatIntervalSeconds"),
				"sendMemberHeartbeat": field(beat, "heartbeatIntervalSeconds"),
				"listNodesInGroup":    field(nodes, "listNodesInGroup", 0, "heartbeatIntervalSeconds"),
			} {
				if got != tt.want {
					t.Errorf("%s: heartbeatIntervalSeconds = %v, want %v", what, got, tt.want)
				}
			}
		})
	}
}
