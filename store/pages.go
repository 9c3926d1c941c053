package store

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/fnv"
	"io"
	"math"
	"os"
	"syscall"
	"time"
)

// bbolt trusts its file: a page number, an overflow count or an element offset that is off by
// one flipped bit makes it map, allocate or read far past the file (tens of gigabytes for a
// file of kilobytes) or dereference nil. checkPages walks the file's page tree first, reading
// it as plain bytes, and refuses what bbolt could not safely open: it reads every reachable
// page once, and its memory and reads are bounded by the file's size.

// The on-disk layout of bbolt (go.etcd.io/bbolt/internal/common), little-endian.
const (
	pageHeaderSize = 16 // id uint64, flags uint16, count uint16, overflow uint32
	elementSize    = 16 // branch: pos, ksize uint32, pgid uint64; leaf: flags, pos, ksize, vsize uint32
	bucketHeader   = 16 // root pgid uint64, sequence uint64
	metaChecked    = 56 // the meta bytes the checksum covers
	boltMagic      = 0xED0CDAED
	boltVersion    = 2
	noFreelist     = math.MaxUint64

	branchPage   = 0x01
	leafPage     = 0x02
	freelistPage = 0x10
	bucketLeaf   = 0x01

	// maxTreeDepth bounds how deeply pages and buckets nest: a real tree of a state file is
	// a few levels deep; a cycle of damaged page numbers is not.
	maxTreeDepth = 64
)

var le = binary.LittleEndian

// corrupt is the error of a damaged file, in words.
func corrupt(format string, args ...any) error {
	return fmt.Errorf("the file is corrupt: "+format, args...)
}

// meta is what checkPages reads of a meta page.
type meta struct {
	pageSize, root, freelist, hwm, txid uint64
}

// readMeta reads and verifies the meta page at off.
func readMeta(f io.ReaderAt, off int64) (meta, bool) {
	b := make([]byte, pageHeaderSize+metaChecked+8)
	if _, err := f.ReadAt(b, off); err != nil {
		return meta{}, false
	}
	m := b[pageHeaderSize:]
	h := fnv.New64a()
	h.Write(m[:metaChecked])
	ps := uint64(le.Uint32(m[8:]))
	if le.Uint32(m[0:]) != boltMagic || le.Uint32(m[4:]) != boltVersion || h.Sum64() != le.Uint64(m[metaChecked:]) ||
		ps < 512 || ps > 1<<16 || ps&(ps-1) != 0 {
		return meta{}, false
	}
	return meta{pageSize: ps, root: le.Uint64(m[16:]), freelist: le.Uint64(m[32:]), hwm: le.Uint64(m[40:]), txid: le.Uint64(m[48:])}, true
}

// checkPages checks the structure of the bbolt file f of size bytes.
func checkPages(f io.ReaderAt, size int64) error {
	m0, ok0 := readMeta(f, 0)
	var m1 meta
	ok1 := false
	for _, ps := range []int64{int64(m0.pageSize), 4096, 8192, 16384, 65536} {
		if ps > 0 && !ok1 {
			m1, ok1 = readMeta(f, ps)
		}
	}
	m := m0
	switch {
	case !ok0 && !ok1:
		return errors.New("the file is not a meshd state file or is corrupt: neither of its two meta pages is valid")
	case !ok0 || ok1 && m1.txid > m0.txid:
		m = m1
	}
	ps := m.pageSize
	pages := uint64(size) / ps
	switch {
	case m.hwm > pages:
		return corrupt("truncated to %d of %d bytes (%d pages of %d)", size, m.hwm*ps, m.hwm, ps)
	case m.hwm < 3:
		return corrupt("it claims %d pages, fewer than a bbolt file has", m.hwm)
	case m.root < 2 || m.root >= m.hwm:
		return corrupt("its root page %d is outside its %d pages", m.root, m.hwm)
	case m.freelist != noFreelist && (m.freelist < 2 || m.freelist >= m.hwm):
		return corrupt("its freelist page %d is outside its %d pages", m.freelist, m.hwm)
	}
	w := &walker{f: f, ps: ps, hwm: m.hwm, seen: make([]uint64, m.hwm/64+1), elements: uint64(size) / elementSize}
	if err := w.tree(m.root, 0); err != nil {
		return err
	}
	if m.freelist != noFreelist {
		return w.freelist(m.freelist)
	}
	return nil
}

// walker reads pages of a file, each at most once.
type walker struct {
	f    io.ReaderAt
	ps   uint64
	hwm  uint64
	seen []uint64
	// elements is how many more elements may be read: a file holds at most one per
	// elementSize bytes, however its inline buckets point into each other.
	elements uint64
}

// page reads page id and its overflow pages, after checking they lie within the file and
// were not read before.
func (w *walker) page(id uint64) ([]byte, error) {
	if id < 2 || id >= w.hwm {
		return nil, corrupt("a reference to page %d, outside its %d pages", id, w.hwm)
	}
	head := make([]byte, pageHeaderSize)
	if _, err := w.f.ReadAt(head, int64(id*w.ps)); err != nil {
		return nil, corrupt("page %d cannot be read: %v", id, err)
	}
	if got := le.Uint64(head); got != id {
		return nil, corrupt("page %d says it is page %d", id, got)
	}
	overflow := uint64(le.Uint32(head[12:]))
	if overflow >= w.hwm-id {
		return nil, corrupt("page %d claims %d overflow pages; the file has %d pages in all", id, overflow, w.hwm)
	}
	for p := id; p <= id+overflow; p++ {
		if w.seen[p/64]&(1<<(p%64)) != 0 {
			return nil, corrupt("page %d is reached twice", p)
		}
		w.seen[p/64] |= 1 << (p % 64)
	}
	b := make([]byte, (overflow+1)*w.ps)
	if _, err := w.f.ReadAt(b, int64(id*w.ps)); err != nil {
		return nil, corrupt("page %d cannot be read: %v", id, err)
	}
	return b, nil
}

// tree checks the branch or leaf page id and everything below it.
func (w *walker) tree(id uint64, depth int) error {
	if depth > maxTreeDepth {
		return corrupt("its pages nest deeper than %d levels (a cycle?)", maxTreeDepth)
	}
	b, err := w.page(id)
	if err != nil {
		return err
	}
	return w.nodes(b, id, depth)
}

// nodes checks the elements of the branch or leaf page b (page id, 0 for an inline bucket).
func (w *walker) nodes(b []byte, id uint64, depth int) error {
	if len(b) < pageHeaderSize {
		return corrupt("page %d is shorter than its header", id)
	}
	flags, count := le.Uint16(b[8:]), uint64(le.Uint16(b[10:]))
	if flags != branchPage && flags != leafPage {
		return corrupt("page %d is neither a branch nor a leaf (flags %#x)", id, flags)
	}
	if pageHeaderSize+count*elementSize > uint64(len(b)) {
		return corrupt("page %d claims %d elements, more than it can hold", id, count)
	}
	if count > w.elements {
		return corrupt("its pages claim more elements than the file can hold (inline buckets that overlap?)")
	}
	w.elements -= count
	for i := range count {
		off := pageHeaderSize + i*elementSize
		e := b[off : off+elementSize]
		if flags == branchPage {
			pos, ksize := uint64(le.Uint32(e[0:])), uint64(le.Uint32(e[4:]))
			if off+pos+ksize > uint64(len(b)) {
				return corrupt("element %d of page %d lies outside it", i, id)
			}
			if err := w.tree(le.Uint64(e[8:]), depth+1); err != nil {
				return err
			}
			continue
		}
		eflags, pos, ksize, vsize := le.Uint32(e[0:]), uint64(le.Uint32(e[4:])), uint64(le.Uint32(e[8:])), uint64(le.Uint32(e[12:]))
		start := off + pos + ksize
		if start+vsize > uint64(len(b)) {
			return corrupt("element %d of page %d lies outside it", i, id)
		}
		if eflags&bucketLeaf == 0 {
			continue
		}
		v := b[start : start+vsize]
		if len(v) < bucketHeader {
			return corrupt("bucket %d of page %d has no header", i, id)
		}
		if root := le.Uint64(v); root != 0 {
			if err := w.tree(root, depth+1); err != nil {
				return err
			}
		} else if err := w.nodes(v[bucketHeader:], 0, depth+1); err != nil {
			return err
		}
	}
	return nil
}

// freelist checks the freelist page id: its count fits it, and every page it lists is in
// the file.
func (w *walker) freelist(id uint64) error {
	b, err := w.page(id)
	if err != nil {
		return err
	}
	if flags := le.Uint16(b[8:]); flags != freelistPage {
		return corrupt("the freelist page %d is not a freelist (flags %#x)", id, flags)
	}
	first, count := uint64(pageHeaderSize), uint64(le.Uint16(b[10:]))
	if count == 0xFFFF {
		count, first = le.Uint64(b[pageHeaderSize:]), pageHeaderSize+8
	}
	if count > (uint64(len(b))-first)/8 {
		return corrupt("the freelist claims %d free pages, more than its page holds", count)
	}
	for i := range count {
		if p := le.Uint64(b[first+i*8:]); p < 2 || p >= w.hwm {
			return corrupt("the freelist lists page %d, outside the file's %d pages", p, w.hwm)
		}
	}
	return nil
}

// checkFile checks the structure of the state file at path before bbolt opens it, holding
// the shared lock a reader of bbolt takes, so that a file a running meshd writes is never
// read half written: it fails with ErrLocked after timeout (0: wait) while one runs.
func checkFile(path string, timeout time.Duration) error {
	f, err := os.Open(path)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil // bbolt creates it
		}
		return err
	}
	defer f.Close()
	for deadline := time.Now().Add(timeout); ; time.Sleep(50 * time.Millisecond) {
		err := syscall.Flock(int(f.Fd()), syscall.LOCK_SH|syscall.LOCK_NB)
		if err == nil {
			break
		}
		if !errors.Is(err, syscall.EWOULDBLOCK) {
			return err
		}
		if timeout > 0 && time.Now().After(deadline) {
			return ErrLocked
		}
	}
	defer syscall.Flock(int(f.Fd()), syscall.LOCK_UN)
	fi, err := f.Stat()
	if err != nil {
		return err
	}
	if fi.Size() == 0 {
		return nil // bbolt initialises an empty file it creates; verify refuses one it finds
	}
	return checkPages(f, fi.Size())
}
