package cluster

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/smalruby/meshd/broker"
	"github.com/smalruby/meshd/broker/brokertest"
)

// TestGroupEndReachesEveryNode: a group whose host's heartbeat lapses ends through the log's
// sweep entry, so the subscribers on every node are told with the dissolve message, every node
// tells its lifecycle hook, and every node answers for the dead group alike.
func TestGroupEndReachesEveryNode(t *testing.T) {
	clock := brokertest.NewClock()
	var mu sync.Mutex
	ends := map[string][]broker.GroupEnd{}
	nodes := startNodes(t, 3, clock, func(o *Options) {
		o.Broker.Config.SweepInterval = 100 * time.Millisecond
		name := o.NodeName
		o.Broker.OnGroupEnd = func(e broker.GroupEnd) {
			mu.Lock()
			ends[name] = append(ends[name], e)
			mu.Unlock()
		}
	})
	ctx := context.Background()
	g, err := nodes[0].CreateGroup(ctx, broker.CreateGroupInput{Name: "h", HostID: "h", Domain: "d", UseWebSocket: true})
	if err != nil {
		t.Fatal(err)
	}
	told := make(chan *broker.Message, 3)
	for _, n := range nodes {
		cancel, err := n.Subscribe("d", g.ID, func(m *broker.Message) { told <- m })
		if err != nil {
			t.Fatal(err)
		}
		defer cancel()
	}
	clock.Advance(nodes[0].Config().HostHeartbeatTTL + time.Second)
	want := "Group " + g.ID + "@d has been dissolved successfully."
	for range nodes {
		select {
		case m := <-told:
			if m.Dissolve == nil || m.Dissolve.Message != want {
				t.Fatalf("a subscriber was told %+v, want the dissolve message", m)
			}
		case <-time.After(30 * time.Second):
			t.Fatal("not every node's subscriber was told that the group ended")
		}
	}
	for _, n := range nodes {
		_, _, err := n.JoinGroup(ctx, g.ID, "d", "late")
		if e, ok := err.(*broker.Error); !ok || e.Kind != broker.GroupNotFound || e.Message != "Group not found: "+g.ID+"@d (heartbeat expired)" {
			t.Fatalf("join on %s = %v, want GroupNotFound (heartbeat expired)", n.opts.NodeName, err)
		}
	}
	mu.Lock()
	defer mu.Unlock()
	for _, n := range nodes {
		if e := ends[n.opts.NodeName]; len(e) != 1 || e[0].Reason != broker.EndHostGone || e[0].Group.ID != g.ID {
			t.Errorf("node %s's hook was told %+v, want one end with reason %q", n.opts.NodeName, e, broker.EndHostGone)
		}
	}
}
