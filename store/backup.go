package store

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"syscall"
	"time"

	bolt "go.etcd.io/bbolt"
	berrors "go.etcd.io/bbolt/errors"
)

// Backup writes a consistent copy of the open store to w: the state as of the last commit
// before it began, a complete bbolt file. Commits go on while it writes, however slowly w
// takes the copy: the copy is taken into a temporary file beside the state file first, so
// that no read transaction (which would keep bbolt from growing the file) waits on w.
func (b *Bolt) Backup(w io.Writer) (int64, error) {
	snap, err := b.snapshot()
	if err != nil {
		return 0, err
	}
	defer snap.Close()
	n, err := io.Copy(w, snap)
	if err != nil {
		return n, fmt.Errorf("backup %s: %w", b.path, err)
	}
	return n, nil
}

// snapshot copies the state as of the last commit into an unnamed temporary file beside the
// state file (unlinked at once, so that nothing is left behind), positioned at its start.
func (b *Bolt) snapshot() (*os.File, error) {
	b.mu.RLock()
	defer b.mu.RUnlock()
	if b.closed {
		return nil, fmt.Errorf("backup: %w", ErrClosed)
	}
	tmp, err := os.CreateTemp(filepath.Dir(b.path), ".backup-*")
	if err != nil {
		return nil, fmt.Errorf("backup %s: %w", b.path, err)
	}
	os.Remove(tmp.Name())
	err = b.db.View(func(tx *bolt.Tx) error {
		_, err := tx.WriteTo(tmp)
		return err
	})
	if err == nil {
		_, err = tmp.Seek(0, io.SeekStart)
	}
	if err != nil {
		tmp.Close()
		return nil, fmt.Errorf("backup %s: %w", b.path, err)
	}
	return tmp, nil
}

// Size is the size of the state file in bytes, as of the last commit.
func (b *Bolt) Size() int64 {
	b.mu.RLock()
	defer b.mu.RUnlock()
	if b.closed {
		return 0
	}
	var size int64
	b.db.View(func(tx *bolt.Tx) error {
		size = tx.Size()
		return nil
	})
	return size
}

// BackupFile writes a consistent copy of the state file at path, which no meshd has open, to
// w, after checking it as OpenBolt would (a file of the previous format is copied as it is).
// It opens the file read-only and fails with ErrLocked while a meshd runs on it: back that one
// up through its Backup.
func BackupFile(path string, w io.Writer) (int64, error) {
	if fi, err := os.Stat(path); err != nil || fi.Size() == 0 {
		return 0, fmt.Errorf("backup %s: no state file", path)
	}
	if err := checkBackup(path); err != nil {
		return 0, fmt.Errorf("backup %s: %w", path, err)
	}
	db, err := openDB(path, &bolt.Options{ReadOnly: true, Timeout: 100 * time.Millisecond})
	if err != nil {
		return 0, fmt.Errorf("backup %s: %w", path, err)
	}
	defer db.Close()
	var n int64
	err = db.View(func(tx *bolt.Tx) error {
		var err error
		n, err = tx.WriteTo(w)
		return err
	})
	if err != nil {
		return n, fmt.Errorf("backup %s: %w", path, err)
	}
	return n, nil
}

// Restore replaces the state file at path with the backup at from, which it checks first as
// it checks a state file at open (a backup of the previous format version is accepted: it is
// upgraded at the next start). No meshd may run on path: Restore fails with ErrLocked then.
// The file it replaces is kept as path + ".before-restore".
func Restore(from, path string) error {
	if err := checkBackup(from); err != nil {
		return fmt.Errorf("restore from %s: %w", from, err)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return fmt.Errorf("restore: %w", err)
	}
	// bbolt holds an exclusive flock on the file it has open; taking it proves no meshd runs.
	if cur, err := os.Open(path); err == nil {
		defer cur.Close()
		if err := syscall.Flock(int(cur.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
			return fmt.Errorf("restore to %s: %w", path, ErrLocked)
		}
	} else if !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("restore: %w", err)
	}
	tmp := path + ".restoring"
	if err := copyFile(from, tmp); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("restore: %w", err)
	}
	if err := takeOwnership(tmp, path); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("restore: %w", err)
	}
	if err := os.Rename(path, path+".before-restore"); err != nil && !errors.Is(err, os.ErrNotExist) {
		os.Remove(tmp)
		return fmt.Errorf("restore: keep the old file: %w", err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("restore: %w", err)
	}
	return syncDir(filepath.Dir(path))
}

// takeOwnership gives the restored file tmp the owner and mode of the file it replaces at
// path — or, when there is none, the owner of the data directory, which is the user meshd
// runs as — so that a restore run with sudo leaves a file the service can open.
func takeOwnership(tmp, path string) error {
	mode := os.FileMode(0o600)
	fi, err := os.Stat(path)
	if err == nil {
		mode = fi.Mode().Perm()
	} else if fi, err = os.Stat(filepath.Dir(path)); err != nil {
		return err
	}
	if err := os.Chmod(tmp, mode); err != nil {
		return err
	}
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok || (int(st.Uid) == os.Geteuid() && int(st.Gid) == os.Getegid()) {
		return nil
	}
	if err := os.Chown(tmp, int(st.Uid), int(st.Gid)); err != nil {
		return fmt.Errorf("give the restored file the owner of %s (uid %d, gid %d): %w", fi.Name(), st.Uid, st.Gid, err)
	}
	return nil
}

// checkBackup checks a backup, or a file to back up, as a state file is checked at open,
// accepting the previous format version too.
func checkBackup(path string) error {
	fi, err := os.Stat(path)
	if err != nil {
		return err
	}
	if fi.Size() == 0 {
		return errors.New("the file is empty")
	}
	v, err := formatOf(path)
	if err != nil {
		return err
	}
	if v == previousFormat {
		return verifyPrevious(path)
	}
	return verify(path, 100*time.Millisecond)
}

// copyFile copies from to a new file to, and makes it durable.
func copyFile(from, to string) error {
	src, err := os.Open(from)
	if err != nil {
		return err
	}
	defer src.Close()
	dst, err := os.OpenFile(to, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return err
	}
	if _, err := io.Copy(dst, src); err != nil {
		dst.Close()
		return err
	}
	if err := dst.Sync(); err != nil {
		dst.Close()
		return err
	}
	return dst.Close()
}

// syncDir makes the renames in dir durable.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	if err := d.Sync(); err != nil && !errors.Is(err, syscall.EINVAL) {
		return fmt.Errorf("sync %s: %w", dir, err)
	}
	return nil
}

// formatOf reads the format version of a bbolt file without checking anything else: 0 for a
// file without one.
func formatOf(path string) (int, error) {
	var v int
	err := guard(func() error {
		db, err := openDB(path, &bolt.Options{ReadOnly: true, Timeout: 100 * time.Millisecond})
		if err != nil {
			return err
		}
		defer db.Close()
		return db.View(func(tx *bolt.Tx) error {
			if meta := tx.Bucket(bucketMeta); meta != nil {
				fmt.Sscan(string(meta.Get(keyFormat)), &v)
			}
			return nil
		})
	})
	if errors.Is(err, berrors.ErrTimeout) {
		return 0, ErrLocked
	}
	return v, err
}
