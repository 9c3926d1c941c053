package store

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strconv"
	"time"

	bolt "go.etcd.io/bbolt"
)

// previousFormat is the format version upgrade converts from. Version 1 held the same buckets
// and keys as version 2, with JSON records.
const previousFormat = 1

// upgrade converts a file of the previous format version to this one, in one transaction,
// after keeping the untouched original as path + ".format1". Any other file is left alone for
// verify to judge.
func upgrade(path string, opts BoltOptions) error {
	if fi, err := os.Stat(path); err != nil || !fi.Mode().IsRegular() || fi.Size() == 0 {
		return nil
	}
	v, err := formatOf(path)
	if err != nil || v != previousFormat {
		// verify reports what is wrong, if anything.
		return nil
	}
	if err := verifyPrevious(path); err != nil {
		return fmt.Errorf("format %d file: %w", previousFormat, err)
	}
	kept := path + ".format" + strconv.Itoa(previousFormat)
	if err := copyFile(path, kept); err != nil {
		return fmt.Errorf("keep the format %d file before upgrading it: %w", previousFormat, err)
	}
	err = guard(func() error {
		db, err := openDB(path, &bolt.Options{Timeout: opts.Timeout})
		if err != nil {
			return err
		}
		defer db.Close()
		return db.Update(convertPrevious)
	})
	if err != nil {
		return fmt.Errorf("upgrade from format %d (the original is kept in %s): %w", previousFormat, kept, err)
	}
	if opts.OnUpgrade != nil {
		opts.OnUpgrade(previousFormat, FormatVersion, kept)
	}
	return nil
}

// verifyPrevious checks a file of the previous format read-only: bbolt's consistency check and
// a decode of every record.
func verifyPrevious(path string) error {
	return guard(func() error {
		db, err := openDB(path, &bolt.Options{ReadOnly: true, Timeout: 100 * time.Millisecond})
		if err != nil {
			return err
		}
		defer db.Close()
		return db.View(func(tx *bolt.Tx) error {
			// Check's goroutine reads the transaction until its channel is drained: stopping
			// at the first problem raced with the end of the transaction.
			var first error
			for err := range tx.Check() {
				if first == nil {
					first = err
				}
			}
			if first != nil {
				return fmt.Errorf("the file is corrupt: %w", first)
			}
			_, err := readPrevious(tx)
			return err
		})
	})
}

// convertPrevious rewrites every record of a previous-format file in this format and sets
// the file's format version.
func convertPrevious(tx *bolt.Tx) error {
	snap, err := readPrevious(tx)
	if err != nil {
		return err
	}
	var ops []Op
	for i := range snap.Groups {
		ops = append(ops, Op{Kind: PutGroup, Group: &snap.Groups[i]})
	}
	for i := range snap.Members {
		ops = append(ops, Op{Kind: PutMember, Member: &snap.Members[i]})
	}
	for i := range snap.Statuses {
		ops = append(ops, Op{Kind: PutStatus, Status: &snap.Statuses[i]})
	}
	writes, err := prepare(ops)
	if err != nil {
		return err
	}
	if err := applyWrites(tx, writes); err != nil {
		return err
	}
	return tx.Bucket(bucketMeta).Put(keyFormat, []byte(strconv.Itoa(FormatVersion)))
}

// readPrevious decodes every record of a previous-format file. Its keys are this format's.
func readPrevious(tx *bolt.Tx) (*Snapshot, error) {
	for _, name := range [][]byte{bucketMeta, bucketGroups, bucketMembers, bucketStatuses} {
		if tx.Bucket(name) == nil {
			return nil, fmt.Errorf("the file is corrupt: bucket %q is missing", name)
		}
	}
	snap := &Snapshot{}
	err := errors.Join(
		tx.Bucket(bucketGroups).ForEach(func(k, v []byte) error {
			g, err := decodePreviousGroup(k, v)
			snap.Groups = append(snap.Groups, g)
			return err
		}),
		tx.Bucket(bucketMembers).ForEach(func(k, v []byte) error {
			m, err := decodePreviousMember(k, v)
			snap.Members = append(snap.Members, m)
			return err
		}),
		tx.Bucket(bucketStatuses).ForEach(func(k, v []byte) error {
			s, err := decodePreviousStatus(k, v)
			snap.Statuses = append(snap.Statuses, s)
			return err
		}),
	)
	if err != nil {
		return nil, fmt.Errorf("the file is corrupt: %w", err)
	}
	snap.sort()
	return snap, nil
}

// decodePreviousGroup decodes a group record of the previous format, a JSON object.
func decodePreviousGroup(k, v []byte) (Group, error) {
	var r struct {
		Domain    string `json:"d"`
		ID        string `json:"i"`
		Name      string `json:"n"`
		HostID    string `json:"h"`
		Created   int64  `json:"c"`
		Expires   int64  `json:"e"`
		Heartbeat int64  `json:"hb"`
		WebSocket bool   `json:"ws"`
		Polling   int    `json:"p"`
		Seq       uint64 `json:"s"`
	}
	if err := decodePrevious(k, v, &r, func() []byte { return groupKey(r.Domain, r.ID) }); err != nil {
		return Group{}, fmt.Errorf("group: %w", err)
	}
	return Group{Domain: r.Domain, ID: r.ID, Name: r.Name, HostID: r.HostID,
		CreatedAt: fromMillis(r.Created), ExpiresAt: fromMillis(r.Expires), HeartbeatAt: fromMillis(r.Heartbeat),
		UseWebSocket: r.WebSocket, PollingIntervalSeconds: r.Polling, Seq: r.Seq}, nil
}

// decodePreviousMember decodes a member record of the previous format.
func decodePreviousMember(k, v []byte) (Member, error) {
	var r struct {
		Domain  string `json:"d"`
		GroupID string `json:"g"`
		NodeID  string `json:"n"`
		Joined  int64  `json:"j"`
		Expires int64  `json:"e"`
	}
	if err := decodePrevious(k, v, &r, func() []byte { return nodeKey(r.Domain, r.GroupID, r.NodeID) }); err != nil {
		return Member{}, fmt.Errorf("member: %w", err)
	}
	return Member{Domain: r.Domain, GroupID: r.GroupID, NodeID: r.NodeID, JoinedAt: fromMillis(r.Joined), ExpiresAt: fromMillis(r.Expires)}, nil
}

// decodePreviousStatus decodes a status record of the previous format.
func decodePreviousStatus(k, v []byte) (Status, error) {
	var r struct {
		Domain    string      `json:"d"`
		GroupID   string      `json:"g"`
		NodeID    string      `json:"n"`
		Data      [][2]string `json:"kv"`
		Timestamp int64       `json:"t"`
	}
	if err := decodePrevious(k, v, &r, func() []byte { return nodeKey(r.Domain, r.GroupID, r.NodeID) }); err != nil {
		return Status{}, fmt.Errorf("status: %w", err)
	}
	s := Status{Domain: r.Domain, GroupID: r.GroupID, NodeID: r.NodeID, Timestamp: fromMillis(r.Timestamp), Data: make([]Pair, len(r.Data))}
	for i, kv := range r.Data {
		s.Data[i] = Pair{Key: kv[0], Value: kv[1]}
	}
	return s, nil
}

// decodePrevious decodes a previous-format JSON record into r and checks that it belongs under
// its key, which key computes from the decoded record.
func decodePrevious(k, v []byte, r any, key func() []byte) error {
	if err := json.Unmarshal(v, r); err != nil {
		return err
	}
	if string(key()) != string(k) {
		return fmt.Errorf("record under key %x names another key", k)
	}
	return nil
}
