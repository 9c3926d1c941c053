package gql_test

import (
	"strings"
	"testing"

	"github.com/smalruby/meshd/gql"
)

// Issue 20, item 9: one address may hold at most MESH_MAX_GROUP_SUBSCRIPTIONS_PER_ADDRESS
// subscriptions to one group, over all its sockets (one pupil opened 20,000 on a class's
// group); the next is refused with MaxSubscriptionsReachedError, other groups are not
// affected, and a subscription that ends frees its place.
func TestSubscriptionsPerGroupAndAddressAreBounded(t *testing.T) {
	const max = 6
	e := startRT(t, func(c *gql.Config) { c.Realtime.MaxGroupSubscriptionsPerAddress = max })
	g := e.group(t, "host", "d1")
	other := e.group(t, "host2", "d1")
	vars := map[string]any{"groupId": g, "domain": "d1"}
	var socks []*client
	for i := range max {
		if i%3 == 0 {
			socks = append(socks, initialised(t, e))
		}
		c := socks[len(socks)-1]
		c.start("s"+string(rune('a'+i)), onMessage, vars, "")
		c.expect("start_ack")
	}
	late := initialised(t, e)
	late.start("over", onMessage, vars, "")
	f := late.next()
	if f["type"] != "error" || str(f, "payload", "errors", 0, "errorType") != "MaxSubscriptionsReachedError" || !strings.Contains(str(f, "payload", "errors", 0, "message"), "MESH_MAX_GROUP_SUBSCRIPTIONS_PER_ADDRESS") {
		t.Fatalf("subscription %d to one group from one address: %v", max+1, f)
	}
	late.start("other", onMessage, map[string]any{"groupId": other, "domain": "d1"}, "")
	late.expect("start_ack")
	socks[0].send(map[string]string{"type": "stop", "id": "sa"})
	socks[0].expect("complete")
	late.start("again", onMessage, vars, "")
	late.expect("start_ack")
}
