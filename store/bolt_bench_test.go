package store_test

import (
	"fmt"
	"path/filepath"
	"testing"

	"github.com/smalruby/meshd/store"
)

// openBench opens a store with real fsyncs.
func openBench(b *testing.B) *store.Bolt {
	b.Helper()
	s, err := store.OpenBolt(filepath.Join(b.TempDir(), "meshd.db"), store.BoltOptions{})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { s.Close() })
	return s
}

// BenchmarkBoltCommit measures one durable control-plane change per commit, one commit at a
// time, as the broker's committer issues them when changes trickle in.
func BenchmarkBoltCommit(b *testing.B) {
	s := openBench(b)
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		i++
		if err := s.Commit(b.Context(), []store.Op{putMember(member("d", "g", fmt.Sprint(i)))}); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "commits/s")
}

// BenchmarkBoltCommitBatch40 measures a classroom of 40 joins in one commit, as the broker's
// committer sends them when they arrive together.
func BenchmarkBoltCommitBatch40(b *testing.B) {
	s := openBench(b)
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		ops := make([]store.Op, 40)
		for j := range ops {
			i++
			ops[j] = putMember(member("d", "g", fmt.Sprint(i)))
		}
		if err := s.Commit(b.Context(), ops); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N*40)/b.Elapsed().Seconds(), "changes/s")
}

// BenchmarkBoltCommitStatusFlush measures the broker's once-a-second status flush at ×10 of the
// seed profile: 1,500 reporting nodes' statuses of ten ~70-byte variables, each replacing the
// one the previous flush wrote.
func BenchmarkBoltCommitStatusFlush(b *testing.B) {
	s := openBench(b)
	const nodes = 1500
	data := make([]store.Pair, 10)
	for i := range data {
		data[i] = store.Pair{Key: fmt.Sprintf("var%d", i), Value: fmt.Sprintf("%070d", i)}
	}
	ops := make([]store.Op, nodes)
	for i := range ops {
		ops[i] = store.Op{Kind: store.PutStatus, Status: &store.Status{
			Domain: "5ca1ab1e", GroupID: fmt.Sprintf("00000000-0000-4000-8000-%012d", i/15), NodeID: fmt.Sprintf("node-%d", i), Data: data,
		}}
	}
	if err := s.Commit(b.Context(), ops); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if err := s.Commit(b.Context(), ops); err != nil {
			b.Fatal(err)
		}
	}
}
