package broker

import (
	"hash/fnv"
	"testing"
)

// TestGroupHashIsFNV: where a group lives must not move with a rewrite of the hash: a cluster's
// log parts are chosen by it, so it stays hash/fnv's FNV-1a over domain, a zero byte and id.
func TestGroupHashIsFNV(t *testing.T) {
	for _, tc := range []struct{ domain, id string }{
		{"", ""},
		{"d", "g"},
		{"school.example", "a1b2c3d4e5f6"},
		{"203.0.113.7", "グループ"},
		{"x\x00y", "\xff\xfe"},
	} {
		h := fnv.New32a()
		h.Write([]byte(tc.domain))
		h.Write([]byte{0})
		h.Write([]byte(tc.id))
		if got, want := groupHash(tc.domain, tc.id), h.Sum32(); got != want {
			t.Errorf("groupHash(%q, %q) = %#x, want hash/fnv's %#x", tc.domain, tc.id, got, want)
		}
	}
	var part int
	if n := testing.AllocsPerRun(100, func() { part = PartOf("school.example", "a1b2c3d4e5f6", 3) }); n != 0 || part < 0 || part > 2 {
		t.Errorf("PartOf = %d, allocating %v times", part, n)
	}
}
