package store_test

import (
	"fmt"
	"path/filepath"
	"sync/atomic"
	"testing"

	"github.com/smalruby/meshd/store"
)

func openBench(b *testing.B) store.Store {
	b.Helper()
	s, err := store.OpenBolt(filepath.Join(b.TempDir(), "meshd.db"), store.BoltOptions{})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { s.Close() })
	return s
}

// BenchmarkBoltCommit measures one durable (fsynced) control-plane change per commit.
func BenchmarkBoltCommit(b *testing.B) {
	s := openBench(b)
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		i++
		if err := s.Commit(ctx, []store.Op{{Kind: store.PutMember, Member: member("d", "g", fmt.Sprint(i))}}); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "commits/s")
}

// BenchmarkBoltCommitBatch40 measures a classroom of 40 joins coalesced into one commit, as the
// broker's committer does when they arrive together.
func BenchmarkBoltCommitBatch40(b *testing.B) {
	s := openBench(b)
	b.ReportAllocs()
	var n atomic.Int64
	for b.Loop() {
		ops := make([]store.Op, 40)
		for j := range ops {
			ops[j] = store.Op{Kind: store.PutMember, Member: member("d", "g", fmt.Sprint(n.Add(1)))}
		}
		if err := s.Commit(ctx, ops); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N*40)/b.Elapsed().Seconds(), "changes/s")
}
