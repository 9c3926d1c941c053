package cluster

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"os"
	"testing"
	"time"

	"github.com/smalruby/meshd/broker"
	"github.com/smalruby/meshd/broker/brokertest"
	"github.com/smalruby/meshd/broker/bus"
)

// testSecret is the cluster secret of the test nodes.
const testSecret = "test-cluster-secret"

// freePorts reserves n loopback ports and releases them for the nodes to listen on.
func freePorts(t testing.TB, n int) []string {
	t.Helper()
	addrs := make([]string, n)
	for i := range addrs {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		addrs[i] = l.Addr().String()
		defer l.Close()
	}
	return addrs
}

func testLogger() *slog.Logger {
	if os.Getenv("MESH_TEST_LOG") != "" {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return slog.New(slog.DiscardHandler)
}

// startNodes starts an n-node cluster in this process, each node with its own bus and data
// directory, and waits until every node is ready.
func startNodes(t testing.TB, n int, clock *brokertest.Clock, mutate func(*Options)) []*Node {
	t.Helper()
	addrs := freePorts(t, n)
	var routes []string
	for _, a := range addrs {
		routes = append(routes, "nats://"+a)
	}
	nodes := make([]*Node, n)
	for i := range nodes {
		bs, err := bus.New(bus.Options{})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(bs.Close)
		opts := Options{
			Name:     "test",
			NodeName: fmt.Sprint("n", i),
			Listen:   addrs[i],
			Routes:   routes,
			Secret:   testSecret,
			Replicas: min(n, DefaultReplicas),
			DataDir:  t.TempDir(),
			Broker:   broker.Options{Config: brokertest.Config(), Bus: bs, Logger: testLogger()},
			Logger:   testLogger(),
		}
		if clock != nil {
			opts.Clock = clock.Now
		}
		if mutate != nil {
			mutate(&opts)
		}
		node, err := Start(context.Background(), opts)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { node.Close() })
		nodes[i] = node
	}
	for _, node := range nodes {
		waitReady(t, node)
	}
	return nodes
}

func waitReady(t testing.TB, n *Node) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		err := n.Ready(ctx)
		cancel()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("node %s not ready: %v", n.opts.NodeName, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func TestConformance(t *testing.T) {
	brokertest.Conformance(t, func(t *testing.T, clock *brokertest.Clock) []broker.Service {
		var hs []broker.Service
		for _, n := range startNodes(t, 3, clock, nil) {
			hs = append(hs, n)
		}
		return hs
	})
}
