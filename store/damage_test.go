package store_test

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/smalruby/meshd/store"
)

// realStateFile is a state file as meshd writes it: groups, members' statuses over many
// pages, a freelist.
func realStateFile(t testing.TB) []byte {
	t.Helper()
	path := filepath.Join(t.TempDir(), "meshd.db")
	s, err := store.OpenBolt(path, store.BoltOptions{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	for g := range 6 {
		ops := []store.Op{putGroup(group("d", fmt.Sprint(g)))}
		for n := range 20 {
			ops = append(ops, putStatus(status("d", fmt.Sprint(g), fmt.Sprint(n), store.Pair{Key: "k", Value: strings.Repeat("v", 200)})))
		}
		if err := s.Commit(t.Context(), ops); err != nil {
			t.Fatal(err)
		}
	}
	s.Close()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// allocated is the bytes the process allocated while f ran (exact: ReadMemStats flushes the
// per-P counts).
func allocated(f func()) uint64 {
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	before := m.TotalAlloc
	f()
	runtime.ReadMemStats(&m)
	return m.TotalAlloc - before
}

// damagedFileCheck runs every command's check of a state file — meshd check (Inspect), a
// start (OpenBolt), backup and restore — on content, and fails the test when one panics,
// answers with a Go runtime error instead of words, or allocates more than the file's size
// allows.
func damagedFileCheck(t testing.TB, dir string, content []byte, all bool) {
	t.Helper()
	path := filepath.Join(dir, "damaged.db")
	if err := os.WriteFile(path, content, 0o600); err != nil {
		t.Fatal(err)
	}
	limit := uint64(16<<20 + 64*len(content))
	words := func(what string, err error) {
		if err == nil {
			return
		}
		msg := err.Error()
		for _, raw := range []string{"runtime error", "nil pointer", "invalid memory address", "index out of range", "goroutine "} {
			if strings.Contains(msg, raw) {
				t.Fatalf("%s of a damaged file answered with a Go error, not words: %s", what, msg)
			}
		}
	}
	checks := []struct {
		what string
		run  func() error
	}{
		{"meshd check", func() error { _, err := store.Inspect(path); return err }},
	}
	if all {
		checks = append(checks,
			struct {
				what string
				run  func() error
			}{"a start", func() error {
				s, err := store.OpenBolt(path, store.BoltOptions{Timeout: time.Second, NoSync: true})
				if err == nil {
					s.Close()
					os.WriteFile(path, content, 0o600)
				}
				return err
			}},
			struct {
				what string
				run  func() error
			}{"backup", func() error { _, err := store.BackupFile(path, io.Discard); return err }},
			struct {
				what string
				run  func() error
			}{"restore", func() error { return store.Restore(path, filepath.Join(dir, "restored", "meshd.db")) }})
	}
	for _, c := range checks {
		var err error
		if n := allocated(func() { err = c.run() }); n > limit {
			t.Fatalf("%s of a damaged %d-byte file allocated %d MB", c.what, len(content), n>>20)
		}
		words(c.what, err)
	}
}

// Issue 20, item 12: damaged copies of real state files — bits of the meta page and of
// page headers flipped in turn, bits flipped at random elsewhere, truncations at and between
// page boundaries — are refused in words (or, where the damage is harmless, accepted), never with
// a Go runtime error, and no check allocates more than the file's size allows. One flipped
// bit in an overflow count used to make bbolt allocate 23.8 GB.
func TestDamagedStateFilesAreRefusedInWords(t *testing.T) {
	format1, err := os.ReadFile("testdata/format1.db")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	r := rand.New(rand.NewPCG(20, 12))
	for name, good := range map[string][]byte{"format 2": realStateFile(t), "format 1": format1} {
		t.Run(name, func(t *testing.T) {
			const page = 4096
			n := 0
			flip := func(bit int) {
				b := bytes.Clone(good)
				b[bit/8] ^= 1 << (bit % 8)
				n++
				damagedFileCheck(t, dir, b, n%16 == 0)
			}
			// Every third bit (3 and 8 are coprime, so each bit position of a byte is hit) of
			// the first meta page's fields and of the headers of the first data pages.
			for bit := 16 * 8; bit < (16+64)*8; bit += 3 {
				flip(bit)
			}
			for p := 2; p < min(6, len(good)/page); p++ {
				for bit := p * page * 8; bit < (p*page+16)*8; bit += 3 {
					flip(bit)
				}
			}
			for range 100 {
				flip(r.IntN(len(good) * 8))
			}
			cuts := 0
			for cut := 0; cut < len(good); cut += page {
				damagedFileCheck(t, dir, good[:cut], true)
				damagedFileCheck(t, dir, good[:cut+page/2], true)
				cuts += 2
			}
			t.Logf("%d damaged copies of a %d-byte file", n+cuts, len(good))
		})
	}
	// The overflow count of the first data page set to its largest: refused in words.
	good := realStateFile(t)
	b := bytes.Clone(good)
	copy(b[2*4096+12:], []byte{0xff, 0xff, 0xff, 0xff})
	path := filepath.Join(dir, "overflow.db")
	os.WriteFile(path, b, 0o600)
	if _, err := store.Inspect(path); err == nil || !strings.Contains(err.Error(), "the file is corrupt: page 2 claims 4294967295 overflow pages") {
		t.Fatalf("a wild overflow count: %v", err)
	}
	if _, err := store.Inspect(filepath.Join(dir, "missing.db")); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("a missing file: %v", err)
	}
}

// FuzzDamagedStateFile: whatever the bytes of a state file, checking it never panics,
// answers in words and allocates no more than its size allows. The seeds are real files
// with flipped bits and truncations.
func FuzzDamagedStateFile(f *testing.F) {
	format1, err := os.ReadFile("testdata/format1.db")
	if err != nil {
		f.Fatal(err)
	}
	good := realStateFile(f)
	for _, b := range [][]byte{good, format1, good[:len(good)/2], format1[:4096*3]} {
		f.Add(b)
	}
	for _, at := range []int{2*4096 + 12, 3*4096 + 10, 16 + 40, 4096 + 16 + 16} {
		b := bytes.Clone(good)
		b[at] ^= 0x80
		f.Add(b)
	}
	dir := f.TempDir()
	f.Fuzz(func(t *testing.T, content []byte) {
		damagedFileCheck(t, dir, content, false)
	})
}
