package store

import (
	"testing"

	bolt "go.etcd.io/bbolt"
)

// RewriteFormat sets the format version recorded in a closed store file.
func RewriteFormat(t *testing.T, path, version string) {
	t.Helper()
	db, err := bolt.Open(path, 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if err := db.Update(func(tx *bolt.Tx) error { return tx.Bucket(bucketMeta).Put(keyFormat, []byte(version)) }); err != nil {
		t.Fatal(err)
	}
}
