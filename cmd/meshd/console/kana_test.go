package console

import "testing"

func TestKana(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"0123456789abcdef", "いしかたうん"},
		{"6789abcdef", "てとのつはこ"},
		{"abcdef0123", "はこになくき"},
		{"ABCDEF", "はこになくき"},
		{"ノード001", "ノードいいし"},
		{"xyz", "xyz"},
		{"", ""},
	} {
		if got := Kana(tc.in); got != tc.want {
			t.Errorf("Kana(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}
