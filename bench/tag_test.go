package main

import "testing"

func TestParseTag(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want tag
		ok   bool
	}{
		{"plain", "seq:12:3:1767225600000000000", tag{12, 3, 1767225600000000000}, true},
		{"zero sender", "seq:0:1:0", tag{0, 1, 0}, true},
		{"zero seq", "seq:1:0:5", tag{}, false},
		{"missing part", "seq:1:2", tag{}, false},
		{"extra part", "seq:1:2:3:4", tag{}, false},
		{"trailing text", "seq:1:2:3x", tag{}, false},
		{"sign", "seq:-1:2:3", tag{}, false},
		{"empty part", "seq:1::3", tag{}, false},
		{"wrong prefix", "req:1:2:3", tag{}, false},
		{"sender too large", "seq:2147483648:1:1", tag{}, false},
		{"twenty digits", "seq:1:1:12345678901234567890", tag{}, false},
		{"time overflows int64", "seq:1:1:9999999999999999999", tag{}, false},
		{"prefix only", "seq:", tag{}, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, ok := parseTag([]byte(tc.in))
			if ok != tc.ok || got != tc.want {
				t.Fatalf("parseTag(%q) = %+v, %v; want %+v, %v", tc.in, got, ok, tc.want, tc.ok)
			}
			if ok && got.String() != tc.in {
				t.Fatalf("String() = %q, want %q", got.String(), tc.in)
			}
		})
	}
}

// FuzzParseTag checks that parseTag never panics and that whatever it accepts renders back to
// the same text, so a tag is recognised only in its one canonical form.
func FuzzParseTag(f *testing.F) {
	for _, s := range []string{"seq:12:3:1767225600000000000", "seq:0:1:0", "seq:1::3", "seq:01:1:1", "seq:"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		tg, ok := parseTag([]byte(s))
		if !ok {
			return
		}
		if tg.seq == 0 || tg.sender < 0 || tg.sent < 0 {
			t.Fatalf("parseTag(%q) accepted %+v", s, tg)
		}
		if back, ok := parseTag([]byte(tg.String())); !ok || back != tg {
			t.Fatalf("round trip of %q: %+v, %v", s, back, ok)
		}
	})
}
