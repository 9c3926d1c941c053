package store

import (
	"bytes"
	"testing"
	"time"
	"unicode/utf8"
)

// FuzzRecords decodes arbitrary bytes as every record kind (never a panic) and round-trips
// records built from fuzzed strings. Strings reach the store from decoded JSON, so they are
// valid UTF-8.
func FuzzRecords(f *testing.F) {
	f.Add([]byte(`{"d":"x","i":"y","c":1}`), "教室", "g", "n", int64(1772354702431))
	f.Add([]byte(`{"kv":[["a"]]}`), "", "\x00", "#", int64(-1))
	f.Fuzz(func(t *testing.T, raw []byte, domain, groupID, nodeID string, millis int64) {
		decodeGroup(raw)
		decodeMember(raw)
		decodeStatus(raw)
		if !utf8.ValidString(domain) || !utf8.ValidString(groupID) || !utf8.ValidString(nodeID) {
			return
		}
		at := time.UnixMilli(millis % (1 << 45)).UTC()
		g := Group{Domain: domain, ID: groupID, Name: nodeID, HostID: nodeID, CreatedAt: at, ExpiresAt: at, HeartbeatAt: at, Seq: uint64(millis)}
		if got, err := decodeGroup(encodeGroup(&g)); err != nil || got != g {
			t.Fatalf("group round trip: %+v, %v; want %+v", got, err, g)
		}
		m := Member{Domain: domain, GroupID: groupID, NodeID: nodeID, JoinedAt: at, ExpiresAt: at}
		if got, err := decodeMember(encodeMember(&m)); err != nil || got != m {
			t.Fatalf("member round trip: %+v, %v", got, err)
		}
		s := Status{Domain: domain, GroupID: groupID, NodeID: nodeID, Data: []Pair{{domain, nodeID}, {"", groupID}}, Timestamp: at}
		got, err := decodeStatus(encodeStatus(&s))
		if err != nil || got.NodeID != nodeID || len(got.Data) != 2 || got.Data[0] != s.Data[0] || got.Data[1] != s.Data[1] || !got.Timestamp.Equal(at) {
			t.Fatalf("status round trip: %+v, %v", got, err)
		}
	})
}

// FuzzKeys checks that one group's key prefixes the keys of its own members only.
func FuzzKeys(f *testing.F) {
	f.Add("d", "g", "d", "g1", "n")
	f.Add("", "dg", "dg", "", "n")
	f.Fuzz(func(t *testing.T, d1, g1, d2, g2, node string) {
		prefixed := bytes.HasPrefix(NodeKey(d2, g2, node), GroupKey(d1, g1))
		if same := d1 == d2 && g1 == g2; prefixed != same {
			t.Fatalf("group (%q,%q) prefixes node of (%q,%q): %v", d1, g1, d2, g2, prefixed)
		}
		if (d1 != d2 || g1 != g2) && bytes.Equal(GroupKey(d1, g1), GroupKey(d2, g2)) {
			t.Fatalf("groups (%q,%q) and (%q,%q) share a key", d1, g1, d2, g2)
		}
	})
}
