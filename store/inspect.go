package store

import (
	"fmt"
	"os"
	"time"

	bolt "go.etcd.io/bbolt"
)

// Info describes a state file.
type Info struct {
	// Format is the file's format version: FormatVersion, or the previous one, which the next
	// open upgrades.
	Format                    int
	Groups, Members, Statuses int
	Size                      int64
}

// Inspect checks the state file at path read-only, as OpenBolt does before it opens it, and
// describes it. A missing file is an error that satisfies errors.Is(err, fs.ErrNotExist);
// while a meshd runs on the file it fails with ErrLocked.
func Inspect(path string) (Info, error) {
	fi, err := os.Stat(path)
	switch {
	case err != nil:
		return Info{}, err
	case !fi.Mode().IsRegular():
		return Info{}, fmt.Errorf("%s is not a regular file", path)
	case fi.Size() == 0:
		return Info{}, verify(path, 100*time.Millisecond) // refused, as by OpenBolt
	}
	v, err := formatOf(path)
	if err != nil {
		return Info{}, err
	}
	if v == previousFormat {
		err = verifyPrevious(path)
	} else {
		err = verify(path, 100*time.Millisecond)
	}
	if err != nil {
		return Info{}, err
	}
	info := Info{Format: v, Size: fi.Size()}
	err = guard(func() error {
		db, err := openDB(path, &bolt.Options{ReadOnly: true, Timeout: 100 * time.Millisecond})
		if err != nil {
			return err
		}
		defer db.Close()
		return db.View(func(tx *bolt.Tx) error {
			for name, n := range map[string]*int{"groups": &info.Groups, "members": &info.Members, "statuses": &info.Statuses} {
				if b := tx.Bucket([]byte(name)); b != nil {
					*n = b.Stats().KeyN
				}
			}
			return nil
		})
	})
	if err != nil {
		return Info{}, fmt.Errorf("inspect %s: %w", path, err)
	}
	return info, nil
}
