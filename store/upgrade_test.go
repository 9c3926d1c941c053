package store_test

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/smalruby/meshd/store"
)

// testdata/format1.db was written by the store of format version 1 (commit 4065209), the
// version before this one.
func format1Snapshot() *store.Snapshot {
	t := time.Date(2026, 11, 30, 9, 0, 0, 0, time.UTC)
	return &store.Snapshot{
		Groups: []store.Group{
			{Domain: "school", ID: "g1", Name: "Class 3B", HostID: "host-1", CreatedAt: t, ExpiresAt: t.Add(35 * time.Minute), HeartbeatAt: t.Add(time.Minute), UseWebSocket: true, Seq: 7},
			{Domain: "school", ID: "g2", Name: "polling \"quoted\" ☃", HostID: "host-2", CreatedAt: t, ExpiresAt: t.Add(35 * time.Minute), HeartbeatAt: t, PollingIntervalSeconds: 2, Seq: 1},
		},
		Members: []store.Member{
			{Domain: "school", GroupID: "g1", NodeID: "pupil-1", JoinedAt: t.Add(2 * time.Second), ExpiresAt: t.Add(10 * time.Minute)},
			{Domain: "school", GroupID: "g1", NodeID: "pupil-2", JoinedAt: t.Add(3 * time.Second), ExpiresAt: t.Add(10 * time.Minute)},
		},
		Statuses: []store.Status{
			{Domain: "school", GroupID: "g1", NodeID: "pupil-1", Timestamp: t.Add(5 * time.Second), Data: []store.Pair{{Key: "x", Value: "10"}, {Key: "name", Value: "Ruby"}}},
		},
	}
}

func copyTestdata(t *testing.T, name string) (path string, original []byte) {
	t.Helper()
	original, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	path = filepath.Join(t.TempDir(), "meshd.db")
	if err := os.WriteFile(path, original, 0o600); err != nil {
		t.Fatal(err)
	}
	return path, original
}

func TestUpgradeFromFormat1(t *testing.T) {
	path, original := copyTestdata(t, "format1.db")
	var upgrades []string
	opts := store.BoltOptions{OnUpgrade: func(from, to int, kept string) {
		upgrades = append(upgrades, filepath.Base(kept))
		if from != 1 || to != store.FormatVersion {
			t.Errorf("upgrade from %d to %d", from, to)
		}
	}}
	s := openBolt(t, path, opts)
	equal(t, load(t, s), format1Snapshot())
	if len(upgrades) != 1 || upgrades[0] != "meshd.db.format1" {
		t.Fatalf("upgrades reported: %v", upgrades)
	}
	if kept, err := os.ReadFile(path + ".format1"); err != nil || !bytes.Equal(kept, original) {
		t.Fatalf("the original is not kept untouched: %v", err)
	}
	// The upgraded file is an ordinary file of this version: it takes commits, and the next
	// open neither upgrades it again nor loses anything.
	commit(t, s, populate("d", "g")...)
	s.Close()
	upgrades = nil
	again := openBolt(t, path, opts)
	expected := format1Snapshot()
	extra := want(populate("d", "g")...) // keys of domain "d" sort first
	expected.Groups = append(extra.Groups, expected.Groups...)
	expected.Members = append(extra.Members, expected.Members...)
	expected.Statuses = append(extra.Statuses, expected.Statuses...)
	equal(t, load(t, again), expected)
	if len(upgrades) != 0 {
		t.Fatalf("upgraded twice: %v", upgrades)
	}
}

func TestUpgradeRefusesADamagedFormat1File(t *testing.T) {
	path, _ := copyTestdata(t, "format1.db")
	db, err := bolt.Open(path, 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	db.Update(func(tx *bolt.Tx) error {
		return tx.Bucket([]byte("members")).Put([]byte("\x06school\x02g1\x07pupil-9"), []byte(`{"d":"school","g":"g1","n":"pupil-8"}`))
	})
	db.Close()
	damaged, _ := os.ReadFile(path)
	if s, err := store.OpenBolt(path, store.BoltOptions{}); err == nil {
		s.Close()
		t.Fatal("opened")
	} else if want := "format 1 file: the file is corrupt: member: record under key"; !bytes.Contains([]byte(err.Error()), []byte(want)) {
		t.Fatalf("error %q, want %q", err, want)
	}
	if after, _ := os.ReadFile(path); !bytes.Equal(after, damaged) {
		t.Fatal("the refused file was modified")
	}
	if _, err := os.Stat(path + ".format1"); !os.IsNotExist(err) {
		t.Fatalf("a copy was kept of a file that was not upgraded: %v", err)
	}
}
