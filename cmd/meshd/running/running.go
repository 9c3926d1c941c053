// Package running holds the record a running meshd keeps in its data directory of how its
// console is reached on this machine, so that meshd backup, status and console-link talk to
// the meshd that holds the directory and to no other, and the client they reach it with.
package running

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"

	"github.com/smalruby/meshd/cmd/meshd/atomicfile"
)

// File is where a running meshd records, in its data directory, how its console (and
// the backup beside it) is reached on this machine, so that meshd backup and meshd status
// talk to the meshd that holds the directory and to no other.
const File = "running.json"

// Header carries a running meshd's instance on every answer of its console.
const Header = "Meshd-Instance"

// Record is what File holds.
type Record struct {
	// URL is the base URL of the console on this machine.
	URL string `json:"url"`
	// Instance is random and new at each start: the console's answers carry it, so that a
	// stale record whose address another server took since is noticed.
	Instance string `json:"instance"`
	PID      int    `json:"pid"`
}

// NewInstance is a new random instance.
func NewInstance() (string, error) {
	b := make([]byte, 16)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("generate instance: %w", err)
	}
	return hex.EncodeToString(b), nil
}

// Write writes r into dir, replacing any record a meshd that did not stop cleanly left.
func (r Record) Write(dir string) error {
	raw, err := json.Marshal(r)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("record the console's address: %w", err)
	}
	err = atomicfile.Write(filepath.Join(dir, File), func(w io.Writer) (int64, error) {
		n, err := w.Write(raw)
		return int64(n), err
	})
	if err != nil {
		return fmt.Errorf("record the console's address: %w", err)
	}
	return nil
}

// Forget removes r's record from dir, unless another meshd has replaced it since.
func (r Record) Forget(dir string) {
	if cur, err := Read(dir); err == nil && cur.Instance == r.Instance {
		os.Remove(filepath.Join(dir, File))
	}
}

// Read reads the record of the meshd running on dir.
func Read(dir string) (Record, error) {
	var r Record
	path := filepath.Join(dir, File)
	raw, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return r, fmt.Errorf("no running meshd has recorded its address in %s (is meshd running with -data-dir %s?)", path, dir)
	}
	if err != nil {
		return r, fmt.Errorf("read %s: %w", path, err)
	}
	if err := json.Unmarshal(raw, &r); err != nil || r.URL == "" || r.Instance == "" {
		return r, fmt.Errorf("%s is not a record of a running meshd", path)
	}
	return r, nil
}

// Check fails unless res came from r's meshd.
func (r Record) Check(res *http.Response, dir string) error {
	if got := res.Header.Get(Header); got != r.Instance {
		return fmt.Errorf("%s is not the meshd that holds %s (the record in %s names instance %s of pid %d; it answered as %q): that meshd has stopped and another server listens on its address",
			r.URL, dir, File, r.Instance, r.PID, got)
	}
	return nil
}

// Stamp adds the instance header to every answer of h.
func Stamp(h http.Handler, instance string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		w.Header().Set(Header, instance)
		h.ServeHTTP(w, req)
	})
}
