package store

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"runtime/debug"
	"strconv"
	"sync"
	"syscall"
	"time"

	bolt "go.etcd.io/bbolt"
	berrors "go.etcd.io/bbolt/errors"
)

// FormatVersion is the version of the on-disk format this build reads and writes. A file of
// the previous version is upgraded at open (see upgrade.go); any other is refused.
const FormatVersion = 2

// ErrLocked is the error of opening a file another process holds open: a running meshd.
var ErrLocked = errors.New("locked by another process (is another meshd running with this data directory?)")

var (
	bucketMeta     = []byte("meta")
	bucketGroups   = []byte("groups")
	bucketMembers  = []byte("members")
	bucketStatuses = []byte("statuses")
	keyFormat      = []byte("format")
)

// BoltOptions tunes a Bolt store. The zero value is right for production.
type BoltOptions struct {
	// Timeout is how long OpenBolt waits for another process to release the file; 1 s when zero.
	Timeout time.Duration
	// NoSync skips fsync on commit. Unsafe: a crash of the machine can lose acknowledged
	// changes or corrupt the file. For tests and benchmarks only.
	NoSync bool
	// OnUpgrade, when set, is told that a file of an older format version was upgraded, and
	// where the untouched original is kept.
	OnUpgrade func(from, to int, kept string)
}

// Bolt is a Store in one bbolt file. It is safe for concurrent use.
type Bolt struct {
	path string
	db   *bolt.DB
	// mu is held shared by Load and Commit and exclusively by Close, so that Close waits for
	// them and they see closed.
	mu     sync.RWMutex
	closed bool
}

// OpenBolt opens the store file at path, creating it and its directory if needed. A file that
// is locked by another process, damaged, of another format version or not writable gives an
// error; OpenBolt never starts empty over existing data.
func OpenBolt(path string, opts BoltOptions) (*Bolt, error) {
	if opts.Timeout <= 0 {
		opts.Timeout = time.Second
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, fmt.Errorf("open store %s: %w", path, err)
	}
	if err := upgrade(path, opts); err != nil {
		return nil, fmt.Errorf("open store %s: %w", path, err)
	}
	if err := verify(path, opts.Timeout); err != nil {
		return nil, fmt.Errorf("open store %s: %w", path, err)
	}
	if err := create(path, opts.Timeout); err != nil {
		return nil, fmt.Errorf("open store %s: %w", path, err)
	}
	var db *bolt.DB
	err := guard(func() error {
		var err error
		if db, err = openDB(path, &bolt.Options{Timeout: opts.Timeout, NoSync: opts.NoSync}); err != nil {
			return err
		}
		return initialise(db)
	})
	if err != nil {
		if db != nil {
			db.Close()
		}
		return nil, fmt.Errorf("open store %s: %w", path, err)
	}
	return &Bolt{path: path, db: db}, nil
}

// verify checks an existing file read-only before it is opened for writing: that it is a
// bbolt file no shorter than its own metadata says, of this format version, that every record
// decodes and that bbolt's consistency check passes. A missing file passes: it is created. An
// empty one does not: meshd never leaves one (see create), so it was truncated.
func verify(path string, timeout time.Duration) error {
	fi, err := os.Stat(path)
	switch {
	case errors.Is(err, os.ErrNotExist):
		return nil
	case err != nil:
		return err
	case !fi.Mode().IsRegular():
		return errors.New("not a regular file")
	case fi.Size() == 0:
		return errors.New("the file is empty (0 bytes): a state file never is, so it was truncated; move it away to start without state")
	}
	return guard(func() error {
		db, err := openDB(path, &bolt.Options{ReadOnly: true, Timeout: timeout})
		if err != nil {
			return err
		}
		defer db.Close()
		return db.View(func(tx *bolt.Tx) error {
			// Pages past the end of a truncated file would fault when read.
			if tx.Size() > fi.Size() {
				return fmt.Errorf("the file is corrupt: truncated to %d of %d bytes", fi.Size(), tx.Size())
			}
			if err := checkFormat(tx); err != nil {
				return err
			}
			if tx.Bucket(bucketMeta) != nil {
				if _, err := readAll(tx); err != nil {
					return fmt.Errorf("the file is corrupt: %w", err)
				}
			}
			// Check reports every problem it finds, possibly thousands; the first says enough.
			var first error
			more := 0
			for err := range tx.Check() {
				if first == nil {
					first = err
				} else {
					more++
				}
			}
			switch {
			case first == nil:
				return nil
			case more == 0:
				return fmt.Errorf("the file is corrupt: %w", first)
			default:
				return fmt.Errorf("the file is corrupt: %w (and %d more problems)", first, more)
			}
		})
	})
}

// openDB opens the bbolt file, naming the errors an operator can act on. bbolt reports a file
// it cannot make sense of in several ways; anything but a timeout or an error from the
// operating system means that.
// create makes a missing state file whole or not at all: it is initialised beside its place
// and renamed into it, so a crash during the very first start leaves no empty file behind.
func create(path string, timeout time.Duration) error {
	if _, err := os.Stat(path); !errors.Is(err, os.ErrNotExist) {
		return nil
	}
	tmp := path + ".new"
	if err := os.Remove(tmp); err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	err := guard(func() error {
		db, err := openDB(tmp, &bolt.Options{Timeout: timeout})
		if err != nil {
			return err
		}
		if err := initialise(db); err != nil {
			db.Close()
			return err
		}
		return db.Close()
	})
	if err == nil {
		err = os.Rename(tmp, path)
	}
	if err != nil {
		os.Remove(tmp)
		return fmt.Errorf("create: %w", err)
	}
	dir, err := os.Open(filepath.Dir(path))
	if err != nil {
		return err
	}
	defer dir.Close()
	return dir.Sync()
}

func openDB(path string, opts *bolt.Options) (*bolt.DB, error) {
	if err := checkFile(path, opts.Timeout); err != nil {
		return nil, err
	}
	db, err := bolt.Open(path, 0o600, opts)
	var pathErr *fs.PathError
	var errno syscall.Errno
	switch {
	case err == nil:
		return db, nil
	case errors.Is(err, berrors.ErrTimeout):
		return nil, ErrLocked
	case errors.As(err, &pathErr), errors.As(err, &errno):
		return nil, err
	default:
		return nil, fmt.Errorf("the file is not a meshd state file or is corrupt: %w", err)
	}
}

// checkFormat accepts a file of this format version, or a bbolt file with no buckets at all (a
// first start that stopped before its first transaction).
func checkFormat(tx *bolt.Tx) error {
	meta := tx.Bucket(bucketMeta)
	if meta == nil {
		if k, _ := tx.Cursor().First(); k != nil {
			return errors.New("the file is not a meshd state file: it has no format version")
		}
		return nil
	}
	if v := meta.Get(keyFormat); string(v) != strconv.Itoa(FormatVersion) {
		return fmt.Errorf("format version %q is not supported: this meshd reads version %d only", v, FormatVersion)
	}
	for _, name := range [][]byte{bucketGroups, bucketMembers, bucketStatuses} {
		if tx.Bucket(name) == nil {
			return fmt.Errorf("the file is corrupt: bucket %q is missing", name)
		}
	}
	return nil
}

// initialise writes the format version and creates the buckets of a new file.
func initialise(db *bolt.DB) error {
	var fresh bool
	if err := db.View(func(tx *bolt.Tx) error {
		fresh = tx.Bucket(bucketMeta) == nil
		return checkFormat(tx)
	}); err != nil || !fresh {
		return err
	}
	return db.Update(func(tx *bolt.Tx) error {
		meta, err := tx.CreateBucket(bucketMeta)
		if err != nil {
			return fmt.Errorf("create bucket %s: %w", bucketMeta, err)
		}
		if err := meta.Put(keyFormat, []byte(strconv.Itoa(FormatVersion))); err != nil {
			return fmt.Errorf("write format version: %w", err)
		}
		for _, name := range [][]byte{bucketGroups, bucketMembers, bucketStatuses} {
			if _, err := tx.CreateBucket(name); err != nil {
				return fmt.Errorf("create bucket %s: %w", name, err)
			}
		}
		return nil
	})
}

// guard runs fn, turning a panic in bbolt into an error. bbolt panics on some damaged pages
// and reads others through its memory map, where a wild page number faults; the fault becomes
// a panic too, in this goroutine.
func guard(fn func() error) (err error) {
	defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("the file is corrupt: %v", r)
		}
	}()
	return fn()
}

// Load reads everything stored, sorted by key.
func (b *Bolt) Load(ctx context.Context) (*Snapshot, error) {
	b.mu.RLock()
	defer b.mu.RUnlock()
	if b.closed {
		return nil, fmt.Errorf("load: %w", ErrClosed)
	}
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("load: %w", err)
	}
	var snap *Snapshot
	err := guard(func() error {
		return b.db.View(func(tx *bolt.Tx) error {
			var err error
			snap, err = readAll(tx)
			return err
		})
	})
	if err != nil {
		return nil, fmt.Errorf("load %s: %w", b.path, err)
	}
	return snap, nil
}

// readAll decodes every record of a file whose format has been checked.
func readAll(tx *bolt.Tx) (*Snapshot, error) {
	snap := &Snapshot{}
	err := errors.Join(
		tx.Bucket(bucketGroups).ForEach(func(k, v []byte) error {
			g, err := decodeGroup(k, v)
			snap.Groups = append(snap.Groups, g)
			return err
		}),
		tx.Bucket(bucketMembers).ForEach(func(k, v []byte) error {
			m, err := decodeMember(k, v)
			snap.Members = append(snap.Members, m)
			return err
		}),
		tx.Bucket(bucketStatuses).ForEach(func(k, v []byte) error {
			s, err := decodeStatus(k, v)
			snap.Statuses = append(snap.Statuses, s)
			return err
		}),
	)
	if err != nil {
		return nil, err
	}
	snap.sort()
	return snap, nil
}

// Commit applies ops in order in one transaction and returns once it is on disk. Concurrent
// Commits run one after another; coalescing changes into fewer commits is the caller's job
// (the broker's committer does it). ctx is checked before anything is written; a write that
// has begun is not abandoned.
func (b *Bolt) Commit(ctx context.Context, ops []Op) error {
	b.mu.RLock()
	defer b.mu.RUnlock()
	if b.closed {
		return fmt.Errorf("commit: %w", ErrClosed)
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("commit: %w", err)
	}
	if len(ops) == 0 {
		return nil
	}
	writes, err := prepare(ops)
	if err != nil {
		return err
	}
	if err := b.db.Update(func(tx *bolt.Tx) error { return applyWrites(tx, writes) }); err != nil {
		return fmt.Errorf("commit to %s: %w", b.path, err)
	}
	return nil
}

type action uint8

const (
	put action = iota
	del
	delPrefix
)

// write is one change to one bucket, encoded before the transaction starts.
type write struct {
	action     action
	bucket     []byte
	key, value []byte
}

// prepare validates ops and encodes them as writes.
func prepare(ops []Op) ([]write, error) {
	if err := validate(ops); err != nil {
		return nil, err
	}
	writes := make([]write, 0, len(ops))
	for i, op := range ops {
		first := len(writes)
		switch op.Kind {
		case PutGroup:
			g := op.Group
			writes = append(writes, write{put, bucketGroups, groupKey(g.Domain, g.ID), encodeGroup(g)})
		case DeleteGroup:
			k := groupKey(op.Domain, op.GroupID)
			writes = append(writes, write{del, bucketGroups, k, nil}, write{delPrefix, bucketMembers, k, nil}, write{delPrefix, bucketStatuses, k, nil})
		case PutMember:
			m := op.Member
			writes = append(writes, write{put, bucketMembers, nodeKey(m.Domain, m.GroupID, m.NodeID), encodeMember(m)})
		case DeleteMember:
			writes = append(writes, write{del, bucketMembers, nodeKey(op.Domain, op.GroupID, op.NodeID), nil})
		case PutStatus:
			s := op.Status
			writes = append(writes, write{put, bucketStatuses, nodeKey(s.Domain, s.GroupID, s.NodeID), encodeStatus(s)})
		case DeleteStatus:
			writes = append(writes, write{del, bucketStatuses, nodeKey(op.Domain, op.GroupID, op.NodeID), nil})
		}
		if k := writes[first].key; len(k) > bolt.MaxKeySize {
			return nil, fmt.Errorf("commit: op %d: %s: key of %d bytes is longer than bbolt's limit of %d", i, kindName[op.Kind], len(k), bolt.MaxKeySize)
		}
	}
	return writes, nil
}

func applyWrites(tx *bolt.Tx, writes []write) error {
	for _, w := range writes {
		bk := tx.Bucket(w.bucket)
		var err error
		switch w.action {
		case put:
			err = bk.Put(w.key, w.value)
		case del:
			err = bk.Delete(w.key)
		case delPrefix:
			err = deletePrefix(bk, w.key)
		}
		if err != nil {
			return fmt.Errorf("%s %x: %w", w.bucket, w.key, err)
		}
	}
	return nil
}

// deletePrefix deletes every key of bk that starts with prefix.
func deletePrefix(bk *bolt.Bucket, prefix []byte) error {
	c := bk.Cursor()
	for k, _ := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, _ = c.Seek(prefix) {
		if err := c.Delete(); err != nil {
			return err
		}
	}
	return nil
}

// Close closes the file; later calls fail with ErrClosed. It waits for Loads and Commits in
// progress, and may be called more than once.
func (b *Bolt) Close() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		return nil
	}
	b.closed = true
	if err := b.db.Close(); err != nil {
		return fmt.Errorf("close store %s: %w", b.path, err)
	}
	return nil
}
