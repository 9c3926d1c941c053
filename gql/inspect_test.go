package gql_test

import (
	"testing"

	"github.com/smalruby/meshd/gql"
)

func TestGroupSubscriptions(t *testing.T) {
	e := startRT(t)
	a, b := e.group(t, "host-a", "d"), e.group(t, "host-b", "d")
	subscribe := func(c *client, id, group string) {
		t.Helper()
		c.start(id, onMessage, map[string]any{"groupId": group, "domain": "d"}, "")
		c.expect("start_ack")
	}
	c1, c2 := e.appsync(t, ""), e.appsync(t, "")
	for _, c := range []*client{c1, c2} {
		c.send(map[string]string{"type": "connection_init"})
		c.expect("connection_ack")
	}
	subscribe(c1, "1", a)
	subscribe(c2, "1", a) // shares c1's execution
	subscribe(c2, "2", b)
	c2.start("3", `subscription { onGroupDissolve(groupId: "`+b+`", domain: "d") { message } }`, nil, "")
	c2.expect("start_ack")
	got := e.api.GroupSubscriptions()
	// The inline one counts too: its plan reads the group from the document.
	want := map[gql.GroupRef]int{{Domain: "d", GroupID: a}: 2, {Domain: "d", GroupID: b}: 2}
	if len(got) != len(want) {
		t.Fatalf("GroupSubscriptions() = %v, want %v", got, want)
	}
	for k, n := range want {
		if got[k] != n {
			t.Errorf("GroupSubscriptions()[%v] = %d, want %d (all: %v)", k, got[k], n, got)
		}
	}
	c2.send(map[string]string{"id": "1", "type": "stop"})
	c2.expect("complete")
	if n := e.api.GroupSubscriptions()[gql.GroupRef{Domain: "d", GroupID: a}]; n != 1 {
		t.Errorf("after a stop: %d subscriptions of group a, want 1", n)
	}
}
