package store

import (
	"bytes"
	"reflect"
	"testing"
)

// FuzzDecodeRecords feeds arbitrary bytes to every record decoder, which must fail cleanly or
// give a record that encodes back to itself, and round-trips records built from fuzzed fields.
func FuzzDecodeRecords(f *testing.F) {
	f.Add([]byte{1, 'd', 1, 'g'}, []byte{1, 0, 0, 2, 4, 6, 1, 0, 5}, "教室🎉", "a\x00b", "#", int64(1772354702431), uint64(1<<63), int64(5), true)
	f.Add([]byte{1, 'd', 1, 'g', 1, 'n'}, []byte{1, 2, 1, 1, 'k', 0}, "", "\xff", "", int64(-62135596800000), uint64(0), int64(-1), false)
	f.Add(groupKey("", ""), encodeStatus(&Status{Data: []Pair{{"k", "v"}, {"k", "v"}}}), "x", "x", "x", int64(-1), uint64(1), int64(0), false)
	f.Fuzz(func(t *testing.T, key, value []byte, s1, s2, s3 string, ms int64, seq uint64, polling int64, ws bool) {
		if g, err := decodeGroup(key, value); err == nil {
			if again, err := decodeGroup(groupKey(g.Domain, g.ID), encodeGroup(&g)); err != nil || again != g {
				t.Fatalf("decoded group %+v re-encodes as %+v, %v", g, again, err)
			}
		}
		if m, err := decodeMember(key, value); err == nil {
			if again, err := decodeMember(nodeKey(m.Domain, m.GroupID, m.NodeID), encodeMember(&m)); err != nil || again != m {
				t.Fatalf("decoded member %+v re-encodes as %+v, %v", m, again, err)
			}
		}
		if s, err := decodeStatus(key, value); err == nil {
			if again, err := decodeStatus(nodeKey(s.Domain, s.GroupID, s.NodeID), encodeStatus(&s)); err != nil || !reflect.DeepEqual(again, s) {
				t.Fatalf("decoded status %+v re-encodes as %+v, %v", s, again, err)
			}
		}

		at := fromMillis(ms)
		g := Group{Domain: s1, ID: s2, Name: s3, HostID: s1 + s3, CreatedAt: at, ExpiresAt: fromMillis(ms / 2), HeartbeatAt: fromMillis(-ms),
			UseWebSocket: ws, PollingIntervalSeconds: int(polling), Seq: seq}
		if got, err := decodeGroup(groupKey(g.Domain, g.ID), encodeGroup(&g)); err != nil || got != g {
			t.Fatalf("group %+v round-trips as %+v, %v", g, got, err)
		}
		m := Member{Domain: s1, GroupID: s2, NodeID: s3, JoinedAt: at, ExpiresAt: fromMillis(^ms)}
		if got, err := decodeMember(nodeKey(m.Domain, m.GroupID, m.NodeID), encodeMember(&m)); err != nil || got != m {
			t.Fatalf("member %+v round-trips as %+v, %v", m, got, err)
		}
		s := Status{Domain: s2, GroupID: s3, NodeID: s1, Timestamp: at, Data: []Pair{{s1, s2}, {s3, ""}, {s1, s2}, {string(value), string(key)}}}
		if got, err := decodeStatus(nodeKey(s.Domain, s.GroupID, s.NodeID), encodeStatus(&s)); err != nil || !reflect.DeepEqual(got, s) {
			t.Fatalf("status %+v round-trips as %+v, %v", s, got, err)
		}
	})
}

// FuzzKeys checks that a group's key starts the keys of its own members and statuses only,
// that no two groups share a key, and that keys parse back to their ids.
func FuzzKeys(f *testing.F) {
	f.Add("d", "g", "d", "g1", "n")
	f.Add("", "dg", "dg", "", "n")
	f.Add("d", "\x01g", "d\x01", "g", "")
	f.Fuzz(func(t *testing.T, d1, g1, d2, g2, node string) {
		same := d1 == d2 && g1 == g2
		if prefixed := bytes.HasPrefix(nodeKey(d2, g2, node), groupKey(d1, g1)); prefixed != same {
			t.Fatalf("group (%q, %q) prefixes the node keys of (%q, %q): %v", d1, g1, d2, g2, prefixed)
		}
		if !same && (bytes.HasPrefix(groupKey(d2, g2), groupKey(d1, g1)) || bytes.HasPrefix(groupKey(d1, g1), groupKey(d2, g2))) {
			t.Fatalf("group keys of (%q, %q) and (%q, %q) are prefixes of one another", d1, g1, d2, g2)
		}
		if d, g, err := parseGroupKey(groupKey(d1, g1)); err != nil || d != d1 || g != g1 {
			t.Fatalf("group key of (%q, %q) parses as (%q, %q), %v", d1, g1, d, g, err)
		}
		if d, g, n, err := parseNodeKey(nodeKey(d2, g2, node)); err != nil || d != d2 || g != g2 || n != node {
			t.Fatalf("node key of (%q, %q, %q) parses as (%q, %q, %q), %v", d2, g2, node, d, g, n, err)
		}
	})
}

// FuzzDecodePreviousRecords feeds arbitrary records of the previous format to its decoders:
// each fails cleanly or gives a record this format stores as it is.
func FuzzDecodePreviousRecords(f *testing.F) {
	f.Add(groupKey("school", "g1"), []byte(`{"d":"school","i":"g1","n":"Class","h":"host","c":1,"e":2,"hb":3,"ws":true,"s":7}`))
	f.Add(nodeKey("school", "g1", "p"), []byte(`{"d":"school","g":"g1","n":"p","j":1,"e":2}`))
	f.Add(nodeKey("school", "g1", "p"), []byte(`{"d":"school","g":"g1","n":"p","kv":[["x","1"],["x","1"]],"t":5}`))
	f.Add(nodeKey("s", "g", "p"), []byte(`{"d":"s","g":"g","n":"p","kv":[["x"]],"t":-1e3}`))
	f.Fuzz(func(t *testing.T, key, value []byte) {
		if g, err := decodePreviousGroup(key, value); err == nil {
			if again, err := decodeGroup(key, encodeGroup(&g)); err != nil || again != g {
				t.Fatalf("group %+v upgrades as %+v, %v", g, again, err)
			}
		}
		if m, err := decodePreviousMember(key, value); err == nil {
			if again, err := decodeMember(key, encodeMember(&m)); err != nil || again != m {
				t.Fatalf("member %+v upgrades as %+v, %v", m, again, err)
			}
		}
		if s, err := decodePreviousStatus(key, value); err == nil {
			if again, err := decodeStatus(key, encodeStatus(&s)); err != nil || !reflect.DeepEqual(again, s) {
				t.Fatalf("status %+v upgrades as %+v, %v", s, again, err)
			}
		}
	})
}
