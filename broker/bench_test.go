package broker_test

import (
	"context"
	"fmt"
	"path/filepath"
	"runtime"
	"sync/atomic"
	"testing"
	"time"

	"github.com/smalruby/meshd/broker"
	"github.com/smalruby/meshd/broker/brokertest"
	"github.com/smalruby/meshd/store"
)

func benchGroup(b *testing.B) (*brokertest.Broker, broker.Group) {
	b.Helper()
	tb := brokertest.New(b, brokertest.Options{})
	g, err := tb.CreateGroup(context.Background(), broker.CreateGroupInput{Name: "h", HostID: "h", Domain: "d", UseWebSocket: true})
	if err != nil {
		b.Fatal(err)
	}
	return tb, g
}

func variables(n int) []broker.Pair {
	data := make([]broker.Pair, n)
	for i := range data {
		data[i] = broker.Pair{Key: fmt.Sprintf("variable%d", i), Value: "12345"}
	}
	return data
}

// BenchmarkReportData is the hot mutation: replace a status and publish it, with nobody
// listening.
func BenchmarkReportData(b *testing.B) {
	tb, g := benchGroup(b)
	data := variables(10)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := tb.ReportData(g.ID, g.Domain, "n", data); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkReportDataDelivered adds the way back: one local listener per group receives
// every message through the embedded bus.
func BenchmarkReportDataDelivered(b *testing.B) {
	tb, g := benchGroup(b)
	got := make(chan struct{}, 1024)
	cancel, err := tb.Subscribe(g.Domain, g.ID, func(*broker.Message) { got <- struct{}{} })
	if err != nil {
		b.Fatal(err)
	}
	defer cancel()
	data := variables(10)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := tb.ReportData(g.ID, g.Domain, "n", data); err != nil {
			b.Fatal(err)
		}
		<-got
	}
}

// BenchmarkJoinGroup is a durable control-plane change (memory store).
func BenchmarkJoinGroup(b *testing.B) {
	tb, g := benchGroup(b)
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		i++
		if _, _, err := tb.JoinGroup(context.Background(), g.ID, g.Domain, fmt.Sprint(i%40)); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkJoinGroupBolt40 is a classroom of 40 joining at once on a bbolt file with real
// fsyncs: the production path, where the committer coalesces the changes that arrive while
// a commit is being written into the next one.
func BenchmarkJoinGroupBolt40(b *testing.B) {
	st, err := store.OpenBolt(filepath.Join(b.TempDir(), "meshd.db"), store.BoltOptions{})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { st.Close() })
	var commits atomic.Int64
	tb := brokertest.New(b, brokertest.Options{Store: st, OnCommit: func(time.Duration, int, error) { commits.Add(1) }})
	g, err := tb.CreateGroup(context.Background(), broker.CreateGroupInput{Name: "h", HostID: "h", Domain: "d", UseWebSocket: true})
	if err != nil {
		b.Fatal(err)
	}
	commits.Store(0)
	var n atomic.Int64
	b.SetParallelism(max(1, 40/runtime.GOMAXPROCS(0)))
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, _, err := tb.JoinGroup(context.Background(), g.ID, g.Domain, fmt.Sprint(n.Add(1)%40)); err != nil {
				b.Error(err)
				return
			}
		}
	})
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "joins/s")
	b.ReportMetric(float64(b.N)/float64(max(1, commits.Load())), "joins/commit")
}

// BenchmarkReportDataGroupsOfOneDomain reports from many goroutines into the groups of one
// domain, as a classroom in the fixed domain mode does: what contends is the groups' locks.
func BenchmarkReportDataGroupsOfOneDomain(b *testing.B) {
	tb := brokertest.New(b, brokertest.Options{})
	groups := make([]broker.Group, 16)
	for i := range groups {
		host := fmt.Sprintf("host%d", i)
		g, err := tb.CreateGroup(context.Background(), broker.CreateGroupInput{Name: host, HostID: host, Domain: "d", UseWebSocket: true})
		if err != nil {
			b.Fatal(err)
		}
		groups[i] = g
	}
	data := variables(10)
	var next atomic.Uint32
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		g := groups[int(next.Add(1))%len(groups)]
		for pb.Next() {
			if _, err := tb.ReportData(g.ID, g.Domain, "n", data); err != nil {
				b.Error(err)
				return
			}
		}
	})
}
