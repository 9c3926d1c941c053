package console

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/smalruby/meshd/broker"
	"github.com/smalruby/meshd/broker/brokertest"
)

// BenchmarkSample is one tick of an open console over the ×1 bench's classroom: 10 groups of
// 40 nodes, each node's status holding 10 variables. ns/op ÷ 1e9 is the share of one core the
// console's sampling takes (the stream then writes the same bytes to every open page).
func BenchmarkSample(b *testing.B) {
	tb := brokertest.New(b, brokertest.Options{})
	ctx := context.Background()
	for g := range 10 {
		host := fmt.Sprintf("%032x", g)
		grp, err := tb.Broker.CreateGroup(ctx, broker.CreateGroupInput{Name: host, HostID: host, Domain: "d", UseWebSocket: true})
		if err != nil {
			b.Fatal(err)
		}
		for n := range 40 {
			node := fmt.Sprintf("%030x%02d", g, n)
			if n > 0 {
				if _, _, err := tb.Broker.JoinGroup(ctx, grp.ID, "d", node); err != nil {
					b.Fatal(err)
				}
			}
			data := make([]broker.Pair, 10)
			for i := range data {
				data[i] = broker.Pair{Key: fmt.Sprintf("var%d", i), Value: fmt.Sprintf("seq:%s:%d:1764579600000000000", node, i)}
			}
			if _, err := tb.Broker.ReportData(grp.ID, "d", node, data); err != nil {
				b.Fatal(err)
			}
		}
	}
	s := newSampler(Options{Snapshot: tb.Broker.Snapshot, Health: func() Health { return Health{Started: time.Now()} }})
	defer s.release()
	now := time.Now()
	_, data := s.sample(now)
	b.ResetTimer()
	for i := range b.N {
		s.sample(now.Add(time.Duration(i+1) * time.Second))
	}
	b.ReportMetric(float64(len(data)), "bytes/tick")
}
