package store_test

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/smalruby/meshd/store"
)

// TestBackupUnderWriteLoad takes backups while commits go on: each is a complete file that
// opens and verifies, and holds a state that was committed — whole commits, in order.
func TestBackupUnderWriteLoad(t *testing.T) {
	dir := t.TempDir()
	s := openBolt(t, filepath.Join(dir, "meshd.db"), store.BoltOptions{NoSync: true})
	const commits = 300
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i := range commits {
			// A group and its member in one commit: a backup holds both or neither.
			g := fmt.Sprintf("g%04d", i)
			if err := s.Commit(t.Context(), []store.Op{putGroup(group("d", g)), putMember(member("d", g, "n"))}); err != nil {
				t.Error(err)
				return
			}
		}
	}()
	var backups [][]byte
	for range 10 {
		var buf bytes.Buffer
		n, err := s.Backup(&buf)
		if err != nil || n != int64(buf.Len()) {
			t.Fatalf("backup: %d bytes of %d, %v", n, buf.Len(), err)
		}
		backups = append(backups, buf.Bytes())
	}
	wg.Wait()
	var final bytes.Buffer
	if _, err := s.Backup(&final); err != nil {
		t.Fatal(err)
	}
	backups = append(backups, final.Bytes())
	last := 0
	for i, b := range backups {
		path := filepath.Join(dir, fmt.Sprintf("backup%d.db", i))
		if err := os.WriteFile(path, b, 0o600); err != nil {
			t.Fatal(err)
		}
		snap := load(t, openBolt(t, path, store.BoltOptions{}))
		if len(snap.Groups) != len(snap.Members) {
			t.Fatalf("backup %d: %d groups but %d members: a commit is torn", i, len(snap.Groups), len(snap.Members))
		}
		for j, g := range snap.Groups {
			if want := fmt.Sprintf("g%04d", j); g.ID != want || snap.Members[j].GroupID != want {
				t.Fatalf("backup %d: group %d is %s, want %s: commits missing or out of order", i, j, g.ID, want)
			}
		}
		last = len(snap.Groups)
	}
	if last != commits {
		t.Fatalf("the last backup holds %d groups, want %d", last, commits)
	}
}

func TestBackupFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "meshd.db")
	s := openBolt(t, path, store.BoltOptions{NoSync: true})
	commit(t, s, populate("d", "g")...)
	var buf bytes.Buffer
	if _, err := store.BackupFile(path, &buf); !errors.Is(err, store.ErrLocked) {
		t.Fatalf("backup of a file in use: %v, want ErrLocked", err)
	}
	if size := s.Size(); size < 4096 {
		t.Fatalf("Size = %d", size)
	}
	s.Close()
	before, _ := os.ReadFile(path)
	if _, err := store.BackupFile(path, &buf); err != nil {
		t.Fatal(err)
	}
	if after, _ := os.ReadFile(path); !bytes.Equal(before, after) {
		t.Fatal("BackupFile changed the state file")
	}
	copyPath := filepath.Join(t.TempDir(), "copy.db")
	os.WriteFile(copyPath, buf.Bytes(), 0o600)
	equal(t, load(t, openBolt(t, copyPath, store.BoltOptions{})), want(populate("d", "g")...))
	if _, err := store.BackupFile(filepath.Join(t.TempDir(), "none.db"), &buf); err == nil || !strings.Contains(err.Error(), "no state file") {
		t.Fatalf("backup of a missing file: %v", err)
	}
}

func TestRestore(t *testing.T) {
	dir := t.TempDir()
	backup := filepath.Join(dir, "backup.db")
	b := openBolt(t, backup, store.BoltOptions{NoSync: true})
	commit(t, b, populate("d", "from-backup")...)
	b.Close()

	path := filepath.Join(dir, "data", "meshd.db")
	s := openBolt(t, path, store.BoltOptions{NoSync: true})
	commit(t, s, populate("d", "current")...)
	if err := store.Restore(backup, path); !errors.Is(err, store.ErrLocked) {
		t.Fatalf("restore over a file in use: %v, want ErrLocked", err)
	}
	s.Close()
	current, _ := os.ReadFile(path)

	garbage := filepath.Join(dir, "garbage.db")
	os.WriteFile(garbage, bytes.Repeat([]byte("garbage!"), 4096), 0o600)
	if err := store.Restore(garbage, path); err == nil || !strings.Contains(err.Error(), "not a meshd state file") {
		t.Fatalf("restore of garbage: %v", err)
	}
	if after, _ := os.ReadFile(path); !bytes.Equal(after, current) {
		t.Fatal("a refused restore changed the state file")
	}

	if err := store.Restore(backup, path); err != nil {
		t.Fatal(err)
	}
	equal(t, load(t, openBolt(t, path, store.BoltOptions{})), want(populate("d", "from-backup")...))
	if kept, _ := os.ReadFile(path + ".before-restore"); !bytes.Equal(kept, current) {
		t.Fatal("the replaced file is not kept")
	}

	// A backup of the previous format is restored as it is and upgraded at the next open.
	old, _ := copyTestdata(t, "format1.db")
	fresh := filepath.Join(t.TempDir(), "meshd.db")
	if err := store.Restore(old, fresh); err != nil {
		t.Fatal(err)
	}
	equal(t, load(t, openBolt(t, fresh, store.BoltOptions{})), format1Snapshot())
}

func TestInspect(t *testing.T) {
	old, _ := copyTestdata(t, "format1.db")
	if info, err := store.Inspect(old); err != nil || info.Format != 1 || info.Groups != 2 || info.Members != 2 || info.Statuses != 1 || info.Size != 32768 {
		t.Fatalf("format 1 file: %+v, %v", info, err)
	}
	path := filepath.Join(t.TempDir(), "meshd.db")
	s := openBolt(t, path, store.BoltOptions{NoSync: true})
	commit(t, s, append(populate("d", "g1"), populate("d", "g2")...)...)
	if _, err := store.Inspect(path); !errors.Is(err, store.ErrLocked) {
		t.Fatalf("a file in use: %v, want ErrLocked", err)
	}
	s.Close()
	before, _ := os.ReadFile(path)
	if info, err := store.Inspect(path); err != nil || info.Format != store.FormatVersion || info.Groups != 2 || info.Members != 2 || info.Statuses != 2 {
		t.Fatalf("format %d file: %+v, %v", store.FormatVersion, info, err)
	}
	if after, _ := os.ReadFile(path); !bytes.Equal(before, after) {
		t.Fatal("Inspect changed the file")
	}
	if _, err := store.Inspect(filepath.Join(t.TempDir(), "none.db")); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("a missing file: %v", err)
	}
	garbage := filepath.Join(t.TempDir(), "garbage.db")
	os.WriteFile(garbage, bytes.Repeat([]byte("garbage!"), 4096), 0o600)
	if _, err := store.Inspect(garbage); err == nil || !strings.Contains(err.Error(), "not a meshd state file") {
		t.Fatalf("garbage: %v", err)
	}
}

// stalledWriter is a backup reader that takes nothing until released, as `meshd backup - |
// less` or a slow link does; started is closed at the first write.
type stalledWriter struct {
	started, release chan struct{}
	once             sync.Once
	buf              bytes.Buffer
}

func (w *stalledWriter) Write(p []byte) (int, error) {
	w.once.Do(func() { close(w.started) })
	<-w.release
	return w.buf.Write(p)
}

// A backup read slowly never holds commits, even ones that grow the file (which must remap
// it): it is the state as of its start, and leaves no file behind.
func TestSlowBackupDoesNotHoldCommits(t *testing.T) {
	dir := t.TempDir()
	s := openBolt(t, filepath.Join(dir, "meshd.db"), store.BoltOptions{NoSync: true})
	commit(t, s, populate("d", "before")...)
	w := &stalledWriter{started: make(chan struct{}), release: make(chan struct{})}
	backedUp := make(chan error, 1)
	go func() {
		_, err := s.Backup(w)
		backedUp <- err
	}()
	<-w.started
	committed := make(chan error, 1)
	go func() {
		// 4 MiB of statuses: far past the file's mapping, so bbolt must remap it.
		var ops []store.Op
		for i := range 64 {
			ops = append(ops, putStatus(status("d", "after", fmt.Sprint("n", i), store.Pair{Key: "v", Value: strings.Repeat("x", 64<<10)})))
		}
		committed <- s.Commit(t.Context(), append([]store.Op{putGroup(group("d", "after"))}, ops...))
	}()
	select {
	case err := <-committed:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(30 * time.Second):
		close(w.release)
		t.Fatal("a commit waited 30 s for a backup nobody read")
	}
	close(w.release)
	if err := <-backedUp; err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "backup.db")
	if err := os.WriteFile(path, w.buf.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
	snap := load(t, openBolt(t, path, store.BoltOptions{}))
	if len(snap.Groups) != 1 || snap.Groups[0].ID != "before" {
		t.Fatalf("the backup holds %+v, want the state as of its start", snap.Groups)
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 2 {
		t.Fatalf("the data directory holds %v, want the state file and the backup only", entries)
	}
}
