package store_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/smalruby/meshd/store"
)

var t0 = time.Date(2026, 3, 1, 8, 45, 2, 431_000_000, time.UTC)

// implementations are the stores every conformance test runs against.
var implementations = []struct {
	name string
	open func(t *testing.T) store.Store
}{
	{"memory", func(*testing.T) store.Store { return store.NewMemory() }},
	{"bolt", func(t *testing.T) store.Store {
		t.Helper()
		return openBolt(t, filepath.Join(t.TempDir(), "meshd.db"), store.BoltOptions{NoSync: true})
	}},
}

// forEach runs test against a fresh store of every implementation.
func forEach(t *testing.T, test func(t *testing.T, s store.Store)) {
	t.Helper()
	for _, impl := range implementations {
		t.Run(impl.name, func(t *testing.T) {
			s := impl.open(t)
			t.Cleanup(func() { s.Close() })
			test(t, s)
		})
	}
}

func openBolt(t *testing.T, path string, opts store.BoltOptions) *store.Bolt {
	t.Helper()
	s, err := store.OpenBolt(path, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func group(domain, id string) *store.Group {
	return &store.Group{Domain: domain, ID: id, Name: "3年2組", HostID: "host", CreatedAt: t0, ExpiresAt: t0.Add(35 * time.Minute),
		HeartbeatAt: t0.Add(time.Minute), PollingIntervalSeconds: 2, Seq: 1772354702431000}
}

func member(domain, groupID, node string) *store.Member {
	return &store.Member{Domain: domain, GroupID: groupID, NodeID: node, JoinedAt: t0, ExpiresAt: t0.Add(10 * time.Minute)}
}

func status(domain, groupID, node string, data ...store.Pair) *store.Status {
	if data == nil {
		data = []store.Pair{}
	}
	return &store.Status{Domain: domain, GroupID: groupID, NodeID: node, Data: data, Timestamp: t0.Add(time.Second)}
}

func putGroup(g *store.Group) store.Op   { return store.Op{Kind: store.PutGroup, Group: g} }
func putMember(m *store.Member) store.Op { return store.Op{Kind: store.PutMember, Member: m} }
func putStatus(s *store.Status) store.Op { return store.Op{Kind: store.PutStatus, Status: s} }
func deleteGroup(d, g string) store.Op {
	return store.Op{Kind: store.DeleteGroup, Domain: d, GroupID: g}
}
func deleteMember(d, g, n string) store.Op {
	return store.Op{Kind: store.DeleteMember, Domain: d, GroupID: g, NodeID: n}
}
func deleteStatus(d, g, n string) store.Op {
	return store.Op{Kind: store.DeleteStatus, Domain: d, GroupID: g, NodeID: n}
}

// populate stores a group with one member and one status of node "n".
func populate(d, g string) []store.Op {
	return []store.Op{putGroup(group(d, g)), putMember(member(d, g, "n")), putStatus(status(d, g, "n", store.Pair{Key: "k", Value: d + "/" + g}))}
}

func commit(t *testing.T, s store.Store, ops ...store.Op) {
	t.Helper()
	if err := s.Commit(t.Context(), ops); err != nil {
		t.Fatal(err)
	}
}

func load(t *testing.T, s store.Store) *store.Snapshot {
	t.Helper()
	snap, err := s.Load(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	return snap
}

// want builds the snapshot that committing ops to an empty store must load as.
func want(ops ...store.Op) *store.Snapshot {
	s := store.NewMemory()
	if err := s.Commit(context.Background(), ops); err != nil {
		panic(err)
	}
	snap, err := s.Load(context.Background())
	if err != nil {
		panic(err)
	}
	return snap
}

func equal(t *testing.T, got, want *store.Snapshot) {
	t.Helper()
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("loaded\n%+v\nwant\n%+v", got, want)
	}
}

func TestPutReplaceDelete(t *testing.T) {
	g2 := group("d", "g")
	g2.Name, g2.HostID, g2.HeartbeatAt, g2.Seq, g2.UseWebSocket, g2.PollingIntervalSeconds = "renamed", "host2", t0.Add(time.Hour), 99, true, 0
	m2 := member("d", "g", "n")
	m2.ExpiresAt = t0.Add(time.Hour)
	s2 := status("d", "g", "n", store.Pair{Key: "x", Value: "2"})
	s2.Timestamp = t0.Add(time.Hour)
	tests := []struct {
		name                 string
		put, replace, delete store.Op
		get                  func(*store.Snapshot) any
		first, second        any
	}{
		{"group", putGroup(group("d", "g")), putGroup(g2), deleteGroup("d", "g"),
			func(s *store.Snapshot) any { return s.Groups }, []store.Group{*group("d", "g")}, []store.Group{*g2}},
		{"member", putMember(member("d", "g", "n")), putMember(m2), deleteMember("d", "g", "n"),
			func(s *store.Snapshot) any { return s.Members }, []store.Member{*member("d", "g", "n")}, []store.Member{*m2}},
		{"status", putStatus(status("d", "g", "n", store.Pair{Key: "x", Value: "1"})), putStatus(s2), deleteStatus("d", "g", "n"),
			func(s *store.Snapshot) any { return s.Statuses }, []store.Status{*status("d", "g", "n", store.Pair{Key: "x", Value: "1"})}, []store.Status{*s2}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			forEach(t, func(t *testing.T, s store.Store) {
				commit(t, s, tt.put)
				if got := tt.get(load(t, s)); !reflect.DeepEqual(got, tt.first) {
					t.Fatalf("after put: %+v, want %+v", got, tt.first)
				}
				commit(t, s, tt.replace)
				if got := tt.get(load(t, s)); !reflect.DeepEqual(got, tt.second) {
					t.Fatalf("after replace: %+v, want %+v", got, tt.second)
				}
				commit(t, s, tt.delete)
				if got := reflect.ValueOf(tt.get(load(t, s))); got.Len() != 0 {
					t.Fatalf("after delete: %+v", got)
				}
				commit(t, s, tt.delete)
			})
		})
	}
}

func TestDeleteGroupTakesOnlyItsOwn(t *testing.T) {
	// Neighbours whose keys would collide under a careless encoding: ids and domains that are
	// prefixes of one another, empty strings, and separators inside ids.
	groups := [][2]string{{"d", "g"}, {"d", "g1"}, {"d", ""}, {"d1", "g"}, {"", "dg"}, {"dg", ""}, {"", ""}, {"d", "g\x00"}, {"d\x00g", ""}, {"d#g", ""}, {"d", "#g"}}
	for _, target := range groups {
		t.Run(fmt.Sprintf("%q", target), func(t *testing.T) {
			forEach(t, func(t *testing.T, s store.Store) {
				var all, kept []store.Op
				for _, g := range groups {
					all = append(all, populate(g[0], g[1])...)
					if g != target {
						kept = append(kept, populate(g[0], g[1])...)
					}
				}
				// Members and statuses of other nodes, and a member of a group with no group
				// record, must not matter.
				extra := []store.Op{putMember(member(target[0], target[1], "n2")), putStatus(status(target[0], target[1], "n2"))}
				commit(t, s, append(all, extra...)...)
				commit(t, s, deleteGroup(target[0], target[1]))
				equal(t, load(t, s), want(kept...))
			})
		})
	}
}

func TestLoadOrder(t *testing.T) {
	forEach(t, func(t *testing.T, s store.Store) {
		// Longer strings that sort first, so that an order by key length would show.
		ids := []string{"b", "aa", "a", "", "ab", "\x00", "日本", "z\x00", "Z"}
		var ops []store.Op
		for _, i := range rand.New(rand.NewPCG(1, 2)).Perm(len(ids) * len(ids)) {
			d, g := ids[i/len(ids)], ids[i%len(ids)]
			ops = append(ops, putGroup(group(d, g)), putMember(member(d, g, g)), putMember(member(d, g, d)), putStatus(status(d, g, d)))
		}
		commit(t, s, ops...)
		snap := load(t, s)
		if len(snap.Groups) != len(ids)*len(ids) {
			t.Fatalf("%d groups", len(snap.Groups))
		}
		for i := 1; i < len(snap.Groups); i++ {
			if a, b := snap.Groups[i-1], snap.Groups[i]; a.Domain > b.Domain || a.Domain == b.Domain && a.ID >= b.ID {
				t.Fatalf("groups out of order: %q before %q", []string{a.Domain, a.ID}, []string{b.Domain, b.ID})
			}
		}
		for i := 1; i < len(snap.Members); i++ {
			a, b := snap.Members[i-1], snap.Members[i]
			if ka, kb := []string{a.Domain, a.GroupID, a.NodeID}, []string{b.Domain, b.GroupID, b.NodeID}; !less(ka, kb) {
				t.Fatalf("members out of order: %q before %q", ka, kb)
			}
		}
		for i := 1; i < len(snap.Statuses); i++ {
			a, b := snap.Statuses[i-1], snap.Statuses[i]
			if ka, kb := []string{a.Domain, a.GroupID, a.NodeID}, []string{b.Domain, b.GroupID, b.NodeID}; !less(ka, kb) {
				t.Fatalf("statuses out of order: %q before %q", ka, kb)
			}
		}
	})
}

func less(a, b []string) bool {
	for i := range a {
		if a[i] != b[i] {
			return a[i] < b[i]
		}
	}
	return false
}

func TestOddStringsRoundTrip(t *testing.T) {
	odd := []string{"", "\x00", "#", "教室🎉", "a\x00b", "\x00\x00", "👩‍👩‍👧‍👦", strings.Repeat("長", 85) + "x", strings.Repeat("\x00", 256), "\xff\xfe", "#\x00#"}
	forEach(t, func(t *testing.T, s store.Store) {
		var ops []store.Op
		for i, d := range odd {
			id, node := odd[(i+1)%len(odd)], odd[(i+2)%len(odd)]
			g := group(d, id)
			g.Name, g.HostID = node, d+id
			ops = append(ops, putGroup(g), putMember(member(d, id, node)),
				putStatus(status(d, id, node, store.Pair{Key: d, Value: id}, store.Pair{Key: node, Value: ""}, store.Pair{Key: "", Value: d})))
		}
		commit(t, s, ops...)
		got := load(t, s)
		if len(got.Groups) != len(odd) || len(got.Members) != len(odd) || len(got.Statuses) != len(odd) {
			t.Fatalf("%d groups, %d members, %d statuses of %d", len(got.Groups), len(got.Members), len(got.Statuses), len(odd))
		}
		equal(t, got, want(ops...))
	})
}

func TestStatusDataKeepsOrderAndDuplicates(t *testing.T) {
	tests := []struct {
		name string
		data []store.Pair
	}{
		{"empty", []store.Pair{}},
		{"nil", nil},
		{"one", []store.Pair{{Key: "k", Value: "v"}}},
		{"unsorted with duplicates", []store.Pair{{Key: "z", Value: "1"}, {Key: "a", Value: "2"}, {Key: "z", Value: "3"}, {Key: "z", Value: "1"}, {Key: "", Value: ""}}},
		{"many", func() []store.Pair {
			var ps []store.Pair
			for i := range 300 {
				ps = append(ps, store.Pair{Key: fmt.Sprint(299 - i), Value: strings.Repeat("値", i)})
			}
			return ps
		}()},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			forEach(t, func(t *testing.T, s store.Store) {
				commit(t, s, putStatus(&store.Status{Domain: "d", GroupID: "g", NodeID: "n", Data: tt.data, Timestamp: t0}))
				got := load(t, s).Statuses
				if len(got) != 1 || len(got[0].Data) != len(tt.data) || len(tt.data) > 0 && !reflect.DeepEqual(got[0].Data, tt.data) {
					t.Fatalf("data %+v loads as %+v", tt.data, got)
				}
			})
		})
	}
}

func TestTimesRoundTripToTheMillisecondInUTC(t *testing.T) {
	tokyo := time.FixedZone("JST", 9*60*60)
	now := time.Now()
	tests := []struct {
		name    string
		in, out time.Time
	}{
		{"utc millisecond", t0, t0},
		{"other zone, nanoseconds", time.Date(2026, 3, 1, 17, 45, 2, 431_999_999, tokyo), t0},
		{"monotonic reading", now, now.Round(0).Truncate(time.Millisecond).UTC()},
		{"zero", time.Time{}, time.Time{}},
		{"epoch", time.Unix(0, 0), time.Unix(0, 0).UTC()},
		{"before the epoch, rounded down", time.Date(1969, 12, 31, 23, 59, 59, 999_500_000, time.UTC), time.Date(1969, 12, 31, 23, 59, 59, 999_000_000, time.UTC)},
		{"far future", time.Date(9999, 12, 31, 23, 59, 59, 999_000_000, time.UTC), time.Date(9999, 12, 31, 23, 59, 59, 999_000_000, time.UTC)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			forEach(t, func(t *testing.T, s store.Store) {
				g := group("d", "g")
				g.CreatedAt, g.ExpiresAt, g.HeartbeatAt = tt.in, tt.in, tt.in
				commit(t, s, putGroup(g), putMember(&store.Member{Domain: "d", GroupID: "g", NodeID: "n", JoinedAt: tt.in, ExpiresAt: tt.in}),
					putStatus(&store.Status{Domain: "d", GroupID: "g", NodeID: "n", Timestamp: tt.in}))
				snap := load(t, s)
				// == rather than Equal: the location and the absence of a monotonic reading
				// must round-trip too.
				for _, got := range []time.Time{snap.Groups[0].CreatedAt, snap.Groups[0].ExpiresAt, snap.Groups[0].HeartbeatAt,
					snap.Members[0].JoinedAt, snap.Members[0].ExpiresAt, snap.Statuses[0].Timestamp} {
					if got != tt.out {
						t.Fatalf("%v loads as %v (%#v), want %v", tt.in, got, got, tt.out)
					}
				}
			})
		})
	}
}

func TestNumbersRoundTrip(t *testing.T) {
	tests := []struct {
		name    string
		seq     uint64
		polling int
	}{
		{"zero", 0, 0},
		{"one", 1, 1},
		{"beyond float64 precision", 1<<53 + 1, 2},
		{"largest", math.MaxUint64, math.MaxInt},
		{"negative interval", 7, -3},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			forEach(t, func(t *testing.T, s store.Store) {
				g := group("d", "g")
				g.Seq, g.PollingIntervalSeconds = tt.seq, tt.polling
				commit(t, s, putGroup(g))
				if got := load(t, s).Groups[0]; got.Seq != tt.seq || got.PollingIntervalSeconds != tt.polling {
					t.Fatalf("seq %d, interval %d load as %d, %d", tt.seq, tt.polling, got.Seq, got.PollingIntervalSeconds)
				}
			})
		})
	}
}

func TestOpsApplyInOrder(t *testing.T) {
	renamed := group("d", "g")
	renamed.Name = "second"
	tests := []struct {
		name string
		ops  []store.Op
		want *store.Snapshot
	}{
		{"put then delete member", []store.Op{putMember(member("d", "g", "n")), deleteMember("d", "g", "n")}, want()},
		{"delete then put member", []store.Op{deleteMember("d", "g", "n"), putMember(member("d", "g", "n"))}, want(putMember(member("d", "g", "n")))},
		{"put then delete status", []store.Op{putStatus(status("d", "g", "n")), deleteStatus("d", "g", "n")}, want()},
		{"put twice", []store.Op{putGroup(group("d", "g")), putGroup(renamed)}, want(putGroup(renamed))},
		{"populate then delete group", append(populate("d", "g"), deleteGroup("d", "g")), want()},
		{"delete group then populate", append([]store.Op{deleteGroup("d", "g")}, populate("d", "g")...), want(populate("d", "g")...)},
		{"delete group between members", []store.Op{putMember(member("d", "g", "a")), deleteGroup("d", "g"), putMember(member("d", "g", "b"))},
			want(putMember(member("d", "g", "b")))},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			forEach(t, func(t *testing.T, s store.Store) {
				commit(t, s, tt.ops...)
				equal(t, load(t, s), tt.want)
			})
		})
	}
}

func TestStoreKeepsItsOwnCopies(t *testing.T) {
	forEach(t, func(t *testing.T, s store.Store) {
		g, st := group("d", "g"), status("d", "g", "n", store.Pair{Key: "k", Value: "v"})
		commit(t, s, putGroup(g), putStatus(st))
		g.Name, st.Data[0].Value = "changed after commit", "changed after commit"
		first := load(t, s)
		first.Groups[0].Name, first.Statuses[0].Data[0].Value = "changed after load", "changed after load"
		equal(t, load(t, s), want(putGroup(group("d", "g")), putStatus(status("d", "g", "n", store.Pair{Key: "k", Value: "v"}))))
	})
}

func TestConcurrentCommitsAllLand(t *testing.T) {
	forEach(t, func(t *testing.T, s store.Store) {
		commit(t, s, putGroup(group("d", "g")))
		var wg sync.WaitGroup
		for i := range 40 {
			wg.Go(func() {
				node := fmt.Sprint(i)
				if err := s.Commit(t.Context(), []store.Op{putMember(member("d", "g", node)), putStatus(status("d", "g", node))}); err != nil {
					t.Error(err)
				}
			})
			// A bad commit among them fails alone.
			wg.Go(func() {
				if err := s.Commit(t.Context(), []store.Op{putMember(member("d", "bad", fmt.Sprint(i))), {Kind: store.PutStatus}}); err == nil {
					t.Error("commit with a PutStatus without a status succeeded")
				}
			})
		}
		wg.Wait()
		snap := load(t, s)
		if len(snap.Members) != 40 || len(snap.Statuses) != 40 {
			t.Fatalf("%d members and %d statuses of 40 landed", len(snap.Members), len(snap.Statuses))
		}
	})
}

func TestBadCommitsWriteNothing(t *testing.T) {
	tests := []struct {
		name string
		op   store.Op
		want string
	}{
		{"PutGroup without group", store.Op{Kind: store.PutGroup}, "op 1: PutGroup without a record"},
		{"PutMember without member", store.Op{Kind: store.PutMember, Group: group("d", "g")}, "op 1: PutMember without a record"},
		{"PutStatus without status", store.Op{Kind: store.PutStatus}, "op 1: PutStatus without a record"},
		{"zero kind", store.Op{}, "op 1: unknown kind 0"},
		{"unknown kind", store.Op{Kind: 99, Group: group("d", "g")}, "op 1: unknown kind 99"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			forEach(t, func(t *testing.T, s store.Store) {
				err := s.Commit(t.Context(), []store.Op{putGroup(group("d", "first")), tt.op})
				if err == nil || !strings.Contains(err.Error(), tt.want) {
					t.Fatalf("error %v, want %q", err, tt.want)
				}
				equal(t, load(t, s), want())
			})
		})
	}
}

func TestCancelledContext(t *testing.T) {
	forEach(t, func(t *testing.T, s store.Store) {
		ctx, cancel := context.WithCancel(t.Context())
		cancel()
		if err := s.Commit(ctx, populate("d", "g")); !errors.Is(err, context.Canceled) {
			t.Fatalf("commit with a cancelled context: %v", err)
		}
		if _, err := s.Load(ctx); !errors.Is(err, context.Canceled) {
			t.Fatalf("load with a cancelled context: %v", err)
		}
		equal(t, load(t, s), want())
	})
}

func TestClosedStore(t *testing.T) {
	forEach(t, func(t *testing.T, s store.Store) {
		commit(t, s, populate("d", "g")...)
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
		if _, err := s.Load(t.Context()); !errors.Is(err, store.ErrClosed) {
			t.Errorf("load after close: %v", err)
		}
		for _, ops := range [][]store.Op{nil, populate("d", "g"), {{Kind: 99}}} {
			if err := s.Commit(t.Context(), ops); !errors.Is(err, store.ErrClosed) {
				t.Errorf("commit of %d ops after close: %v", len(ops), err)
			}
		}
		if err := s.Close(); err != nil {
			t.Errorf("second close: %v", err)
		}
	})
}

func TestBoltSurvivesReopen(t *testing.T) {
	path := filepath.Join(t.TempDir(), "new", "dir", "meshd.db")
	s, err := store.OpenBolt(path, store.BoltOptions{})
	if err != nil {
		t.Fatal(err)
	}
	ops := append(populate("d", "g"), populate("教室", "🎉")...)
	commit(t, s, ops...)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Stat(filepath.Dir(path)); err != nil || fi.Mode().Perm() != 0o700 {
		t.Fatalf("created directory: %v, %v", fi.Mode(), err)
	}
	s = openBolt(t, path, store.BoltOptions{})
	equal(t, load(t, s), want(ops...))
	commit(t, s, deleteGroup("d", "g"))
	s.Close()
	s = openBolt(t, path, store.BoltOptions{})
	equal(t, load(t, s), want(populate("教室", "🎉")...))
}

func TestBoltRefusesAFileInUse(t *testing.T) {
	path := filepath.Join(t.TempDir(), "meshd.db")
	first := openBolt(t, path, store.BoltOptions{NoSync: true})
	commit(t, first, populate("d", "g")...)
	_, err := store.OpenBolt(path, store.BoltOptions{Timeout: 20 * time.Millisecond})
	if want := "open store " + path + ": locked by another process"; err == nil || !strings.Contains(err.Error(), want) {
		t.Fatalf("second open of a file in use: %v, want %q", err, want)
	}
	first.Close()
	equal(t, load(t, openBolt(t, path, store.BoltOptions{})), want(populate("d", "g")...))
}

func TestBoltRefusesBadFiles(t *testing.T) {
	dir := t.TempDir()
	file := func(name string, content []byte) string {
		t.Helper()
		path := filepath.Join(dir, name)
		if err := os.WriteFile(path, content, 0o600); err != nil {
			t.Fatal(err)
		}
		return path
	}
	random := make([]byte, 64<<10)
	rnd := rand.New(rand.NewPCG(3, 4))
	for i := range random {
		random[i] = byte(rnd.Uint32())
	}
	// A real store with enough records to span many pages, to damage in various ways.
	good := filledFile(t, dir, 20, 300, false)
	const page = 4096
	scrambled := bytes.Clone(good)
	copy(scrambled[2*page:], random)

	tests := []struct {
		name, path, want string
	}{
		{"text", file("text.db", []byte(strings.Repeat("not a database ", 1000))), "not a meshd state file or is corrupt"},
		{"random bytes", file("random.db", random), "not a meshd state file or is corrupt"},
		{"one byte", file("byte.db", []byte{0}), "not a meshd state file or is corrupt"},
		{"truncated", file("truncated.db", good[:3*page]), "corrupt: truncated"},
		{"scrambled pages", file("scrambled.db", scrambled), "the file is corrupt"},
		{"another program's bbolt file", boltFile(t, dir, "other.db", map[string]map[string]string{"settings": {"a": "b"}}), "no format version"},
		{"previous format with records it cannot hold", withFormat(t, dir, "older.db", "1"), "format 1 file: the file is corrupt: group: invalid character"},
		{"older format", withFormat(t, dir, "oldest.db", "0"), `format version "0" is not supported: this meshd reads version 2 only`},
		{"newer format", withFormat(t, dir, "newer.db", "3"), `format version "3" is not supported`},
		{"no format", withFormat(t, dir, "noformat.db", ""), `format version "" is not supported`},
		{"a directory", t.TempDir(), "not a regular file"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before, _ := os.ReadFile(tt.path)
			s, err := store.OpenBolt(tt.path, store.BoltOptions{Timeout: 100 * time.Millisecond})
			if err == nil {
				s.Close()
				t.Fatal("opened")
			}
			if !strings.Contains(err.Error(), "open store "+tt.path+": ") || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("error %q, want %q", err, tt.want)
			}
			if after, _ := os.ReadFile(tt.path); !bytes.Equal(before, after) {
				t.Fatal("a refused file was modified")
			}
		})
	}
}

func TestBoltSurvivesDamagedPages(t *testing.T) {
	// Every page of a real file damaged in turn, two ways: overwritten with noise, and with its
	// header kept but its contents changed. Damage to a free page is harmless; any other must
	// give an error, and none may crash the process.
	dir := t.TempDir()
	good := filledFile(t, dir, 10, 100, true)
	const page = 4096
	rnd := rand.New(rand.NewPCG(5, 6))
	damages := []struct {
		name   string
		damage func(p []byte)
	}{
		{"noise", func(p []byte) {
			for i := range p {
				p[i] = byte(rnd.Uint32())
			}
		}},
		{"contents", func(p []byte) {
			for i := 16; i < len(p); i += 61 {
				p[i] ^= 0x5a
			}
		}},
	}
	refused := 0
	for _, d := range damages {
		for off := 0; off < len(good); off += page {
			damaged := bytes.Clone(good)
			d.damage(damaged[off : off+page])
			path := filepath.Join(dir, fmt.Sprintf("%s-%d.db", d.name, off/page))
			if err := os.WriteFile(path, damaged, 0o600); err != nil {
				t.Fatal(err)
			}
			s, err := store.OpenBolt(path, store.BoltOptions{NoSync: true})
			if err != nil {
				if !strings.Contains(err.Error(), "corrupt") {
					t.Errorf("page %d, %s: %v", off/page, d.name, err)
				}
				refused++
				continue
			}
			if _, err := s.Load(t.Context()); err != nil {
				t.Errorf("page %d, %s: opened, then load failed: %v", off/page, d.name, err)
			}
			s.Close()
		}
	}
	if refused == 0 {
		t.Fatal("no damage was noticed")
	}
}

// boltFile writes a bbolt file with the given buckets and keys.
func boltFile(t *testing.T, dir, name string, buckets map[string]map[string]string) string {
	t.Helper()
	path := filepath.Join(dir, name)
	db, err := bolt.Open(path, 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	err = db.Update(func(tx *bolt.Tx) error {
		for bucket, kv := range buckets {
			b, err := tx.CreateBucketIfNotExists([]byte(bucket))
			if err != nil {
				return err
			}
			for k, v := range kv {
				if err := b.Put([]byte(k), []byte(v)); err != nil {
					return err
				}
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return path
}

// withFormat writes a store file and then changes its recorded format version.
func withFormat(t *testing.T, dir, name, version string) string {
	t.Helper()
	path := filepath.Join(dir, name)
	s := openBolt(t, path, store.BoltOptions{NoSync: true})
	commit(t, s, populate("d", "g")...)
	s.Close()
	if version == "" {
		return boltFileDelete(t, path, "meta", "format")
	}
	return boltFile(t, dir, name, map[string]map[string]string{"meta": {"format": version}})
}

func boltFileDelete(t *testing.T, path, bucket, key string) string {
	t.Helper()
	db, err := bolt.Open(path, 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if err := db.Update(func(tx *bolt.Tx) error { return tx.Bucket([]byte(bucket)).Delete([]byte(key)) }); err != nil {
		t.Fatal(err)
	}
	return path
}

// Finding 9: a 0-byte state file was silently started over. meshd never leaves one (a new
// file is renamed into place whole), so an empty one was truncated: it is refused and kept.
func TestBoltRefusesAnEmptyFile(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "meshd.db")
	if err := os.WriteFile(path, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if s, err := store.OpenBolt(path, store.BoltOptions{}); err == nil || !strings.Contains(err.Error(), "empty (0 bytes)") {
		if s != nil {
			s.Close()
		}
		t.Fatalf("OpenBolt of an empty file: %v", err)
	}
	if fi, err := os.Stat(path); err != nil || fi.Size() != 0 {
		t.Fatalf("the refused file was changed: %v %v", fi, err)
	}
	// A missing file is created whole, and nothing is left beside it.
	fresh := filepath.Join(dir, "fresh.db")
	s := openBolt(t, fresh, store.BoltOptions{})
	commit(t, s, populate("d", "g")...)
	equal(t, load(t, s), want(populate("d", "g")...))
	if _, err := os.Stat(fresh + ".new"); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("a temporary file is left: %v", err)
	}
}

func TestBoltRefusesAnUnwritablePlace(t *testing.T) {
	dir := t.TempDir()
	regular := filepath.Join(dir, "file")
	if err := os.WriteFile(regular, []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	readOnly := filepath.Join(dir, "read-only")
	if err := os.Mkdir(readOnly, 0o500); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.Chmod(readOnly, 0o700) })
	// Permissions do not stop root, but a regular file in the path stops everyone.
	probe, err := os.Create(filepath.Join(readOnly, "probe"))
	privileged := err == nil
	if privileged {
		probe.Close()
	}

	tests := []struct {
		name, path, want string
		skip             bool
	}{
		{"directory under a regular file", filepath.Join(regular, "sub", "meshd.db"), "not a directory", false},
		{"file under a regular file", filepath.Join(regular, "meshd.db"), "not a directory", false},
		{"read-only directory", filepath.Join(readOnly, "meshd.db"), "permission denied", privileged},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.skip {
				t.Skip("running with privileges that ignore directory permissions")
			}
			s, err := store.OpenBolt(tt.path, store.BoltOptions{})
			if err == nil {
				s.Close()
				t.Fatal("opened")
			}
			if !strings.Contains(err.Error(), "open store "+tt.path+": ") || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("error %q, want %q", err, tt.want)
			}
		})
	}
}

func TestBoltFileStaysSmall(t *testing.T) {
	path := filepath.Join(t.TempDir(), "meshd.db")
	s := openBolt(t, path, store.BoltOptions{NoSync: true})
	// One lesson: 10 groups of 40 pupils with a status each, all deleted at the end.
	lesson := func(n int) {
		t.Helper()
		for g := range 10 {
			id := fmt.Sprintf("lesson%d-group%d", n, g)
			ops := []store.Op{putGroup(group("d", id))}
			for m := range 40 {
				ops = append(ops, putMember(member("d", id, fmt.Sprint(m))),
					putStatus(status("d", id, fmt.Sprint(m), store.Pair{Key: "k", Value: strings.Repeat("v", 200)})))
			}
			commit(t, s, ops...)
		}
		for g := range 10 {
			commit(t, s, deleteGroup("d", fmt.Sprintf("lesson%d-group%d", n, g)))
		}
	}
	lesson(0)
	first := size(t, path)
	const lessons = 50 // together about 20 times the size of the first lesson's records
	for n := 1; n < lessons; n++ {
		lesson(n)
	}
	if last := size(t, path); last >= 4*first {
		t.Fatalf("the file grew from %d to %d bytes over %d lessons", first, last, lessons)
	}
	equal(t, load(t, s), want())
}

func size(t *testing.T, path string) int64 {
	t.Helper()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	return fi.Size()
}

// filledFile writes a real state file into dir, of groups groups of 40 nodes each (their
// memberships when members, and a status holding a value of valueBytes), and returns its bytes.
func filledFile(t *testing.T, dir string, groups, valueBytes int, members bool) []byte {
	t.Helper()
	valid := filepath.Join(dir, "valid.db")
	s := openBolt(t, valid, store.BoltOptions{NoSync: true})
	for g := range groups {
		ops := []store.Op{putGroup(group("d", fmt.Sprint(g)))}
		for n := range 40 {
			if members {
				ops = append(ops, putMember(member("d", fmt.Sprint(g), fmt.Sprint(n))))
			}
			ops = append(ops, putStatus(status("d", fmt.Sprint(g), fmt.Sprint(n), store.Pair{Key: "k", Value: strings.Repeat("v", valueBytes)})))
		}
		commit(t, s, ops...)
	}
	s.Close()
	good, err := os.ReadFile(valid)
	if err != nil {
		t.Fatal(err)
	}
	return good
}
