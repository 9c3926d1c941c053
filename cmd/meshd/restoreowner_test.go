package main

import (
	"bytes"
	"io"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/smalruby/meshd/cmd/meshd/atomicfile"
	"github.com/smalruby/meshd/store"
)

// serviceUID is the user the tests pretend meshd runs as (nobody on Debian).
const serviceUID = 65534

// Issue 20, item 13: `sudo meshd restore` keeps the owner and mode of the file it replaces
// (or, with none, takes the data directory's owner), and `meshd check` run as root reports a
// state file that the data directory's owner, the user meshd runs as, could not open.
func TestRestoreKeepsTheOwnerAndCheckSeesAnUnopenableFile(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("restore and check are run with sudo; this test needs root to give files away")
	}
	backupFile := filepath.Join(t.TempDir(), "backup.db")
	source := filepath.Join(t.TempDir(), stateFile)
	st, err := store.OpenBolt(source, store.BoltOptions{})
	if err != nil {
		t.Fatal(err)
	}
	st.Close()
	if err := atomicfile.Write(backupFile, func(w io.Writer) (int64, error) { return store.BackupFile(source, w) }); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name     string
		existing os.FileMode // the state file's mode before the restore; 0 for none
		wantMode os.FileMode
	}{
		{"over the service's file", 0o640, 0o640},
		{"into a directory without one", 0, 0o600},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "data")
			os.Mkdir(dir, 0o700)
			chown(t, dir)
			path := filepath.Join(dir, stateFile)
			if tt.existing != 0 {
				copyTo(t, source, path, tt.existing)
				chown(t, path)
			}
			if err := restore([]string{"-data-dir", dir, backupFile}, nil, &bytes.Buffer{}); err != nil {
				t.Fatal(err)
			}
			fi, err := os.Stat(path)
			if err != nil {
				t.Fatal(err)
			}
			if st := fi.Sys().(*syscall.Stat_t); st.Uid != serviceUID || st.Gid != serviceUID || fi.Mode().Perm() != tt.wantMode {
				t.Errorf("restored file: uid %d gid %d mode %04o, want %d %d %04o", st.Uid, st.Gid, fi.Mode().Perm(), serviceUID, serviceUID, tt.wantMode)
			}
			var out bytes.Buffer
			if err := check([]string{"-data-dir", dir, "-api-keys", "k"}, nil, &out); err != nil || strings.Contains(out.String(), "cannot open it") {
				t.Errorf("check of the restored directory: %v\n%s", err, out.String())
			}
		})
	}

	// What restore did before: a file of root's, 0600, in the service's directory.
	dir := filepath.Join(t.TempDir(), "data")
	os.Mkdir(dir, 0o700)
	chown(t, dir)
	copyTo(t, source, filepath.Join(dir, stateFile), 0o600)
	var out bytes.Buffer
	if err := check([]string{"-data-dir", dir, "-api-keys", "k"}, nil, &out); err == nil || !strings.Contains(out.String(), "problem  state file "+dir+"/meshd.db belongs to root with mode 0600: ") || !strings.Contains(out.String(), "cannot open it") {
		t.Errorf("check did not report the file meshd could not open: %v\n%s", err, out.String())
	}
}

func chown(t *testing.T, path string) {
	t.Helper()
	if err := os.Chown(path, serviceUID, serviceUID); err != nil {
		t.Fatal(err)
	}
}

func copyTo(t *testing.T, from, to string, mode os.FileMode) {
	t.Helper()
	b, err := os.ReadFile(from)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(to, b, mode); err != nil {
		t.Fatal(err)
	}
}
