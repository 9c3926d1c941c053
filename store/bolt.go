package store

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"time"

	bolt "go.etcd.io/bbolt"
	berrors "go.etcd.io/bbolt/errors"
)

// FormatVersion is the on-disk format this build reads and writes.
const FormatVersion = 1

var (
	bucketMeta     = []byte("meta")
	bucketGroups   = []byte("groups")
	bucketMembers  = []byte("members")
	bucketStatuses = []byte("statuses")
	keyFormat      = []byte("format")
)

// BoltOptions tunes a Bolt store.
type BoltOptions struct {
	// Timeout is how long Open waits for another process to release the file; 1 s when zero.
	Timeout time.Duration
	// NoSync skips fsync on commit. Unsafe: a crash can lose or corrupt acknowledged changes;
	// only for tests and benchmarks.
	NoSync bool
}

// Bolt is a Store in one bbolt file. Every Commit is one fsynced transaction; the broker
// coalesces concurrent changes into one Commit.
type Bolt struct {
	path      string
	db        *bolt.DB
	closeOnce sync.Once
	mu        sync.RWMutex
	closed    bool
}

// OpenBolt opens or creates the store file at path. A file that is locked by another process,
// corrupt, of another format version or not writable gives an error, never an empty start.
func OpenBolt(path string, opts BoltOptions) (*Bolt, error) {
	if opts.Timeout <= 0 {
		opts.Timeout = time.Second
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, fmt.Errorf("open store %s: %w", path, err)
	}
	db, err := openDB(path, opts)
	if err != nil {
		return nil, fmt.Errorf("open store %s: %w", path, err)
	}
	if err := initialise(db); err != nil {
		db.Close()
		return nil, fmt.Errorf("open store %s: %w", path, err)
	}
	return &Bolt{path: path, db: db}, nil
}

// openDB opens the bbolt file, turning a panic on a damaged file into an error.
func openDB(path string, opts BoltOptions) (db *bolt.DB, err error) {
	defer func() {
		if r := recover(); r != nil {
			db, err = nil, fmt.Errorf("the file is corrupt: %v", r)
		}
	}()
	db, err = bolt.Open(path, 0o600, &bolt.Options{Timeout: opts.Timeout, NoSync: opts.NoSync, NoFreelistSync: false})
	switch {
	case errors.Is(err, berrors.ErrTimeout):
		return nil, errors.New("locked by another process (is another meshd running with this data directory?)")
	case errors.Is(err, berrors.ErrInvalid), errors.Is(err, berrors.ErrChecksum), errors.Is(err, berrors.ErrVersionMismatch):
		return nil, fmt.Errorf("the file is not a meshd state file or is corrupt: %w", err)
	}
	return db, err
}

// initialise creates the buckets of a new file, checks the format of an old one and verifies
// the file's page structure.
func initialise(db *bolt.DB) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("the file is corrupt: %v", r)
		}
	}()
	err = db.Update(func(tx *bolt.Tx) error {
		meta := tx.Bucket(bucketMeta)
		if meta == nil {
			if tx.Bucket(bucketGroups) != nil {
				return errors.New("the file has no format version: not a meshd state file")
			}
			var err error
			if meta, err = tx.CreateBucket(bucketMeta); err != nil {
				return err
			}
			if err := meta.Put(keyFormat, []byte(fmt.Sprint(FormatVersion))); err != nil {
				return err
			}
		}
		if v := string(meta.Get(keyFormat)); v != fmt.Sprint(FormatVersion) {
			return fmt.Errorf("format version %q, this meshd reads %d", v, FormatVersion)
		}
		for _, name := range [][]byte{bucketGroups, bucketMembers, bucketStatuses} {
			if _, err := tx.CreateBucketIfNotExists(name); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	return db.View(func(tx *bolt.Tx) error {
		for err := range tx.Check() {
			return fmt.Errorf("the file is corrupt: %w", err)
		}
		return nil
	})
}

// Path is the store's file.
func (b *Bolt) Path() string { return b.path }

// Load reads everything stored.
func (b *Bolt) Load(context.Context) (*Snapshot, error) {
	b.mu.RLock()
	defer b.mu.RUnlock()
	if b.closed {
		return nil, fmt.Errorf("load: %w", ErrClosed)
	}
	snap := &Snapshot{}
	err := b.db.View(func(tx *bolt.Tx) error {
		if err := each(tx.Bucket(bucketGroups), func(v []byte) error {
			g, err := decodeGroup(v)
			snap.Groups = append(snap.Groups, g)
			return err
		}); err != nil {
			return err
		}
		if err := each(tx.Bucket(bucketMembers), func(v []byte) error {
			m, err := decodeMember(v)
			snap.Members = append(snap.Members, m)
			return err
		}); err != nil {
			return err
		}
		return each(tx.Bucket(bucketStatuses), func(v []byte) error {
			s, err := decodeStatus(v)
			snap.Statuses = append(snap.Statuses, s)
			return err
		})
	})
	if err != nil {
		return nil, fmt.Errorf("load %s: %w", b.path, err)
	}
	snap.sort()
	return snap, nil
}

func each(bk *bolt.Bucket, fn func(v []byte) error) error {
	return bk.ForEach(func(k, v []byte) error {
		if err := fn(v); err != nil {
			return fmt.Errorf("record %x: %w", k, err)
		}
		return nil
	})
}

// Commit applies ops in one durable transaction. Committing no ops writes nothing and only
// reports whether the store is open.
func (b *Bolt) Commit(_ context.Context, ops []Op) error {
	if err := validate(ops); err != nil {
		return err
	}
	b.mu.RLock()
	defer b.mu.RUnlock()
	if b.closed {
		return fmt.Errorf("commit: %w", ErrClosed)
	}
	if len(ops) == 0 {
		return nil
	}
	err := b.db.Update(func(tx *bolt.Tx) error {
		groups, members, statuses := tx.Bucket(bucketGroups), tx.Bucket(bucketMembers), tx.Bucket(bucketStatuses)
		for _, op := range ops {
			var err error
			switch op.Kind {
			case PutGroup:
				err = groups.Put(GroupKey(op.Group.Domain, op.Group.ID), encodeGroup(op.Group))
			case DeleteGroup:
				prefix := GroupKey(op.Domain, op.GroupID)
				err = errors.Join(groups.Delete(prefix), deletePrefix(members, prefix), deletePrefix(statuses, prefix))
			case PutMember:
				m := op.Member
				err = members.Put(NodeKey(m.Domain, m.GroupID, m.NodeID), encodeMember(m))
			case DeleteMember:
				err = members.Delete(NodeKey(op.Domain, op.GroupID, op.NodeID))
			case PutStatus:
				s := op.Status
				err = statuses.Put(NodeKey(s.Domain, s.GroupID, s.NodeID), encodeStatus(s))
			case DeleteStatus:
				err = statuses.Delete(NodeKey(op.Domain, op.GroupID, op.NodeID))
			}
			if err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("commit to %s: %w", b.path, err)
	}
	return nil
}

func deletePrefix(bk *bolt.Bucket, prefix []byte) error {
	var keys [][]byte
	c := bk.Cursor()
	for k, _ := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, _ = c.Next() {
		keys = append(keys, k)
	}
	for _, k := range keys {
		if err := bk.Delete(k); err != nil {
			return err
		}
	}
	return nil
}

// Close closes the file; later calls fail with ErrClosed. It may be called more than once.
func (b *Bolt) Close() error {
	var err error
	b.closeOnce.Do(func() {
		b.mu.Lock()
		b.closed = true
		b.mu.Unlock()
		if cerr := b.db.Close(); cerr != nil {
			err = fmt.Errorf("close store %s: %w", b.path, cerr)
		}
	})
	return err
}

// GroupKey is the key of a group: its length-prefixed domain and id, so that one group's
// members and statuses share a prefix no other group's key has.
func GroupKey(domain, groupID string) []byte {
	return appendString(appendString(nil, domain), groupID)
}

// NodeKey is the key of a member or status: the group's key and the length-prefixed node id.
func NodeKey(domain, groupID, nodeID string) []byte {
	return appendString(GroupKey(domain, groupID), nodeID)
}

func appendString(b []byte, s string) []byte {
	return append(binary.AppendUvarint(b, uint64(len(s))), s...)
}

// Records are JSON with short names, versioned by the file's format version; times are
// milliseconds since the Unix epoch.

type groupRecord struct {
	Domain    string `json:"d"`
	ID        string `json:"i"`
	Name      string `json:"n"`
	HostID    string `json:"h"`
	Created   int64  `json:"c"`
	Expires   int64  `json:"e"`
	Heartbeat int64  `json:"hb"`
	WebSocket bool   `json:"ws"`
	Polling   int    `json:"p,omitempty"`
	Seq       uint64 `json:"s"`
}

type memberRecord struct {
	Domain  string `json:"d"`
	GroupID string `json:"g"`
	NodeID  string `json:"n"`
	Joined  int64  `json:"j"`
	Expires int64  `json:"e"`
}

type statusRecord struct {
	Domain    string      `json:"d"`
	GroupID   string      `json:"g"`
	NodeID    string      `json:"n"`
	Data      [][2]string `json:"kv"`
	Timestamp int64       `json:"t"`
}

func ms(t time.Time) int64     { return t.UnixMilli() }
func fromMS(n int64) time.Time { return time.UnixMilli(n).UTC() }

func mustJSON(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		panic(fmt.Sprintf("encode record: %v", err)) // plain strings and numbers always encode
	}
	return b
}

func encodeGroup(g *Group) []byte {
	return mustJSON(groupRecord{g.Domain, g.ID, g.Name, g.HostID, ms(g.CreatedAt), ms(g.ExpiresAt), ms(g.HeartbeatAt), g.UseWebSocket, g.PollingIntervalSeconds, g.Seq})
}

func decodeGroup(v []byte) (Group, error) {
	var r groupRecord
	if err := json.Unmarshal(v, &r); err != nil {
		return Group{}, fmt.Errorf("decode group: %w", err)
	}
	return Group{Domain: r.Domain, ID: r.ID, Name: r.Name, HostID: r.HostID, CreatedAt: fromMS(r.Created), ExpiresAt: fromMS(r.Expires),
		HeartbeatAt: fromMS(r.Heartbeat), UseWebSocket: r.WebSocket, PollingIntervalSeconds: r.Polling, Seq: r.Seq}, nil
}

func encodeMember(m *Member) []byte {
	return mustJSON(memberRecord{m.Domain, m.GroupID, m.NodeID, ms(m.JoinedAt), ms(m.ExpiresAt)})
}

func decodeMember(v []byte) (Member, error) {
	var r memberRecord
	if err := json.Unmarshal(v, &r); err != nil {
		return Member{}, fmt.Errorf("decode member: %w", err)
	}
	return Member{Domain: r.Domain, GroupID: r.GroupID, NodeID: r.NodeID, JoinedAt: fromMS(r.Joined), ExpiresAt: fromMS(r.Expires)}, nil
}

func encodeStatus(s *Status) []byte {
	kv := make([][2]string, len(s.Data))
	for i, p := range s.Data {
		kv[i] = [2]string{p.Key, p.Value}
	}
	return mustJSON(statusRecord{s.Domain, s.GroupID, s.NodeID, kv, ms(s.Timestamp)})
}

func decodeStatus(v []byte) (Status, error) {
	var r statusRecord
	if err := json.Unmarshal(v, &r); err != nil {
		return Status{}, fmt.Errorf("decode status: %w", err)
	}
	data := make([]Pair, len(r.Data))
	for i, kv := range r.Data {
		data[i] = Pair{kv[0], kv[1]}
	}
	return Status{Domain: r.Domain, GroupID: r.GroupID, NodeID: r.NodeID, Data: data, Timestamp: fromMS(r.Timestamp)}, nil
}
