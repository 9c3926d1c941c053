package cluster

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/smalruby/meshd/broker"
)

// BenchmarkReportData measures reportDataByNode through a 3-node cluster in this process,
// from writers spread over the nodes: one op is one report stored by a majority of the log
// and applied by every node. "one shard" writes to one group, so through one shard and its
// leader; "every shard" writes to one group in each shard, so through every leader; "one
// writer per core" writes to one group from GOMAXPROCS writers (the latency one write waits).
// Each runs for both -cluster-sync choices: every write fsynced (the default) and fsyncs
// every second.
func BenchmarkReportData(b *testing.B) {
	for _, sync := range []time.Duration{0, time.Second} {
		for _, bc := range []struct {
			name        string
			groups      int
			parallelism int
		}{{"one shard", 1, 32}, {"every shard", DefaultShards, 32}, {"one writer per core", 1, 1}} {
			name := "sync=always/" + bc.name
			if sync > 0 {
				name = "sync=" + sync.String() + "/" + bc.name
			}
			b.Run(name, func(b *testing.B) {
				nodes := startNodes(b, 3, nil, func(o *Options) { o.SyncInterval = sync })
				var groups []broker.Group
				for host := 0; len(groups) < bc.groups; host++ {
					g, err := nodes[0].CreateGroup(context.Background(), broker.CreateGroupInput{Name: "b", HostID: fmt.Sprint("h", host), Domain: "d", UseWebSocket: true})
					if err != nil {
						b.Fatal(err)
					}
					if broker.PartOf("d", g.ID, DefaultShards) == len(groups) {
						groups = append(groups, g)
					}
				}
				b.SetParallelism(bc.parallelism)
				b.ReportAllocs()
				b.ResetTimer()
				var next atomic.Int64
				b.RunParallel(func(pb *testing.PB) {
					w := next.Add(1)
					n, g := nodes[w%3], groups[w%int64(len(groups))]
					for i := 0; pb.Next(); i++ {
						if _, err := n.ReportData(g.ID, "d", fmt.Sprint("n", i%40), []broker.Pair{{Key: "score", Value: fmt.Sprint(i)}}); err != nil {
							b.Error(err)
							return
						}
					}
				})
			})
		}
	}
}

// BenchmarkReplay measures how fast a node that starts catches up: one op is one log entry
// replayed by a fourth node before it reports ready.
func BenchmarkReplay(b *testing.B) {
	nodes := startNodes(b, 3, nil, nil)
	ctx := context.Background()
	g, err := nodes[0].CreateGroup(ctx, broker.CreateGroupInput{Name: "b", HostID: "h", Domain: "d", UseWebSocket: true})
	if err != nil {
		b.Fatal(err)
	}
	done := make(chan struct{})
	for w := range 32 {
		go func() {
			defer func() { done <- struct{}{} }()
			for i := w; i < b.N; i += 32 {
				nodes[i%3].ReportData(g.ID, "d", fmt.Sprint("n", i%40), []broker.Pair{{Key: "score", Value: fmt.Sprint(i)}})
			}
		}()
	}
	for range 32 {
		<-done
	}
	b.ResetTimer()
	startNode(b, "late", freePorts(b, 1)[0], []string{"nats://" + nodes[0].RouteAddr()})
}
