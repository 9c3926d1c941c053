package cluster

import (
	"fmt"
	"testing"

	"github.com/smalruby/meshd/broker"
)

// TestShardOf checks the routing of changes to shards: a group's changes to its group's shard,
// a create to its host's shard with a new id of that same shard, a sweep to the shard it
// names.
func TestShardOf(t *testing.T) {
	for _, count := range []int{1, 2, 3, 7} {
		n := &Node{}
		for i := range count {
			n.shards = append(n.shards, newShard(n, i))
		}
		used := make(map[int]bool)
		for i := range 50 {
			domain, host := fmt.Sprint("domain", i%5), fmt.Sprint("host", i)
			c := broker.Change{Op: broker.OpCreate, Create: &broker.CreateGroupInput{HostID: host, Domain: domain}}
			s := n.shardOf(&c)
			if want := broker.PartOf(domain, host, count); s.index != want {
				t.Fatalf("%d shards: create of %s@%s went to shard %d, want %d", count, host, domain, s.index, want)
			}
			if got := n.groupShard(domain, c.NewID); got != s {
				t.Fatalf("%d shards: the new group %s is in shard %d, its create went to %d", count, c.NewID, got.index, s.index)
			}
			join := broker.Change{Op: broker.OpJoin, Domain: domain, GroupID: c.NewID, NodeID: "pupil"}
			if got := n.shardOf(&join); got != s {
				t.Fatalf("%d shards: a join of %s went to shard %d, its create to %d", count, c.NewID, got.index, s.index)
			}
			used[s.index] = true
		}
		if len(used) != count {
			t.Errorf("%d shards: 50 creates used %d of them", count, len(used))
		}
		last := count - 1
		if got := n.shardOf(&broker.Change{Op: broker.OpSweep, Part: &broker.Part{Index: last, Of: count}}); got.index != last {
			t.Errorf("%d shards: a sweep of shard %d went to %d", count, last, got.index)
		}
	}
}

// TestShardNames keeps the first shard the stream of a log of one shard, so that a cluster
// started before the split keeps its log.
func TestShardNames(t *testing.T) {
	n := &Node{}
	for i, want := range [][4]string{
		{"MESHD", "meshd.log", "meshd.applied", "$JS.API.DIRECT.GET.MESHD"},
		{"MESHD-1", "meshd.log.1", "meshd.applied.1", "$JS.API.DIRECT.GET.MESHD-1"},
		{"MESHD-2", "meshd.log.2", "meshd.applied.2", "$JS.API.DIRECT.GET.MESHD-2"},
	} {
		s := newShard(n, i)
		if got := [4]string{s.name, s.subject, s.applied, s.directGet}; got != want {
			t.Errorf("shard %d: %v, want %v", i, got, want)
		}
	}
}
