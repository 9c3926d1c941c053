package store_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/smalruby/meshd/store"
)

var ctx = context.Background()

var t0 = time.Date(2026, 3, 1, 8, 45, 2, 431_000_000, time.UTC)

// implementations are the stores every conformance test runs against.
var implementations = []struct {
	name string
	open func(t *testing.T) store.Store
}{
	{"memory", func(t *testing.T) store.Store { return store.NewMemory() }},
	{"bolt", func(t *testing.T) store.Store {
		s, err := store.OpenBolt(filepath.Join(t.TempDir(), "meshd.db"), store.BoltOptions{NoSync: true})
		if err != nil {
			t.Fatal(err)
		}
		return s
	}},
}

func forEach(t *testing.T, test func(t *testing.T, s store.Store)) {
	for _, impl := range implementations {
		t.Run(impl.name, func(t *testing.T) {
			s := impl.open(t)
			t.Cleanup(func() { s.Close() })
			test(t, s)
		})
	}
}

func group(domain, id string) *store.Group {
	return &store.Group{Domain: domain, ID: id, Name: "名前", HostID: "host", CreatedAt: t0, ExpiresAt: t0.Add(35 * time.Minute),
		HeartbeatAt: t0.Add(time.Minute), UseWebSocket: true, Seq: 1772354702431000}
}

func member(domain, groupID, node string) *store.Member {
	return &store.Member{Domain: domain, GroupID: groupID, NodeID: node, JoinedAt: t0, ExpiresAt: t0.Add(10 * time.Minute)}
}

func status(domain, groupID, node string, data ...store.Pair) *store.Status {
	return &store.Status{Domain: domain, GroupID: groupID, NodeID: node, Data: data, Timestamp: t0.Add(time.Second)}
}

func commit(t *testing.T, s store.Store, ops ...store.Op) {
	t.Helper()
	if err := s.Commit(ctx, ops); err != nil {
		t.Fatal(err)
	}
}

func load(t *testing.T, s store.Store) *store.Snapshot {
	t.Helper()
	snap, err := s.Load(ctx)
	if err != nil {
		t.Fatal(err)
	}
	return snap
}

func TestRoundTrip(t *testing.T) {
	forEach(t, func(t *testing.T, s store.Store) {
		odd := []string{"", "\x00", "#", "教室🎉", "a\x00b", strings.Repeat("長", 86)}
		var want store.Snapshot
		for i, d := range odd {
			g := group(d, odd[(i+1)%len(odd)])
			g.PollingIntervalSeconds, g.UseWebSocket = i, i%2 == 0
			m := member(g.Domain, g.ID, odd[(i+2)%len(odd)])
			st := status(g.Domain, g.ID, m.NodeID, store.Pair{Key: "変数", Value: "値"}, store.Pair{Key: "x", Value: ""}, store.Pair{Key: "x", Value: "dup"})
			commit(t, s, store.Op{Kind: store.PutGroup, Group: g}, store.Op{Kind: store.PutMember, Member: m}, store.Op{Kind: store.PutStatus, Status: st})
			want.Groups, want.Members, want.Statuses = append(want.Groups, *g), append(want.Members, *m), append(want.Statuses, *st)
		}
		empty := status("e", "g", "n")
		empty.Data = []store.Pair{}
		commit(t, s, store.Op{Kind: store.PutStatus, Status: empty})
		got := load(t, s)
		if len(got.Groups) != len(odd) || len(got.Members) != len(odd) || len(got.Statuses) != len(odd)+1 {
			t.Fatalf("loaded %d groups, %d members, %d statuses", len(got.Groups), len(got.Members), len(got.Statuses))
		}
		for _, g := range want.Groups {
			if !contains(got.Groups, g) {
				t.Fatalf("group %+v lost or changed; have %+v", g, got.Groups)
			}
		}
		for _, m := range want.Members {
			if !contains(got.Members, m) {
				t.Fatalf("member %+v lost or changed", m)
			}
		}
		for _, st := range want.Statuses {
			found := false
			for _, g := range got.Statuses {
				found = found || reflect.DeepEqual(g, st)
			}
			if !found {
				t.Fatalf("status %+v lost or changed", st)
			}
		}
		for i := 1; i < len(got.Groups); i++ {
			a, b := got.Groups[i-1], got.Groups[i]
			if a.Domain > b.Domain || a.Domain == b.Domain && a.ID > b.ID {
				t.Fatal("groups not sorted by (domain, id)")
			}
		}
	})
}

func contains[T comparable](list []T, v T) bool {
	for _, x := range list {
		if x == v {
			return true
		}
	}
	return false
}

func TestReplaceAndDelete(t *testing.T) {
	forEach(t, func(t *testing.T, s store.Store) {
		g := group("d", "g")
		commit(t, s, store.Op{Kind: store.PutGroup, Group: g})
		g2 := *g
		g2.HeartbeatAt, g2.Seq = t0.Add(time.Hour), 99
		commit(t, s, store.Op{Kind: store.PutGroup, Group: &g2})
		if got := load(t, s).Groups; len(got) != 1 || got[0] != g2 {
			t.Fatalf("replace: %+v", got)
		}
		commit(t, s,
			store.Op{Kind: store.PutMember, Member: member("d", "g", "n")},
			store.Op{Kind: store.DeleteMember, Domain: "d", GroupID: "g", NodeID: "n"},
			store.Op{Kind: store.PutStatus, Status: status("d", "g", "n")},
			store.Op{Kind: store.DeleteStatus, Domain: "d", GroupID: "g", NodeID: "n"},
			store.Op{Kind: store.DeleteMember, Domain: "d", GroupID: "g", NodeID: "never"},
		)
		if snap := load(t, s); len(snap.Members)+len(snap.Statuses) != 0 {
			t.Fatalf("put then delete in one commit left %+v", snap)
		}
	})
}

func TestDeleteGroupCascades(t *testing.T) {
	forEach(t, func(t *testing.T, s store.Store) {
		for _, k := range [][2]string{{"d", "g"}, {"d", "g1"}, {"d1", "g"}, {"", "dg"}, {"dg", ""}} {
			commit(t, s,
				store.Op{Kind: store.PutGroup, Group: group(k[0], k[1])},
				store.Op{Kind: store.PutMember, Member: member(k[0], k[1], "n")},
				store.Op{Kind: store.PutStatus, Status: status(k[0], k[1], "n")},
			)
		}
		commit(t, s, store.Op{Kind: store.DeleteGroup, Domain: "d", GroupID: "g"})
		snap := load(t, s)
		if len(snap.Groups) != 4 || len(snap.Members) != 4 || len(snap.Statuses) != 4 {
			t.Fatalf("cascade took too much or too little: %d groups %d members %d statuses", len(snap.Groups), len(snap.Members), len(snap.Statuses))
		}
		for _, m := range snap.Members {
			if m.Domain == "d" && m.GroupID == "g" {
				t.Fatal("member of the deleted group survived")
			}
		}
	})
}

func TestConcurrentCommits(t *testing.T) {
	forEach(t, func(t *testing.T, s store.Store) {
		commit(t, s, store.Op{Kind: store.PutGroup, Group: group("d", "g")})
		var wg sync.WaitGroup
		for i := range 40 {
			wg.Go(func() {
				if err := s.Commit(ctx, []store.Op{{Kind: store.PutMember, Member: member("d", "g", fmt.Sprint(i))}}); err != nil {
					t.Error(err)
				}
			})
		}
		wg.Wait()
		if got := len(load(t, s).Members); got != 40 {
			t.Fatalf("%d of 40 concurrent commits landed", got)
		}
	})
}

func TestBadOpsAndClose(t *testing.T) {
	forEach(t, func(t *testing.T, s store.Store) {
		for _, op := range []store.Op{{Kind: store.PutGroup}, {Kind: store.PutMember}, {Kind: store.PutStatus}, {Kind: 99}} {
			if err := s.Commit(ctx, []store.Op{{Kind: store.PutGroup, Group: group("d", "first")}, op}); err == nil {
				t.Fatalf("op %+v accepted", op)
			}
		}
		if len(load(t, s).Groups) != 0 {
			t.Fatal("a rejected commit wrote its valid ops")
		}
		s.Close()
		if _, err := s.Load(ctx); !errors.Is(err, store.ErrClosed) {
			t.Fatalf("load after close: %v", err)
		}
		if err := s.Commit(ctx, nil); !errors.Is(err, store.ErrClosed) {
			t.Fatalf("commit after close: %v", err)
		}
		if err := s.Close(); err != nil {
			t.Fatalf("second close: %v", err)
		}
	})
}

func TestBoltSurvivesReopen(t *testing.T) {
	path := filepath.Join(t.TempDir(), "sub", "meshd.db")
	s, err := store.OpenBolt(path, store.BoltOptions{})
	if err != nil {
		t.Fatal(err)
	}
	commit(t, s, store.Op{Kind: store.PutGroup, Group: group("d", "g")}, store.Op{Kind: store.PutStatus, Status: status("d", "g", "n", store.Pair{Key: "k", Value: "v"})})
	if _, err := store.OpenBolt(path, store.BoltOptions{Timeout: 50 * time.Millisecond}); err == nil || !strings.Contains(err.Error(), "locked by another process") {
		t.Fatalf("second open of a file in use: %v", err)
	}
	s.Close()
	s, err = store.OpenBolt(path, store.BoltOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if snap := load(t, s); len(snap.Groups) != 1 || snap.Groups[0] != *group("d", "g") || snap.Statuses[0].Data[0].Value != "v" {
		t.Fatalf("after reopen: %+v", snap)
	}
}

func TestBoltRefusesBadFiles(t *testing.T) {
	dir := t.TempDir()
	garbage := filepath.Join(dir, "garbage.db")
	os.WriteFile(garbage, []byte(strings.Repeat("not a database ", 1000)), 0o600)
	empty := filepath.Join(dir, "empty.db")
	os.WriteFile(empty, nil, 0o600)
	aFile := filepath.Join(dir, "file")
	os.WriteFile(aFile, []byte("x"), 0o600)
	future := filepath.Join(dir, "future.db")
	s, err := store.OpenBolt(future, store.BoltOptions{})
	if err != nil {
		t.Fatal(err)
	}
	s.Close()
	store.RewriteFormat(t, future, "2")

	tests := []struct{ name, path, want string }{
		{"garbage", garbage, "not a meshd state file or is corrupt"},
		{"under a regular file", filepath.Join(aFile, "meshd.db"), "not a directory"},
		{"newer format", future, `format version "2", this meshd reads 1`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := store.OpenBolt(tt.path, store.BoltOptions{Timeout: 100 * time.Millisecond})
			if err == nil {
				s.Close()
				t.Fatal("opened")
			}
			if !strings.Contains(err.Error(), tt.want) || !strings.Contains(err.Error(), "open store") {
				t.Fatalf("error %q, want %q", err, tt.want)
			}
		})
	}
	// An empty file (a crash during the very first start) is initialised, not refused.
	if s, err := store.OpenBolt(empty, store.BoltOptions{}); err != nil {
		t.Fatalf("empty file: %v", err)
	} else {
		s.Close()
	}
}

func TestBoltFileStaysSmall(t *testing.T) {
	path := filepath.Join(t.TempDir(), "meshd.db")
	s, err := store.OpenBolt(path, store.BoltOptions{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	lesson := func(n int) {
		for g := range 10 {
			id := fmt.Sprintf("lesson%d-group%d", n, g)
			ops := []store.Op{{Kind: store.PutGroup, Group: group("d", id)}}
			for m := range 40 {
				ops = append(ops, store.Op{Kind: store.PutMember, Member: member("d", id, fmt.Sprint(m))},
					store.Op{Kind: store.PutStatus, Status: status("d", id, fmt.Sprint(m), store.Pair{Key: "k", Value: strings.Repeat("v", 200)})})
			}
			commit(t, s, ops...)
		}
		for g := range 10 {
			commit(t, s, store.Op{Kind: store.DeleteGroup, Domain: "d", GroupID: fmt.Sprintf("lesson%d-group%d", n, g)})
		}
	}
	lesson(0)
	first := size(t, path)
	for n := 1; n < 30; n++ {
		lesson(n)
	}
	if last := size(t, path); last > 2*first {
		t.Fatalf("file grew from %d to %d bytes over 30 lessons", first, last)
	}
	if snap := load(t, s); len(snap.Groups)+len(snap.Members)+len(snap.Statuses) != 0 {
		t.Fatal("deleted lessons left records")
	}
}

func size(t *testing.T, path string) int64 {
	t.Helper()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	return fi.Size()
}
