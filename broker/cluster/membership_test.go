package cluster

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/smalruby/meshd/broker"
	"github.com/smalruby/meshd/broker/brokertest"
	"github.com/smalruby/meshd/broker/bus"
)

// startNode starts one more node that routes to the given peers and waits until it is ready.
func startNode(t testing.TB, name, listen string, routes []string) *Node {
	t.Helper()
	n := launchNode(t, name, listen, routes, 0)
	waitReady(t, n)
	return n
}

// launchNode starts one more node that routes to the given peers, with the given number of
// shards (the default when 0).
func launchNode(t testing.TB, name, listen string, routes []string, shards int) *Node {
	t.Helper()
	bs, err := bus.New(bus.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(bs.Close)
	n, err := Start(context.Background(), Options{
		Name: "test", NodeName: name, Listen: listen, Routes: routes, Secret: testSecret, DataDir: t.TempDir(), Shards: shards,
		Broker: broker.Options{Config: brokertest.Config(), Bus: bs, Logger: testLogger()}, Logger: testLogger(),
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { n.Close() })
	return n
}

// TestAddAndReplaceNodes follows deploy/cluster.md: the shards' leaders spread over the
// nodes; a node added later replays the log and serves; a node set to another number of
// shards refuses to serve and creates no stream; a dead node's replacement, with the same name
// and an empty data directory, replays the log and becomes a current replica of every shard
// again.
func TestAddAndReplaceNodes(t *testing.T) {
	nodes := startNodes(t, 3, nil, nil)
	ctx := context.Background()
	// The shards' leaders spread: each of the three nodes leads one of the three shards.
	waitLeadersSpread(t, nodes[0], 3)
	g, err := nodes[0].CreateGroup(ctx, broker.CreateGroupInput{Name: "m", HostID: "h", Domain: "d", UseWebSocket: true})
	if err != nil {
		t.Fatal(err)
	}
	const joins = 100
	for i := range joins {
		if _, _, err := nodes[i%3].JoinGroup(ctx, g.ID, "d", fmt.Sprint("m", i)); err != nil {
			t.Fatal(err)
		}
	}
	members := func(n *Node) int {
		t.Helper()
		ms, _, err := n.ListMembers(g.ID, "d")
		if err != nil {
			t.Fatal(err)
		}
		return len(ms)
	}

	added := startNode(t, "n3", freePorts(t, 1)[0], []string{"nats://" + nodes[0].RouteAddr()})
	if got := members(added); got != joins {
		t.Fatalf("the added node lists %d members, want %d", got, joins)
	}

	// A node set to another number of shards than the log has refuses to serve, and says why.
	other := launchNode(t, "n4", freePorts(t, 1)[0], []string{"nats://" + nodes[0].RouteAddr()}, DefaultShards+1)
	deadline := time.Now().Add(time.Minute)
	for err := other.Ready(context.Background()); err == nil || !strings.Contains(err.Error(), "another number of shards"); err = other.Ready(context.Background()) {
		if err == nil || time.Now().After(deadline) {
			t.Fatalf("a node with %d shards in a log of %d: Ready = %v, want a refusal", DefaultShards+1, DefaultShards, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
	other.Close()
	extra := newShard(other, DefaultShards).name
	if _, err := nodes[0].js.Stream(ctx, extra); !errors.Is(err, jetstream.ErrStreamNotFound) {
		t.Fatalf("the refused node's extra shard %s: %v, want no such stream", extra, err)
	}

	old := nodes[2]
	listen, routes := old.opts.Listen, old.opts.Routes
	old.Close()
	replacement := startNode(t, "n2", listen, routes)
	if got := members(replacement); got != joins {
		t.Fatalf("the replacement lists %d members, want %d", got, joins)
	}
	// The replacement takes the old node's place as a replica of every shard of the log.
	for _, s := range nodes[0].shards {
		waitCurrentReplica(t, s, "n2")
	}
}

// waitCurrentReplica waits, at most a minute, until the shard's leader (asked through s)
// counts the node named name as a replica of the shard that is online and caught up.
func waitCurrentReplica(t *testing.T, s *shard, name string) {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for {
		s.mu.Lock()
		stream := s.stream
		s.mu.Unlock()
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		info, err := stream.Info(ctx)
		cancel()
		if err == nil && info.Cluster != nil {
			if info.Cluster.Leader == name {
				return
			}
			for _, p := range info.Cluster.Replicas {
				if p.Name == name && p.Current && !p.Offline {
					return
				}
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s is not a current replica of the log after a minute (last info: %+v, err %v)", name, info, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// waitLeadersSpread waits, at most a minute, until the shards' leaders (asked through n) are
// spread over want nodes, one shard each.
func waitLeadersSpread(t *testing.T, n *Node, want int) {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for {
		leaders := make(map[string]int)
		for _, s := range n.shards {
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
			info, err := s.stream.Info(ctx)
			cancel()
			if err == nil && info.Cluster != nil && info.Cluster.Leader != "" {
				leaders[info.Cluster.Leader]++
			}
		}
		if len(leaders) == want {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("the shards' leaders are %v after a minute, want %d nodes leading one shard each", leaders, want)
		}
		time.Sleep(100 * time.Millisecond)
	}
}
