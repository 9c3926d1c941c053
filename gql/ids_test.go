package gql_test

import (
	"bytes"
	"context"
	"log"
	"os"
	"strings"
	"testing"

	"github.com/smalruby/meshd/broker/brokertest"
	"github.com/smalruby/meshd/gql"
	"github.com/smalruby/meshd/store"
)

// Issue 20, item 10: an id or a domain with a control character is refused with
// ValidationError before anything is stored. Real editors' ids (hex, UUIDs, [A-Za-z0-9._-]
// domains) and ids in any script are accepted; a group name is a String and may hold any text.
func TestIDsWithControlCharactersAreRefused(t *testing.T) {
	e := start(t)
	group := e.group(t, "host", "d")
	e.ok(t, `mutation($g: ID!) { joinGroup(groupId: $g, domain: "d", nodeId: "0123456789abcdef0123456789abcdef") { id } }`, map[string]any{"g": group})
	tests := []struct {
		name, query string
		vars        map[string]any
		want        string
	}{
		{"a host id of control characters", `mutation($h: ID!) { createGroup(name: "n", hostId: $h, domain: "d2") { id } }`, map[string]any{"h": "\u0001\u001f"}, "hostId must not contain control characters (U+0001)"},
		{"a domain with DEL", `mutation { createGroup(name: "n", hostId: "h", domain: "d2\u007f") { id } }`, nil, "domain must not contain control characters (U+007F)"},
		{"a node id with a C1 control", `mutation($g: ID!, $n: ID!) { joinGroup(groupId: $g, domain: "d", nodeId: $n) { id } }`, map[string]any{"g": group, "n": "n\u0085"}, "nodeId must not contain control characters (U+0085)"},
		{"a report from a node id with a newline", `mutation($g: ID!, $n: ID!) { reportDataByNode(groupId: $g, domain: "d", nodeId: $n, data: [{key: "k", value: "v"}]) { groupId } }`, map[string]any{"g": group, "n": "n\nx"}, "nodeId must not contain control characters"},
		{"a listing of a domain with an escape", `{ listGroupsByDomain(domain: "d\u001b") { id } }`, nil, "domain must not contain control characters"},
		{"a node status of a control id", `{ getNodeStatus(nodeId: "\u0007") { nodeId } }`, nil, "nodeId must not contain control characters"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := e.do(t, tt.query, tt.vars)
			typ, msg := r.gqlErr()
			if typ != "ValidationError" || !strings.Contains(msg, tt.want) {
				t.Fatalf("want ValidationError %q, got %s", tt.want, r.Raw)
			}
		})
	}
	snap, err := e.Store.Load(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if len(snap.Groups) != 1 || len(snap.Members) != 1 || len(snap.Statuses) != 0 {
		t.Fatalf("something was stored: %d groups, %d members, %d statuses", len(snap.Groups), len(snap.Members), len(snap.Statuses))
	}
	// What real editors send is accepted: ids of hex digits, names in any script.
	e.ok(t, `mutation { createGroup(name: "ノード001 の教室\u0007", hostId: "ノード001", domain: "school-1.lan_2") { id } }`, nil)
	if r := e.ok(t, `{ listGroupsByDomain(domain: "school-1.lan_2") { name hostId } }`, nil); str(r, "listGroupsByDomain", 0, "name") != "ノード001 の教室\u0007" {
		t.Fatalf("the name did not come back: %v", r)
	}
}

// Issue 20, item 10: a request that makes meshd panic — here the id of a group stored before
// ids were checked, which graphql-go cannot write — is answered InternalError and counted; the
// log gets one line per interval and never a goroutine stack.
func TestAPanicIsCountedAndLoggedWithoutAStack(t *testing.T) {
	st := store.NewMemory()
	at := brokertest.Epoch
	old := store.Group{Domain: "d", ID: "g1", Name: "n", HostID: "\u0001\u001f", CreatedAt: at, ExpiresAt: at.Add(1 << 40), HeartbeatAt: at, UseWebSocket: true}
	if err := st.Commit(context.Background(), []store.Op{{Kind: store.PutGroup, Group: &old}}); err != nil {
		t.Fatal(err)
	}
	var logs brokertest.Logs
	var stdlog bytes.Buffer
	log.SetOutput(&stdlog)
	t.Cleanup(func() { log.SetOutput(os.Stderr) })
	e := startWith(t, brokertest.Options{Store: st}, func(c *gql.Config) { c.Logger = logs.Logger() })
	const requests = 20
	for range requests {
		r := e.do(t, `{ listGroupsByDomain(domain: "d") { id hostId } }`, nil)
		if typ, msg := r.gqlErr(); typ != "InternalError" || msg != "Internal server error" {
			t.Fatalf("want InternalError, got %s", r.Raw)
		}
	}
	if n := e.api.Panics(); n != requests {
		t.Errorf("%d panics counted, want %d", n, requests)
	}
	all := logs.String() + stdlog.String()
	if strings.Contains(all, "goroutine ") || strings.Contains(all, ".go:") {
		t.Errorf("a stack trace was logged:\n%.2000s", all)
	}
	// One line, or two if the requests spanned an interval on a very slow machine.
	if n := strings.Count(all, "panic recovered"); n < 1 || n > 2 {
		t.Errorf("%d log lines about %d panics, want one per interval:\n%s", n, requests, all)
	}
}
